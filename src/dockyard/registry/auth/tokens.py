"""Short-lived JWTs in Docker's token format (docker/distribution docs: "Token Authentication
Implementation"), signed with the registry's own EC P-256 key (ES256).

Claims: ``iss`` and ``aud`` (the service), ``sub`` (account), ``kind`` (user or robot), ``exp``,
``nbf``, ``iat``, ``jti``, and ``access``: ``[{"type": "repository", "name": ..., "actions":
[...]}]``. Clients treat the token as opaque; only this registry (and its replicas, which share
the key file) verifies it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ISSUER = "dockyard-registry"


def load_or_create_key(path: str) -> ec.EllipticCurvePrivateKey:
    """The signing key at ``path``; made (0600, written atomically) the first time."""
    try:
        with open(path, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), None)
    except FileNotFoundError:
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        tmp = f"{path}.{secrets.token_hex(6)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # fails if a replica made the key first: then use that one
        except FileExistsError:
            pass
        os.unlink(tmp)
        return load_or_create_key(path)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"token key {path} is not an EC private key: remove it to have one made")
    return key


def _kid(key: ec.EllipticCurvePrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b32encode(hashlib.sha256(der).digest()[:15]).decode()


class TokenIssuer:
    def __init__(self, key: ec.EllipticCurvePrivateKey, service: str, ttl: int) -> None:
        self.key = key
        self.public = key.public_key()
        self.service = service
        self.ttl = ttl
        self.kid = _kid(key)

    def issue(self, subject: str | None, kind: str, access: list[dict[str, Any]]) -> tuple[str, int]:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": self.service,
            "sub": subject or "",
            "kind": kind,
            "iat": now,
            "nbf": now - 5,
            "exp": now + self.ttl,
            "jti": secrets.token_hex(12),
            "access": access,
        }
        return jwt.encode(claims, self.key, algorithm="ES256", headers={"kid": self.kid}), now

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid token; raises jwt.InvalidTokenError otherwise."""
        claims: dict[str, Any] = jwt.decode(
            token,
            self.public,
            algorithms=["ES256"],
            audience=self.service,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "access"]},
        )
        return claims

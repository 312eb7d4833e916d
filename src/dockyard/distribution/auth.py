"""Registry authentication: challenges (RFC 7235), Basic, and Docker's Bearer token flow.

A registry answers 401 with ``WWW-Authenticate: Bearer realm="...",service="...",scope="..."``
(docker/distribution docs/spec/auth/token.md); the client gets a token from the realm with
``service`` and ``scope`` (sending Basic credentials if it has them) and retries with
``Authorization: Bearer <token>``. ``Basic realm=...`` asks for the credentials directly.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any

_PARAM = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?')


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "bearer" or "basic" (lowercase)
    params: dict[str, str]


def parse_challenges(header: str) -> list[Challenge]:
    """Parse one WWW-Authenticate header value into its challenges."""
    out: list[Challenge] = []
    pos = 0
    text = header.strip()
    while pos < len(text):
        m = re.match(r"\s*([A-Za-z][A-Za-z0-9_-]*)\s*", text[pos:])
        if not m:
            break
        scheme = m.group(1).lower()
        pos += m.end()
        params: dict[str, str] = {}
        while pos < len(text):
            pm = _PARAM.match(text, pos)
            if not pm or (pm.group(2) is None and pm.group(3) is None):
                break
            # A bare word followed by "=" is a parameter; a word then a space starts the next scheme.
            params[pm.group(1).lower()] = (
                re.sub(r"\\(.)", r"\1", pm.group(2)) if pm.group(2) is not None else pm.group(3)
            )
            pos = pm.end()
        out.append(Challenge(scheme, params))
    return out


@dataclass(frozen=True)
class Credentials:
    username: str = ""
    password: str = ""
    identity_token: str = ""  # a refresh token from an earlier login (OAuth2)
    registry_token: str = ""  # a bearer token to use as is

    @classmethod
    def from_engine(cls, auth: dict[str, Any] | None) -> Credentials | None:
        """From the Engine API's X-Registry-Auth JSON (username, password, identitytoken, ...)."""
        if not auth:
            return None
        creds = cls(
            str(auth.get("username") or ""),
            str(auth.get("password") or ""),
            str(auth.get("identitytoken") or ""),
            str(auth.get("registrytoken") or ""),
        )
        return (
            creds
            if any((creds.username, creds.password, creds.identity_token, creds.registry_token))
            else None
        )

    def basic(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()


def scope_for(repository_path: str, actions: str) -> str:
    return f"repository:{repository_path}:{actions}"

"""Who sent a request: Basic credentials (user password or robot token), a Bearer JWT, or nobody.

bcrypt runs in a worker thread and its successes are cached for a minute keyed by the password
*and the stored hash*, so a changed password or a removed user stops working at once. Robot
tokens and JWTs are checked against the database on every request, so revocation is immediate.
Failed logins feed the throttle (per account and per address).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import time
from typing import Any

import jwt
from aiohttp import web

from dockyard.registry.access import ANONYMOUS, Principal
from dockyard.registry.auth.accounts import Accounts
from dockyard.registry.auth.throttle import Throttle
from dockyard.registry.auth.tokens import TokenIssuer
from dockyard.registry.errcode import RegistryError

_CACHE_TTL = 60.0
_CACHE_MAX = 10_000


class BadCredentials(RegistryError):
    def __init__(self, message: str) -> None:
        super().__init__("UNAUTHORIZED", message)


class Credentials:
    def __init__(self, accounts: Accounts, issuer: TokenIssuer, throttle: Throttle) -> None:
        self.accounts = accounts
        self.issuer = issuer
        self.throttle = throttle
        self._ok: dict[str, tuple[float, str]] = {}

    def principal(self, name: str, kind: str) -> Principal:
        admin = kind == "user" and self.accounts.is_admin(name)
        return Principal(name, kind, admin)

    async def login(self, request: web.BaseRequest, username: str, password: str) -> Principal:
        """Check a user's password or a robot's token; throttled; raises BadCredentials."""
        remote = request.remote or "?"
        keys = (f"account:{username}", f"address:{remote}")
        self.throttle.check(*keys)
        if "+" in username:
            if self.accounts.check_robot(username, password):
                return Principal(username, "robot")
        else:
            row = self.accounts.user_row(username)
            stored = row["password_hash"] if row is not None else None
            key = hashlib.sha256(f"{username}\0{password}".encode()).hexdigest()
            hit = self._ok.get(key)
            if hit is not None and stored is not None and hit[1] == stored and hit[0] > time.monotonic():
                return self.principal(username, "user")
            if await asyncio.to_thread(self.accounts.check_password, username, password):
                if len(self._ok) > _CACHE_MAX:
                    self._ok.clear()
                self._ok[key] = (time.monotonic() + _CACHE_TTL, str(stored))
                return self.principal(username, "user")
        self.throttle.failed(*keys)
        raise BadCredentials(f"wrong user name or password for {username!r}: check them (or the robot token)")

    async def from_request(self, request: web.BaseRequest) -> tuple[Principal, dict[str, Any] | None]:
        """(caller, JWT claims or None). No Authorization header is the anonymous caller."""
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        if not header:
            return ANONYMOUS, None
        if scheme == "basic":
            username, password = parse_basic(value)
            return await self.login(request, username, password), None
        if scheme == "bearer":
            try:
                claims = self.issuer.verify(value.strip())
            except jwt.InvalidTokenError as e:
                raise BadCredentials(
                    f"invalid or expired token ({e}): get a new one from the token endpoint"
                ) from None
            sub, kind = claims.get("sub") or None, str(claims.get("kind", "user"))
            if sub is None:
                return ANONYMOUS, claims
            if not self.accounts.account_exists(sub, kind):
                raise BadCredentials(f"the token's account {sub!r} was removed or revoked: sign in again")
            return self.principal(sub, kind), claims
        raise BadCredentials(f"unsupported Authorization scheme {scheme!r}: use Basic or Bearer")


def parse_basic(value: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise BadCredentials("malformed Basic credentials: send base64 of USER:PASSWORD") from None
    username, sep, password = decoded.partition(":")
    if not sep:
        raise BadCredentials("malformed Basic credentials: send base64 of USER:PASSWORD")
    return username, password

"""Bearer tokens kept between requests and between pulls (Docker token auth, token.md).

A token is cached under (token server, service, scope, user) until shortly before it expires:
``expires_in`` from the token server's answer, 60 seconds when it gives none (the spec's
default). A registry that still answers 401 to a cached token makes the client drop it and
fetch a fresh one (a token revoked early, a clock skew). A ``refresh_token`` from the token
server (token.md "refresh_token", asked for with ``offline_token=true``) is kept per user and
service, and traded for tokens of new scopes with the OAuth2 POST (oauth.py) instead of sending
the password again; a token server without that form is remembered in ``no_oauth``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

DEFAULT_LIFETIME = 60.0
_MARGIN = 5.0  # seconds before expiry when a token counts as expired (requests take time)


@dataclass(frozen=True)
class BearerRealm:
    """The Bearer challenge a registry gave last: tokens for new scopes are fetched up front."""

    realm: str
    service: str


@dataclass(frozen=True)
class TokenKey:
    realm: str
    service: str
    scope: str
    user: str


class TokenCache:
    def __init__(self) -> None:
        self._tokens: dict[TokenKey, tuple[str, float]] = {}
        self._refresh: dict[tuple[str, str, str], str] = {}
        #: registry base URL -> the token server its last challenge named
        self.bearer: dict[str, BearerRealm] = {}
        self.fetched = 0  # tokens fetched from token servers (tests count them)
        self.refreshed = 0  # of those, tokens got for a refresh token (OAuth2 POST)
        #: token servers (realms) that answered the OAuth2 POST with 404/405/501: GET only
        self.no_oauth: set[str] = set()

    def get(self, key: TokenKey) -> str | None:
        entry = self._tokens.get(key)
        if entry is None:
            return None
        token, expires = entry
        if time.monotonic() >= expires - _MARGIN:
            del self._tokens[key]
            return None
        return token

    def put(self, key: TokenKey, token: str, expires_in: float | None) -> None:
        self.fetched += 1
        lifetime = expires_in if expires_in and expires_in > 0 else DEFAULT_LIFETIME
        self._tokens[key] = (token, time.monotonic() + lifetime)

    def drop(self, key: TokenKey) -> None:
        self._tokens.pop(key, None)

    def refresh_token(self, realm: str, service: str, user: str) -> str | None:
        return self._refresh.get((realm, service, user))

    def put_refresh_token(self, realm: str, service: str, user: str, token: str) -> None:
        self._refresh[(realm, service, user)] = token

    def drop_refresh_token(self, realm: str, service: str, user: str) -> None:
        # Idempotent: a refresh token already dropped (a parallel request's refusal) is fine.
        self._refresh.pop((realm, service, user), None)

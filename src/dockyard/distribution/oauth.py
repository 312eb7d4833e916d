"""Asking a token server for a Bearer token: Docker's GET (token.md) and the OAuth2 POST
(oauth.md) that trades a refresh token for an access token.

    GET  realm?service=S&client_id=dockyard&offline_token=true&scope=...   (Basic credentials)
    POST realm  grant_type=refresh_token&refresh_token=R&service=S&client_id=dockyard&scope=...

A GET with credentials asks for a refresh token (``offline_token=true``, which token servers that
do not know it ignore); once one arrives, or the client holds one from ``docker login``
(``identitytoken``), tokens for new scopes come from the POST and the password is not sent again.
A token server without the POST form answers 404 (distribution's oauth.md: "fall back to the
GET"), 405 or 501: the caller then uses the GET. The answer is JSON with ``token`` or
``access_token``, ``expires_in`` and maybe a new ``refresh_token`` (token.md "Token Response
Fields").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlencode

CLIENT_ID = "dockyard"  # oauth.md: required by the POST; any name of the client
#: Statuses of a token server that has no OAuth2 POST: fall back to the GET form.
NO_OAUTH = frozenset({404, 405, 501})


@dataclass(frozen=True)
class TokenAnswer:
    token: str
    expires_in: float | None
    refresh_token: str | None


def get_url(realm: str, service: str, scopes: list[str], *, offline: bool) -> str:
    query: list[tuple[str, str]] = []
    if service:
        query.append(("service", service))
    if offline:
        query += [("client_id", CLIENT_ID), ("offline_token", "true")]
    query += [("scope", s) for s in scopes]
    return realm + ("&" if "?" in realm else "?") + urlencode(query)


def refresh_form(service: str, scopes: list[str], refresh_token: str) -> dict[str, str]:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": CLIENT_ID}
    if service:
        form["service"] = service
    if scopes:
        form["scope"] = " ".join(scopes)  # oauth.md: one parameter, scopes separated by spaces
    return form


def parse_answer(body: bytes) -> TokenAnswer | None:
    """The token server's JSON answer; None when it holds no token."""
    try:
        obj = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(obj, dict):
        return None
    token = obj.get("token") or obj.get("access_token")
    if not isinstance(token, str) or not token:
        return None
    expires_in = obj.get("expires_in")
    refresh = obj.get("refresh_token")
    return TokenAnswer(
        token,
        float(expires_in) if isinstance(expires_in, int | float) else None,
        refresh if isinstance(refresh, str) and refresh else None,
    )

"""``/token``: Docker's token endpoint (GET with Basic credentials, or anonymous) and the OAuth2
form (POST, ``grant_type=password|refresh_token``) that newer Docker clients use.

The token carries only the actions the account has: asking for ``push`` on a repository one may
only pull yields a token for ``pull`` (the registry then refuses the push). Refresh tokens are
handed out on request (``offline_token=true`` / ``access_type=offline``).
"""

from __future__ import annotations

import datetime
from typing import Any

from aiohttp import web

from dockyard.registry.access import ANONYMOUS, Principal
from dockyard.registry.auth.accounts import Accounts
from dockyard.registry.auth.credentials import BadCredentials, Credentials, parse_basic
from dockyard.registry.auth.scopes import allowed_actions, parse_scope
from dockyard.registry.auth.sessions import Sessions
from dockyard.registry.auth.tokens import TokenIssuer
from dockyard.registry.errcode import RegistryError
from dockyard.registry.names import NAME_RE


class TokenEndpoint:
    def __init__(
        self, accounts: Accounts, sessions: Sessions, credentials: Credentials, issuer: TokenIssuer
    ) -> None:
        self.accounts = accounts
        self.sessions = sessions
        self.credentials = credentials
        self.issuer = issuer

    def _access(self, principal: Principal, scopes: list[str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for text in scopes:
            scope = parse_scope(text)
            if scope is None:
                continue  # unknown scopes are ignored, as distribution's token servers do
            if scope.type == "repository" and NAME_RE.fullmatch(scope.name):
                level = self.accounts.level(principal.name, principal.kind, scope.name)
                actions = allowed_actions(level, scope.actions)
                if actions:
                    out.append({"type": "repository", "name": scope.name, "actions": actions})
            elif scope.type == "registry" and scope.name == "catalog":
                out.append({"type": "registry", "name": "catalog", "actions": ["*"]})
        return out

    def _answer(self, principal: Principal, scopes: list[str], refresh: bool, oauth: bool) -> web.Response:
        access = self._access(principal, scopes)
        token, issued = self.issuer.issue(principal.name, principal.kind, access)
        body: dict[str, Any] = {
            "token": token,
            "access_token": token,
            "expires_in": self.issuer.ttl,
            "issued_at": _iso(issued),
        }
        if oauth:
            body["scope"] = " ".join(scopes)
        if refresh and principal.name is not None:
            body["refresh_token"] = self.sessions.new_refresh_token(principal.name)
        return web.json_response(body, headers={"Cache-Control": "no-store"})

    async def get(self, request: web.Request) -> web.StreamResponse:
        self._check_service(request.query.get("service"))
        scopes = [s for v in request.query.getall("scope", []) for s in v.split(" ") if s]
        principal = ANONYMOUS
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("basic "):
            username, password = parse_basic(header[6:])
            principal = await self._login(request, username, password)
        elif header:
            principal, _claims = await self.credentials.from_request(request)
        refresh = request.query.get("offline_token", "").lower() == "true"
        request["account"] = principal.name
        return self._answer(principal, scopes, refresh, oauth=False)

    async def post(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        self._check_service(_str(form.get("service")))
        scopes = [s for s in _str(form.get("scope")).split(" ") if s]
        grant = _str(form.get("grant_type"))
        if grant == "password":
            principal = await self._login(request, _str(form.get("username")), _str(form.get("password")))
        elif grant == "refresh_token":
            account = self.sessions.refresh_account(_str(form.get("refresh_token")))
            kind = "robot" if account and "+" in account else "user"
            if account is None or not self.accounts.account_exists(account, kind):
                raise BadCredentials("invalid or revoked refresh token: sign in again (docker login)")
            principal = self.credentials.principal(account, kind)
        else:
            raise RegistryError(
                "UNSUPPORTED",
                f"unsupported grant_type {grant!r}: use password or refresh_token",
                status=400,
            )
        refresh = _str(form.get("access_type")) == "offline" and grant == "password"
        request["account"] = principal.name
        return self._answer(principal, scopes, refresh, oauth=True)

    async def _login(self, request: web.Request, username: str, password: str) -> Principal:
        return await self.credentials.login(request, username, password)

    def _check_service(self, service: str | None) -> None:
        if service and service != self.issuer.service:
            raise RegistryError(
                "DENIED",
                f"this token endpoint serves {self.issuer.service!r}, not {service!r}: check the realm",
                status=400,
            )


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _iso(ts: int) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

"""The authorizer of a registry with accounts: every /v2 request is checked against the token's
scope (Bearer) or the account's rights (Basic), and refused with Docker's challenge.

Refusals, as Docker clients expect them (distribution's token auth):
- no credentials: 401 UNAUTHORIZED with ``WWW-Authenticate: Bearer realm=...,service=...,scope=...``
  so the client fetches a token for that scope;
- a token without the needed scope that the account could get: 403 with the same challenge and
  ``error="insufficient_scope"`` (RFC 6750 section 3.1; oras-py fetches a new token only on 403,
  Docker and skopeo ask for the scope they need before each repository anyway);
- an account that may not do this at all: 403 DENIED. Either way no data leaves.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from dockyard.registry.access import Principal
from dockyard.registry.auth.accounts import PULL, Accounts
from dockyard.registry.auth.credentials import Credentials
from dockyard.registry.auth.scopes import Scope, needed_level
from dockyard.registry.errcode import RegistryError


class TokenAuthorizer:
    def __init__(self, accounts: Accounts, credentials: Credentials, service: str, realm: str | None) -> None:
        self.accounts = accounts
        self.credentials = credentials
        self.service = service
        self.realm = realm

    def realm_for(self, request: web.BaseRequest) -> str:
        return self.realm or f"{request.scheme}://{request.host}/token"

    def challenge(
        self, request: web.BaseRequest, scope: str | None, message: str, *, insufficient: bool = False
    ) -> RegistryError:
        parts = [f'realm="{self.realm_for(request)}"', f'service="{self.service}"']
        if scope:
            parts.append(f'scope="{scope}"')
        if insufficient:
            parts.append('error="insufficient_scope"')
        return RegistryError(
            "DENIED" if insufficient else "UNAUTHORIZED",
            message,
            headers={"WWW-Authenticate": "Bearer " + ",".join(parts)},
            detail=[
                {
                    "Type": "repository",
                    "Class": "",
                    "Name": scope.split(":")[1],
                    "Action": scope.rsplit(":", 1)[1],
                }
            ]
            if scope and scope.startswith("repository:")
            else None,
        )

    async def _caller(
        self, request: web.BaseRequest, scope: str | None
    ) -> tuple[Principal, dict[str, Any] | None]:
        try:
            return await self.credentials.from_request(request)
        except RegistryError as e:
            if e.code == "UNAUTHORIZED":
                raise self.challenge(request, scope, e.message) from None
            raise

    async def authorize(self, request: web.Request, name: str, actions: frozenset[str]) -> Principal:
        scope = str(Scope("repository", name, actions))
        principal, claims = await self._caller(request, scope)
        request["account"] = principal.name
        level = self.accounts.level(principal.name, principal.kind, name)
        may = level >= needed_level(actions)
        if claims is not None:
            granted: set[str] = set()
            for entry in claims.get("access", []):
                if entry.get("type") == "repository" and entry.get("name") == name:
                    granted.update(entry.get("actions", []))
            if "*" in granted or actions <= granted:
                if may:
                    return principal
                # The token outlived a right that was taken away since: the database wins.
            elif may:
                raise self.challenge(
                    request,
                    scope,
                    f"the token does not cover {scope}: get a token for that scope",
                    insufficient=True,
                )
        elif may:
            return principal
        if principal.name is None:
            raise self.challenge(
                request, scope, f"authentication required for {scope}: sign in (docker login) first"
            )
        raise RegistryError(
            "DENIED",
            f"{principal.name} may not {','.join(sorted(actions))} {name}: ask its owner for access",
            detail={"name": name},
        )

    async def identify(self, request: web.Request, scope: str = "registry:catalog:*") -> Principal:
        principal, _claims = await self._caller(request, scope or None)
        if principal.name is None and request.headers.get("Authorization") is None:
            raise self.challenge(
                request, scope or None, "authentication required: sign in or get an anonymous token"
            )
        request["account"] = principal.name
        return principal

    async def visible(self, principal: Principal, names: list[str]) -> list[str]:
        return [n for n in names if self.accounts.level(principal.name, principal.kind, n) >= PULL]

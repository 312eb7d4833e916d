"""The admin API: the same as `dockyard registry user add|passwd|rm|ls`, for site administrators.

GET    /admin/users                 -> [{"name", "admin"}]
POST   /admin/users                 {"name", "password", "admin"?} -> 201
PUT    /admin/users/{name}/password {"password"} -> 204
DELETE /admin/users/{name}          -> 204
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from dockyard.errors import DockyardError
from dockyard.registry.auth.accounts import Accounts
from dockyard.registry.auth.credentials import Credentials
from dockyard.registry.errcode import RegistryError


class AdminAPI:
    def __init__(self, accounts: Accounts, credentials: Credentials, challenge: Any) -> None:
        self.accounts = accounts
        self.credentials = credentials
        self.challenge = challenge

    async def _admin(self, request: web.Request) -> None:
        if not request.headers.get("Authorization"):
            raise self.challenge(request, None, "the admin API needs a site administrator's credentials")
        principal, _ = await self.credentials.from_request(request)
        if not principal.admin:
            raise RegistryError("DENIED", f"{principal.name or 'anonymous'} is not a site administrator")

    async def _json(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise RegistryError(
                "INVALID_REQUEST", "the body is not JSON: send a JSON object", status=400
            ) from None
        if not isinstance(body, dict):
            raise RegistryError("INVALID_REQUEST", "the body must be a JSON object", status=400)
        return body

    async def list_users(self, request: web.Request) -> web.StreamResponse:
        await self._admin(request)
        return web.json_response(self.accounts.list_users())

    async def add_user(self, request: web.Request) -> web.StreamResponse:
        await self._admin(request)
        body = await self._json(request)
        await _call(
            self.accounts.add_user,
            str(body.get("name", "")),
            str(body.get("password", "")),
            admin=bool(body.get("admin", False)),
        )
        return web.json_response({"name": body.get("name")}, status=201)

    async def set_password(self, request: web.Request) -> web.StreamResponse:
        await self._admin(request)
        body = await self._json(request)
        await _call(self.accounts.set_password, request.match_info["name"], str(body.get("password", "")))
        return web.Response(status=204)

    async def remove_user(self, request: web.Request) -> web.StreamResponse:
        await self._admin(request)
        await _call(self.accounts.remove_user, request.match_info["name"])
        return web.Response(status=204)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/admin/users", self.list_users)
        app.router.add_post("/admin/users", self.add_user)
        app.router.add_put("/admin/users/{name}/password", self.set_password)
        app.router.add_delete("/admin/users/{name}", self.remove_user)


async def _call(fn: Any, *args: Any, **kwargs: Any) -> None:
    try:
        await asyncio.to_thread(fn, *args, **kwargs)  # bcrypt: off the event loop
    except DockyardError as e:
        code = {400: "INVALID_REQUEST", 404: "NOT_FOUND", 409: "CONFLICT"}.get(e.http_status, "UNKNOWN")
        raise RegistryError(code, e.message, status=e.http_status) from None

"""Who is asking and what they may do: the interface between the API handlers and auth.

Handlers ask one question per request: may this request do ``actions`` (pull, push, delete) on
repository ``name``? :class:`OpenAccess` says yes to everything (``serve --no-auth``, the
reference registry's default); auth/tokenauth.py answers from accounts and tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from aiohttp import web


@dataclass(frozen=True)
class Principal:
    """The caller: an account name, or None for anonymous."""

    name: str | None
    kind: str = "anonymous"  # anonymous | user | robot | open
    admin: bool = False


ANONYMOUS = Principal(None)
OPEN = Principal(None, "open", admin=True)


class Authorizer(Protocol):
    async def authorize(self, request: web.Request, name: str, actions: frozenset[str]) -> Principal:
        """The caller if allowed; else raise UNAUTHORIZED (with a challenge) or DENIED."""
        ...

    async def identify(self, request: web.Request, scope: str = "registry:catalog:*") -> Principal:
        """The caller, for listings filtered per account (catalog, search); raises on bad credentials."""
        ...

    async def visible(self, principal: Principal, names: list[str]) -> list[str]:
        """The repositories of ``names`` that ``principal`` may pull."""
        ...


class OpenAccess:
    async def authorize(self, request: web.Request, name: str, actions: frozenset[str]) -> Principal:
        return OPEN

    async def identify(self, request: web.Request, scope: str = "registry:catalog:*") -> Principal:
        return OPEN

    async def visible(self, principal: Principal, names: list[str]) -> list[str]:
        return names

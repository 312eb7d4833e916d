"""The browsing UI: sign in/out, the repositories one can see (with search), a repository's tags
(digest, size, platforms, push time), a tag's layers, config and history with the pull command,
and for a repository's admins: visibility, collaborators, deleting a tag.

What a page shows goes through the same rights as the API (accounts.level): a repository the
visitor may not pull answers 401 (anonymous) or 403, with a message that does not confirm it
exists.
"""

from __future__ import annotations

import datetime
import json
from typing import Any
from urllib.parse import quote

import jinja2
from aiohttp import web

from dockyard.errors import DockyardError
from dockyard.registry import paths
from dockyard.registry.auth.accounts import ADMIN, PULL, Accounts
from dockyard.registry.auth.credentials import Credentials
from dockyard.registry.auth.sessions import Sessions
from dockyard.registry.auth.setup import ACCOUNTS, CREDENTIALS, SESSIONS
from dockyard.registry.config import Settings
from dockyard.registry.context import Registry, registry_of
from dockyard.registry.errcode import RegistryError
from dockyard.registry.manifest import Manifest
from dockyard.registry.names import check_name, check_tag
from dockyard.registry.repositories import list_repositories
from dockyard.registry.web import session
from dockyard.registry.web.templates import TEMPLATES


def _filesize(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


ENV = jinja2.Environment(loader=jinja2.DictLoader(TEMPLATES), autoescape=True)
ENV.filters["filesize"] = _filesize


class Pages:
    def __init__(self, app: web.Application, settings: Settings) -> None:
        self.app = app
        self.secure = bool(settings.tls_cert)

    @property
    def accounts(self) -> Accounts:
        return self.app[ACCOUNTS]

    @property
    def sessions(self) -> Sessions:
        return self.app[SESSIONS]

    @property
    def credentials(self) -> Credentials:
        return self.app[CREDENTIALS]

    def render(self, request: web.Request, template: str, status: int = 200, **ctx: Any) -> web.Response:
        user, csrf = session.current(request, self.sessions)
        html = ENV.get_template(template).render(user=user, csrf=csrf, **ctx)
        resp = web.Response(text=html, content_type="text/html", status=status)
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Content-Security-Policy"] = (
            "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
        )
        resp.headers["Cache-Control"] = "no-store"
        return resp

    def refuse(self, request: web.Request, user: str | None, name: str) -> web.Response:
        status = 403 if user else 401
        message = f"You cannot see a repository named {name}: it does not exist or is private."
        if not user:
            message += " Sign in to see your private repositories."
        return self.render(request, "error.html", status=status, message=message)

    # ------------------------------------------------------------------ sign in / out

    async def login_form(self, request: web.Request) -> web.StreamResponse:
        token = session.login_token(request)
        resp = self.render(request, "login.html", login_csrf=token)
        resp.set_cookie(
            session.LOGIN_COOKIE,
            token,
            httponly=True,
            samesite="Strict",
            path="/ui/login",
            secure=self.secure,
        )
        return resp

    async def login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        cookie = request.cookies.get(session.LOGIN_COOKIE, "")
        session.check_csrf(cookie, form.get("csrf"))
        username, password = str(form.get("username", "")), str(form.get("password", ""))
        try:
            principal = await self.credentials.login(request, username, password)
        except RegistryError as e:
            resp = self.render(
                request, "login.html", status=e.http_status, error=e.message, login_csrf=cookie
            )
            return resp
        if principal.kind != "user" or principal.name is None:
            return self.render(
                request,
                "login.html",
                status=403,
                error="robots cannot sign in to the web page",
                login_csrf=cookie,
            )
        sid, _csrf = self.sessions.new_web_session(principal.name)
        resp = web.HTTPSeeOther("/ui/")
        session.set_session(resp, sid, self.secure)
        raise resp

    async def logout(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        _user, csrf = session.current(request, self.sessions)
        session.check_csrf(csrf, form.get("csrf"))
        sid = request.cookies.get(session.COOKIE)
        if sid:
            self.sessions.end_web_session(sid)
        resp = web.HTTPSeeOther("/ui/login")
        resp.del_cookie(session.COOKIE, path="/")
        raise resp

    # ------------------------------------------------------------------ browsing

    async def repos(self, request: web.Request) -> web.StreamResponse:
        user, _ = session.current(request, self.sessions)
        q = request.query.get("q", "").strip().lower()
        names = await list_repositories(registry_of(request).driver)
        visible = [n for n in names if self.accounts.level(user, "user", n) >= PULL and q in n]
        public = self.accounts.public_repos()
        return self.render(
            request, "repos.html", q=q, repos=[{"name": n, "public": n in public} for n in visible]
        )

    def _name(self, request: web.Request, raw: object) -> str:
        if not isinstance(raw, str):
            raise web.HTTPBadRequest(text="give the repository as ?name=NAMESPACE/NAME")
        try:
            return check_name(raw)
        except RegistryError as e:
            raise web.HTTPBadRequest(text=e.message) from None

    async def repo(self, request: web.Request) -> web.StreamResponse:
        user, _ = session.current(request, self.sessions)
        name = self._name(request, request.query.get("name"))
        level = self.accounts.level(user, "user", name)
        if level < PULL:
            return self.refuse(request, user, name)
        reg = registry_of(request)
        tags = []
        for tag in await reg.manifests.tags(name):
            try:
                d, m = await reg.manifests.get(name, tag)
            except RegistryError:
                continue  # untagged while listing
            info = reg.driver.stat(paths.tag_link(name, tag))
            pushed = datetime.datetime.fromtimestamp(info.mtime, datetime.UTC) if info else None
            tags.append(
                {
                    "tag": tag,
                    "digest": str(d),
                    "size": _size(m),
                    "platforms": _platforms(m) or ["-"],
                    "pushed": pushed.strftime("%Y-%m-%d %H:%M UTC") if pushed else "",
                }
            )
        return self.render(
            request,
            "repo.html",
            name=name,
            tags=tags,
            admin=level >= ADMIN,
            public=self.accounts.is_public(name),
            grants=self.accounts.grants_on(name),
            message=request.query.get("message", ""),
        )

    async def tag(self, request: web.Request) -> web.StreamResponse:
        user, _ = session.current(request, self.sessions)
        name = self._name(request, request.query.get("name"))
        if self.accounts.level(user, "user", name) < PULL:
            return self.refuse(request, user, name)
        tag = request.query.get("tag", "")
        reg = registry_of(request)
        try:
            check_tag(tag)
            d, m = await reg.manifests.get(name, tag)
        except RegistryError as e:
            return self.render(request, "error.html", status=404, message=e.message)
        images = []
        if m.is_index:
            for child in m.children:
                try:
                    _cd, cm = await reg.manifests.get(name, str(child.digest))
                except RegistryError:
                    continue
                images.append(await _image(reg, cm, _platform(child.platform)))
        else:
            images.append(await _image(reg, m, ""))
        return self.render(
            request,
            "tag.html",
            name=name,
            tag=tag,
            digest=str(d),
            media_type=m.media_type,
            images=images,
            host=request.host,
        )

    # ------------------------------------------------------------------ owners' actions

    async def _admin_form(self, request: web.Request) -> tuple[str, Any]:
        form = await request.post()
        user, csrf = session.current(request, self.sessions)
        session.check_csrf(csrf, form.get("csrf"))
        name = self._name(request, form.get("name"))
        if user is None or self.accounts.level(user, "user", name) < ADMIN:
            raise web.HTTPForbidden(text=f"only an admin of {name} can change it")
        return name, form

    async def set_visibility(self, request: web.Request) -> web.StreamResponse:
        name, form = await self._admin_form(request)
        self.accounts.set_public(name, form.get("visibility") == "public")
        raise web.HTTPSeeOther(f"/ui/repo?name={quote(name)}")

    async def add_collaborator(self, request: web.Request) -> web.StreamResponse:
        name, form = await self._admin_form(request)
        message = ""
        try:
            self.accounts.grant(name, str(form.get("grantee", "")), str(form.get("level", "")))
        except DockyardError as e:
            message = e.message
        raise web.HTTPSeeOther(f"/ui/repo?name={quote(name)}&message={quote(message)}")

    async def delete_tag(self, request: web.Request) -> web.StreamResponse:
        name, form = await self._admin_form(request)
        try:
            await registry_of(request).manifests.delete(name, check_tag(str(form.get("tag", ""))))
        except RegistryError:
            pass  # already gone: deleting twice is not an error
        raise web.HTTPSeeOther(f"/ui/repo?name={name}")


def _platform(p: dict[str, Any] | None) -> str:
    if not p:
        return ""
    return "/".join(x for x in (p.get("os"), p.get("architecture"), p.get("variant")) if x)


def _platforms(m: Manifest) -> list[str]:
    if m.is_index:
        return [p for p in (_platform(c.platform) for c in m.children) if p]
    return []


def _size(m: Manifest) -> int:
    if m.is_index:
        return sum(c.size for c in m.children)
    return sum(b.size for b in m.blobs)


async def _image(reg: Registry, m: Manifest, platform: str) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if m.blobs:
        try:
            config = json.loads(await reg.blobs.get(m.blobs[0].digest))
        except Exception:
            config = {}  # an artifact's config need not be JSON
    cfg = config.get("config") if isinstance(config.get("config"), dict) else {}
    assert isinstance(cfg, dict)
    if not platform and config.get("os"):
        platform = "/".join(str(x) for x in (config.get("os"), config.get("architecture")) if x)
    return {
        "platform": platform,
        "layers": [{"digest": str(b.digest), "size": b.size, "mediaType": b.media_type} for b in m.blobs[1:]],
        "env": cfg.get("Env") or [],
        "entrypoint": cfg.get("Entrypoint"),
        "cmd": cfg.get("Cmd"),
        "labels": cfg.get("Labels") or {},
        "history": config.get("history") or [],
    }


def add_routes(app: web.Application, settings: Settings) -> None:
    pages = Pages(app, settings)

    async def root(_request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/ui/")

    app.router.add_get("/", root)
    app.router.add_get("/ui/", pages.repos)
    app.router.add_get("/ui/login", pages.login_form)
    app.router.add_post("/ui/login", pages.login)
    app.router.add_post("/ui/logout", pages.logout)
    app.router.add_get("/ui/repo", pages.repo)
    app.router.add_get("/ui/tag", pages.tag)
    app.router.add_post("/ui/repo/visibility", pages.set_visibility)
    app.router.add_post("/ui/repo/collaborators", pages.add_collaborator)
    app.router.add_post("/ui/tag/delete", pages.delete_tag)

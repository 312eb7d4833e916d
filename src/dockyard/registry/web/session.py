"""Web sessions: an HttpOnly, SameSite=Lax cookie naming a server-side session (stored hashed in
the accounts database), and a CSRF token per session that every POST form must echo.

Sign-in itself is protected by a double-submit token: a random cookie that the login form echoes,
so another site cannot sign a visitor in to an account of its choosing (login CSRF).
"""

from __future__ import annotations

import secrets

from aiohttp import web

from dockyard.registry.auth.sessions import SESSION_TTL, Sessions

COOKIE = "dyreg_session"
LOGIN_COOKIE = "dyreg_login"


def current(request: web.Request, sessions: Sessions) -> tuple[str | None, str]:
    """(signed-in user or None, CSRF token of the session or "")."""
    sid = request.cookies.get(COOKIE)
    if not sid:
        return None, ""
    found = sessions.web_session(sid)
    if found is None:
        return None, ""
    return found


def check_csrf(expected: str, given: object) -> None:
    if not expected or not isinstance(given, str) or not secrets.compare_digest(expected, given):
        raise web.HTTPForbidden(text="CSRF token missing or wrong: reload the page and try again")


def set_session(resp: web.StreamResponse, sid: str, secure: bool) -> None:
    resp.set_cookie(COOKIE, sid, httponly=True, samesite="Lax", secure=secure, max_age=SESSION_TTL, path="/")
    resp.del_cookie(LOGIN_COOKIE, path="/ui/login")


def login_token(request: web.Request) -> str:
    return request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)

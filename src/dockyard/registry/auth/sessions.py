"""Refresh tokens (Docker's ``offline_token``) and web-page sessions, stored hashed in the accounts
database: a stolen database file holds no usable secret, and removing a row revokes at once."""

from __future__ import annotations

import secrets
import time

from dockyard.registry.auth.accounts import Accounts, secret_hash

REFRESH_TTL = 90 * 24 * 3600
SESSION_TTL = 12 * 3600


class Sessions:
    def __init__(self, accounts: Accounts) -> None:
        self.db = accounts.db

    def new_refresh_token(self, account: str) -> str:
        token = secrets.token_urlsafe(32)
        now = time.time()
        self.db.query(
            "INSERT INTO refresh_tokens (hash, account, created, expires) VALUES (?, ?, ?, ?)",
            secret_hash(token),
            account,
            now,
            now + REFRESH_TTL,
        )
        return token

    def refresh_account(self, token: str) -> str | None:
        row = self.db.one("SELECT account, expires FROM refresh_tokens WHERE hash = ?", secret_hash(token))
        if row is None or row["expires"] < time.time():
            return None
        return str(row["account"])

    def new_web_session(self, account: str) -> tuple[str, str]:
        """(session id for the cookie, CSRF token for the forms)."""
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        self.db.query("DELETE FROM web_sessions WHERE expires < ?", time.time())
        self.db.query(
            "INSERT INTO web_sessions (hash, account, csrf, expires) VALUES (?, ?, ?, ?)",
            secret_hash(sid),
            account,
            csrf,
            time.time() + SESSION_TTL,
        )
        return sid, csrf

    def web_session(self, sid: str) -> tuple[str, str] | None:
        row = self.db.one("SELECT account, csrf, expires FROM web_sessions WHERE hash = ?", secret_hash(sid))
        if row is None or row["expires"] < time.time():
            return None
        return str(row["account"]), str(row["csrf"])

    def end_web_session(self, sid: str) -> None:
        self.db.query("DELETE FROM web_sessions WHERE hash = ?", secret_hash(sid))

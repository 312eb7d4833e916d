"""The accounts database: one SQLite file (WAL) shared by the server and the CLI commands.

Nothing is cached from it across requests (except bcrypt results keyed by the current hash), so a
`dockyard registry robot rm` or a changed grant takes effect on the server's next request.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    name TEXT PRIMARY KEY, kind TEXT NOT NULL CHECK (kind IN ('user', 'org')),
    password_hash TEXT, admin INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS teams (
    org TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE, team TEXT NOT NULL,
    PRIMARY KEY (org, team));
CREATE TABLE IF NOT EXISTS team_members (
    org TEXT NOT NULL, team TEXT NOT NULL,
    user TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
    PRIMARY KEY (org, team, user), FOREIGN KEY (org, team) REFERENCES teams(org, team) ON DELETE CASCADE);
CREATE TABLE IF NOT EXISTS grants (
    repo TEXT NOT NULL, grantee TEXT NOT NULL, level INTEGER NOT NULL, PRIMARY KEY (repo, grantee));
CREATE TABLE IF NOT EXISTS repos (name TEXT PRIMARY KEY, public INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS robots (
    name TEXT PRIMARY KEY, owner TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
    level INTEGER NOT NULL, secret_hash TEXT NOT NULL UNIQUE, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS refresh_tokens (
    hash TEXT PRIMARY KEY, account TEXT NOT NULL, created REAL NOT NULL, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS web_sessions (
    hash TEXT PRIMARY KEY, account TEXT NOT NULL, csrf TEXT NOT NULL, expires REAL NOT NULL);
"""


class Database:
    def __init__(self, path: str) -> None:
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        # One connection used from the event loop and worker threads, serialised by the lock.
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA busy_timeout=10000")
        # Several worker processes open the database at once when the server starts. Switching a
        # new file to WAL takes an exclusive lock, and SQLite answers "database is locked" at once
        # to the loser of that race, without waiting in the busy handler: try again for a while.
        self._retry_locked(lambda: self.conn.execute("PRAGMA journal_mode=WAL"))
        self.conn.execute("PRAGMA foreign_keys=ON")
        self._retry_locked(lambda: self.conn.executescript(SCHEMA))
        os.chmod(path, 0o600)

    @staticmethod
    def _retry_locked(step: Callable[[], object], seconds: float = 10.0) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                step()
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def query(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        with self._lock:
            return self.conn.execute(sql, args).fetchall()

    def one(self, sql: str, *args: Any) -> sqlite3.Row | None:
        rows = self.query(sql, *args)
        return rows[0] if rows else None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self.conn.close()

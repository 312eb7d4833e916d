"""Failed-login throttling: after ``failures`` failures within ``window`` seconds for one account
or one address, that account or address is refused with 429 and Retry-After for ``block`` seconds.

Kept in the accounts database, so every worker process of a registry (and every replica sharing
the accounts file) counts the same failures: spreading guesses over connections gains nothing.
Only failures write; a check is one indexed read.
"""

from __future__ import annotations

import math
import time

from dockyard.registry.auth.db import Database
from dockyard.registry.errcode import RegistryError

SCHEMA = """
CREATE TABLE IF NOT EXISTS login_failures (key TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS login_failures_key ON login_failures (key, at);
CREATE TABLE IF NOT EXISTS login_blocks (key TEXT PRIMARY KEY, until REAL NOT NULL);
"""


class Throttle:
    def __init__(self, db: Database, failures: int = 5, window: float = 60.0, block: float = 60.0) -> None:
        self.db = db
        self.failures = failures
        self.window = window
        self.block = block
        for stmt in filter(None, (s.strip() for s in SCHEMA.split(";"))):
            db.query(stmt)

    def check(self, *keys: str) -> None:
        """Raise TOOMANYREQUESTS if any of ``keys`` (e.g. "account:alice", "address:::1") is blocked."""
        now = time.time()
        marks = ",".join("?" * len(keys))
        row = self.db.one(f"SELECT key, MAX(until) AS until FROM login_blocks WHERE key IN ({marks})", *keys)
        if row is None or row["until"] is None or row["until"] <= now:
            return
        wait = max(1, math.ceil(row["until"] - now))
        raise RegistryError(
            "TOOMANYREQUESTS",
            f"too many failed logins for {str(row['key']).split(':', 1)[1]}: try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )

    def failed(self, *keys: str) -> None:
        now = time.time()
        with self.db.transaction() as c:
            c.execute("DELETE FROM login_failures WHERE at < ?", (now - self.window,))
            c.execute("DELETE FROM login_blocks WHERE until < ?", (now,))
            for key in keys:
                c.execute("INSERT INTO login_failures (key, at) VALUES (?, ?)", (key, now))
                (count,) = c.execute("SELECT COUNT(*) FROM login_failures WHERE key = ?", (key,)).fetchone()
                if count >= self.failures:
                    c.execute(
                        "INSERT INTO login_blocks (key, until) VALUES (?, ?) "
                        "ON CONFLICT (key) DO UPDATE SET until = excluded.until",
                        (key, now + self.block),
                    )
                    c.execute("DELETE FROM login_failures WHERE key = ?", (key,))

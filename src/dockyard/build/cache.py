"""The build cache: a step's key to the image it made, in SQLite under the data root.

    <data-root>/build/cache.db   table steps(key, image_id, created)

A key is the sha256 of what decides a step's result (:func:`step_key`): the parent image, the
instruction as it runs (variables substituted), the build args it sees, and for COPY and ADD
the content of the files it copies (names, modes, types and bytes; never mtimes, so touching a
file keeps the hit). The cache survives daemon restarts; an entry whose image was removed
since is a miss (and dropped).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any


def step_key(parent: str | None, parts: dict[str, Any]) -> str:
    data = json.dumps({"parent": parent or "", **parts}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(data.encode()).hexdigest()


class BuildCache:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS steps"
            " (key TEXT PRIMARY KEY, image_id TEXT NOT NULL, created REAL NOT NULL)"
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def get(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT image_id FROM steps WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def put(self, key: str, image_id: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO steps (key, image_id, created) VALUES (?, ?, ?)",
                (key, image_id, time.time()),
            )

    def drop(self, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM steps WHERE key = ?", (key,))

    def image_ids(self) -> set[str]:
        with self._lock:
            return {str(r[0]) for r in self._db.execute("SELECT image_id FROM steps")}

    def clear(self) -> int:
        with self._lock:
            n = self._db.execute("SELECT COUNT(*) FROM steps").fetchone()[0]
            self._db.execute("DELETE FROM steps")
        return int(n)

"""engine.db: the containers' records in SQLite (WAL), one JSON document per container.

Each change of a record is one transaction (``put``/``delete``), so a daemon killed with
SIGKILL finds every record either before or after a change, never half-written. The database
runs in WAL mode with ``synchronous=NORMAL``: a committed transaction survives the death of the
process (it is in the WAL, in the page cache); only a power cut may lose the last ones, as the
SQLite documentation says of WAL + NORMAL, and that costs no fsync on every container change,
which matters on `docker run`'s path. Volumes and exec records live in the same file, in tables
their modules create through ``connection``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from dockyard.engine.container import Container

_SCHEMA = """
CREATE TABLE IF NOT EXISTS containers (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    data TEXT NOT NULL
)
"""


class EngineDB:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we open transactions ourselves, so one change is one commit.
        # check_same_thread=False: the volume store may be used from a worker thread (its
        # callers serialise access); the engine itself touches it from the event loop only.
        self.connection = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=NORMAL")
        self.connection.execute("PRAGMA busy_timeout=5000")
        self.connection.execute(_SCHEMA)

    def load(self) -> list[Container]:
        rows = self.connection.execute("SELECT data FROM containers").fetchall()
        return [Container.from_json(row[0]) for row in rows]

    def put(self, container: Container) -> None:
        data = container.to_json()
        with self._transaction():
            self.connection.execute(
                "INSERT INTO containers (id, name, data) VALUES (?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET name = excluded.name, data = excluded.data",
                (container.id, container.name, data),
            )

    def delete(self, container_id: str) -> None:
        with self._transaction():
            self.connection.execute("DELETE FROM containers WHERE id = ?", (container_id,))

    def close(self) -> None:
        self.connection.close()

    def _transaction(self) -> _Transaction:
        return _Transaction(self.connection)


class _Transaction:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def __enter__(self) -> None:
        self.connection.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        if kind is None:
            self.connection.execute("COMMIT")
        else:
            self.connection.execute("ROLLBACK")

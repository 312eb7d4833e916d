"""Image metadata in SQLite: ``<data-root>/images/images.db``.

    images(id, manifest, created, size, parent, last_tag_time, added)
    layers(image_id, idx, diff_id, chain_id, blob, media_type, blob_size, diff_size, size)
    refs(name, image_id, kind)      name normalised: docker.io/library/busybox:latest, or
                                    docker.io/library/busybox@sha256:... (kind "digest")
    blob_sources(digest, domain, path)   repositories known to hold a blob (pulled from or
                                    pushed to): a push mounts the blob from there (dockerd's
                                    "v2 metadata" service does the same)

Blobs (configs, manifests, layers) live in the content store; the config blob's digest is the
image id. One connection shared by the daemon's threads, serialised by a lock; WAL so readers
of another process (a backup, a test) never block it.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dockyard.images.model import Layer

_SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY,
    manifest TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL DEFAULT '',
    size INTEGER NOT NULL DEFAULT 0,
    parent TEXT NOT NULL DEFAULT '',
    last_tag_time TEXT NOT NULL DEFAULT '',
    added REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS layers (
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    diff_id TEXT NOT NULL,
    chain_id TEXT NOT NULL,
    blob TEXT NOT NULL,
    media_type TEXT NOT NULL,
    blob_size INTEGER NOT NULL,
    diff_size INTEGER NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (image_id, idx)
);
CREATE INDEX IF NOT EXISTS layers_chain ON layers(chain_id);
CREATE TABLE IF NOT EXISTS refs (
    name TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    kind TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS refs_image ON refs(image_id);
CREATE TABLE IF NOT EXISTS blob_sources (
    digest TEXT NOT NULL,
    domain TEXT NOT NULL,
    path TEXT NOT NULL,
    PRIMARY KEY (digest, domain, path)
);
"""


class ImageDB:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def query(self, sql: str, args: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            cur = self._db.execute(sql, args)
            cur.row_factory = sqlite3.Row
            return cur.fetchall()

    # ------------------------------------------------------------------ images

    def add_image(
        self, image_id: str, *, manifest: str, created: str, size: int, parent: str, layers: list[Layer]
    ) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT INTO images(id, manifest, created, size, parent, added) VALUES (?,?,?,?,?,?) "
                "ON CONFLICT(id) DO UPDATE SET manifest=CASE WHEN excluded.manifest != '' "
                "THEN excluded.manifest ELSE images.manifest END, "
                "parent=CASE WHEN images.parent = '' THEN excluded.parent ELSE images.parent END",
                (image_id, manifest, created, size, parent, time.time()),
            )
            db.execute("DELETE FROM layers WHERE image_id=?", (image_id,))
            db.executemany(
                "INSERT INTO layers VALUES (?,?,?,?,?,?,?,?,?)",
                [
                    (
                        image_id,
                        i,
                        la.diff_id,
                        la.chain_id,
                        la.blob,
                        la.media_type,
                        la.blob_size,
                        la.diff_size,
                        la.size,
                    )
                    for i, la in enumerate(layers)
                ],
            )

    def delete_image(self, image_id: str) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM images WHERE id=?", (image_id,))

    def image_row(self, image_id: str) -> sqlite3.Row | None:
        rows = self.query("SELECT * FROM images WHERE id=?", (image_id,))
        return rows[0] if rows else None

    def image_ids(self) -> list[str]:
        return [r["id"] for r in self.query("SELECT id FROM images ORDER BY added")]

    def ids_with_prefix(self, hex_prefix: str) -> list[str]:
        # GLOB, not LIKE: "_" is no wildcard there and the prefix is hex anyway.
        return [
            r["id"] for r in self.query("SELECT id FROM images WHERE id GLOB ?", (f"sha256:{hex_prefix}*",))
        ]

    def layers(self, image_id: str) -> list[Layer]:
        return [
            Layer(
                r["diff_id"],
                r["chain_id"],
                r["blob"],
                r["media_type"],
                r["blob_size"],
                r["diff_size"],
                r["size"],
            )
            for r in self.query("SELECT * FROM layers WHERE image_id=? ORDER BY idx", (image_id,))
        ]

    def children(self, image_id: str) -> list[str]:
        return [r["id"] for r in self.query("SELECT id FROM images WHERE parent=?", (image_id,))]

    def used_chains(self) -> set[str]:
        return {r["chain_id"] for r in self.query("SELECT DISTINCT chain_id FROM layers")}

    def used_blobs(self) -> set[str]:
        out = {r["blob"] for r in self.query("SELECT DISTINCT blob FROM layers")}
        for r in self.query("SELECT id, manifest FROM images"):
            out.add(r["id"])
            if r["manifest"]:
                out.add(r["manifest"])
        return out

    def layer_by_diff(self, diff_id: str) -> Layer | None:
        rows = self.query("SELECT * FROM layers WHERE diff_id=? LIMIT 1", (diff_id,))
        if not rows:
            return None
        r = rows[0]
        return Layer(
            r["diff_id"], r["chain_id"], r["blob"], r["media_type"], r["blob_size"], r["diff_size"], r["size"]
        )

    # ------------------------------------------------------------------ blob sources

    def add_sources(self, domain: str, path: str, digests: list[str]) -> None:
        with self.tx() as db:
            db.executemany(
                "INSERT OR IGNORE INTO blob_sources VALUES (?,?,?)", [(d, domain, path) for d in digests]
            )

    def sources(self, digest: str, domain: str) -> list[str]:
        """Repositories of ``domain`` known to hold ``digest``, most recently added first."""
        rows = self.query(
            "SELECT path FROM blob_sources WHERE digest=? AND domain=? ORDER BY rowid DESC", (digest, domain)
        )
        return [r["path"] for r in rows]

    def forget_sources(self, digests: set[str]) -> None:
        with self.tx() as db:
            db.executemany("DELETE FROM blob_sources WHERE digest=?", [(d,) for d in digests])

    # ------------------------------------------------------------------ references

    def set_ref(self, name: str, image_id: str, kind: str, tag_time: str) -> str | None:
        """Point ``name`` at ``image_id``; returns the image it pointed at before (if another)."""
        with self.tx() as db:
            row = db.execute("SELECT image_id FROM refs WHERE name=?", (name,)).fetchone()
            db.execute(
                "INSERT INTO refs(name, image_id, kind) VALUES (?,?,?) "
                "ON CONFLICT(name) DO UPDATE SET image_id=excluded.image_id, kind=excluded.kind",
                (name, image_id, kind),
            )
            if kind == "tag":
                db.execute("UPDATE images SET last_tag_time=? WHERE id=?", (tag_time, image_id))
        old = row[0] if row else None
        return old if old != image_id else None

    def delete_ref(self, name: str) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM refs WHERE name=?", (name,))

    def ref(self, name: str) -> str | None:
        rows = self.query("SELECT image_id FROM refs WHERE name=?", (name,))
        return str(rows[0]["image_id"]) if rows else None

    def refs_of(self, image_id: str) -> list[tuple[str, str]]:
        return [
            (r["name"], r["kind"])
            for r in self.query("SELECT name, kind FROM refs WHERE image_id=? ORDER BY name", (image_id,))
        ]

    def all_refs(self) -> list[tuple[str, str, str]]:
        return [(r["name"], r["kind"], r["image_id"]) for r in self.query("SELECT * FROM refs ORDER BY name")]

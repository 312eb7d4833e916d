"""What the network keeps on disk: <data-root>/network/ipam.db (SQLite, WAL).

    meta(key, value)       "networks": {"bridge": {"Id": <64 hex>, "Created": <RFC 3339>}, ...}
                           "bridge", "subnet", "last_ip" (where the sequential allocator resumes)
                           "rules_backend" (nftables|iptables: where the port rules were written)
    sandboxes(cid, data)   one Sandbox as JSON per container: its endpoints (leases, veths),
                           published ports, netns path
    networks(id, data)     one user-defined network (record.Network) as JSON: bridge, subnet,
                           options, and last_ip, where its sequential allocator resumes

SQLite because a sandbox is written on every `docker run`: a WAL commit costs ~0.07 ms, where
rewriting a JSON file by rename costs 0.3 to 1 ms on ext4 (auto_da_alloc flushes the data of a
file renamed over another). synchronous=NORMAL: a commit survives a daemon crash, and a power cut
loses at most the last ones, which only matters for containers that the cut killed anyway.

The data root survives reboots and the exec root does not, so after a reboot the sandboxes here
name netns mounts that are gone: the manager drops those at start.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from dockyard.network.addresses import new_id
from dockyard.network.record import Network
from dockyard.network.sandbox import Sandbox

log = logging.getLogger("dockyard.network")

BUILTIN = ("bridge", "host", "none")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sandboxes (cid TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS networks (id TEXT PRIMARY KEY, data TEXT NOT NULL);
"""


def _now() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


@dataclass
class NetworkState:
    """The database's content, kept in memory; every change is written through."""

    networks: dict[str, dict[str, str]] = field(default_factory=dict)
    bridge: str = ""
    subnet: str | None = None
    last_ip: str | None = None
    rules_backend: str | None = None
    sandboxes: dict[str, Sandbox] = field(default_factory=dict)
    user_networks: dict[str, Network] = field(default_factory=dict)  # id -> network


class NetworkStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = path
        try:
            self.conn = self._open()
        except sqlite3.DatabaseError as exc:
            # Only a damaged disk or a stray file gets here; leases are rebuilt as containers
            # start again, so keep the bad file for a look and carry on.
            aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
            os.replace(path, aside)
            log.warning("network state %s is unreadable (%s); moved to %s, starting afresh", path, exc, aside)
            self.conn = self._open()

    def _open(self) -> sqlite3.Connection:
        # Callers serialise access (the manager's lock); any of the daemon's threads may call.
        conn = sqlite3.connect(self.path, check_same_thread=False)  # `with conn:` = one transaction
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(_SCHEMA)
        return conn

    def close(self) -> None:
        self.conn.close()

    def load(self) -> NetworkState:
        meta = dict(self.conn.execute("SELECT key, value FROM meta").fetchall())
        state = NetworkState(
            networks=json.loads(meta.get("networks", "{}")),
            bridge=meta.get("bridge", ""),
            subnet=meta.get("subnet") or None,
            last_ip=meta.get("last_ip") or None,
            rules_backend=meta.get("rules_backend") or None,
        )
        for cid, data in self.conn.execute("SELECT cid, data FROM sandboxes"):
            try:
                state.sandboxes[cid] = Sandbox.from_json(json.loads(data))
            except (ValueError, TypeError) as exc:
                log.warning("network: dropping unreadable sandbox record of %s: %s", cid, exc)
                self.delete_sandbox(cid)
        for nid, data in self.conn.execute("SELECT id, data FROM networks"):
            try:
                state.user_networks[nid] = Network.from_json(json.loads(data))
            except (ValueError, TypeError) as exc:
                log.warning("network: ignoring unreadable network record %s: %s", nid, exc)
        changed = False
        for name in BUILTIN:
            if name not in state.networks:
                state.networks[name] = {"Id": new_id(), "Created": _now()}
                changed = True
        if changed:
            self.set_meta(networks=json.dumps(state.networks))
        return state

    def set_meta(self, **values: str | None) -> None:
        with self.conn:
            for key, value in values.items():
                if value is None:
                    self.conn.execute("DELETE FROM meta WHERE key = ?", (key,))
                else:
                    self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def put_sandbox(self, sb: Sandbox, last_ip: str | None) -> None:
        with self.conn:
            self.conn.execute(
                "INSERT OR REPLACE INTO sandboxes (cid, data) VALUES (?, ?)",
                (sb.cid, json.dumps(sb.to_json(), separators=(",", ":"))),
            )
            if last_ip is not None:
                self.conn.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('last_ip', ?)", (last_ip,)
                )

    def delete_sandbox(self, cid: str) -> None:
        with self.conn:
            self.conn.execute("DELETE FROM sandboxes WHERE cid = ?", (cid,))

    def put_network(self, net: Network) -> None:
        with self.conn:
            self.conn.execute(
                "INSERT OR REPLACE INTO networks (id, data) VALUES (?, ?)",
                (net.id, json.dumps(net.to_json(), separators=(",", ":"))),
            )

    def delete_network(self, nid: str) -> None:
        with self.conn:
            self.conn.execute("DELETE FROM networks WHERE id = ?", (nid,))

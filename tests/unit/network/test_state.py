"""The network's database: what it keeps and how it recovers from a damaged file."""

from __future__ import annotations

from pathlib import Path

from dockyard.network.sandbox import Endpoint, Sandbox
from dockyard.network.state import NetworkStore


def test_ids_are_made_once_and_kept(tmp_path: Path) -> None:
    store = NetworkStore(tmp_path / "network" / "ipam.db")
    first = store.load()
    assert set(first.networks) == {"bridge", "host", "none"}
    assert first.networks["bridge"]["Created"].endswith("Z")
    store.close()
    again = NetworkStore(tmp_path / "network" / "ipam.db").load()
    assert again.networks == first.networks


def test_sandboxes_and_meta_round_trip(tmp_path: Path) -> None:
    store = NetworkStore(tmp_path / "ipam.db")
    store.load()
    ep = Endpoint("bridge", "n" * 64, "e" * 64, ip="172.17.0.2", prefixlen=16, builtin=True)
    sb = Sandbox(cid="c1", mode="bridge", netns_path="/x/c1", endpoints=[ep])
    store.put_sandbox(sb, "172.17.0.2")
    store.put_sandbox(Sandbox(cid="h1", mode="host", netns_path=None), None)
    store.set_meta(bridge="dockyard0", subnet="172.17.0.0/16")
    store.close()

    store = NetworkStore(tmp_path / "ipam.db")
    state = store.load()
    assert state.sandboxes["c1"] == sb and state.sandboxes["h1"].netns_path is None
    assert (state.bridge, state.subnet, state.last_ip) == ("dockyard0", "172.17.0.0/16", "172.17.0.2")
    store.delete_sandbox("c1")
    store.delete_sandbox("c1")  # idempotent
    assert set(store.load().sandboxes) == {"h1"}


def test_a_damaged_file_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "ipam.db"
    path.write_bytes(b"this is not a database" * 100)
    state = NetworkStore(path).load()
    assert state.sandboxes == {}
    assert [p.name.startswith("ipam.db.corrupt-") for p in tmp_path.iterdir()].count(True) == 1


def test_an_unreadable_record_is_dropped(tmp_path: Path) -> None:
    store = NetworkStore(tmp_path / "ipam.db")
    store.load()
    with store.conn:
        store.conn.execute("INSERT INTO sandboxes (cid, data) VALUES ('bad', 'not json')")
    assert "bad" not in store.load().sandboxes
    assert store.conn.execute("SELECT COUNT(*) FROM sandboxes").fetchone()[0] == 0

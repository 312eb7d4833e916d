"""The record store (SQLite round trip, lookups by id, name and prefix), the API views, list
filters, restart policies, signals, the ps parser and the wait conditions."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path

import pytest

from dockyard.engine import filters, restart, signals, top, views
from dockyard.engine.container import Container, MountPoint, State, now_rfc3339, parse_rfc3339
from dockyard.engine.db import EngineDB
from dockyard.engine.store import ContainerStore
from dockyard.engine.waiters import Waiters
from dockyard.errors import Conflict, InvalidArgument, NotFound


def record(
    cid: str, name: str, status: str = "created", created: str = "2026-01-01T00:00:00.000000001Z"
) -> Container:
    return Container(
        id=cid,
        name=name,
        created=created,
        image_id="sha256:" + "1" * 64,
        config={"Image": "busybox", "Labels": {"k": "v"}, "Cmd": ["true"]},
        host_config={"NetworkMode": "default", "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}},
        path="true",
        state=State(status=status),
        mounts=[MountPoint(type="volume", destination="/d", name="vol", source="/v/_data")],
    )


def test_db_round_trip_and_atomic_rows(tmp_path: Path) -> None:
    db = EngineDB(tmp_path / "engine.db")
    c = record("a" * 64, "/one")
    db.put(c)
    c.state.status = "running"
    c.state.pid = 42
    db.put(c)
    db.close()
    again = EngineDB(tmp_path / "engine.db")
    (loaded,) = again.load()
    assert loaded == c and loaded.mounts[0].name == "vol"
    assert again.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with pytest.raises(sqlite3.IntegrityError):
        again.put(record("b" * 64, "/one"))  # names are unique in the table too
    assert len(again.load()) == 1
    again.delete("a" * 64)
    again.delete("a" * 64)  # idempotent
    assert again.load() == []
    again.close()


def test_lookup_by_id_name_and_prefix(tmp_path: Path) -> None:
    store = ContainerStore(EngineDB(tmp_path / "engine.db"))
    a = record("abc1" + "0" * 60, "/web")
    b = record("abc2" + "0" * 60, "/db")
    store.add(a)
    store.add(b)
    assert store.get("web") is a and store.get("/db") is b and store.get("abc1") is a
    assert store.get(a.id) is a
    with pytest.raises(InvalidArgument, match="multiple IDs found with provided prefix: abc"):
        store.get("abc")
    with pytest.raises(NotFound, match="No such container: zzz"):
        store.get("zzz")
    with pytest.raises(Conflict, match='The container name "/web" is already in use by container'):
        store.add(record("f" * 64, "/web"))
    store.rename(a, "/front")
    assert store.get("front") is a and store.find("web") is None
    store.remove(b)
    assert ContainerStore(store.db).get("front").id == a.id


def test_views() -> None:
    assert views.human_duration(0.4) == "Less than a second"
    assert views.human_duration(1) == "1 second"
    assert views.human_duration(59) == "59 seconds"
    assert views.human_duration(61) == "About a minute"
    assert views.human_duration(3 * 3600) == "3 hours"
    assert views.human_duration(3 * 86400) == "3 days"
    c = record("c" * 64, "/x", status="exited")
    c.state.exit_code = 3
    c.state.started_at = "2026-01-01T00:00:00Z"
    c.state.finished_at = "2026-01-01T00:00:10Z"
    now = parse_rfc3339(c.state.finished_at) + 120
    assert views.status_line(c, now) == "Exited (3) 2 minutes ago"
    c.state.status = "running"
    c.state.health = {"Status": "healthy"}
    assert views.status_line(c, parse_rfc3339(c.state.started_at) + 5) == "Up 5 seconds (healthy)"
    c.state.status = "paused"
    assert views.status_line(c, parse_rfc3339(c.state.started_at) + 5) == "Up 5 seconds (Paused)"
    summary = views.summary(c, network_ids={"bridge": "n1"})
    assert summary["Names"] == ["/x"] and summary["Command"] == "true" and summary["State"] == "paused"
    assert summary["Mounts"][0] == {
        "Type": "volume", "Name": "vol", "Source": "/v/_data", "Destination": "/d", "Driver": "local",
        "Mode": "", "RW": True, "Propagation": "",
    }  # fmt: skip
    assert parse_rfc3339(now_rfc3339()) > 1.7e9


def test_list_filters() -> None:
    old = record("1" * 64, "/old", status="exited", created="2026-01-01T00:00:00Z")
    old.state.started_at = "2026-01-01T00:00:01Z"
    old.state.exit_code = 1
    mid = record("2" * 64, "/mid", status="running", created="2026-01-02T00:00:00Z")
    new = record("3" * 64, "/new", status="created", created="2026-01-03T00:00:00Z")
    every = [old, mid, new]
    by_name = {c.bare_name: c for c in every}

    def select(all_: bool = False, **flt: list[str]) -> list[str]:
        chosen = filters.select(
            every,
            filters.ListQuery(all=all_, filters=dict(flt)),
            lookup=lambda ref: by_name[ref],
            ancestor_ids=lambda ref: {"sha256:" + "1" * 64},
        )
        return [c.bare_name for c in chosen]

    assert select() == ["mid"]
    assert select(True) == ["new", "mid", "old"]
    assert select(status=["exited", "created"]) == ["new", "old"]
    assert select(True, exited=["1"]) == ["old"]
    assert select(True, before=["mid"]) == ["old"]
    assert select(True, since=["old"]) == ["new", "mid"]
    assert select(True, name=["^/?ne"]) == ["new"]
    assert select(True, label=["k=v"]) == ["new", "mid", "old"] and select(True, label=["k=w"]) == []
    assert select(True, volume=["vol"]) == ["new", "mid", "old"]
    assert select(True, ancestor=["busybox"]) == ["new", "mid", "old"]
    with pytest.raises(InvalidArgument, match="invalid filter 'status=sleeping'"):
        select(status=["sleeping"])
    with pytest.raises(InvalidArgument, match="invalid filter 'colour'"):
        select(colour=["red"])


def test_restart_policies() -> None:
    on_failure = {"Name": "on-failure", "MaximumRetryCount": 2}
    assert restart.should_restart(on_failure, 1, 0, False) and restart.should_restart(on_failure, 1, 1, False)
    assert not restart.should_restart(on_failure, 1, 2, False) and not restart.should_restart(
        on_failure, 0, 0, False
    )
    assert restart.should_restart({"Name": "always"}, 0, 50, False)
    assert not restart.should_restart({"Name": "always"}, 0, 0, True)
    assert not restart.should_restart({"Name": "no"}, 1, 0, False)
    assert restart.restart_at_daemon_start({"Name": "always"}, 0, True)
    assert not restart.restart_at_daemon_start({"Name": "unless-stopped"}, 0, True)
    assert restart.restart_at_daemon_start({"Name": "unless-stopped"}, 0, False)
    backoff = restart.Backoff()
    assert [backoff.next(0.5) for _ in range(4)] == [0.1, 0.2, 0.4, 0.8]
    assert backoff.next(12.0) == 0.1


def test_signals() -> None:
    assert signals.parse("SIGTERM") == signal.SIGTERM == signals.parse("term") == signals.parse("15")
    assert signals.parse(None) == signal.SIGKILL
    assert signals.parse("SIGRTMIN+3") == signal.SIGRTMIN + 3
    for bad in ("FOO", "0", "999"):
        with pytest.raises(InvalidArgument, match="Invalid signal"):
            signals.parse(bad)


def test_ps_parsing() -> None:
    output = (
        "UID   PID  PPID  C STIME TTY   TIME     CMD\n"
        "root  10   1     0 04:00 ?     00:00:00 sleep 30\n"
        "root  11   10    0 04:00 ?     00:00:00 sh -c echo a  b\n"
        "root  99   1     0 04:00 ?     00:00:00 other\n"
    )
    got = top.parse_ps(output, {10, 11})
    assert got["Titles"] == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    assert [p[-1] for p in got["Processes"]] == ["sleep 30", "sh -c echo a  b"]
    with pytest.raises(InvalidArgument, match="Couldn't find PID field"):
        top.parse_ps("UID CMD\nroot x\n", {1})


def test_wait_conditions() -> None:
    async def scenario() -> list[int]:
        w = Waiters()
        not_running, next_exit, removed = w.add("not-running"), w.add("next-exit"), w.add("removed")
        w.exited(1, stays_stopped=False)  # an exit followed by a restart
        assert next_exit.done() and not not_running.done()
        w.exited(2, stays_stopped=True)
        w.removed(2)
        with pytest.raises(InvalidArgument):
            w.add("bogus")
        return [next_exit.result(), not_running.result(), removed.result()]

    assert asyncio.run(scenario()) == [1, 2, 2]


def test_detach_keys() -> None:
    from dockyard.engine.detach_keys import EscapeFilter, parse

    assert parse(None) == b"\x10\x11" and parse("ctrl-a,x") == b"\x01x" and parse("ctrl-[") == b"\x1b"
    with pytest.raises(InvalidArgument, match="Invalid escape keys"):
        parse("ctrl-1")
    f = EscapeFilter(parse(None))
    assert f.feed(b"ab\x10") == (b"ab", False)  # held: it may start the sequence
    assert f.feed(b"c") == (b"\x10c", False)  # it did not: passed on
    assert f.feed(b"x\x10\x11rest") == (b"x", True)
    g = EscapeFilter(parse(None))
    assert g.feed(b"\x10") == (b"", False) and g.flush() == b"\x10"

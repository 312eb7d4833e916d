"""The event bus: Docker's event JSON, filters, since/until replay, publishing from threads."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from typing import Any

import pytest

from dockyard.engine.events import EventBus, matches, parse_time
from dockyard.errors import InvalidArgument


def test_container_event_has_the_old_fields_too() -> None:
    bus = EventBus()
    ev = bus.publish("container", "start", "c0ffee", {"image": "busybox", "name": "web"})
    assert ev["status"] == "start" and ev["id"] == "c0ffee" and ev["from"] == "busybox"
    assert ev["Type"] == "container" and ev["Action"] == "start" and ev["scope"] == "local"
    assert ev["Actor"] == {"ID": "c0ffee", "Attributes": {"image": "busybox", "name": "web"}}
    assert ev["time"] == ev["timeNano"] // 1_000_000_000
    assert abs(ev["time"] - time.time()) < 5
    image = bus.publish("image", "pull", "busybox:latest", {"name": "busybox"})
    assert image["status"] == "pull" and image["id"] == "busybox:latest" and "from" not in image
    volume = bus.publish("volume", "create", "data", {"driver": "local"})
    assert "status" not in volume and "id" not in volume
    assert volume["timeNano"] > image["timeNano"] > ev["timeNano"]


def _ev(type: str, action: str, actor: str, **attrs: str) -> dict[str, Any]:
    return {"Type": type, "Action": action, "Actor": {"ID": actor, "Attributes": attrs}, "scope": "local"}


def test_filters_as_dockerd_applies_them() -> None:
    c = _ev("container", "health_status: healthy", "abcdef123", name="web", image="busybox:latest", tier="x")
    assert matches(c, {})
    assert matches(c, {"type": ["container"]}) and not matches(c, {"type": ["image"]})
    assert matches(c, {"event": ["health_status"]})  # the prefix form is accepted for these
    assert not matches(c, {"event": ["health"]})
    assert matches(c, {"container": ["abc"]}) and matches(c, {"container": ["web"]})
    assert not matches(c, {"container": ["other"]})
    assert matches(c, {"image": ["busybox"]}) and matches(c, {"image": ["busybox:latest"]})
    assert not matches(c, {"image": ["alpine"]})
    assert matches(c, {"label": ["tier"]}) and matches(c, {"label": ["tier=x"]})
    assert not matches(c, {"label": ["tier=y"]})
    v = _ev("volume", "create", "data", driver="local")
    assert matches(v, {"volume": ["data"]}) and not matches(v, {"container": ["data"]})
    assert matches(_ev("container", "start", "1"), {"event": ["start", "stop"]})
    i = _ev("image", "tag", "sha256:1", name="localhost:5000/busybox:v1")
    assert matches(i, {"image": ["localhost:5000/busybox"]})


def test_parse_time_forms() -> None:
    assert parse_time("1700000000") == 1700000000
    assert parse_time("1700000000.5") == pytest.approx(1700000000.5)
    assert parse_time("1700000000.000000001") == pytest.approx(1700000000.000000001)
    assert parse_time("2023-11-14T22:13:20Z") == 1700000000
    assert parse_time("2023-11-14T22:13:20.123456789+00:00") == pytest.approx(1700000000.123456)
    assert parse_time("10m", now=1000.0) == 400.0
    assert parse_time("1.5h", now=10000.0) == 4600.0
    with pytest.raises(InvalidArgument, match="invalid timestamp 'yesterday'"):
        parse_time("yesterday")


async def _collect(bus: EventBus, n: int, **kwargs: Any) -> list[dict[str, Any]]:
    out = []
    stream: Any = bus.subscribe(**kwargs)  # an async generator (it has aclose)
    async with contextlib.aclosing(stream) as events:
        async for ev in events:
            out.append(ev)
            if len(out) == n:
                break
    return out


def test_subscribe_live_with_filters() -> None:
    async def main() -> list[dict[str, Any]]:
        bus = EventBus()
        task = asyncio.ensure_future(_collect(bus, 2, filters={"type": ["container"]}))
        await asyncio.sleep(0.01)
        bus.publish("container", "create", "a")
        bus.publish("volume", "create", "v")
        bus.publish("container", "start", "a")
        return await asyncio.wait_for(task, 5)

    got = asyncio.run(main())
    assert [e["Action"] for e in got] == ["create", "start"]


def test_since_replays_history_and_until_ends_the_stream() -> None:
    async def main() -> tuple[list[str], list[str], float]:
        bus = EventBus(history=3)
        first = bus.publish("container", "create", "old")
        for action in ("start", "die", "destroy"):
            bus.publish("container", action, "a")
        since = (first["timeNano"] - 1) / 1e9
        replay = []
        async for ev in bus.subscribe(since=since, until=time.time()):
            replay.append(ev["Action"])
        # until in the future: live events until it passes, then the stream ends by itself.
        t0 = time.monotonic()
        live: list[str] = []
        sub = bus.subscribe(until=time.time() + 0.3)
        task = asyncio.ensure_future(_drain(sub, live))
        await asyncio.sleep(0.05)
        bus.publish("container", "kill", "a")
        await asyncio.wait_for(task, 5)
        return replay, live, time.monotonic() - t0

    replay, live, took = asyncio.run(main())
    assert replay == ["start", "die", "destroy"]  # the oldest fell out of the bounded history
    assert live == ["kill"]
    assert 0.2 < took < 3


async def _drain(sub: Any, out: list[str]) -> None:
    async for ev in sub:
        out.append(ev["Action"])


def test_publish_from_another_thread() -> None:
    async def main() -> list[dict[str, Any]]:
        bus = EventBus()
        task = asyncio.ensure_future(_collect(bus, 3))
        await asyncio.sleep(0.01)
        threads = [threading.Thread(target=bus.publish, args=("container", f"a{i}", "x")) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return await asyncio.wait_for(task, 5)

    got = asyncio.run(main())
    assert sorted(e["Action"] for e in got) == ["a0", "a1", "a2"]


def test_unknown_filter_is_refused() -> None:
    async def main() -> None:
        async for _ in EventBus().subscribe(filters={"colour": ["red"]}):
            pass

    with pytest.raises(InvalidArgument, match="invalid filter 'colour'"):
        asyncio.run(main())


def test_subscriber_leaving_is_forgotten() -> None:
    async def main() -> int:
        bus = EventBus()
        task = asyncio.ensure_future(_collect(bus, 1))
        await asyncio.sleep(0.01)
        bus.publish("container", "start", "a")
        await task
        return len(bus._subscribers)

    assert asyncio.run(main()) == 0

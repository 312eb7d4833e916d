"""The daemon's event bus: what `GET /events` streams.

    bus.publish("container", "start", cid, {"name": "web", "image": "busybox"})
    async for ev in bus.subscribe(since=..., until=..., filters={"type": ["container"]}): ...

Events are Docker's ``events.Message`` JSON: ``Type``, ``Action``, ``Actor {ID, Attributes}``,
``scope``, ``time`` (seconds), ``timeNano``, and for containers and images the deprecated
``status``, ``id`` (and ``from`` = the image, for containers) that old clients still read
(moby daemon/events/events.go fills them the same way). A bounded history is kept in memory so
``since`` can replay what happened just before a client connected.

Filters follow moby daemon/events/filter.go: ``type``, ``event`` (exact, except that
``health_status``, ``exec_create`` and ``exec_start`` also match their ``"health_status: healthy"``
style actions), ``container``/``volume``/``network``/``daemon`` (the actor's ID or name attribute,
as a prefix), ``image`` (id or name, with or without tag), ``label`` (``k`` or ``k=v`` on the
attributes) and ``scope``.
"""

from __future__ import annotations

import asyncio
import collections
import re
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from dockyard.errors import InvalidArgument

_FUZZY_EVENTS = ("health_status", "exec_create", "exec_start")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)$")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_KNOWN_FILTERS = frozenset(
    {"type", "event", "container", "image", "volume", "network", "daemon", "label", "scope", "plugin",
     "node", "service", "secret", "config"}
)  # fmt: skip


def parse_time(value: str, now: float | None = None) -> float:
    """Seconds since the epoch from an API ``since``/``until`` value.

    The docker CLI sends ``SECONDS[.NANOSECONDS]`` (it converts durations and dates itself);
    older clients and curl users send RFC 3339 dates or Go durations ("10m", meaning that long
    before now), which moby's ``timetypes.GetTimestamp`` accepts as well.
    """
    text = value.strip()
    if not text:
        raise InvalidArgument("empty timestamp: use seconds since the epoch, an RFC 3339 date or a duration")
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        secs, _, frac = text.partition(".")
        return int(secs) + (int(frac[:9].ljust(9, "0")) / 1e9 if frac else 0.0)
    m = _DURATION.match(text)
    if m:
        base = time.time() if now is None else now
        return base - float(m.group(1)) * _DURATION_UNITS[m.group(2)]
    try:
        iso = text.replace("Z", "+00:00")
        # Python 3.11's fromisoformat accepts at most 6 fractional digits; Go sends up to 9.
        iso = re.sub(r"(\.\d{6})\d+", r"\1", iso)
        dt = datetime.fromisoformat(iso)
    except ValueError:
        raise InvalidArgument(
            f"invalid timestamp {value!r}: use seconds since the epoch (1700000000.5), "
            "an RFC 3339 date (2024-01-02T15:04:05Z) or a duration (10m)"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def _fuzzy(values: list[str] | None, *sources: str | None) -> bool:
    if not values:
        return True
    return any(src and (src == v or src.startswith(v)) for v in values for src in sources)


def _exact(values: list[str] | None, *sources: str | None) -> bool:
    if not values:
        return True
    return any(src is not None and src in values for src in sources)


def _strip_tag(ref: str) -> str:
    # "busybox:latest" -> "busybox", but not "localhost:5000/busybox" (a port, not a tag).
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if "@" in ref:
        return ref.split("@", 1)[0]
    return ref[:colon] if colon > slash else ref


def _match_labels(values: list[str] | None, attrs: dict[str, str]) -> bool:
    if not values:
        return True
    for v in values:
        key, eq, want = v.partition("=")
        if key not in attrs or (eq and attrs[key] != want):
            return False
    return True


def matches(event: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    """True when ``event`` passes every filter (moby's events.Filter.Include)."""
    action: str = event["Action"]
    etype: str = event["Type"]
    actor = event["Actor"]
    attrs: dict[str, str] = actor.get("Attributes") or {}
    aid: str = actor.get("ID", "")
    wanted = filters.get("event")
    if wanted and any(w in _FUZZY_EVENTS for w in wanted):
        if not _fuzzy(wanted, action):
            return False
    elif not _exact(wanted, action):
        return False
    if not _exact(filters.get("type"), etype) or not _exact(filters.get("scope"), event.get("scope")):
        return False
    for kind in ("container", "volume", "network", "daemon", "plugin"):
        vals = filters.get(kind)
        if vals and (etype != kind or not _fuzzy(vals, aid, attrs.get("name"))):
            return False
    images = filters.get("image")
    if images:
        name = attrs.get("name" if etype == "image" else "image", "")
        if not _exact(images, aid, name, _strip_tag(aid), _strip_tag(name)):
            return False
    return _match_labels(filters.get("label"), attrs)


def validate_filters(filters: dict[str, list[str]]) -> None:
    for key in filters:
        if key not in _KNOWN_FILTERS:
            raise InvalidArgument(f"invalid filter {key!r}: use one of {', '.join(sorted(_KNOWN_FILTERS))}")


class _Subscriber:
    __slots__ = ("filters", "loop", "queue")

    def __init__(self, loop: asyncio.AbstractEventLoop, filters: dict[str, list[str]]) -> None:
        self.loop = loop
        self.filters = filters
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()


class EventBus:
    """Publish events; each subscriber gets the history it asked for, then live events."""

    def __init__(self, history: int = 1024) -> None:
        self._history: collections.deque[dict[str, Any]] = collections.deque(maxlen=history)
        self._subscribers: list[_Subscriber] = []
        self._lock = threading.Lock()
        self._last_nano = 0

    def publish(
        self,
        type: str,
        action: str,
        actor_id: str,
        attributes: dict[str, str] | None = None,
        scope: str = "local",
    ) -> dict[str, Any]:
        """Record and fan out one event; returns its JSON. Safe to call from any thread."""
        attrs = dict(attributes or {})
        with self._lock:
            # Strictly increasing timeNano: `since` replays by time, and two events in the same
            # nanosecond (coarse clocks) must keep their order.
            nano = max(time.time_ns(), self._last_nano + 1)
            self._last_nano = nano
            event: dict[str, Any] = {}
            if type in ("container", "image"):
                event["status"] = action
                event["id"] = actor_id
                if type == "container" and "image" in attrs:
                    event["from"] = attrs["image"]
            event.update(
                {
                    "Type": type,
                    "Action": action,
                    "Actor": {"ID": actor_id, "Attributes": attrs},
                    "scope": scope,
                    "time": nano // 1_000_000_000,
                    "timeNano": nano,
                }
            )
            self._history.append(event)
            subscribers = list(self._subscribers)
        for sub in subscribers:
            if matches(event, sub.filters):
                try:
                    running = asyncio.get_running_loop()
                except RuntimeError:
                    running = None
                if running is sub.loop:
                    sub.queue.put_nowait(event)
                else:
                    try:
                        sub.loop.call_soon_threadsafe(sub.queue.put_nowait, event)
                    except RuntimeError:
                        pass  # that subscriber's loop is closed: it is gone
        return event

    def history(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._history)

    async def subscribe(
        self,
        since: float | None = None,
        until: float | None = None,
        filters: dict[str, list[str]] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Events matching ``filters``: first the remembered ones newer than ``since``, then live
        ones; the stream ends once ``until`` has passed (at once if it is in the past)."""
        flt = dict(filters or {})
        validate_filters(flt)
        sub = _Subscriber(asyncio.get_running_loop(), flt)
        since_ns = None if since is None else int(since * 1e9)
        until_ns = None if until is None else int(until * 1e9)
        with self._lock:
            backlog = [
                e
                for e in self._history
                if since_ns is not None and e["timeNano"] >= since_ns and matches(e, flt)
            ]
            self._subscribers.append(sub)
        try:
            last = 0
            for event in backlog:
                if until_ns is not None and event["timeNano"] > until_ns:
                    return
                last = event["timeNano"]
                yield event
            while True:
                timeout = None
                if until_ns is not None:
                    timeout = until_ns / 1e9 - time.time()
                    if timeout <= 0:
                        return
                try:
                    event = await asyncio.wait_for(sub.queue.get(), timeout)
                except TimeoutError:
                    return
                if event["timeNano"] <= last:
                    continue  # already sent from the backlog
                if until_ns is not None and event["timeNano"] > until_ns:
                    return
                yield event
        finally:
            with self._lock:
                if sub in self._subscribers:
                    self._subscribers.remove(sub)

"""Healthchecks: the image's HEALTHCHECK or the container's ``--health-*`` run through exec.

As dockerd (daemon/health.go): the first probe runs one interval after the start (or one start
interval while in the start period); a probe exiting 0 makes the container ``healthy`` and resets
the failing streak; any other outcome (exit 1, another code, a timeout) adds to the streak, which
makes the container ``unhealthy`` once it reaches ``Retries`` -- except during the start period,
when failures do not count. The last five results are kept as ``State.Health.Log``; output is
cut at 4 KiB. Times in the API are nanoseconds; 0 means the default.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dockyard.errors import InvalidArgument

STARTING = "starting"
HEALTHY = "healthy"
UNHEALTHY = "unhealthy"
NONE = "none"

DEFAULT_INTERVAL = 30.0
DEFAULT_TIMEOUT = 30.0
DEFAULT_START_INTERVAL = 5.0
DEFAULT_RETRIES = 3
MIN_DURATION = 0.001  # dockerd refuses intervals below 1ms (the API is in nanoseconds)
MAX_LOG_ENTRIES = 5

Probe = Callable[[list[str], float], Awaitable[tuple[int, str]]]


def go_duration(seconds: float) -> str:
    """Go's time.Duration String(): 30s, 1.5s, 500ms, 1m30s, 2h0m0s."""
    ns = round(seconds * 1e9)
    if ns == 0:
        return "0s"
    if ns < 1000:
        return f"{ns}ns"
    if ns < 1_000_000:
        return f"{_trim(ns / 1e3)}µs"
    if ns < 1_000_000_000:
        return f"{_trim(ns / 1e6)}ms"
    total = ns / 1e9
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{int(hours)}h{int(minutes)}m{_trim(secs)}s"
    if minutes:
        return f"{int(minutes)}m{_trim(secs)}s"
    return f"{_trim(secs)}s"


def _trim(value: float) -> str:
    text = f"{value:.9f}".rstrip("0").rstrip(".")
    return text or "0"


def go_time(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond:06d}000Z"


def _nanos(hc: dict[str, Any], key: str) -> int:
    value = hc.get(key) or 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidArgument(
            f"Healthcheck.{key} {value!r}: give a duration in nanoseconds (0 for the default)"
        )
    if 0 < value < MIN_DURATION * 1e9:
        raise InvalidArgument(f"Interval in Healthcheck cannot be less than 1ms ({key}={value})")
    return value


def merge_healthcheck(
    image: dict[str, Any] | None, container: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The container's Healthcheck over the image's, field by field, as dockerd merges them."""
    if not container:
        return dict(image) if image else None
    out = dict(container)
    if not out.get("Test") and image:
        out["Test"] = image.get("Test")
    for key in ("Interval", "Timeout", "StartPeriod", "StartInterval", "Retries"):
        if not out.get(key) and image and image.get(key):
            out[key] = image[key]
    return out


@dataclass
class HealthConfig:
    test: list[str]
    interval: float = DEFAULT_INTERVAL
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    start_period: float = 0.0
    start_interval: float = DEFAULT_START_INTERVAL

    @classmethod
    def from_json(cls, hc: dict[str, Any] | None) -> HealthConfig | None:
        """None when there is nothing to run (no Test, or ``["NONE"]``)."""
        if not hc:
            return None
        test = hc.get("Test") or []
        if not isinstance(test, list) or not all(isinstance(t, str) for t in test):
            raise InvalidArgument(
                f'Healthcheck.Test {test!r}: use ["CMD", ...], ["CMD-SHELL", cmd] or ["NONE"]'
            )
        if not test or test[0] == "NONE":
            return None
        if test[0] == "CMD":
            args = test[1:]
        elif test[0] == "CMD-SHELL":
            args = ["/bin/sh", "-c", " ".join(test[1:])]
        else:
            raise InvalidArgument(
                f"Healthcheck.Test {test!r}: the first element must be CMD, CMD-SHELL or NONE"
            )
        if not args:
            raise InvalidArgument(f"Healthcheck.Test {test!r}: no command to run")
        retries = hc.get("Retries") or 0
        if not isinstance(retries, int) or retries < 0:
            raise InvalidArgument(f"Healthcheck.Retries {retries!r}: give a number of at least 0")
        return cls(
            test=args,
            interval=(_nanos(hc, "Interval") or DEFAULT_INTERVAL * 1e9) / 1e9,
            timeout=(_nanos(hc, "Timeout") or DEFAULT_TIMEOUT * 1e9) / 1e9,
            retries=retries or DEFAULT_RETRIES,
            start_period=_nanos(hc, "StartPeriod") / 1e9,
            start_interval=(_nanos(hc, "StartInterval") or DEFAULT_START_INTERVAL * 1e9) / 1e9,
        )


@dataclass
class Health:
    """``State.Health``."""

    status: str = STARTING
    failing_streak: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"Status": self.status, "FailingStreak": self.failing_streak, "Log": list(self.log)}

    @classmethod
    def from_json(cls, doc: dict[str, Any] | None) -> Health:
        if not doc:
            return cls()
        return cls(
            status=str(doc.get("Status") or STARTING),
            failing_streak=int(doc.get("FailingStreak") or 0),
            log=list(doc.get("Log") or []),
        )

    def record(
        self, start: datetime, end: datetime, code: int, output: str, retries: int, in_start_period: bool
    ) -> bool:
        """Add one probe result; True when the status changed."""
        self.log.append({"Start": go_time(start), "End": go_time(end), "ExitCode": code, "Output": output})
        del self.log[:-MAX_LOG_ENTRIES]
        before = self.status
        if code == 0:
            self.status = HEALTHY
            self.failing_streak = 0
        elif not (in_start_period and before == STARTING):
            # A failure inside the start period only counts once the check has passed once.
            self.failing_streak += 1
            if self.failing_streak >= retries:
                self.status = UNHEALTHY
        return self.status != before


class HealthMonitor:
    """Runs the probes of one container while it runs."""

    def __init__(
        self,
        config: HealthConfig,
        probe: Probe,
        health: Health,
        on_update: Callable[[Health, bool], None],
    ) -> None:
        self.config = config
        self.probe = probe
        self.health = health
        self.on_update = on_update
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin probing (the container just started): the status is ``starting`` again."""
        if self._task is not None and not self._task.done():
            return
        self.health.status = STARTING
        self.health.failing_streak = 0
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def probe_once(self, in_start_period: bool = False) -> bool:
        """Run one probe now and record it; True when the status changed."""
        cfg = self.config
        start = datetime.now(UTC)
        try:
            code, output = await self.probe(list(cfg.test), cfg.timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the container stopped under the probe, the runtime failed...
            code, output = -1, str(exc)
        end = datetime.now(UTC)
        changed = self.health.record(start, end, code, output[:4096], cfg.retries, in_start_period)
        self.on_update(self.health, changed)
        return changed

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        cfg = self.config
        while True:
            in_start = loop.time() - started < cfg.start_period
            wait = cfg.start_interval if in_start and self.health.status == STARTING else cfg.interval
            await asyncio.sleep(wait)
            in_start = loop.time() - started < cfg.start_period
            await self.probe_once(in_start)

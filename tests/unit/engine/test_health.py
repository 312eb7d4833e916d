"""Healthchecks: config parsing and merging, the status rules, and probes run through real execs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from dockyard.engine.exec import ExecManager
from dockyard.engine.health import (
    HEALTHY,
    STARTING,
    UNHEALTHY,
    Health,
    HealthConfig,
    HealthMonitor,
    go_duration,
    merge_healthcheck,
)
from dockyard.errors import InvalidArgument
from tests.unit.engine import test_exec
from tests.unit.engine.test_exec import Box

box = test_exec.box  # the fixtures, shared
manager = test_exec.manager

MS = 1_000_000  # nanoseconds


def test_config_from_docker_json() -> None:
    assert HealthConfig.from_json(None) is None
    assert HealthConfig.from_json({"Test": ["NONE"]}) is None
    assert HealthConfig.from_json({"Test": []}) is None
    cfg = HealthConfig.from_json({"Test": ["CMD-SHELL", "curl -f localhost || exit 1"]})
    assert cfg is not None
    assert cfg.test == ["/bin/sh", "-c", "curl -f localhost || exit 1"]
    assert (cfg.interval, cfg.timeout, cfg.retries, cfg.start_period, cfg.start_interval) == (30, 30, 3, 0, 5)
    cfg = HealthConfig.from_json(
        {
            "Test": ["CMD", "true"],
            "Interval": 100 * MS,
            "Timeout": 2000 * MS,
            "Retries": 5,
            "StartPeriod": 10 * MS,
        }
    )
    assert cfg is not None and cfg.test == ["true"]
    assert (cfg.interval, cfg.timeout, cfg.retries, cfg.start_period) == (0.1, 2.0, 5, 0.01)
    with pytest.raises(InvalidArgument, match="first element must be CMD, CMD-SHELL or NONE"):
        HealthConfig.from_json({"Test": ["RUN", "x"]})
    with pytest.raises(InvalidArgument, match="cannot be less than 1ms"):
        HealthConfig.from_json({"Test": ["CMD", "true"], "Interval": 5})


def test_merge_container_over_image() -> None:
    image = {"Test": ["CMD", "check"], "Interval": 5, "Retries": 2}
    assert merge_healthcheck(image, None) == image
    assert merge_healthcheck(None, None) is None
    merged = merge_healthcheck(image, {"Interval": 9})
    assert merged == {"Test": ["CMD", "check"], "Interval": 9, "Retries": 2}
    assert merge_healthcheck(image, {"Test": ["NONE"]}) == {"Test": ["NONE"], "Interval": 5, "Retries": 2}


def test_go_durations() -> None:
    assert [go_duration(x) for x in (30, 1.5, 0.5, 90, 7200, 0.000001)] == [
        "30s", "1.5s", "500ms", "1m30s", "2h0m0s", "1µs",
    ]  # fmt: skip


def test_status_rules() -> None:
    now = datetime.now(UTC)
    h = Health()
    assert h.to_json() == {"Status": STARTING, "FailingStreak": 0, "Log": []}
    # Failures inside the start period do not count while the check never passed.
    assert h.record(now, now, 1, "no", retries=2, in_start_period=True) is False
    assert (h.status, h.failing_streak) == (STARTING, 0)
    assert h.record(now, now, 0, "ok", retries=2, in_start_period=True) is True
    assert h.status == HEALTHY
    assert h.record(now, now, 1, "no", retries=2, in_start_period=True) is False
    assert (h.status, h.failing_streak) == (HEALTHY, 1)
    assert h.record(now, now, 2, "no", retries=2, in_start_period=False) is True
    assert (h.status, h.failing_streak) == (UNHEALTHY, 2)
    for _ in range(5):
        h.record(now, now, -1, "timeout", retries=2, in_start_period=False)
    doc = h.to_json()
    assert len(doc["Log"]) == 5 and doc["FailingStreak"] == 7
    assert set(doc["Log"][0]) == {"Start", "End", "ExitCode", "Output"}
    assert doc["Log"][0]["Start"].endswith("Z")
    assert Health.from_json(doc) == h


def _monitor_run(
    mgr: ExecManager, container: Box, test: list[str], until: Any, **cfg: Any
) -> list[tuple[str, bool]]:
    async def main() -> list[tuple[str, bool]]:
        target = container.target()
        config = HealthConfig.from_json({"Test": test, "Interval": 50 * MS, "Timeout": 5000 * MS, **cfg})
        assert config is not None
        updates: list[tuple[str, bool]] = []

        async def probe(cmd: list[str], timeout: float) -> tuple[int, str]:
            return await mgr.run_probe(target, cmd, timeout)

        done = asyncio.Event()

        def on_update(health: Health, changed: bool) -> None:
            updates.append((health.status, changed))
            if until(health):
                done.set()

        mon = HealthMonitor(config, probe, Health(), on_update)
        mon.start()
        assert mon.health.status == STARTING
        running_at_start = mon.running
        try:
            await asyncio.wait_for(done.wait(), 20)
        finally:
            await mon.stop()
        assert running_at_start and not mon.running
        return updates

    return asyncio.run(main())


def test_passing_check_turns_healthy(manager: ExecManager, box: Box) -> None:
    updates = _monitor_run(manager, box, ["CMD-SHELL", "test -d /proc"], lambda h: h.status == HEALTHY)
    assert updates == [(HEALTHY, True)]


def test_failing_check_turns_unhealthy_after_retries(manager: ExecManager, box: Box) -> None:
    updates = _monitor_run(
        manager, box, ["CMD", "sh", "-c", "echo broken; exit 1"], lambda h: h.status == UNHEALTHY, Retries=2
    )
    assert updates == [(STARTING, False), (UNHEALTHY, True)]


def test_probe_output_lands_in_the_log(manager: ExecManager, box: Box) -> None:
    logs: list[dict[str, Any]] = []

    def until(h: Health) -> bool:
        logs[:] = h.log
        return len(h.log) >= 2

    _monitor_run(manager, box, ["CMD", "nope"], until, Retries=9)
    assert logs[0]["ExitCode"] == 127
    assert "executable file not found" in logs[0]["Output"]

"""A scenario's stage: a victim container answering HTTP and the daemon answering /_ping, both
timed on background threads for as long as the scenario runs (probes.Recorder), phase by phase.

Scenarios (tests/isolation/test_containment.py and bench/isolation.py) run an attacker beside it
and read the victim's and the daemon's latencies per phase afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from tests.isolation.engines import Engine
from tests.isolation.probes import VICTIM_COMMAND, Recorder, Samples, http_get

#: The victim is asked every 20 ms, the daemon every 100 ms.
HTTP_INTERVAL = 0.02
PING_INTERVAL = 0.1


@dataclass
class Scene:
    engine: Engine
    victim: str
    victim_pid: int
    http: Recorder
    pings: Recorder

    def switch(self, phase: str) -> None:
        self.http.switch(phase)
        self.pings.switch(phase)

    def measure(self, phase: str, samples: int) -> Samples:
        """Switch to ``phase`` and wait until the victim answered ``samples`` times in it."""
        self.switch(phase)
        return self.http.wait_samples(phase, samples)

    def victim_alive(self) -> bool:
        state = self.engine.inspect(self.victim)["State"]
        return bool(state["Running"]) and int(state["Pid"]) == self.victim_pid


@contextlib.contextmanager
def stage(engine: Engine, victim: str) -> Iterator[Scene]:
    engine.run(victim, command=list(VICTIM_COMMAND))
    pid = engine.pid(victim)
    with (
        Recorder(http_get, HTTP_INTERVAL, netns_pid=pid) as http,
        Recorder(engine.ping, PING_INTERVAL) as pings,
    ):
        http.switch("warmup")
        deadline_samples = http.wait_samples("warmup", 1, timeout=15)
        if not deadline_samples.latencies:
            raise AssertionError(f"{engine.name}: the victim never answered: {deadline_samples.errors[-3:]}")
        yield Scene(engine, victim, pid, http, pings)

"""Restart policies: whether an exited container comes back, and after how long.

dockerd's restartmanager: ``no`` never; ``always`` always; ``unless-stopped`` always unless a
user stopped it; ``on-failure[:N]`` on a non-zero exit, at most N times when N > 0. A container
stopped by the user (``docker stop``/``kill``) is not restarted by any policy until it is
started again. The delay starts at 100 ms and doubles with each restart; a container that ran
for 10 s or more resets it to 100 ms (and, as dockerd, the retry count is not reset).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

BACKOFF_START = 0.1
BACKOFF_RESET_AFTER = 10.0
BACKOFF_MAX = 60.0


@dataclass
class Backoff:
    delay: float = 0.0

    def next(self, ran_for: float) -> float:
        if ran_for >= BACKOFF_RESET_AFTER or self.delay == 0.0:
            self.delay = BACKOFF_START
        else:
            self.delay = min(self.delay * 2, BACKOFF_MAX)
        return self.delay


def should_restart(
    policy: dict[str, Any],
    exit_code: int,
    restart_count: int,
    manually_stopped: bool,
    daemon_start: bool = False,
) -> bool:
    name = policy.get("Name") or "no"
    if manually_stopped or name == "no":
        return False
    if name == "always":
        return True
    if name == "unless-stopped":
        return True
    if name == "on-failure":
        if exit_code == 0:
            return False
        limit = int(policy.get("MaximumRetryCount") or 0)
        return limit <= 0 or restart_count < limit
    return False


def restart_at_daemon_start(policy: dict[str, Any], exit_code: int, manually_stopped: bool) -> bool:
    """dockerd's restore: ``always`` comes back even after a `docker stop` (Docker's documented
    difference from ``unless-stopped``, which stays stopped then); ``on-failure`` containers
    come back when their last exit was a failure (a reboot killed them, say)."""
    name = policy.get("Name") or "no"
    if name == "always":
        return True
    if name == "unless-stopped":
        return not manually_stopped
    return name == "on-failure" and exit_code != 0 and not manually_stopped

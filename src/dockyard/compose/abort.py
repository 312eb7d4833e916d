"""``compose up --abort-on-container-exit | --abort-on-container-failure | --exit-code-from``:
when to stop an attached ``up`` because a container ended, and the exit code ``up`` returns.

As Compose v2:
- ``--abort-on-container-exit``: the first container to end stops the others; ``up`` exits with
  that container's code;
- ``--abort-on-container-failure``: the same, only for a container that ended with a non-zero code;
- ``--exit-code-from SERVICE`` implies ``--abort-on-container-exit``; ``up`` exits with that
  service's container's code once everything is stopped.

A one-shot container that others wait for (``depends_on: condition:
service_completed_successfully``) and that ends with 0 did its job: that does not abort.
"""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.compose.errors import NoSuchService
from dockyard.compose.model import Project
from dockyard.compose.state import Container


@dataclass
class AbortPolicy:
    on_exit: bool = False
    on_failure: bool = False
    exit_code_from: str = ""

    @property
    def active(self) -> bool:
        return self.on_exit or self.on_failure or bool(self.exit_code_from)


class Watch:
    """Fed each container's exit code as its log ends; says when to abort, then the code to return."""

    def __init__(self, policy: AbortPolicy, project: Project) -> None:
        self.policy = policy
        self.one_shots = {
            dep
            for s in project.services.values()
            for dep, spec in s.depends_on.items()
            if spec.condition == "service_completed_successfully"
        }
        if policy.exit_code_from and policy.exit_code_from not in project.services:
            raise NoSuchService(
                f'--exit-code-from: no such service: "{policy.exit_code_from}": services are '
                + ", ".join(sorted(project.services))
            )
        self.trigger: tuple[Container, int] | None = None

    def exited(self, c: Container, code: int) -> bool:
        """True when this exit aborts the project (only the first such exit counts)."""
        if self.trigger is not None or not self.policy.active:
            return False
        if code == 0 and c.service in self.one_shots:
            return False
        if code == 0 and not (self.policy.on_exit or self.policy.exit_code_from):
            return False  # --abort-on-container-failure alone
        self.trigger = (c, code)
        return True

    def exit_code(self, codes: dict[str, int]) -> int:
        """The code ``up`` returns; ``codes`` maps a service to its (first) container's final code."""
        if self.policy.exit_code_from:
            return codes.get(self.policy.exit_code_from, 0)
        return self.trigger[1] if self.trigger is not None else 0

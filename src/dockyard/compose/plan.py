"""What ``up`` does to one service's containers: a pure decision, so it is tested on its own.

Given the containers the engine has (by replica number) and the wanted count and config hash:
replicas above the count go, highest numbers first (as Compose ``--scale`` down); the others
are kept (started if stopped) when their hash matches and no recreate is forced, else
recreated; missing numbers up to the count are created.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from dockyard.compose.state import Container

Action = Literal["keep", "start", "recreate", "create", "remove"]


@dataclass
class Step:
    action: Action
    number: int
    container: Container | None = None


@dataclass
class ServicePlan:
    service: str
    steps: list[Step] = field(default_factory=list)

    def of(self, action: Action) -> list[Step]:
        return [s for s in self.steps if s.action == action]


def plan_service(
    service: str,
    existing: list[Container],
    replicas: int,
    config_hash: str,
    *,
    force_recreate: bool = False,
    no_recreate: bool = False,
    image_id: str | None = None,
) -> ServicePlan:
    """``image_id``: the service image's current id; a container on another image is out of date."""
    plan = ServicePlan(service)
    by_number: dict[int, Container] = {}
    extra: list[Container] = []
    for c in sorted(existing, key=lambda c: (c.number, -c.created)):
        if c.number in by_number or c.number < 1:
            extra.append(c)  # a duplicate number (a crashed recreate): keep the newest only
        else:
            by_number[c.number] = c
    for c in sorted(extra, key=lambda c: -c.number):
        plan.steps.append(Step("remove", c.number, c))
    for number in sorted(by_number, reverse=True):
        if number > replicas:
            plan.steps.append(Step("remove", number, by_number[number]))
    for number in range(1, replicas + 1):
        have = by_number.get(number)
        if have is None:
            plan.steps.append(Step("create", number))
            continue
        stale = have.config_hash != config_hash or (
            image_id is not None and have.image_id not in ("", image_id)
        )
        if not no_recreate and (force_recreate or stale):
            plan.steps.append(Step("recreate", number, have))
        elif have.running:
            plan.steps.append(Step("keep", number, have))
        else:
            plan.steps.append(Step("start", number, have))
    return plan

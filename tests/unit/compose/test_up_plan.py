"""What `up` plans for one service: keep, start, recreate, create, remove (scale)."""

from __future__ import annotations

from dockyard.compose.plan import plan_service
from dockyard.compose.state import Container


def _c(
    number: int, config_hash: str = "h1", state: str = "running", created: int = 0, image_id: str = ""
) -> Container:
    return Container(
        id=f"id{number}-{created}", name=f"demo-api-{number}", service="api", number=number,
        config_hash=config_hash, state=state, status="", image="busybox", image_id=image_id,
        oneoff=False, project="demo", created=created,
    )  # fmt: skip


def _actions(plan: object) -> list[tuple[str, int]]:
    return [(s.action, s.number) for s in plan.steps]  # type: ignore[attr-defined]


def test_fresh_service_creates_each_replica() -> None:
    assert _actions(plan_service("api", [], 3, "h1")) == [("create", 1), ("create", 2), ("create", 3)]


def test_unchanged_is_kept_and_stopped_is_started() -> None:
    plan = plan_service("api", [_c(1), _c(2, state="exited")], 2, "h1")
    assert _actions(plan) == [("keep", 1), ("start", 2)]


def test_changed_hash_or_image_or_force_recreates() -> None:
    assert _actions(plan_service("api", [_c(1, "old")], 1, "h1")) == [("recreate", 1)]
    assert _actions(plan_service("api", [_c(1, image_id="sha256:a")], 1, "h1", image_id="sha256:b")) == [
        ("recreate", 1)
    ]
    assert _actions(plan_service("api", [_c(1)], 1, "h1", force_recreate=True)) == [("recreate", 1)]
    assert _actions(plan_service("api", [_c(1, "old")], 1, "h1", no_recreate=True)) == [("keep", 1)]


def test_scale_up_adds_the_missing_numbers() -> None:
    plan = plan_service("api", [_c(1)], 3, "h1")
    assert _actions(plan) == [("keep", 1), ("create", 2), ("create", 3)]


def test_scale_down_removes_highest_numbers_first() -> None:
    plan = plan_service("api", [_c(1), _c(2), _c(3), _c(4)], 2, "h1")
    assert _actions(plan) == [("remove", 4), ("remove", 3), ("keep", 1), ("keep", 2)]
    assert _actions(plan_service("api", [_c(1), _c(2)], 0, "h1")) == [("remove", 2), ("remove", 1)]


def test_duplicate_numbers_keep_the_newest() -> None:
    plan = plan_service("api", [_c(1, created=5), _c(1, created=9)], 1, "h1")
    assert _actions(plan) == [("remove", 1), ("keep", 1)]
    assert plan.steps[1].container is not None and plan.steps[1].container.created == 9

"""The dependency order of services and its errors."""

from __future__ import annotations

import pytest

from dockyard.compose import graph, startorder
from dockyard.compose.model import Dependency
from dockyard.compose.up import select
from dockyard.errors import InvalidArgument
from tests.compose_fixtures import project, service


def _dep(*names: str) -> dict[str, Dependency]:
    return {n: Dependency() for n in names}


def test_order_puts_dependencies_first() -> None:
    p = project(
        "demo",
        service("web", depends_on=_dep("api", "cache")),
        service("api", depends_on=_dep("db")),
        service("db"),
        service("cache"),
        service("side", network_mode="service:web"),
    )
    assert startorder.levels(p.services) == [["cache", "db"], ["api"], ["web"], ["side"]]
    assert startorder.order(p.services) == ["cache", "db", "api", "web", "side"]
    assert startorder.with_dependencies(p.services, ["api"]) == ["db", "api"]
    assert select(p, ["web"], no_deps=False) == ["cache", "db", "api", "web"]
    assert select(p, ["web"], no_deps=True) == ["web"]


def test_restart_dependents_follow_restart_true_edges_only() -> None:
    p = project(
        "demo",
        service("db"),
        service("api", depends_on={"db": Dependency(restart=True)}),
        service("web", depends_on={"api": Dependency(restart=True), "cache": Dependency()}),
        service("report", depends_on={"db": Dependency()}),
        service("cache"),
    )
    assert startorder.with_restart_dependents(p.services, ["db"]) == ["db", "api", "web"]
    assert startorder.with_restart_dependents(p.services, ["cache"]) == ["cache"]
    assert startorder.with_restart_dependents(p.services, ["api", "report"]) == ["api", "report", "web"]


def test_cycle_is_named() -> None:
    p = project(
        "demo",
        service("web", depends_on=_dep("api")),
        service("api", depends_on=_dep("worker")),
        service("worker", depends_on=_dep("web")),
        service("db"),
    )
    assert graph.find_cycle(p.services) == ["api", "worker", "web", "api"]
    with pytest.raises(startorder.DependencyCycle, match="api -> worker -> web -> api"):
        startorder.order(p.services)
    selfish = project("demo", service("a", depends_on=_dep("a")))
    with pytest.raises(startorder.DependencyCycle, match="a -> a"):
        startorder.levels(selfish.services)


def test_missing_dependency_and_unknown_service() -> None:
    p = project("demo", service("web", depends_on=_dep("ghost")))
    with pytest.raises(InvalidArgument, match='"web" depends on "ghost", which is not defined'):
        startorder.check_references(p.services)
    with pytest.raises(InvalidArgument, match='no such service: "nope"'):
        select(p, ["nope"], no_deps=False)

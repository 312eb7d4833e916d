"""Names, labels and the config hash of compose's resources."""

from __future__ import annotations

import copy

from dockyard.compose import labels, naming
from dockyard.compose.confighash import config_hash
from dockyard.compose.model import Dependency, Deploy, Service
from dockyard.compose.state import Container
from tests.compose_fixtures import project, service


def test_container_names_follow_compose_v2() -> None:
    web = service("web")
    assert naming.container_name("demo", web, 1) == "demo-web-1"
    assert naming.container_name("demo", web, 12) == "demo-web-12"
    named = service("db", container_name="the-db")
    assert naming.container_name("demo", named, 1) == "the-db"
    run = naming.oneoff_name("demo", "web")
    assert run.startswith("demo-web-run-") and len(run) == len("demo-web-run-") + 12
    assert naming.default_image("demo", "api") == "demo-api"
    p = project("demo", service("api", image=None))
    assert naming.service_image(p, p.services["api"]) == "demo-api"


def test_container_labels_carry_project_service_number_hash() -> None:
    web = service("web", labels={"mine": "1", "com.docker.compose.project": "spoofed"})
    p = project("demo", web, working_dir="/srv/demo")
    got = labels.container_labels(p, web, 2, "abc")
    assert got["com.docker.compose.project"] == "demo"
    assert got["com.docker.compose.service"] == "web"
    assert got["com.docker.compose.container-number"] == "2"
    assert got["com.docker.compose.config-hash"] == "abc"
    assert got["com.docker.compose.oneoff"] == "False"
    assert got["com.docker.compose.project.working_dir"] == "/srv/demo"
    assert got["com.docker.compose.project.config_files"] == "/srv/demo/compose.yaml"
    assert got["com.docker.compose.version"]
    assert got["mine"] == "1"
    oneoff = labels.container_labels(p, web, None, "abc", oneoff=True)
    assert oneoff["com.docker.compose.oneoff"] == "True"
    assert "com.docker.compose.container-number" not in oneoff
    net = labels.network_labels(p, "default", {"x": "y"})
    assert net == {
        "x": "y",
        "com.docker.compose.project": "demo",
        "com.docker.compose.network": "default",
        "com.docker.compose.version": labels.COMPOSE_VERSION,
    }
    assert labels.volume_labels(p, "data", {})["com.docker.compose.volume"] == "data"


def test_project_filter() -> None:
    assert labels.project_filter("demo") == {
        "label": ["com.docker.compose.project=demo", "com.docker.compose.oneoff=False"]
    }
    assert labels.project_filter("demo", oneoff=None, service="web") == {
        "label": ["com.docker.compose.project=demo", "com.docker.compose.service=web"]
    }


def test_config_hash_ignores_scale_and_order_but_not_config() -> None:
    base = service("web", command=["httpd", "-f"], environment={"A": "1", "B": "2"})
    h = config_hash(base)
    assert len(h) == 64 and int(h, 16) >= 0
    scaled = copy.deepcopy(base)
    scaled.scale = 3
    scaled.deploy = Deploy(replicas=5)
    scaled.depends_on = {"db": Dependency()}
    assert config_hash(scaled) == h
    reordered = service("web", command=["httpd", "-f"], environment={"B": "2", "A": "1"})
    assert config_hash(reordered) == h
    changed = copy.deepcopy(base)
    changed.environment["A"] = "2"
    assert config_hash(changed) != h
    other_cmd = copy.deepcopy(base)
    other_cmd.command = ["httpd"]
    assert config_hash(other_cmd) != h


def test_container_from_summary_reads_v1_and_v2_names() -> None:
    summary = {
        "Id": "c" * 64,
        "Names": ["/legacy_web_1"],
        "Image": "busybox",
        "ImageID": "sha256:1",
        "State": "running",
        "Status": "Up 2 seconds",
        "Labels": {
            "com.docker.compose.project": "legacy",
            "com.docker.compose.service": "web",
            "com.docker.compose.container-number": "1",
            "com.docker.compose.oneoff": "False",
            "com.docker.compose.config-hash": "h",
        },
    }
    c = Container.from_summary(summary)
    assert (c.name, c.project, c.service, c.number, c.oneoff, c.running) == (
        "legacy_web_1", "legacy", "web", 1, False, True,
    )  # fmt: skip


def test_service_replicas() -> None:
    assert Service(name="a").replicas() == 1
    assert Service(name="a", scale=2).replicas() == 2
    assert Service(name="a", scale=2, deploy=Deploy(replicas=4)).replicas() == 4

"""Several files merged in order, extends, include and profiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.compose.graph import startup_order
from dockyard.compose.loader import enable_services
from dockyard.compose.model import Dependency, Logging, Mount, Port, Ulimit
from dockyard.errors import InvalidArgument
from tests.unit.compose.helpers import load_error, load_in

BASE = """\
    services:
      web:
        image: busybox:1
        command: httpd -f
        entrypoint: [/bin/sh, -c]
        environment: {A: "1", B: "1"}
        labels: [tier=front, keep=yes]
        ports: ["8080:80", "127.0.0.1:9090:90"]
        volumes: ["data:/data", "./a:/srv"]
        cap_add: [NET_ADMIN]
        dns: 10.0.0.1
        depends_on: [db]
        networks: [front]
        healthcheck: {test: [CMD, "true"], interval: 10s}
        logging: {driver: json-file, options: {max-size: 1m}}
        ulimits: {nofile: {soft: 1, hard: 2}}
      db:
        image: busybox
    volumes: {data: {}}
    networks: {front: {}}
    """

OVERRIDE = """\
    services:
      web:
        image: busybox:2
        command: ["sh", "-c", "echo over"]
        environment: [B=2, C=3]
        labels: {keep: "no"}
        ports: ["127.0.0.1:9090:90", "8443:443"]
        volumes: ["./b:/srv", "/cache"]
        cap_add: [NET_ADMIN, SYS_TIME]
        dns: [10.0.0.2]
        depends_on: {cache: {condition: service_started, required: false}}
        networks: {back: {aliases: [w]}}
        healthcheck: {test: [CMD, "false"]}
        logging: {options: {max-file: "3"}}
        ulimits: {nofile: 5}
      cache:
        image: busybox
    networks: {back: {}}
    """


def test_merge_rules(compose_dir: Path) -> None:
    p = load_in(
        compose_dir,
        {"compose.yaml": BASE, "override.yaml": OVERRIDE},
        files=["compose.yaml", "override.yaml"],
    )
    web = p.services["web"]
    assert web.image == "busybox:2"
    assert web.command == ["sh", "-c", "echo over"]  # replaced
    assert web.entrypoint == ["/bin/sh", "-c"]  # kept
    assert web.environment == {"A": "1", "B": "2", "C": "3"}
    assert web.labels == {"tier": "front", "keep": "no"}
    assert web.ports == [
        Port(target=80, published="8080"),
        Port(target=90, published="9090", host_ip="127.0.0.1"),
        Port(target=443, published="8443"),
    ]
    assert [(m.target, m.source) for m in web.volumes] == [
        ("/data", "data"),
        ("/srv", f"{compose_dir}/b"),
        ("/cache", None),
    ]
    assert web.cap_add == ["NET_ADMIN", "SYS_TIME"]
    assert web.dns == ["10.0.0.1", "10.0.0.2"]
    assert web.depends_on == {"db": Dependency(), "cache": Dependency(required=False)}
    assert set(web.networks) == {"front", "back"} and web.networks["back"].aliases == ["w"]
    assert web.healthcheck is not None and web.healthcheck.test == ["CMD", "false"]
    assert web.healthcheck.interval == 10.0
    assert web.logging == Logging(driver="json-file", options={"max-size": "1m", "max-file": "3"})
    assert web.ulimits == {"nofile": Ulimit(5, 5)}
    assert p.config_files == [f"{compose_dir}/compose.yaml", f"{compose_dir}/override.yaml"]


def test_logging_with_another_driver_is_replaced(compose_dir: Path) -> None:
    files = {
        "compose.yaml": "services:\n  web:\n    image: b\n"
        "    logging: {driver: json-file, options: {max-size: 1m}}\n",
        "compose.override.yaml": "services:\n  web:\n    logging: {driver: syslog, options: {tag: web}}\n",
    }
    web = load_in(compose_dir, files).services["web"]  # compose.override.yaml is read with compose.yaml
    assert web.logging == Logging(driver="syslog", options={"tag": "web"})


def test_extends_same_file_and_other_file(compose_dir: Path) -> None:
    files = {
        "compose.yaml": """\
            services:
              base:
                image: busybox
                environment: {LEVEL: base, KEEP: "1"}
                volumes: ["./data:/data"]
              web:
                extends: base
                environment: {LEVEL: web}
                command: echo web
              api:
                extends: {file: common/services.yaml, service: app}
                ports: ["8000:8000"]
            """,
        "common/services.yaml": """\
            services:
              root:
                image: busybox:old
                build: ./ctx
                cap_add: [SYS_TIME]
              app:
                extends: root
                image: busybox:app
                env_file: app.env
                volumes: ["./state:/state"]
            """,
        "common/app.env": "FROM_FILE=1\n",
    }
    p = load_in(compose_dir, files)
    web, api = p.services["web"], p.services["api"]
    assert web.image == "busybox" and web.command == ["echo", "web"]
    assert web.environment == {"LEVEL": "web", "KEEP": "1"}
    assert web.volumes == [Mount(type="bind", target="/data", source=f"{compose_dir}/data")]
    assert api.image == "busybox:app" and api.cap_add == ["SYS_TIME"]
    # paths of the other file are relative to its folder
    assert api.build is not None and api.build.context == f"{compose_dir}/common/ctx"
    assert api.volumes == [Mount(type="bind", target="/state", source=f"{compose_dir}/common/state")]
    assert api.environment == {"FROM_FILE": "1"}
    assert api.ports == [Port(target=8000, published="8000")]


def test_extends_loop(compose_dir: Path) -> None:
    text = (
        "services:\n  a: {image: b, extends: c}\n  b: {image: b, extends: a}\n  c: {image: b, extends: b}\n"
    )
    message = load_error(compose_dir, {"compose.yaml": text})
    assert message == "compose.yaml:2: services.a.extends: extends loops: a -> c -> b -> a"


def test_extends_unknown_service(compose_dir: Path) -> None:
    files = {
        "compose.yaml": "services:\n  web: {extends: {file: other.yaml, service: nope}}\n",
        "other.yaml": "services: {}\n",
    }
    assert (
        load_error(compose_dir, files)
        == 'compose.yaml:2: services.web.extends: no service "nope" to extend in other.yaml'
    )


PROFILES = """\
    services:
      web: {image: b, depends_on: [db]}
      db: {image: b}
      debug: {image: b, profiles: [debug], depends_on: [tools]}
      tools: {image: b, profiles: [tools]}
      admin: {image: b, profiles: [debug, admin]}
    """


def test_profiles_disable_services_until_enabled(compose_dir: Path) -> None:
    p = load_in(compose_dir, {"compose.yaml": PROFILES})
    assert sorted(p.services) == ["db", "web"]
    assert sorted(p.disabled) == ["admin", "debug", "tools"]


def test_profiles_from_flag_and_environment(compose_dir: Path) -> None:
    p = load_in(compose_dir, {"compose.yaml": PROFILES}, {"COMPOSE_PROFILES": "tools"}, profiles=["admin"])
    assert sorted(p.services) == ["admin", "db", "tools", "web"]
    assert sorted(load_in(compose_dir, {}, profiles=["*"]).services) == [
        "admin",
        "db",
        "debug",
        "tools",
        "web",
    ]


def test_enabled_service_needing_a_disabled_one_is_an_error(compose_dir: Path) -> None:
    message = load_error(compose_dir, {"compose.yaml": PROFILES}, profiles=["debug"])
    assert message == (
        'compose.yaml:4: services.debug.depends_on: service "tools" is not enabled (its profiles: tools): '
        "enable one with --profile or COMPOSE_PROFILES, or mark the dependency required: false"
    )


def test_enable_services_for_targeted_services_and_their_dependencies(compose_dir: Path) -> None:
    p = load_in(compose_dir, {"compose.yaml": PROFILES})
    enable_services(p, ["debug"])
    assert sorted(p.services) == ["db", "debug", "tools", "web"]
    assert sorted(p.disabled) == ["admin"]
    assert startup_order(p, ["debug"]) == ["tools", "debug"]
    assert startup_order(p) == ["db", "tools", "debug", "web"]
    with pytest.raises(InvalidArgument, match='no such service: "nope"'):
        enable_services(p, ["nope"])


def test_include(compose_dir: Path) -> None:
    files = {
        "compose.yaml": """\
            include:
              - db/compose.yaml
              - path: cache/compose.yaml
                env_file: cache/cache.env
            services:
              web: {image: b, depends_on: [db, cache]}
            """,
        "db/compose.yaml": """\
            services:
              db:
                image: postgres:${PG:-16}
                volumes: [./init:/docker-entrypoint-initdb.d, pgdata:/var/lib/postgresql/data]
            volumes: {pgdata: {}}
            """,
        "db/.env": "PG=15\n",
        "cache/compose.yaml": "services:\n  cache: {image: 'redis:${REDIS}'}\n",
        "cache/cache.env": "REDIS=7\n",
    }
    p = load_in(compose_dir, files)
    assert p.services["db"].image == "postgres:15"
    assert p.services["db"].volumes[0].source == f"{compose_dir}/db/init"
    assert p.volumes["pgdata"].name == "shop_pgdata"
    assert p.services["cache"].image == "redis:7"


def test_include_conflict_and_loop(compose_dir: Path) -> None:
    files = {
        "compose.yaml": "include: [other.yaml]\nservices:\n  web: {image: b}\n",
        "other.yaml": "services:\n  web: {image: c}\n",
    }
    assert load_error(compose_dir, files) == (
        "compose.yaml:3: services.web: conflicts with the service of the same name included from other.yaml"
    )
    files = {
        "compose.yaml": "include: [other.yaml]\nservices: {}\n",
        "other.yaml": "include: [compose.yaml]\nservices: {}\n",
    }
    assert load_error(compose_dir, files) == "other.yaml:1: include[0]: include loops back to compose.yaml"


def test_reset_and_override_tags(compose_dir: Path) -> None:
    files = {
        "compose.yaml": BASE,
        "override.yaml": """\
            services:
              web:
                ports: !reset []
                environment: !override {ONLY: "1"}
                volumes: !override ["./c:/srv"]
                cap_add: !reset null
              reader:
                extends: base-db
                labels: !reset {}
              base-db:
                image: busybox
                labels: {a: b}
            """,
    }
    p = load_in(compose_dir, files, files=["compose.yaml", "override.yaml"])
    web = p.services["web"]
    assert (web.ports, web.cap_add, web.environment) == ([], [], {"ONLY": "1"})
    assert web.volumes == [Mount(type="bind", target="/srv", source=f"{compose_dir}/c")]
    assert p.services["reader"].labels == {} and p.services["base-db"].labels == {"a": "b"}


def test_tags_elsewhere_are_refused(compose_dir: Path) -> None:
    files = {"compose.yaml": "services:\n  web:\n    image: b\n    healthcheck: {test: !reset []}\n"}
    message = load_error(compose_dir, files)
    assert message == (
        "compose.yaml:4: services.web.healthcheck.test: !reset: "
        "dockyard supports !reset and !override on a service's keys only"
    )


def test_build_args_without_value_come_from_the_environment(compose_dir: Path) -> None:
    text = "services:\n  web:\n    build: {context: ., args: [FROM_ENV, MISSING, SET=1]}\n"
    build = load_in(compose_dir, {"compose.yaml": text}, {"FROM_ENV": "e"}).services["web"].build
    assert build is not None and build.args == {"FROM_ENV": "e", "SET": "1"}


def test_container_name_with_replicas(compose_dir: Path) -> None:
    text = "services:\n  web: {image: b, container_name: one, scale: 2}\n"
    assert load_error(compose_dir, {"compose.yaml": text}) == (
        'compose.yaml:2: services.web.container_name: "one" cannot name 2 replicas: '
        "container names are unique, drop container_name or run one replica"
    )

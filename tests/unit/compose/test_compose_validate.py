# ruff: noqa: E501  (each case keeps the whole message a user reads on one line)
"""Our validator: unknown keys, wrong types, undeclared references, dependency cycles; each error
names the file, the service and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.compose.problems import LocatedError
from tests.unit.compose.helpers import load_error, load_in


def svc(body: str, extra: str = "") -> dict[str, str]:
    return {"compose.yaml": f"services:\n  web:\n    image: busybox\n{body}{extra}"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "    imagee: x\n",
            'compose.yaml:4: services.web.imagee: unknown key "imagee" (did you mean "image"?)',
        ),
        ("    ports: 80\n", "compose.yaml:4: services.web.ports: must be a list, not a number 80"),
        (
            "    read_only: maybe\n",
            "compose.yaml:4: services.web.read_only: must be a boolean (true or false), not a string 'maybe'",
        ),
        (
            "    deploy: {replicas: two}\n",
            "compose.yaml:4: services.web.deploy.replicas: must be an integer, not a string 'two'",
        ),
        (
            "    environment: 5\n",
            'compose.yaml:4: services.web.environment: must be a list ("KEY=value") or a mapping, not a number 5',
        ),
        (
            "    healthcheck: {test: [CMD], bogus: 1}\n",
            'compose.yaml:4: services.web.healthcheck.bogus: unknown key "bogus"',
        ),
        (
            "    depends_on: {db: {condition: service_ready}}\n",
            'compose.yaml:4: services.web.depends_on.db: unknown condition "service_ready": use one of '
            "service_started, service_healthy, service_completed_successfully",
        ),
        (
            "    restart: sometimes\n",
            'compose.yaml:4: services.web.restart: invalid restart policy "sometimes": '
            "use no, always, on-failure[:N] or unless-stopped",
        ),
        (
            "    ulimits: {nofile: {soft: 1}}\n",
            'compose.yaml:4: services.web.ulimits.nofile: "hard" is required',
        ),
        (
            "    volumes: [{type: bind, target: /x}]\n",
            'compose.yaml:4: services.web.volumes[0]: invalid volume: a bind needs a "source" host path',
        ),
        (
            "    healthcheck: {test: [RUN, x]}\n",
            'compose.yaml:4: services.web.healthcheck.test: a test list starts with "CMD", "CMD-SHELL" or "NONE", not \'RUN\'',
        ),
        (
            '    command: "echo \'unclosed"\n',
            'compose.yaml:4: services.web.command: cannot split "echo \'unclosed" as a shell would: No closing quotation',
        ),
    ],
)
def test_service_shape_errors(compose_dir: Path, body: str, message: str) -> None:
    assert load_error(compose_dir, svc(body)) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("servics: {}\n", 'compose.yaml:1: servics: unknown key "servics" (did you mean "services"?)'),
        (
            "services: [web]\n",
            "compose.yaml:1: services: must be a mapping of service names to services, not a list",
        ),
        ("", "compose.yaml: the file is empty: a Compose file needs at least a services: mapping"),
        ("- a\n", "compose.yaml: the top level must be a mapping, not a list"),
        (
            "services:\n  'we b': {image: x}\n",
            "compose.yaml:2: services.we b: invalid service name: use letters, digits, '.', '_' and '-'",
        ),
        (
            "services: {}\nnetworks: {front: {drivr: bridge}}\n",
            'compose.yaml:2: networks.front.drivr: unknown key "drivr" (did you mean "driver"?)',
        ),
        (
            "services: {}\nsecrets: {key: {}}\n",
            "compose.yaml:2: secrets.key: give exactly one of file, environment or content, or external: true",
        ),
        (
            "services:\n  web:\n    image: a\n    image: b\n",
            'compose.yaml: invalid YAML at line 4, column 5: duplicate key "image" (first on line 3)',
        ),
        ("services: {web: [\n", "compose.yaml: invalid YAML at line 2, column 1: expected the node content"),
    ],
)
def test_file_shape_errors(compose_dir: Path, text: str, message: str) -> None:
    assert load_error(compose_dir, {"compose.yaml": text}).startswith(message)


def test_extension_keys_are_allowed_everywhere(compose_dir: Path) -> None:
    p = load_in(
        compose_dir,
        {
            "compose.yaml": """\
            x-top: {anything: [1, 2]}
            services:
              x-not-a-service: {whatever: true}
              web:
                image: busybox
                x-meta: {owner: me}
                healthcheck: {test: [CMD, "true"], x-note: fine}
            networks:
              back: {x-note: fine}
            """
        },
    )
    assert list(p.services) == ["web"]


def test_error_names_the_file_that_has_it(compose_dir: Path) -> None:
    files = {
        "compose.yaml": "services:\n  web:\n    image: busybox\n",
        "override.yaml": "services:\n  web:\n    ports: ['80:x']\n",
    }
    message = load_error(compose_dir, files, files=["compose.yaml", "override.yaml"])
    assert message.startswith('override.yaml:3: services.web.ports[0]: invalid port "80:x"')


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "    depends_on: [dbb]\n  db:\n    image: b\n",
            'compose.yaml:4: services.web.depends_on: unknown service "dbb" (did you mean "db"?): the project has db, web',
        ),
        (
            "    networks: [back]\n",
            'compose.yaml:4: services.web.networks: network "back" is not declared: add it under the top-level networks:',
        ),
        (
            "    volumes: ['data:/data']\n",
            'compose.yaml:4: services.web.volumes[0]: volume "data" is not declared: add it under the top-level '
            "volumes:, or write ./data for a folder",
        ),
        (
            "    secrets: [token]\n",
            'compose.yaml:4: services.web.secrets[0]: secret "token" is not declared: add it under the top-level secrets:',
        ),
        (
            "    configs: [{source: conf}]\n",
            'compose.yaml:4: services.web.configs[0]: config "conf" is not declared: add it under the top-level configs:',
        ),
        (
            "    network_mode: service:nope\n",
            'compose.yaml:4: services.web.network_mode: unknown service "nope"',
        ),
        (
            "    network_mode: host\n    networks: [default]\n",
            'compose.yaml:2: services.web: network_mode "host" and networks cannot be used together: keep one',
        ),
    ],
)
def test_reference_errors(compose_dir: Path, body: str, message: str) -> None:
    assert load_error(compose_dir, svc(body)) == message


def test_dependency_cycle_is_named(compose_dir: Path) -> None:
    text = """\
        services:
          web: {image: b, depends_on: [api]}
          api: {image: b, depends_on: {db: {condition: service_healthy}}}
          db: {image: b, depends_on: [web]}
          solo: {image: b}
        """
    message = load_error(compose_dir, {"compose.yaml": text})
    assert message == "compose.yaml:3: services.api.depends_on: dependency cycle: api -> db -> web -> api"


def test_self_dependency_is_a_cycle(compose_dir: Path) -> None:
    message = load_error(compose_dir, {"compose.yaml": "services:\n  web: {image: b, depends_on: [web]}\n"})
    assert message == "compose.yaml:2: services.web.depends_on: dependency cycle: web -> web"


def test_ignored_keys_warn(compose_dir: Path) -> None:
    p = load_in(compose_dir, svc("    links: [db]\n  db:\n    image: b\n", "version: '3'\n"))
    assert p.warnings == [
        "compose.yaml: the top-level version is obsolete and ignored",
        "compose.yaml:4: services.web.links is not supported by dockyard: ignored",
    ]


def test_service_needs_an_image_or_a_build(compose_dir: Path) -> None:
    message = load_error(compose_dir, {"compose.yaml": "services:\n  web:\n    command: [echo]\n  empty:\n"})
    assert message == "compose.yaml:4: services.empty: has neither an image nor a build: add image: or build:"


def test_errors_carry_the_line_of_the_key(compose_dir: Path) -> None:
    text = """\
        services:
          db:
            image: busybox

          web:
            image: busybox
            ports:
              - "8080:80"
              - target: 81
                protcol: udp
        """
    with pytest.raises(LocatedError) as info:
        load_in(compose_dir, {"compose.yaml": text})
    e = info.value
    assert (e.file, e.line, e.path) == ("compose.yaml", 10, "services.web.ports[1].protcol")
    assert (
        str(e)
        == 'compose.yaml:10: services.web.ports[1].protcol: unknown key "protcol" (did you mean "protocol"?)'
    )

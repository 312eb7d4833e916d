"""Short syntax to long: ports, volumes, durations, sizes; and their errors in a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dockyard.compose.model import Mount, Port
from dockyard.compose.mounts import parse_volume
from dockyard.compose.ports import parse_port
from dockyard.compose.units import format_duration, parse_duration, parse_size
from tests.unit.compose.helpers import load_error, load_in


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("80", [(80, None, "", "tcp")]),
        (80, [(80, None, "", "tcp")]),
        ("8080:80", [(80, "8080", "", "tcp")]),
        ("127.0.0.1:8080:80/udp", [(80, "8080", "127.0.0.1", "udp")]),
        ("127.0.0.1::80", [(80, None, "127.0.0.1", "tcp")]),
        ("[::1]:8080:80", [(80, "8080", "::1", "tcp")]),
        ("8080-8081:80-81", [(80, "8080", "", "tcp"), (81, "8081", "", "tcp")]),
        ("8000-8010:80", [(80, "8000-8010", "", "tcp")]),
        ("80-82/udp", [(80, None, "", "udp"), (81, None, "", "udp"), (82, None, "", "udp")]),
    ],
)
def test_port_short_syntax(spec: str | int, expected: list[tuple[Any, ...]]) -> None:
    got = [(p["target"], p.get("published"), p["host_ip"], p["protocol"]) for p in parse_port(spec)]
    assert got == expected


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("80:x", "the container port 'x' is not a number"),
        ("x:80", "the published port 'x' is not a number"),
        ("1:2:3:4", "too many colons"),
        ("8080-8082:80-81", "ranges differ in size"),
        ("80/sctp", "unsupported protocol 'sctp'"),
        ("70000", "out of range"),
        ("90-80", "ends before it starts"),
    ],
)
def test_port_errors(spec: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_port(spec)


def test_port_error_in_a_file_names_file_service_index(compose_dir: Path) -> None:
    message = load_error(
        compose_dir, {"compose.yaml": "services:\n  web:\n    image: b\n    ports: ['8080:80', '80:x']\n"}
    )
    assert message == (
        'compose.yaml:4: services.web.ports[1]: invalid port "80:x": '
        "the container port 'x' is not a number or a range such as 8080-8081"
    )


def test_unquoted_colon_port_is_a_string_not_base_60(compose_dir: Path) -> None:
    # YAML 1.1 reads 8080:80 as 484880; Compose (YAML 1.2) as "8080:80"
    p = load_in(
        compose_dir, {"compose.yaml": "services:\n  web:\n    image: b\n    ports:\n      - 8080:80\n"}
    )
    assert p.services["web"].ports == [Port(target=80, published="8080")]


def test_port_long_syntax(compose_dir: Path) -> None:
    p = load_in(
        compose_dir,
        {"compose.yaml": "services:\n  web:\n    image: b\n    ports:\n"
         "      - {target: 80, published: 8080, host_ip: 127.0.0.1, protocol: udp, mode: host}\n"
         "      - target: 81\n"},
    )  # fmt: skip
    assert p.services["web"].ports == [
        Port(target=80, published="8080", host_ip="127.0.0.1", protocol="udp", mode="host"),
        Port(target=81),
    ]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("/data", {"type": "volume", "target": "/data"}),
        ("data:/d", {"type": "volume", "source": "data", "target": "/d"}),
        ("data:/d:ro,nocopy", {"type": "volume", "source": "data", "target": "/d", "read_only": True,
                               "volume": {"nocopy": True}}),
        ("./src:/app:ro", {"type": "bind", "source": "/proj/src", "target": "/app", "read_only": True,
                           "bind": {"create_host_path": True}}),
        ("../up:/up:rw,z", {"type": "bind", "source": "/up", "target": "/up", "read_only": False,
                            "bind": {"create_host_path": True, "selinux": "z"}}),
        ("/abs:/abs:rslave", {"type": "bind", "source": "/abs", "target": "/abs",
                              "bind": {"create_host_path": True, "propagation": "rslave"}}),
    ],
)  # fmt: skip
def test_volume_short_syntax(spec: str, expected: dict[str, Any]) -> None:
    assert parse_volume(spec, "/proj") == expected


def test_volume_home_is_expanded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/someone")
    assert parse_volume("~/cache:/c", "/proj")["source"] == "/home/someone/cache"


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("data:relative", "must be an absolute path"),
        ("a:/b:c:d", "use [SOURCE:]TARGET[:OPTIONS]"),
        ("data:/d:bogus", "unknown option 'bogus' for a volume"),
        ("./x:/d:nocopy", "unknown option 'nocopy' for a bind"),
    ],
)
def test_volume_errors(spec: str, reason: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_volume(spec, "/proj")
    assert reason in str(info.value)


def test_volumes_in_the_model(compose_dir: Path) -> None:
    p = load_in(
        compose_dir,
        {
            "compose.yaml": """\
            services:
              web:
                image: b
                volumes:
                  - data:/data
                  - ./site:/site:ro
                  - /anon
                  - {type: tmpfs, target: /tmp, tmpfs: {size: 64m, mode: 01777}}
                  - {type: bind, source: ./conf, target: /conf, bind: {create_host_path: false}}
                  - {type: volume, source: data, target: /nc, volume: {nocopy: true}}
            volumes:
              data:
            """
        },
    )
    assert p.services["web"].volumes == [
        Mount(type="volume", target="/data", source="data", bind_create_host_path=False),
        Mount(type="bind", target="/site", source=f"{compose_dir}/site", read_only=True),
        Mount(type="volume", target="/anon", bind_create_host_path=False),
        Mount(
            type="tmpfs", target="/tmp", bind_create_host_path=False, tmpfs_size=64 << 20, tmpfs_mode=0o1777
        ),
        Mount(type="bind", target="/conf", source=f"{compose_dir}/conf", bind_create_host_path=False),
        Mount(type="volume", target="/nc", source="data", bind_create_host_path=False, volume_nocopy=True),
    ]


def test_volume_error_in_a_file(compose_dir: Path) -> None:
    message = load_error(
        compose_dir, {"compose.yaml": "services:\n  db:\n    image: b\n    volumes: [/ok, 'data:rel']\n"}
    )
    assert message == (
        'compose.yaml:4: services.db.volumes[1]: invalid volume "data:rel": '
        "the target 'rel' must be an absolute path in the container"
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1m30s", 90.0),
        ("10s", 10.0),
        ("500ms", 0.5),
        ("1h", 3600.0),
        ("1.5s", 1.5),
        ("0", 0.0),
        ("2us", 2e-6),
        (30, 30.0),
    ],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("seconds", [90.0, 10.0, 0.5, 3600.0, 1.5, 3725.0])
def test_duration_round_trip(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["10", "1x", "s", "1m 30s", ""])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "size"),
    [("64m", 64 << 20), ("1g", 1 << 30), ("1GB", 1 << 30), ("512k", 512 << 10), ("100b", 100),
     ("1.5g", 3 << 29), ("2MiB", 2 << 20), (4096, 4096), ("4096", 4096)],
)  # fmt: skip
def test_sizes(text: str | int, size: int) -> None:
    assert parse_size(text) == size


def test_bad_size_in_a_file(compose_dir: Path) -> None:
    message = load_error(
        compose_dir, {"compose.yaml": "services:\n  web:\n    image: b\n    mem_limit: 12x\n"}
    )
    assert message == (
        "compose.yaml:4: services.web.mem_limit: invalid value '12x': "
        "use a number with an optional b, k, m or g suffix (64m, 1g)"
    )


def test_bad_duration_in_a_healthcheck(compose_dir: Path) -> None:
    message = load_error(
        compose_dir,
        {"compose.yaml": "services:\n  web:\n    image: b\n    healthcheck: {test: 'true', interval: 10x}\n"},
    )
    assert message.startswith("compose.yaml:4: services.web.healthcheck.interval: invalid value '10x'")

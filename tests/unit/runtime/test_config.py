"""config.json validation: every error names the field (issue 2, "Bad input")."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from dockyard.errors import ConfigError, Unsupported
from dockyard.runtime import config


def _bundle(tmp_path: Path, cfg: dict[str, Any]) -> str:
    (tmp_path / "rootfs").mkdir(exist_ok=True)
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    return str(tmp_path)


def _base() -> dict[str, Any]:
    return {
        "ociVersion": "1.0.2",
        "root": {"path": "rootfs"},
        "process": {"args": ["sh"], "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}},
        "linux": {"namespaces": [{"type": "mount"}, {"type": "pid"}, {"type": "uts"}]},
        "hostname": "box",
    }


def test_valid_config_resolves_root_against_bundle(tmp_path: Path) -> None:
    cfg = config.load(_bundle(tmp_path, _base()))
    assert cfg["root"]["path"] == os.path.join(str(tmp_path), "rootfs")


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda c: c["linux"]["namespaces"].append({"type": "bogus"}), "linux.namespaces[3].type"),
        (lambda c: c.__setitem__("mounts", [{"type": "tmpfs"}]), "mounts[0].destination"),
        (lambda c: c["process"].__setitem__("args", []), "process.args"),
        (lambda c: c["root"].__setitem__("path", "missing"), "root.path"),
        (
            lambda c: c["linux"].__setitem__("uidMappings", [{"containerID": 0, "hostID": 1, "size": 1}]),
            "linux.uidMappings",
        ),
        (lambda c: c["process"].__setitem__("cwd", "relative"), "process.cwd"),
        (lambda c: c["process"].__setitem__("env", ["NOEQUALS"]), "process.env[0]"),
        (
            lambda c: c["process"].__setitem__("rlimits", [{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]),
            "process.rlimits[0].type",
        ),
        (
            lambda c: c["process"].__setitem__("rlimits", [{"type": "RLIMIT_NOFILE", "soft": 9, "hard": 1}]),
            "process.rlimits[0]",
        ),
        (lambda c: c["linux"]["namespaces"].append({"type": "pid"}), "linux.namespaces[3].type"),
        (lambda c: c["linux"].__setitem__("namespaces", [{"type": "mount"}]), "hostname"),
        (lambda c: c.__setitem__("hooks", {"prestart": [{"path": "rel"}]}), "hooks.prestart[0].path"),
        (lambda c: c.__setitem__("hooks", {"bogus": []}), "hooks.bogus"),
        (lambda c: c.__setitem__("ociVersion", "0.9"), "ociVersion"),
        (
            lambda c: c["linux"].__setitem__("devices", [{"path": "/dev/x", "type": "q"}]),
            "linux.devices[0].type",
        ),
        (lambda c: c.__setitem__("mounts", [{"destination": "/x", "type": "bind"}]), "mounts[0].source"),
        (lambda c: c["process"].__setitem__("oomScoreAdj", 5000), "process.oomScoreAdj"),
    ],
)
def test_bad_config_names_the_field(tmp_path: Path, mutate: Any, field: str) -> None:
    cfg = _base()
    mutate(cfg)
    with pytest.raises(ConfigError) as info:
        config.load(_bundle(tmp_path, cfg))
    assert info.value.field == field
    assert field in str(info.value)


def test_invalid_json(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        config.load(str(tmp_path))


def test_missing_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        config.load(str(tmp_path))


def test_intel_rdt_is_a_clear_error(tmp_path: Path) -> None:
    cfg = _base()
    cfg["linux"]["intelRdt"] = {"closID": "x"}
    with pytest.raises(Unsupported, match="Intel RDT"):
        config.load(_bundle(tmp_path, cfg))

"""runc-compatible flag parsing and messages of the runtime's command line."""

from __future__ import annotations

import pytest

from dockyard.errors import InvalidArgument
from dockyard.runtime import cli
from dockyard.runtime.kill import parse_signal
from dockyard.runtime.mounts import parse
from dockyard.util import syscalls as sc


def test_global_then_verb() -> None:
    g, rest = cli.parse_flags(
        ["--root", "/r", "--log=/l", "--log-format", "json", "create", "x"], cli.GLOBAL_FLAGS
    )
    assert g == {"root": "/r", "log": "/l", "log-format": "json"}
    assert rest[0] == "create"
    flags, args = cli.parse_flags(rest[1:], cli.VERB_FLAGS["create"])
    assert flags == {}
    assert args == ["x"]


def test_single_dash_long_and_alias() -> None:
    flags, args = cli.parse_flags(["-bundle", "/b", "-d", "id"], cli.VERB_FLAGS["run"])
    assert flags == {"bundle": "/b", "detach": True}
    assert args == ["id"]


def test_repeatable_env() -> None:
    flags, args = cli.parse_flags(["-e", "A=1", "--env=B=2", "c", "ls", "-l"], cli.VERB_FLAGS["exec"])
    assert flags["env"] == ["A=1", "B=2"]
    assert args == ["c", "ls", "-l"]


def test_unknown_flag() -> None:
    with pytest.raises(InvalidArgument, match="not defined: -nope"):
        cli.parse_flags(["--nope"], cli.VERB_FLAGS["create"])


def test_version_names_spec() -> None:
    text = cli.version_text()
    assert text.startswith("dockyard-runtime version ")
    assert "\nspec: 1.1.0" in text


@pytest.mark.parametrize(("text", "num"), [("TERM", 15), ("SIGKILL", 9), ("9", 9), ("RTMIN+2", 36)])
def test_signals(text: str, num: int) -> None:
    assert parse_signal(text) == num


def test_bad_signal() -> None:
    with pytest.raises(InvalidArgument, match="unknown signal"):
        parse_signal("NOPE")


def test_mount_options() -> None:
    o = parse(["rbind", "ro", "nosuid", "rprivate", "mode=755", "size=64k"])
    assert o.flags == sc.MS_BIND | sc.MS_REC | sc.MS_RDONLY | sc.MS_NOSUID
    assert o.propagation == [sc.MS_PRIVATE | sc.MS_REC]
    assert o.data == "mode=755,size=64k"
    assert parse(["ro", "rw"]).flags == 0

"""The pflag grammar of dockyard.cli.flags, and docker's wording of its errors."""

from __future__ import annotations

import pytest

from dockyard.cli import units
from dockyard.cli.flags import FlagError, FlagSet, HelpRequested


def flagset(interspersed: bool = True) -> FlagSet:
    f = FlagSet(interspersed)
    f.bool("detach", "d")
    f.bool("interactive", "i")
    f.bool("tty", "t")
    f.bool("sig-proxy", default=True)
    f.string("name")
    f.strings("env", "e")
    f.int("count", "n", default=-1)
    f.value("memory", units.ram_in_bytes, "m")
    f.string("network", aliases=("net",))
    return f


def test_long_short_grouped_and_values() -> None:
    opts, args = flagset().parse(
        ["-itd", "--name=web", "-e", "A=1", "-eB=2", "-e=C=3", "--env", "D=4", "-m", "1g", "-n5", "img"]
    )
    assert (opts.interactive, opts.tty, opts.detach) == (True, True, True)
    assert opts.name == "web"
    assert opts.env == ["A=1", "B=2", "C=3", "D=4"]
    assert opts.memory == 1 << 30
    assert opts.count == 5
    assert args == ["img"]
    assert opts.changed("memory") and not opts.changed("sig-proxy")


def test_defaults_and_bool_values() -> None:
    opts, _ = flagset().parse(["--sig-proxy=false", "--detach=true"])
    assert opts.sig_proxy is False and opts.detach is True
    assert opts.count == -1 and opts.env == [] and opts.memory is None and opts.name == ""
    with pytest.raises(FlagError, match='invalid argument "maybe" for "-d, --detach" flag'):
        flagset().parse(["--detach=maybe"])


def test_interspersed_or_not() -> None:
    opts, args = flagset(interspersed=True).parse(["a", "-d", "b", "--", "-i"])
    assert opts.detach and not opts.interactive and args == ["a", "b", "-i"]
    opts, args = flagset(interspersed=False).parse(["-d", "busybox", "ls", "-l", "--name", "x"])
    assert opts.detach and opts.name == "" and args == ["busybox", "ls", "-l", "--name", "x"]


def test_alias_and_single_dash_positional() -> None:
    opts, args = flagset().parse(["--net", "host", "-"])
    assert opts.network == "host" and args == ["-"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--nope"], "unknown flag: --nope"),
        (["-x"], "unknown shorthand flag: 'x' in -x"),
        (["-dx"], "unknown shorthand flag: 'x' in -x"),
        (["--name"], "flag needs an argument: --name"),
        (["-e"], "flag needs an argument: 'e' in -e"),
        (["--memory", "abc"], 'invalid argument "abc" for "-m, --memory" flag: invalid size: \'abc\''),
        (
            ["-n", "x"],
            'invalid argument "x" for "-n, --count" flag: strconv.ParseInt: parsing "x": invalid syntax',
        ),
    ],
)
def test_errors(argv: list[str], message: str) -> None:
    with pytest.raises(FlagError) as found:
        flagset().parse(argv)
    assert found.value.message == message
    assert found.value.exit_code == 125


def test_help() -> None:
    for argv in (["--help"], ["-h"]):
        with pytest.raises(HelpRequested):
            flagset().parse(argv)
    f = flagset()
    f.string("hostname", "h")  # run's -h is the hostname, not help
    opts, _ = f.parse(["-h", "box"])
    assert opts.hostname == "box"
    usage = flagset().usage()
    assert "  -d, --detach" in usage and "      --name string" in usage and "--sig-proxy" in usage
    assert "(default true)" in usage

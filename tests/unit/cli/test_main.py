"""The ``dockyard`` entry point: dispatch, help, usage errors, and what ``dockyard ps`` imports."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dockyard.cli import verbs
from dockyard.cli.main import main

NO_DAEMON = "unix:///nonexistent/dockyard-unit.sock"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dockyard", *args], capture_output=True, text=True, timeout=30, check=False
    )


def test_every_command_resolves_to_a_function() -> None:
    import importlib

    tables = [verbs.TOP, *(table for table, _, _ in verbs.GROUPS.values())]
    for table in tables:
        for name, (module, function, summary) in table.items():
            assert callable(getattr(importlib.import_module(f"dockyard.cli.{module}"), function)), name
            assert summary


def test_resolve_groups_and_aliases() -> None:
    assert verbs.resolve(["container", "ls", "-a"])[1:] == (verbs.CONTAINER["ls"], 2)
    assert verbs.resolve(["container", "list"])[1] == verbs.CONTAINER["ls"]
    assert verbs.resolve(["image", "remove", "x"])[1] == verbs.IMAGE["rm"]
    assert verbs.resolve(["ps"])[1] == verbs.CONTAINER["ls"]
    assert verbs.resolve(["volume"])[1:] == (None, 1)
    assert verbs.resolve(["nope"])[1:] == (None, 0)
    assert "dockyard ps" in verbs.aliases_of(["container", "ls"])
    assert verbs.aliases_of(["stop"]) == ["dockyard container stop", "dockyard stop"]


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "Usage:  dockyard [OPTIONS] COMMAND" in out and "  run " in out and "Management Commands:" in out
    assert main(["volume"]) == 0
    assert "Usage:  dockyard volume COMMAND" in capsys.readouterr().out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("dockyard version ")


def test_unknown_commands_and_flags(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 1
    assert "'frobnicate' is not a dockyard command" in capsys.readouterr().err
    assert main(["volume", "frobnicate"]) == 1
    assert "unknown command: dockyard volume frobnicate" in capsys.readouterr().err
    assert main(["--bogus", "ps"]) == 125
    assert "unknown flag: --bogus" in capsys.readouterr().err
    assert main(["-H", NO_DAEMON, "logs"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        "dockyard: 'dockyard logs' requires 1 argument\n\nUsage:  dockyard logs [OPTIONS] CONTAINER"
    )
    assert main(["-H", NO_DAEMON, "run", "--cpus", "x", "busybox"]) == 125
    assert (
        'invalid argument "x" for "--cpus" flag: failed to parse x as a rational number'
        in capsys.readouterr().err
    )
    assert main(["--context", "remote", "ps"]) == 125
    assert 'context "remote" does not exist' in capsys.readouterr().err


def test_ps_help_lists_flags_and_aliases(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["container", "ls", "--help"]) == 0
    out = capsys.readouterr().out
    assert "Usage:  dockyard container ls [OPTIONS]" in out
    assert (
        "Aliases:\n  dockyard container ls, dockyard container list, dockyard container ps, dockyard ps"
        in out
    )
    assert "  -a, --all " in out and "      --format string " in out


def test_daemon_not_running_message() -> None:
    res = run("-H", NO_DAEMON, "ps")
    assert (res.returncode, res.stdout) == (1, "")
    assert res.stderr == (
        f"Cannot connect to the dockyard daemon at {NO_DAEMON}. Is the daemon running? "
        "Start it with: dockyard daemon\n"
    )


def test_ps_imports_nothing_heavy() -> None:
    """`dockyard ps` loads the client and its own command: no daemon, runtime, rich, argparse, http.client."""
    code = (
        "import sys\n"
        "from dockyard.__main__ import main\n"
        f"main(['-H', '{NO_DAEMON}', 'ps'])\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )
    loaded = set(res.stdout.split())
    assert "dockyard.cli.ps" in loaded
    heavy = {"rich", "argparse", "http.client", "asyncio", "aiohttp", "ssl", "email", "tarfile", "threading"}
    assert not heavy & loaded, heavy & loaded
    ours = {m for m in loaded if m.startswith("dockyard.")}
    # The client's own leaves (DESIGN.md: client imports only oci and errors) are allowed.
    assert not {m for m in ours if m.split(".")[1] not in ("cli", "client", "oci", "errors", "__main__")}
    assert not {
        m for m in ours if m.startswith("dockyard.cli.") and m.split(".")[2] in ("run", "pull", "cp", "stats")
    }

"""`dockyard compose` on the command line (no daemon needed), and the progress display."""

from __future__ import annotations

import re

import pytest

from dockyard.cli import main
from dockyard.compose.progress import Progress
from tests.compose_fixtures import Lines


def test_compose_help_lists_the_commands(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert main.main(["compose", "--help"]) == 0
    out = capsysbinary.readouterr().out.decode()
    assert "Usage:  dockyard compose [OPTIONS] COMMAND" in out
    for word in (
        "up",
        "down",
        "ps",
        "logs",
        "exec",
        "run",
        "ls",
        "port",
        "config",
        "--project-name",
        "--profile",
    ):
        assert f" {word}" in out
    assert main.main(["--help"]) == 0
    assert "compose" in capsysbinary.readouterr().out.decode()


def test_compose_subcommand_help_and_errors(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert main.main(["compose", "up", "--help"]) == 0
    out = capsysbinary.readouterr().out.decode()
    assert (
        "Usage:  dockyard compose up [OPTIONS] [SERVICE...]" in out and "--scale" in out and "--wait" in out
    )
    assert main.main(["compose", "frobnicate"]) == 1
    assert "unknown compose command: 'frobnicate'" in capsysbinary.readouterr().err.decode()
    assert main.main(["compose", "up", "--bogus"]) == 125
    assert "unknown flag: --bogus" in capsysbinary.readouterr().err.decode()


def test_plain_progress_lines() -> None:
    out = Lines()
    p = Progress(out, terminal=False)
    p.event("Network", "demo_default", "Creating")
    p.event("Network", "demo_default", "Created")
    p.event("Container", "demo-web-1", "Started")
    p.close()
    assert (
        out.text
        == " Network demo_default  Creating\n Network demo_default  Created\n Container demo-web-1  Started\n"
    )


def test_terminal_progress_block() -> None:
    out = Lines()
    p = Progress(out, terminal=True)
    p.event("Container", "demo-web-1", "Starting")
    p.event("Container", "demo-api-1", "Started")
    p.event("Container", "demo-web-1", "Started")
    p.close()
    plain = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", out.text)
    assert "[+] Running 2/2" in plain
    assert " ✔ Container demo-web-1  Started" in plain
    assert " ✔ Container demo-api-1  Started" in plain

"""``dockyard run -it``, ``exec -it``, detaching and ``attach``, typed into a real terminal (tmux)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.compat.engines import Tmux, engines_dir_fixture, tmux_fixture  # noqa: F401
from tests.integration.test_cli_engine import (  # noqa: F401
    CliEngine,
    cli_engine_fixture,
    names_fixture,
    new_name,
    scratch_fixture,
)

pytestmark = [pytest.mark.root]


def screen(tmux: Tmux, session: str) -> list[str]:
    """The pane's non-empty lines, without tmux's own "Pane is dead" note (remain-on-exit)."""
    return [line for line in tmux.lines(session) if line and not line.startswith("Pane is dead")]


def prompt(lines: list[str]) -> bool:
    return any(line.endswith("#") for line in lines)


def test_run_it_shell_resize_and_exit_code(cli_engine: CliEngine, tmux: Tmux, names: list[str]) -> None:
    name = new_name(names)
    session = tmux.start(
        cli_engine.argv("run", "-it", "--rm", "--name", name, "busybox", "sh"), width=120, height=30
    )
    try:
        tmux.wait_text(session, prompt, 20, "the shell prompt")
        tmux.send(session, "echo hi-$((1+1)); tty; stty size")
        screen = tmux.wait_text(session, lambda ls: "30 120" in ls, 10, "echo, tty and the terminal size")
        assert "hi-2" in screen.splitlines()
        assert any(line.startswith("/dev/pts/") for line in screen.splitlines())
        # SIGWINCH: the client resizes the container's terminal to ours.
        tmux("resize-window", "-t", session, "-x", "100", "-y", "25")
        # The resize is an API call the SIGWINCH handler makes: ask until the shell sees it.
        for _ in range(20):
            tmux.send(session, "stty size")
            time.sleep(0.25)
            if "25 100" in tmux.lines(session):
                break
        tmux.wait_text(session, lambda ls: "25 100" in ls, 5, "the new terminal size")
        tmux.send(session, "exit 3")
        assert tmux.wait_exit(session, 20, "run -it to end") == 3
    finally:
        tmux.kill(session)


def test_ctrl_c_reaches_the_tty(cli_engine: CliEngine, tmux: Tmux, names: list[str]) -> None:
    """With -t, ctrl-c is a byte for the container's pty: it interrupts the foreground command."""
    name = new_name(names)
    session = tmux.start(cli_engine.argv("run", "-it", "--rm", "--name", name, "busybox", "sh"))
    try:
        tmux.wait_text(session, prompt, 20, "the shell prompt")
        tmux.send(session, "sleep 1000")
        tmux("send-keys", "-t", session, "C-c")
        tmux.wait_text(session, lambda ls: "^C" in ls and [x for x in ls if x][-1].endswith("#"), 10, "^C")
        tmux.send(session, "echo after-$?")
        tmux.wait_text(session, lambda ls: "after-130" in ls, 10, "sleep to be interrupted")
        tmux.send(session, "exit")
        assert tmux.wait_exit(session, 20, "run -it to end") == 0
    finally:
        tmux.kill(session)


def test_detach_keys_then_attach(cli_engine: CliEngine, tmux: Tmux, names: list[str]) -> None:
    name = new_name(names)
    session = tmux.start(cli_engine.argv("run", "-it", "--name", name, "busybox", "sh"))
    try:
        tmux.wait_text(session, prompt, 20, "the shell prompt")
        tmux.send(session, "export MARK=still-here")
        tmux("send-keys", "-t", session, "C-p", "C-q")
        assert tmux.wait_exit(session, 20, "the client to detach") == 0
    finally:
        tmux.kill(session)
    assert cli_engine.inspect(name)["State"]["Running"] is True  # type: ignore[index]
    again = tmux.start(cli_engine.argv("attach", name))
    try:
        tmux.send(again, "echo $MARK")
        tmux.wait_text(again, lambda ls: "still-here" in ls, 10, "the attached shell to answer")
        tmux.send(again, "exit 5")
        assert tmux.wait_exit(again, 20, "attach to end with the container") == 5
    finally:
        tmux.kill(again)


def test_exec_it(cli_engine: CliEngine, tmux: Tmux, names: list[str]) -> None:
    name = new_name(names)
    cli_engine.ok("run", "-d", "--name", name, "busybox", "sleep", "60")
    session = tmux.start(cli_engine.argv("exec", "-it", name, "sh"))
    try:
        tmux.wait_text(session, prompt, 20, "the exec shell prompt")
        tmux.send(session, "echo tty-$((6*7)); tty")
        screen = tmux.wait_text(
            session,
            lambda ls: "tty-42" in ls and any(line.startswith("/dev/pts/") for line in ls),
            10,
            "tty-42 and the terminal's /dev/pts name",
        )
        assert "tty-42" in screen
        tmux.send(session, "exit 4")
        assert tmux.wait_exit(session, 20, "exec -it to end") == 4
    finally:
        tmux.kill(session)
    assert cli_engine.inspect(name)["State"]["Running"] is True  # type: ignore[index]


def test_it_without_a_terminal_is_refused(cli_engine: CliEngine) -> None:
    res = cli_engine.cli("run", "-it", "--rm", "busybox", "true", input=b"")
    assert res.returncode == 1
    assert res.stderr == b"the input device is not a TTY\n"


def test_pull_and_load_progress_on_a_terminal(
    cli_engine: CliEngine, tmux: Tmux, reference_registry: str, scratch: Path
) -> None:
    """On a terminal, pull and load draw docker's live per-layer lines (rich), then the summary."""
    ref = f"{reference_registry}/library/pulled:1"
    cli_engine.docker("rmi", "-f", ref)
    try:
        session = tmux.start(cli_engine.argv("pull", ref), width=130)
        try:
            assert tmux.wait_exit(session, 60, "pull to finish") == 0
            lines = screen(tmux, session)
            assert lines[0] == "1: Pulling from library/pulled"
            assert any(line.endswith(": Pull complete") for line in lines), lines
            assert lines[-1] == ref and lines[-2].startswith("Status: Downloaded newer image for ")
        finally:
            tmux.kill(session)
        archive = scratch / "img.tar"
        cli_engine.ok("save", "-o", str(archive), ref)
        cli_engine.ok("rmi", ref)
        session = tmux.start(cli_engine.argv("load", "-i", str(archive)), width=130)
        try:
            assert tmux.wait_exit(session, 60, "load to finish") == 0
            lines = screen(tmux, session)
            # Not quiet on a terminal: the layer's live line (its bar depends on how fast it went).
            assert ": Loading layer" in lines[0]
            assert lines[-1] == f"Loaded image: {ref}"
        finally:
            tmux.kill(session)
    finally:
        cli_engine.docker("rmi", "-f", ref)

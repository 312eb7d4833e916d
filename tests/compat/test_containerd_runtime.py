"""containerd runs the busybox image through dockyard-runtime (`ctr run --runc-binary`) as through runc.

Issue 2, "Must show" 2. One containerd per session (``engines.containerd``: private root, state
and socket, CRI disabled, a namespace of our own); every test runs once with ``--runc-binary``
pointing at dockyard-runtime and once at runc (the control). The io.containerd.runc.v2 shim calls
the binary exactly as it calls runc (create with ``--log log.json --log-format json``, start,
state, kill, delete), so an error there is reported by ctr with the runtime's own message.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest

# Importing the session fixtures (`containerd` and those it requests) makes them visible here.
from tests.compat.engines import (  # noqa: F401
    RUNTIMES,
    Containerd,
    busybox_layer_fixture,
    containerd_fixture,
    engines_dir_fixture,
    runtime_binary,
)

pytestmark = [pytest.mark.compat, pytest.mark.root]


@pytest.fixture(params=RUNTIMES)
def runc_binary(request: pytest.FixtureRequest) -> str:
    """The ``--runc-binary`` path: dockyard-runtime, or runc (the control)."""
    return runtime_binary(request.param)


def ctr_run(containerd: Containerd, binary: str, *cmd: str, timeout: float = 30) -> tuple[int, str, str]:
    """``ctr run --rm --runc-binary BINARY IMAGE ID CMD...``; returns (exit code, stdout, failure text)."""
    cid = containerd.new_id()
    mark = containerd.log_offset()
    res = containerd.run(binary, cid, *cmd, timeout=timeout)
    return (
        res.returncode,
        res.stdout.decode(errors="replace"),
        containerd.explain(res, f"ctr run {cid}", mark),
    )


def test_exit_code_is_returned(containerd: Containerd, runc_binary: str) -> None:
    """`ctr run` exits with the container's exit code (the shim reads it from the runtime's child)."""
    code, _, why = ctr_run(containerd, runc_binary, "sh", "-c", "exit 7")
    assert code == 7, why


def test_output_and_namespaces(containerd: Containerd, runc_binary: str) -> None:
    """The container's stdout reaches ctr; it is pid 1, with the hostname and cwd ctr's spec asks for."""
    code, out, why = ctr_run(containerd, runc_binary, "sh", "-c", "echo hello-$((2*3)); echo $$; pwd; id -u")
    assert code == 0, why
    assert out.split() == ["hello-6", "1", "/", "0"], why


def test_cgroup_is_the_one_containerd_asked_for(containerd: Containerd, runc_binary: str) -> None:
    """ctr's spec sets cgroupsPath /NAMESPACE/ID; the runtime must put the process there."""
    cid = containerd.new_id()
    mark = containerd.log_offset()
    res = containerd.run(runc_binary, cid, "cat", "/proc/self/cgroup")
    why = containerd.explain(res, f"ctr run {cid}", mark)
    assert res.returncode == 0, why
    # ctr asks for no cgroup namespace, so /proc/self/cgroup shows the full path in each hierarchy
    # (a process left in the root cgroup would read "/").
    paths = {}
    for line in res.stdout.decode().splitlines():
        _, controllers, path = line.split(":", 2)
        paths[controllers] = path
    expected = f"/{containerd.namespace}/{cid}"
    # v1 and hybrid hosts: every named v1 hierarchy; a pure v2 host has only the "0::" line.
    named: list[str] = [c for c in ("memory", "pids", "cpu", "freezer", "devices") if c in paths]
    wanted = named or [""]
    for controller in wanted:
        assert paths.get(controller) == expected, f"{controller or 'unified'}: {paths}\n{why}"


def test_detached_task_state_kill_and_delete(containerd: Containerd, runc_binary: str) -> None:
    """`ctr run -d`, then the runtime itself reports the task; `ctr task kill` + `delete` end it.

    This also proves the shim really called ``--runc-binary``: only that runtime's ``state``
    knows the container in its ``--root``.
    """
    cid = containerd.new_id()
    mark = containerd.log_offset()
    res = containerd.run(runc_binary, cid, "sleep", "1000", detach=True)
    assert res.returncode == 0, containerd.explain(res, f"ctr run -d {cid}", mark)

    tasks = containerd("task", "ls").stdout.decode().split("\n")
    row = next((line.split() for line in tasks if line.startswith(cid)), None)
    assert row is not None and row[2] == "RUNNING", tasks
    pid = int(row[1])
    state_cmd = [runc_binary, "--root", str(containerd.runtime_root), "state", cid]
    state = subprocess.run(state_cmd, capture_output=True, text=True, check=False)
    assert state.returncode == 0, f"{state_cmd}: {state.stderr}"
    assert (json.loads(state.stdout)["status"], json.loads(state.stdout)["pid"]) == ("running", pid)

    res = containerd("task", "kill", "-s", "SIGKILL", cid)
    assert res.returncode == 0, containerd.explain(res, f"ctr task kill {cid}", mark)
    deadline = time.monotonic() + 10
    while b"STOPPED" not in containerd("task", "ls").stdout and time.monotonic() < deadline:
        time.sleep(0.05)
    res = containerd("task", "delete", cid)
    assert res.returncode == 0, containerd.explain(res, f"ctr task delete {cid}", mark)
    # ctr prints the exit status of the deleted task: 128 + SIGKILL.
    assert b"137" in res.stdout + res.stderr, containerd.explain(res, "ctr task delete", mark)
    assert not (containerd.runtime_root / cid).exists(), "the runtime kept its state after delete"
    res = containerd("container", "delete", cid)
    assert res.returncode == 0, containerd.explain(res, f"ctr container delete {cid}", mark)

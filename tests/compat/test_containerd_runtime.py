"""containerd runs the busybox image through dockyard-runtime (`ctr run --runc-binary`) as through runc.

Issue 2, "Must show" 2. One containerd per session (``engines.containerd``: private root, state
and socket, CRI disabled, a namespace of our own); every test runs once with ``--runc-binary``
pointing at dockyard-runtime and once at runc (the control). The io.containerd.runc.v2 shim calls
the binary exactly as it calls runc (create with ``--log log.json --log-format json``, start,
state, kill, delete), so an error there is reported by ctr with the runtime's own message.
"""

from __future__ import annotations

import pytest

# The session fixture `containerd` and the ones it requests (imported, they are visible here).
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
    res = containerd("run", "--rm", "--runc-binary", binary, containerd.image, cid, *cmd, timeout=timeout)
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
    res = containerd(
        "run", "--rm", "--runc-binary", runc_binary, containerd.image, cid, "cat", "/proc/self/cgroup"
    )
    why = containerd.explain(res, f"ctr run {cid}", mark)
    assert res.returncode == 0, why
    memory = [line for line in res.stdout.decode().splitlines() if line.split(":")[1:2] == ["memory"]]
    # With a cgroup namespace the path reads "/"; without one (runc's default here), the full path.
    assert memory, why
    assert memory[0].split(":", 2)[2] in ("/", f"/{containerd.namespace}/{cid}"), why

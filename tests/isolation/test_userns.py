"""`dockyard daemon --userns-remap default`: container root is an unprivileged range of host ids.

Issue 8, "Must show" 3: a file created by container root appears on the host owned by the mapped
uid; container root cannot read a host file of mode 0600 mounted in. Also: the image's files are
container root's (idmapped layers), ``--userns host`` opts a container out, and what dockerd
refuses with remapping (--privileged without --userns host) is refused.

The daemon creates the ``dockyard`` user and its /etc/subuid and /etc/subgid ranges when they are
missing; the fixture puts the host back as it found it (removes a user it made, restores both
files).
"""

from __future__ import annotations

import io
import os
import pwd
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.engine import userns
from tests.daemon_harness import DOCKER_CLI, DockyardDaemon

pytestmark = [pytest.mark.root, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@pytest.fixture(scope="module")
def remapped() -> Iterator[tuple[DockyardDaemon, userns.IdMap]]:
    saved = {p: Path(p).read_bytes() if os.path.exists(p) else None for p in (userns.SUBUID, userns.SUBGID)}
    had_user = _user_exists(userns.DEFAULT_USER)
    daemon = DockyardDaemon("--userns-remap", "default")
    try:
        with daemon:
            daemon.bootstrap()
            yield daemon, userns.resolve(userns.DEFAULT_USER)
    finally:
        if not had_user and _user_exists(userns.DEFAULT_USER):
            subprocess.run(["userdel", userns.DEFAULT_USER], check=False, capture_output=True)
        for path, content in saved.items():
            if content is None:
                Path(path).unlink(missing_ok=True)
            else:
                Path(path).write_bytes(content)


@pytest.fixture
def host_dir() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix=f"dockyard-userns-{os.getpid()}-", dir="/tmp"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_default_user_and_ranges_made(remapped: tuple[DockyardDaemon, userns.IdMap]) -> None:
    _, idmap = remapped
    assert _user_exists(userns.DEFAULT_USER)
    assert userns.read_ranges(userns.SUBUID, (userns.DEFAULT_USER,))[0] == (idmap.uid_start, idmap.size)
    assert idmap.uid_start >= userns.FIRST_START and idmap.size == userns.RANGE_SIZE
    d, _ = remapped
    assert "name=userns" in d.docker("info", "--format", "{{json .SecurityOptions}}").stdout


def test_container_root_is_the_mapped_uid_on_the_host(
    remapped: tuple[DockyardDaemon, userns.IdMap], host_dir: Path
) -> None:
    d, idmap = remapped
    host_dir.chmod(0o777)  # writable by anyone: the test is who owns what gets made
    out = d.docker(
        "run", "--rm", "-v", f"{host_dir}:/out", "busybox", "sh", "-c",
        "id -u; cat /proc/self/uid_map; touch /out/made-by-root",
    ).stdout.split()  # fmt: skip
    assert out[:4] == ["0", "0", str(idmap.uid_start), str(idmap.size)], out
    st = (host_dir / "made-by-root").stat()
    assert (st.st_uid, st.st_gid) == (idmap.uid_start, idmap.gid_start)


def test_container_root_cannot_read_a_host_secret(
    remapped: tuple[DockyardDaemon, userns.IdMap], host_dir: Path
) -> None:
    d, _ = remapped
    secret = host_dir / "secret"
    secret.write_text("host root only\n")
    secret.chmod(0o600)
    host_dir.chmod(0o755)
    res = d.docker("run", "--rm", "-v", f"{secret}:/secret", "busybox", "cat", "/secret", check=False)
    assert res.returncode == 1 and "Permission denied" in res.stderr + res.stdout, res
    # The same container in the host's user namespace reads it: the remap is what refused.
    res = d.docker("run", "--rm", "--userns", "host", "-v", f"{secret}:/secret", "busybox", "cat", "/secret")
    assert res.stdout == "host root only\n"


def test_image_files_belong_to_container_root(remapped: tuple[DockyardDaemon, userns.IdMap]) -> None:
    d, idmap = remapped
    name = f"userns-{os.getpid()}-layers"
    try:
        out = d.docker(
            "run", "--name", name, "busybox", "sh", "-c",
            "stat -c '%u:%g' /etc/passwd /bin; echo x >> /etc/passwd && echo appended",
        ).stdout.split()  # fmt: skip
        assert out == ["0:0", "0:0", "appended"], out
        upper = next((d.data_root / "overlay" / "containers").glob(f"{_cid(d, name)}*/upper"))
        st = (upper / "etc" / "passwd").stat()  # copied up: owned by the range's root on the host
        assert (st.st_uid, st.st_gid) == (idmap.uid_start, idmap.gid_start)
    finally:
        d.docker("rm", "-f", name, check=False)
    # A host-namespace container sees the same layers owned by host root.
    host = d.docker(
        "run", "--rm", "--userns", "host", "busybox", "sh", "-c", "cat /proc/self/uid_map; stat -c %u /bin"
    )
    assert host.stdout.split() == ["0", "0", "4294967295", "0"]


def test_refused_with_remapping(remapped: tuple[DockyardDaemon, userns.IdMap]) -> None:
    d, _ = remapped
    res = d.docker("run", "--rm", "--privileged", "busybox", "true", check=False)
    assert res.returncode == 125 and "privileged mode is incompatible with user namespaces" in res.stderr
    d.docker("run", "--rm", "--privileged", "--userns", "host", "busybox", "true")


def _cid(d: DockyardDaemon, name: str) -> str:
    return d.docker("inspect", "-f", "{{.Id}}", name).stdout.strip()


def test_exec_joins_the_user_namespace(remapped: tuple[DockyardDaemon, userns.IdMap]) -> None:
    d, idmap = remapped
    name = f"userns-{os.getpid()}-exec"
    try:
        d.docker("run", "-d", "--name", name, "busybox", "sleep", "600")
        out = d.docker("exec", name, "sh", "-c", "cat /proc/self/uid_map; touch /root/x && echo ok").stdout
        assert out.split() == ["0", str(idmap.uid_start), str(idmap.size), "ok"], out
        pid = int(d.docker("inspect", "-f", "{{.State.Pid}}", name).stdout)
        assert os.stat(f"/proc/{pid}").st_uid == idmap.uid_start  # the init runs as uid 100000 on the host
    finally:
        d.docker("rm", "-f", name, check=False)


def test_remapped_layer_copies(tmp_path: Path) -> None:
    """The fallback for kernels without idmapped overlay layers: a remapped copy of each layer,
    made once, mounted like the idmapped stack (engine/remapped_layers.py)."""
    from dockyard.engine import remapped_layers
    from dockyard.snapshots.overlay import OverlayMount
    from dockyard.util import syscalls

    idmap = userns.IdMap(300000, 400000, 65536)
    base = tmp_path / "overlay"
    layer = base / "sha" / "diff"
    (layer / "etc").mkdir(parents=True)
    (layer / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    (layer / "bin").mkdir()
    (layer / "bin" / "su").write_text("#!/bin/sh\n")
    os.chmod(layer / "bin" / "su", 0o4755)
    (layer / "home").mkdir()
    os.chown(layer / "home", 1000, 1000)
    os.symlink("/etc/passwd", layer / "link")
    (base / "l").mkdir()
    os.symlink("../sha/diff", base / "l" / "SHORT")
    for sub in ("upper", "work"):
        (base / sub).mkdir()
    target = tmp_path / "merged"
    target.mkdir()
    stack = OverlayMount(base=base, lowers=("l/SHORT",), upper="upper", work="work")
    remapped_layers.mount_remapped_overlay(stack, str(target), idmap, tmp_path / "data")
    try:
        owners = {p: (os.lstat(target / p).st_uid, os.lstat(target / p).st_gid)
                  for p in ("etc/passwd", "bin/su", "home", "link")}  # fmt: skip
        assert owners == {"etc/passwd": (300000, 400000), "bin/su": (300000, 400000),
                          "home": (301000, 401000), "link": (300000, 400000)}  # fmt: skip
        assert os.stat(target / "bin" / "su").st_mode & 0o7777 == 0o4755  # set-uid kept across chown
        assert (os.stat(base / "upper").st_uid, os.stat(base / "work").st_gid) == (300000, 400000)
        assert os.stat(layer / "etc" / "passwd").st_uid == 0  # the layer itself is untouched
        copy = remapped_layers.remapped_copy(base / "l" / "SHORT", idmap, tmp_path / "data")
        assert copy == tmp_path / "data" / remapped_layers.DIR / "300000.400000" / "sha" / "diff"
    finally:
        syscalls.umount2(str(target), syscalls.MNT_DETACH)


def test_docker_cp_gives_files_the_mapped_ids(
    remapped: tuple[DockyardDaemon, userns.IdMap], host_dir: Path
) -> None:
    """`docker cp` into a stopped and into a running remapped container: on the host the files
    belong to the range (container root is uid_start, uid 1000 is uid_start+1000), inside the
    container to the ids the tar named; `docker cp` out names the container's ids again."""
    d, idmap = remapped
    src = host_dir / "tree"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "f").write_text("root's\n")
    (host_dir / "user-file").write_text("uid 1000's\n")
    os.chown(host_dir / "user-file", 1000, 1000)
    stopped, running = f"userns-{os.getpid()}-cp-stopped", f"userns-{os.getpid()}-cp-running"
    check = "stat -c '%n %u:%g' /tree /tree/sub/f /user-file"
    try:
        d.docker("create", "--name", stopped, "busybox", "sh", "-c", check)
        d.docker("cp", str(src), f"{stopped}:/tree")
        d.docker("cp", str(host_dir / "user-file"), f"{stopped}:/user-file")
        upper = next((d.data_root / "overlay" / "containers").glob(f"{_cid(d, stopped)}*/upper"))
        on_host = {p: (os.lstat(upper / p).st_uid, os.lstat(upper / p).st_gid)
                   for p in ("tree", "tree/sub/f", "user-file")}  # fmt: skip
        root, user = (idmap.uid_start, idmap.gid_start), (idmap.uid_start + 1000, idmap.gid_start + 1000)
        assert on_host == {"tree": root, "tree/sub/f": root, "user-file": user}
        inside = d.docker("start", "-a", stopped).stdout.splitlines()
        assert inside == ["/tree 0:0", "/tree/sub/f 0:0", "/user-file 1000:1000"]
        argv = [DOCKER_CLI, "cp", f"{stopped}:/user-file", "-"]
        out = subprocess.run(argv, env=d.env(), capture_output=True, check=True, timeout=60)
        with tarfile.open(fileobj=io.BytesIO(out.stdout)) as tar:
            assert [(m.name, m.uid, m.gid) for m in tar.getmembers()] == [("user-file", 1000, 1000)]

        d.docker("run", "-d", "--name", running, "busybox", "sleep", "600")
        d.docker("cp", str(host_dir / "user-file"), f"{running}:/user-file")
        d.docker("cp", str(src), f"{running}:/tree")
        assert d.docker("exec", running, "sh", "-c", check).stdout.splitlines() == inside
        pid = int(d.docker("inspect", "-f", "{{.State.Pid}}", running).stdout)
        st = os.lstat(f"/proc/{pid}/root/user-file")
        assert (st.st_uid, st.st_gid) == user
    finally:
        d.docker("rm", "-f", stopped, running, check=False)

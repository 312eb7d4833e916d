"""--userns-remap's pieces without a daemon: subordinate ranges, the map, the refusals, the spec."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest

from dockyard.engine import hostconfig, spec, userns
from dockyard.engine.create import CreateSettings, new_container
from dockyard.engine.user import ResolvedUser
from dockyard.errors import InvalidArgument

IDMAP = userns.IdMap(200000, 300000, 65536)


def test_ranges_read_and_a_free_one_found(tmp_path: Path) -> None:
    sub = tmp_path / "subuid"
    sub.write_text("alice:100000:65536\nbob:165536:65536\n# junk\nroot:300000:1000\n")
    assert userns.read_ranges(str(sub), ("bob",)) == [(165536, 65536)]
    assert userns.read_ranges(str(sub), ("carol",)) == []
    assert userns.free_start(str(sub)) == 231072  # after bob's, before root's (which ends at 301000)
    assert userns.free_start(str(sub), 100000) == 301000
    assert userns.free_start(str(tmp_path / "missing")) == userns.FIRST_START


def test_resolve_an_existing_user(tmp_path: Path) -> None:
    me = pwd.getpwuid(os.getuid()).pw_name
    (tmp_path / "subuid").write_text(f"{me}:500000:1000\n")
    (tmp_path / "subgid").write_text(f"{os.getgid()}:600000:2000\n")
    got = userns.resolve(f"{me}:{os.getgid()}", str(tmp_path / "subuid"), str(tmp_path / "subgid"))
    assert got == userns.IdMap(500000, 600000, 1000)
    with pytest.raises(InvalidArgument, match="has no range for"):
        userns.resolve(me, str(tmp_path / "subuid"), str(tmp_path / "none"))
    with pytest.raises(InvalidArgument, match="no user 'no-such-user-xyz'"):
        userns.resolve("no-such-user-xyz")


def test_id_map() -> None:
    assert IDMAP.host_uid(0) == 200000 and IDMAP.host_gid(5) == 300005 and IDMAP.host_uid(70000) == 65534
    assert IDMAP.oci() == {
        "uidMappings": [{"containerID": 0, "hostID": 200000, "size": 65536}],
        "gidMappings": [{"containerID": 0, "hostID": 300000, "size": 65536}],
    }


def test_refusals_and_host_mode() -> None:
    features = hostconfig.HostFeatures(ncpu=2, cpus={0, 1})
    settings = CreateSettings(features, ("runc",), "runc", "/", IDMAP)

    def create(host: dict[str, object]) -> None:
        new_container(
            {"Image": "b", "Cmd": ["true"], "HostConfig": host}, "/c", "sha256:" + "a" * 64, {}, settings
        )

    with pytest.raises(InvalidArgument, match="privileged mode is incompatible with user namespaces"):
        create({"Privileged": True})
    with pytest.raises(InvalidArgument, match=r"host's network namespace .* --userns host"):
        create({"NetworkMode": "host"})
    with pytest.raises(InvalidArgument, match="invalid --userns 'private'"):
        create({"UsernsMode": "private"})
    create({"Privileged": True, "UsernsMode": "host"})
    assert userns.wanted({"UsernsMode": "host"}, IDMAP) is None and userns.wanted({}, IDMAP) == IDMAP
    assert userns.wanted({}, None) is None


def test_spec_with_a_map() -> None:
    features = hostconfig.HostFeatures(ncpu=2, cpus={0, 1})
    c, _ = new_container({"Image": "b", "Cmd": ["true"]}, "/c", "sha256:" + "a" * 64, {},
                         CreateSettings(features, ("runc",), "runc"))  # fmt: skip
    root = ResolvedUser(uid=0, gid=0, additional_gids=[0], home="/root", name="root")
    ctx = spec.SpecContext(
        rootfs="/r", user=root, netns_path="/run/netns/x", cgroups_path="/d/x", idmap=IDMAP
    )
    linux = spec.build(c, ctx)["linux"]
    assert linux["namespaces"][0] == {"type": "user"} and linux["uidMappings"] == IDMAP.oci()["uidMappings"]
    # dockerd leaves out the network sysctls in a user namespace (its root cannot write them)
    assert "net.ipv4.ip_unprivileged_port_start" not in (linux.get("sysctl") or {})


def test_make_traversable(tmp_path: Path) -> None:
    closed = tmp_path / "a"
    (closed / "b").mkdir(parents=True)
    closed.chmod(0o700)
    userns.make_traversable(closed / "b")
    assert closed.stat().st_mode & 0o777 == 0o701  # searchable, still not readable by others

"""Create-time checks and merges: names, HostConfig normalisation, image config merge, mounts."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from dockyard.engine import capabilities, hostconfig, merge, mounts, names
from dockyard.engine.create import CreateSettings, new_container
from dockyard.errors import InvalidArgument

FEATURES = hostconfig.HostFeatures(
    cgroup_v2=False, swap_limit=True, oom_kill_disable=True, ncpu=2, cpus={0, 1}
)


# ---------------------------------------------------------------- names


def test_name_rules() -> None:
    assert names.validate("web") == "/web"
    assert names.validate("/web.1_a-b") == "/web.1_a-b"
    for bad in ("a", "-ab", "a b", "a/b", "", "/"):
        with pytest.raises(InvalidArgument, match=r"Invalid container name"):
            names.validate(bad)


def test_generated_names_avoid_taken_ones() -> None:
    rng = random.Random(4)
    first = names.generate(lambda n: False, rng)
    assert first.startswith("/") and "_" in first and names.NAME_PATTERN.match(first)
    taken = {first}
    second = names.generate(lambda n: n in taken, random.Random(4))
    assert second != first and second[-1].isdigit()


def test_ids_are_hex_and_not_numeric() -> None:
    for _ in range(50):
        cid = names.new_id()
        assert len(cid) == 64 and int(cid, 16) >= 0 and not cid[:12].isdigit()


# ---------------------------------------------------------------- HostConfig


def test_defaults_as_dockerd() -> None:
    hc, warnings = hostconfig.normalise({}, FEATURES)
    assert warnings == []
    assert hc["NetworkMode"] == "default" and hc["ShmSize"] == 64 * 1024**2
    assert hc["RestartPolicy"] == {"Name": "no", "MaximumRetryCount": 0}
    assert hc["LogConfig"] == {"Type": "json-file", "Config": {}}
    assert hc["CgroupnsMode"] == "host" and hc["OomKillDisable"] is False
    assert hc["MaskedPaths"][0] == "/proc/asound" and "/sys/firmware" in hc["MaskedPaths"]
    assert hc["Dns"] == [] and hc["Binds"] is None and hc["PidsLimit"] is None


def test_memory_rules() -> None:
    hc, _ = hostconfig.normalise({"Memory": 64 * 1024**2}, FEATURES)
    assert hc["MemorySwap"] == 128 * 1024**2
    with pytest.raises(InvalidArgument, match="Minimum memory limit allowed is 6MB"):
        hostconfig.normalise({"Memory": 1000}, FEATURES)
    with pytest.raises(InvalidArgument, match="larger than memory limit"):
        hostconfig.normalise({"Memory": 64 * 1024**2, "MemorySwap": 32 * 1024**2}, FEATURES)
    with pytest.raises(InvalidArgument, match="always set the Memory limit"):
        hostconfig.normalise({"MemorySwap": 32 * 1024**2}, FEATURES)
    with pytest.raises(InvalidArgument, match=r'HostConfig.Memory "abc"'):
        hostconfig.normalise({"Memory": "abc"}, FEATURES)


def test_limits_the_host_cannot_apply_are_warned_and_dropped() -> None:
    no_swap = hostconfig.HostFeatures(
        cgroup_v2=True, swap_limit=False, oom_kill_disable=False, ncpu=2, cpus={0, 1}
    )
    hc, warnings = hostconfig.normalise({"Memory": 64 * 1024**2, "OomKillDisable": True}, no_swap)
    assert hc["MemorySwap"] == -1 and hc["OomKillDisable"] is None
    assert any("swap limit capabilities" in w for w in warnings)
    assert any("OomKillDisable" in w for w in warnings)
    _, warnings = hostconfig.normalise({"OomKillDisable": True}, FEATURES)
    assert warnings == [
        "OOM killer is disabled for the container, but no memory limit is set, this can result in the system "
        "running out of resources."
    ]


def test_cpu_rules() -> None:
    with pytest.raises(InvalidArgument, match="Nano CPUs and CPU Period"):
        hostconfig.normalise({"NanoCpus": 10**9, "CpuPeriod": 100000}, FEATURES)
    with pytest.raises(InvalidArgument, match=r"Range of CPUs is from 0\.01 to 2\.00"):
        hostconfig.normalise({"NanoCpus": 3 * 10**9}, FEATURES)
    with pytest.raises(
        InvalidArgument, match=r"Requested CPUs are not available - requested 0-3, available: 0-1"
    ):
        hostconfig.normalise({"CpusetCpus": "0-3"}, FEATURES)
    hc, _ = hostconfig.normalise({"CpuShares": -5, "PidsLimit": -1}, FEATURES)
    assert hc["CpuShares"] == 2 and hc["PidsLimit"] is None


def test_restart_policy_and_log_config() -> None:
    with pytest.raises(InvalidArgument, match="unknown policy 'sometimes'"):
        hostconfig.normalise({"RestartPolicy": {"Name": "sometimes"}}, FEATURES)
    with pytest.raises(InvalidArgument, match="only be used with 'on-failure'"):
        hostconfig.normalise({"RestartPolicy": {"Name": "always", "MaximumRetryCount": 2}}, FEATURES)
    with pytest.raises(InvalidArgument, match="both --restart and --rm"):
        hostconfig.normalise({"AutoRemove": True, "RestartPolicy": {"Name": "always"}}, FEATURES)
    hc, _ = hostconfig.normalise(
        {"LogConfig": {"Type": "json-file", "Config": {"max-size": "1k", "max-file": "3"}}}, FEATURES
    )
    assert hostconfig.log_limits(hc["LogConfig"]["Config"]) == (1024, 3)
    with pytest.raises(InvalidArgument, match="no log driver named 'syslogx'"):
        hostconfig.normalise({"LogConfig": {"Type": "syslogx"}}, FEATURES)
    with pytest.raises(InvalidArgument, match="invalid max-size '12x'"):
        hostconfig.normalise({"LogConfig": {"Config": {"max-size": "12x"}}}, FEATURES)
    assert hostconfig.parse_size("1.5g") == int(1.5 * 1024**3)
    assert hostconfig.parse_size("64MiB") == 64 * 1024**2


def test_security_opts() -> None:
    opts = hostconfig.parse_security_opts(["no-new-privileges", "seccomp=unconfined", "label=disable"])
    assert opts.no_new_privileges and opts.seccomp == "unconfined" and opts.labels == ["disable"]
    with pytest.raises(InvalidArgument, match="Invalid --security-opt"):
        hostconfig.parse_security_opts(["bogus=1"])
    with pytest.raises(InvalidArgument, match="Decoding seccomp profile failed"):
        hostconfig.parse_security_opts(["seccomp={not json"])
    hc, _ = hostconfig.normalise({"Privileged": True}, FEATURES)
    assert hc["MaskedPaths"] is None and hc["ReadonlyPaths"] is None


def test_network_modes() -> None:
    assert hostconfig.check_network_mode("container:abc") == "container"
    # Any other name is a user-defined network, which the engine looks up at create.
    assert hostconfig.check_network_mode("mynet") == "network"


def test_capabilities_as_tweak_capabilities() -> None:
    assert len(capabilities.effective(None, None, False)) == 14
    caps = capabilities.effective(["net_admin"], ["CHOWN"], False)
    assert "CAP_NET_ADMIN" in caps and "CAP_CHOWN" not in caps and len(caps) == 14
    assert capabilities.effective(["NET_ADMIN"], ["ALL"], False) == ["CAP_NET_ADMIN"]
    everything = capabilities.effective(["ALL"], ["SYS_ADMIN"], False)
    assert "CAP_SYS_ADMIN" not in everything and "CAP_SYS_PTRACE" in everything
    with pytest.raises(InvalidArgument, match='unknown capability: "CAP_NOPE"'):
        capabilities.normalise(["nope"])


# ---------------------------------------------------------------- merge with the image


IMAGE: dict[str, Any] = {
    "Env": ["PATH=/usr/bin:/bin", "LANG=C"],
    "Cmd": ["sh"],
    "Entrypoint": None,
    "WorkingDir": "/srv",
    "Labels": {"from": "image", "both": "image"},
    "ExposedPorts": {"80/tcp": {}},
    "Volumes": {"/data": {}},
    "StopSignal": "SIGQUIT",
    "Healthcheck": {"Test": ["CMD", "true"], "Interval": 5 * 10**9, "Retries": 3},
}


def merged(request: dict[str, Any], image: dict[str, Any] | None = None) -> dict[str, Any]:
    return merge.merge(merge.normalise_request(request), dict(IMAGE if image is None else image))


def test_entrypoint_and_cmd_rules() -> None:
    assert merged({})["Cmd"] == ["sh"]
    assert merged({"Cmd": ["ls"]})["Cmd"] == ["ls"]
    image = {**IMAGE, "Entrypoint": ["/init"], "Cmd": ["--serve"]}
    got = merged({"Cmd": ["--debug"]}, image)
    assert (got["Entrypoint"], got["Cmd"]) == (["/init"], ["--debug"])
    got = merged({"Entrypoint": ["/other"]}, image)
    assert (got["Entrypoint"], got["Cmd"]) == (["/other"], None)  # the image's Cmd is dropped
    got = merged({"Entrypoint": [""], "Cmd": ["echo"]}, image)
    assert (got["Entrypoint"], got["Cmd"]) == (None, ["echo"])
    assert merge.command(merged({"Entrypoint": "echo", "Cmd": "hi"})) == ("echo", ["hi"])
    with pytest.raises(InvalidArgument, match="No command specified"):
        merge.command(merged({}, {"Env": []}))


def test_env_labels_and_the_rest() -> None:
    got = merged({"Env": ["LANG=fr", "X=1"], "Labels": {"both": "ours"}, "ExposedPorts": {"443/tcp": {}}})
    assert got["Env"] == ["PATH=/usr/bin:/bin", "LANG=fr", "X=1"]
    assert got["Labels"] == {"from": "image", "both": "ours"}
    assert set(got["ExposedPorts"]) == {"80/tcp", "443/tcp"} and got["Volumes"] == {"/data": {}}
    assert got["WorkingDir"] == "/srv" and got["StopSignal"] == "SIGQUIT"
    assert got["Healthcheck"]["Test"] == ["CMD", "true"]
    ours = merged({"Healthcheck": {"Interval": 10**9}})
    assert ours["Healthcheck"] == {"Test": ["CMD", "true"], "Interval": 10**9, "Retries": 3}
    with pytest.raises(InvalidArgument, match="needs to be an absolute path"):
        merged({"WorkingDir": "rel"})


def test_new_container_record() -> None:
    settings = CreateSettings(FEATURES, ("runc", "dockyard"), "dockyard")
    c, warnings = new_container(
        {"Image": "busybox", "Cmd": ["echo", "hi"], "HostConfig": {"NetworkMode": "none"}},
        "/x1",
        "sha256:" + "a" * 64,
        IMAGE,
        settings,
    )
    assert warnings == [] and c.path == "echo" and c.args == ["hi"]
    assert c.config["Hostname"] == c.id[:12] and c.host_config["Runtime"] == "dockyard"
    assert c.config["Image"] == "busybox" and c.config["Env"][0] == "PATH=/usr/bin:/bin"
    with pytest.raises(InvalidArgument, match="Unknown runtime specified nope"):
        new_container({"Image": "b", "HostConfig": {"Runtime": "nope"}}, "/x2", "", IMAGE, settings)


# ---------------------------------------------------------------- mounts


def test_binds_and_mounts(tmp_path: Path) -> None:
    bind = mounts.parse_bind(f"{tmp_path}:/data:ro")
    assert (bind.type, bind.source, bind.destination, bind.rw, bind.propagation) == (
        "bind", str(tmp_path), "/data", False, "rprivate",
    )  # fmt: skip
    vol = mounts.parse_bind("cache:/var/cache:nocopy")
    assert (vol.type, vol.name, vol.mode, vol.no_copy) == ("volume", "cache", "nocopy", True)
    with pytest.raises(InvalidArgument, match="mount path must be absolute"):
        mounts.parse_bind(f"{tmp_path}:relative")
    with pytest.raises(InvalidArgument, match="invalid mode: bogus"):
        mounts.parse_bind(f"{tmp_path}:/x:bogus")
    with pytest.raises(InvalidArgument, match="bind source path does not exist: /nonexistent"):
        mounts.parse_mount({"Type": "bind", "Source": "/nonexistent", "Target": "/x"})
    tmpfs = mounts.parse_mount(
        {"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1024, "Mode": 0o700}}
    )
    assert tmpfs.options == ["noexec", "nosuid", "nodev", "size=1024", "mode=700"]
    plan = mounts.plan(
        {"Binds": [f"{tmp_path}:/data", "v1:/a/b"], "Tmpfs": {"/run": "size=1m,exec"}},
        {"/data": {}, "/vol": {}},
    )
    assert [(m.destination, m.type, m.anonymous) for m in plan] == [
        ("/data", "bind", False), ("/vol", "volume", True), ("/a/b", "volume", False),
    ]  # fmt: skip
    with pytest.raises(InvalidArgument, match="Duplicate mount point: /data"):
        mounts.plan({"Binds": [f"{tmp_path}:/data"], "Mounts": [{"Type": "volume", "Target": "/data"}]}, None)
    assert mounts.tmpfs_mounts({"/run": "size=1m,exec"})[0]["options"] == [
        "nosuid",
        "nodev",
        "size=1m",
        "exec",
    ]

"""``run``/``create`` flags to the create body, and the parsers behind them (units, ports, mounts, env)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dockyard.cli import envfile, mounts, ports, runconfig, runflags, units
from dockyard.cli.flags import FlagSet
from dockyard.cli.terminal import EscapeProxy, detach_keys
from dockyard.errors import InvalidArgument


def build(*argv: str, detach: bool = False, environ: dict[str, str] | None = None) -> dict[str, Any]:
    f = FlagSet(interspersed=False)
    runflags.add_container_flags(f)
    runflags.add_run_flags(f)
    opts, args = f.parse(list(argv))
    return runconfig.build(opts, args[0], args[1:], environ or {}, detach=detach or opts.detach).body


def test_foreground_attach_defaults() -> None:
    body = build("busybox", "echo", "hi")
    assert body["Image"] == "busybox" and body["Cmd"] == ["echo", "hi"]
    assert (body["AttachStdin"], body["AttachStdout"], body["AttachStderr"]) == (False, True, True)
    assert (body["OpenStdin"], body["StdinOnce"], body["Tty"]) == (False, False, False)
    assert body["HostConfig"] == {"NetworkMode": "default"}
    body = build("-it", "busybox")
    assert (body["AttachStdin"], body["OpenStdin"], body["StdinOnce"], body["Tty"]) == (
        True,
        True,
        True,
        True,
    )
    assert "Cmd" not in body  # the image's
    body = build("-d", "-i", "busybox")
    assert (body["AttachStdin"], body["AttachStdout"], body["OpenStdin"]) == (False, False, True)
    body = build("-a", "stderr", "busybox")
    assert (body["AttachStdout"], body["AttachStderr"]) == (False, True)
    with pytest.raises(InvalidArgument, match="Conflicting options: -a and -d"):
        build("-d", "-a", "stdout", "busybox")


def test_the_issue_flags(tmp_path: Path) -> None:
    env_file = tmp_path / "env"
    env_file.write_text("\ufeff# c\nFILE=1\nFROM_HOST\nUNSET_HERE\n")
    body = build(
        "--name",
        "n",
        "-e",
        "A=1",
        "-e",
        "HOME_X",
        "--env-file",
        str(env_file),
        "-w",
        "/w",
        "-u",
        "u:g",
        "--entrypoint",
        "",
        "-l",
        "x=y",
        "-l",
        "bare",
        "--restart",
        "on-failure:3",
        "-m",
        "512m",
        "--memory-swap",
        "-1",
        "--cpus",
        "1.5",
        "--cpu-shares",
        "512",
        "--cpuset-cpus",
        "0-1",
        "--pids-limit",
        "50",
        "--ulimit",
        "nofile=10:20",
        "--read-only",
        "--tmpfs",
        "/run",
        "--cap-add",
        "SYS_ADMIN",
        "--cap-drop",
        "ALL",
        "--privileged",
        "--security-opt",
        "no-new-privileges",
        "--init",
        "--health-cmd",
        "ping",
        "--health-retries",
        "3",
        "--health-timeout",
        "2s",
        "--net",
        "none",
        "-p",
        "8080:80",
        "-h",
        "host",
        "--dns",
        "10.0.0.1",
        "--add-host",
        "db:10.0.0.2",
        "--log-driver",
        "json-file",
        "--log-opt",
        "max-size=1m",
        "--stop-signal",
        "SIGINT",
        "--stop-timeout",
        "3",
        "--shm-size",
        "64m",
        "--sysctl",
        "net.ipv4.ip_forward=1",
        "--device",
        "/dev/null:/dev/nul2:r",
        "--group-add",
        "audio",
        "--volumes-from",
        "other:ro",
        "-v",
        "/h:/c:ro",
        "-v",
        "/anon",
        "busybox",
        environ={"HOME_X": "/root", "FROM_HOST": "h"},
    )
    host = body["HostConfig"]
    assert body["Env"] == ["FILE=1", "FROM_HOST=h", "A=1", "HOME_X=/root"]
    assert body["Entrypoint"] == [""] and body["WorkingDir"] == "/w" and body["User"] == "u:g"
    assert body["Labels"] == {"x": "y", "bare": ""} and body["Hostname"] == "host"
    assert body["Healthcheck"] == {"Test": ["CMD-SHELL", "ping"], "Timeout": 2_000_000_000, "Retries": 3}
    assert body["StopSignal"] == "SIGINT" and body["StopTimeout"] == 3
    assert body["ExposedPorts"] == {"80/tcp": {}} and body["Volumes"] == {"/anon": {}}
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert (host["Memory"], host["MemorySwap"], host["NanoCpus"]) == (512 << 20, -1, 1_500_000_000)
    assert (host["CpuShares"], host["CpusetCpus"], host["PidsLimit"]) == (512, "0-1", 50)
    assert host["Ulimits"] == [{"Name": "nofile", "Soft": 10, "Hard": 20}]
    assert host["ReadonlyRootfs"] and host["Privileged"] and host["Init"] is True
    assert host["Tmpfs"] == {"/run": ""} and host["CapAdd"] == ["SYS_ADMIN"] and host["CapDrop"] == ["ALL"]
    assert host["SecurityOpt"] == ["no-new-privileges"] and host["NetworkMode"] == "none"
    assert host["PortBindings"] == {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}
    assert host["Dns"] == ["10.0.0.1"] and host["ExtraHosts"] == ["db:10.0.0.2"]
    assert host["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "1m"}}
    assert host["ShmSize"] == 64 << 20 and host["Sysctls"] == {"net.ipv4.ip_forward": "1"}
    assert host["Devices"] == [
        {"PathOnHost": "/dev/null", "PathInContainer": "/dev/nul2", "CgroupPermissions": "r"}
    ]
    assert (
        host["GroupAdd"] == ["audio"]
        and host["VolumesFrom"] == ["other:ro"]
        and host["Binds"] == ["/h:/c:ro"]
    )


def test_conflicts_and_refusals(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="--no-healthcheck conflicts"):
        build("--no-healthcheck", "--health-cmd", "x", "busybox")
    assert build("--no-healthcheck", "busybox")["Healthcheck"] == {"Test": ["NONE"]}
    assert build("--rm", "busybox")["HostConfig"]["AutoRemove"] is True
    with pytest.raises(InvalidArgument, match="Conflicting options: --restart and --rm"):
        build("--rm", "--restart", "always", "busybox")
    with pytest.raises(InvalidArgument, match="user-defined network"):
        build("--ip", "10.1.1.1", "busybox")
    profile = tmp_path / "seccomp.json"
    profile.write_text('{\n  "defaultAction": "SCMP_ACT_ALLOW"\n}\n')
    assert build("--security-opt", f"seccomp={profile}", "busybox")["HostConfig"]["SecurityOpt"] == [
        'seccomp={"defaultAction":"SCMP_ACT_ALLOW"}'
    ]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("512m", 512 << 20),
        ("1g", 1 << 30),
        ("1.5k", 1536),
        ("100", 100),
        ("10 MiB", 10 << 20),
        ("2GB", 2 << 30),
    ],
)
def test_ram_in_bytes(text: str, value: int) -> None:
    assert units.ram_in_bytes(text) == value


@pytest.mark.parametrize("text", ["abc", "", "1x", "m", "-1", "1..2m"])
def test_ram_in_bytes_refuses(text: str) -> None:
    with pytest.raises(ValueError, match=f"invalid size: '{text}'"):
        units.ram_in_bytes(text)


def test_cpus_durations_ulimits_restart() -> None:
    assert units.nano_cpus("1.5") == 1_500_000_000 and units.nano_cpus("3/2") == 1_500_000_000
    assert units.nano_cpus(".25") == 250_000_000
    with pytest.raises(ValueError, match="failed to parse abc as a rational number"):
        units.nano_cpus("abc")
    with pytest.raises(ValueError, match="value is too precise"):
        units.nano_cpus("0.0000000001")
    assert units.go_duration("1m30s") == 90_000_000_000 and units.go_duration("1.5h") == 5_400_000_000_000
    assert units.go_duration("300ms") == 300_000_000 and units.go_duration("0") == 0
    for bad, message in (("30", "missing unit"), ("3x", 'unknown unit "x"'), ("abc", "invalid duration")):
        with pytest.raises(ValueError, match=message):
            units.go_duration(bad)
    assert units.seconds_or_duration("10") == 10 and units.seconds_or_duration("2m") == 120
    assert units.ulimit("nproc=5") == {"Name": "nproc", "Soft": 5, "Hard": 5}
    with pytest.raises(ValueError, match=r'strconv\.ParseInt: parsing "abc": invalid syntax'):
        units.ulimit("nofile=abc")
    with pytest.raises(ValueError, match="invalid ulimit type: bogus"):
        units.ulimit("bogus=1")
    with pytest.raises(ValueError, match="soft limit must be less than or equal to hard limit"):
        units.ulimit("nofile=20:10")
    assert units.restart_policy("always") == {"Name": "always", "MaximumRetryCount": 0}
    with pytest.raises(ValueError, match="maximum retry count must be an integer"):
        units.restart_policy("on-failure:x")


def test_publish_specs() -> None:
    assert ports.parse_publish("80") == [("80/tcp", {"HostIp": "", "HostPort": ""})]
    assert ports.parse_publish("127.0.0.1:8080:80/udp") == [
        ("80/udp", {"HostIp": "127.0.0.1", "HostPort": "8080"})
    ]
    assert ports.parse_publish("[::1]::80") == [("80/tcp", {"HostIp": "::1", "HostPort": ""})]
    assert ports.parse_publish("8000-8001:80-81") == [
        ("80/tcp", {"HostIp": "", "HostPort": "8000"}),
        ("81/tcp", {"HostIp": "", "HostPort": "8001"}),
    ]
    assert ports.parse_publish("9000-9010:80") == [("80/tcp", {"HostIp": "", "HostPort": "9000-9010"})]
    for bad, message in (
        ("abc", "invalid containerPort: abc"),
        ("x:80", "invalid hostPort: x"),
        ("1.2.3:80:80", "invalid IP address"),
        ("80/icmp", "invalid proto: icmp"),
        ("1-3:80-81", "invalid ranges"),
    ):
        with pytest.raises(InvalidArgument, match=message):
            ports.parse_publish(bad)
    assert ports.parse_expose("8000-8002/udp") == ["8000/udp", "8001/udp", "8002/udp"]


def test_port_display_groups_ranges() -> None:
    listed = [{"PrivatePort": p, "PublicPort": p, "IP": "0.0.0.0", "Type": "tcp"} for p in (8000, 8001, 8002)]
    listed.append({"PrivatePort": 53, "Type": "udp"})
    listed.append({"PrivatePort": 80, "PublicPort": 8080, "IP": "::", "Type": "tcp"})
    assert ports.display(listed) == "53/udp, 0.0.0.0:8000-8002->8000-8002/tcp, [::]:8080->80/tcp"
    assert ports.display(None) == ""


def test_volumes_mounts_devices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert mounts.parse_volume("/anon") == (None, "/anon")
    assert mounts.parse_volume("data:/d:ro") == ("data:/d:ro", None)
    assert mounts.parse_volume("./rel:/r") == (f"{tmp_path}/rel:/r", None)
    with pytest.raises(InvalidArgument, match="invalid volume specification"):
        mounts.parse_volume("a:b:c:d")
    assert mounts.parse_mount("type=bind,src=/a,dst=/b,readonly,bind-propagation=rslave") == {
        "Type": "bind",
        "Source": "/a",
        "Target": "/b",
        "ReadOnly": True,
        "BindOptions": {"Propagation": "rslave"},
    }
    assert mounts.parse_mount("type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1770") == {
        "Type": "tmpfs",
        "Target": "/t",
        "TmpfsOptions": {"SizeBytes": 1 << 20, "Mode": 0o1770},
    }
    assert mounts.parse_mount('source=v,target=/v,"volume-label=a=b"')["VolumeOptions"] == {
        "Labels": {"a": "b"}
    }
    for bad, message in (
        ("type=bind,source=/a", "target is required"),
        ("target=/a,bogus=1", "unexpected key"),
        ("type=volume,target=/a,bind-propagation=x", "cannot mix 'bind-"),
    ):
        with pytest.raises(InvalidArgument, match=message):
            mounts.parse_mount(bad)
    assert mounts.parse_device("/dev/fuse") == {
        "PathOnHost": "/dev/fuse",
        "PathInContainer": "/dev/fuse",
        "CgroupPermissions": "rwm",
    }
    assert mounts.parse_device("/dev/a:rw")["CgroupPermissions"] == "rw"
    with pytest.raises(InvalidArgument, match="invalid device mode"):
        mounts.parse_device("/dev/a:/dev/b:xyz")


def test_env_values_and_files(tmp_path: Path) -> None:
    assert envfile.env_value("A=1", {}) == "A=1"
    assert envfile.env_value("A", {"A": "x"}) == "A=x"
    assert envfile.env_value("A", {}) == "A"
    bad = tmp_path / "bad"
    bad.write_text("MY VAR=1\n")
    with pytest.raises(InvalidArgument, match="contains whitespaces"):
        envfile.read_env_file(str(bad), {})
    with pytest.raises(InvalidArgument, match="no such file or directory"):
        envfile.read_env_file(str(tmp_path / "none"), {})


def test_detach_keys_and_escape_proxy() -> None:
    assert detach_keys("ctrl-p,ctrl-q") == b"\x10\x11"
    assert detach_keys("a,ctrl-@,ctrl-[") == b"a\x00\x1b"
    with pytest.raises(InvalidArgument, match="invalid detach keys"):
        detach_keys("ctrl-1")
    proxy = EscapeProxy(b"\x10\x11")
    assert proxy.feed(b"ls\r") == (b"ls\r", False)
    assert proxy.feed(b"\x10") == (b"", False)  # held back: it may start the sequence
    assert proxy.feed(b"x") == (b"\x10x", False)  # it did not
    assert proxy.feed(b"\x10\x10") == (b"\x10", False)
    assert proxy.feed(b"\x11tail") == (b"", True)


def test_block_io_flags() -> None:
    host = build(
        "--device-write-bps", "/dev/vda:1mb", "--device-read-bps", "/dev/vda:512k",
        "--device-read-iops", "/dev/vda:100", "--device-write-iops", "/dev/vdb:50",
        "--blkio-weight-device", "/dev/vda:300", "busybox",
    )["HostConfig"]  # fmt: skip
    assert host["BlkioDeviceWriteBps"] == [{"Path": "/dev/vda", "Rate": 1 << 20}]
    assert host["BlkioDeviceReadBps"] == [{"Path": "/dev/vda", "Rate": 512 << 10}]
    assert host["BlkioDeviceReadIOps"] == [{"Path": "/dev/vda", "Rate": 100}]
    assert host["BlkioDeviceWriteIOps"] == [{"Path": "/dev/vdb", "Rate": 50}]
    assert host["BlkioWeightDevice"] == [{"Path": "/dev/vda", "Weight": 300}]
    bad = (
        ("vda:1mb", units.throttle_bps),
        ("/dev/vda:fast", units.throttle_bps),
        ("/dev/vda:1.5", units.throttle_iops),
        ("/dev/vda:5", units.weight_device),
    )
    for text, parse in bad:
        with pytest.raises(ValueError):
            parse(text)

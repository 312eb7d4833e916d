"""spec.py: the default config.json and the features document (compared with runc in integration)."""

from __future__ import annotations

import json
import os

from dockyard.runtime import capabilities, seccomp
from dockyard.runtime.spec import default_spec, features


def test_default_spec_is_runc_spec() -> None:
    spec = default_spec()
    assert list(spec) == ["ociVersion", "process", "root", "hostname", "mounts", "linux"]
    assert spec["ociVersion"] == "1.1.0"
    proc = spec["process"]
    assert proc["terminal"] is True
    assert proc["args"] == ["sh"]
    assert proc["user"] == {"uid": 0, "gid": 0}
    assert proc["cwd"] == "/"
    assert proc["noNewPrivileges"] is True
    assert proc["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]
    assert list(proc["capabilities"]) == ["bounding", "effective", "permitted", "ambient"]
    assert spec["root"] == {"path": "rootfs", "readonly": True}
    assert [m["destination"] for m in spec["mounts"]] == [
        "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"
    ]  # fmt: skip
    linux = spec["linux"]
    assert list(linux) == ["resources", "namespaces", "maskedPaths", "readonlyPaths"]
    assert [n["type"] for n in linux["namespaces"]] == ["pid", "network", "ipc", "uts", "mount"]
    assert "/proc/kcore" in linux["maskedPaths"]
    assert "/proc/sys" in linux["readonlyPaths"]


def test_default_spec_capabilities_parse() -> None:
    sets = capabilities.parse(default_spec()["process"]["capabilities"])
    assert capabilities.names(sets.mask("bounding")) == [
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_AUDIT_WRITE",
    ]


def test_default_spec_is_fresh_each_call() -> None:
    first = default_spec()
    first["process"]["args"].append("-x")
    first["mounts"][2]["options"].clear()
    assert default_spec()["process"]["args"] == ["sh"]
    assert "gid=5" in default_spec()["mounts"][2]["options"]


def test_rootless_spec() -> None:
    spec = default_spec(rootless=True)
    linux = spec["linux"]
    assert list(linux) == ["uidMappings", "gidMappings", "namespaces", "maskedPaths", "readonlyPaths"]
    assert linux["uidMappings"] == [{"containerID": 0, "hostID": os.geteuid(), "size": 1}]
    assert linux["gidMappings"] == [{"containerID": 0, "hostID": os.getegid(), "size": 1}]
    assert [n["type"] for n in linux["namespaces"]] == ["pid", "ipc", "uts", "mount", "user"]
    sys_mount = next(m for m in spec["mounts"] if m["destination"] == "/sys")
    assert sys_mount == {
        "destination": "/sys",
        "type": "none",
        "source": "/sys",
        "options": ["rbind", "nosuid", "noexec", "nodev", "ro"],
    }
    pts = next(m for m in spec["mounts"] if m["destination"] == "/dev/pts")
    assert not any(o.startswith(("gid=", "uid=")) for o in pts["options"])


def test_specs_serialise() -> None:
    for rootless in (False, True):
        assert json.loads(json.dumps(default_spec(rootless))) == default_spec(rootless)


def test_features_document() -> None:
    doc = features()
    assert doc["ociVersionMin"] == "1.0.0"
    assert doc["ociVersionMax"] == "1.1.0"
    assert doc["hooks"] == [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ]
    assert {"bind", "rbind", "ro", "nosuid", "private", "rslave", "tmpcopyup"} <= set(doc["mountOptions"])
    assert doc["mountOptions"] == sorted(doc["mountOptions"])
    linux = doc["linux"]
    assert {"cgroup", "ipc", "mount", "network", "pid", "user", "uts"} <= set(linux["namespaces"])
    assert linux["capabilities"] == list(capabilities.CAPS)
    assert linux["cgroup"] == {"v1": True, "v2": True, "systemd": False, "systemdUser": False}
    assert linux["intelRdt"] == {"enabled": False}
    assert set(linux["apparmor"]) == {"enabled"} and set(linux["selinux"]) == {"enabled"}
    sc = linux["seccomp"]
    assert sc["enabled"] is seccomp.available()
    if sc["enabled"]:
        assert "SCMP_ACT_NOTIFY" not in sc["actions"]
        assert {"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_LOG"} <= set(
            sc["actions"]
        )
        assert sc["operators"] == sorted(seccomp.OPERATORS)
        assert "SCMP_ARCH_X86_64" in sc["archs"]
        assert sc["knownFlags"] == [
            "SECCOMP_FILTER_FLAG_TSYNC",
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
            "SECCOMP_FILTER_FLAG_LOG",
        ]
        assert set(sc["supportedFlags"]) <= set(sc["knownFlags"])
        assert doc["annotations"]["io.github.seccomp.libseccomp.version"] == seccomp.library_version()
    assert json.loads(json.dumps(doc)) == doc


def test_spec_module_imports_little() -> None:
    # The runtime's start path: spec.py itself must not pull json, re, argparse or subprocess.
    import subprocess
    import sys

    code = (
        "import sys; import dockyard.runtime.spec, dockyard.runtime.seccomp, dockyard.runtime.capabilities;"
        "print(sorted(m for m in ('json', 're', 'argparse', 'subprocess') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert out.stdout.strip() == "[]"

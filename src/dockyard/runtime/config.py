"""Load and validate an OCI runtime bundle's config.json (runtime-spec config.md, config-linux.md).

Validation happens before anything is created, so a bad bundle leaves no state, cgroup, mount or
process behind. Every error names the offending field the way the spec spells it.
"""

from __future__ import annotations

import os

from dockyard.errors import ConfigError
from dockyard.oci import fastjson

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

NAMESPACE_FLAGS = {
    "pid": 0x20000000,
    "network": 0x40000000,
    "mount": 0x00020000,
    "ipc": 0x08000000,
    "uts": 0x04000000,
    "user": 0x10000000,
    "cgroup": 0x02000000,
    "time": 0x00000080,
}
# /proc/<pid>/ns/<name> file for each namespace type.
NAMESPACE_PROC = {
    "pid": "pid",
    "network": "net",
    "mount": "mnt",
    "ipc": "ipc",
    "uts": "uts",
    "user": "user",
    "cgroup": "cgroup",
    "time": "time",
}
RLIMITS = {
    "RLIMIT_CPU": 0,
    "RLIMIT_FSIZE": 1,
    "RLIMIT_DATA": 2,
    "RLIMIT_STACK": 3,
    "RLIMIT_CORE": 4,
    "RLIMIT_RSS": 5,
    "RLIMIT_NPROC": 6,
    "RLIMIT_NOFILE": 7,
    "RLIMIT_MEMLOCK": 8,
    "RLIMIT_AS": 9,
    "RLIMIT_LOCKS": 10,
    "RLIMIT_SIGPENDING": 11,
    "RLIMIT_MSGQUEUE": 12,
    "RLIMIT_NICE": 13,
    "RLIMIT_RTPRIO": 14,
    "RLIMIT_RTTIME": 15,
}


def load(bundle: str) -> dict[str, Any]:
    """Read ``<bundle>/config.json``, resolve the root path against the bundle, validate it all."""
    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise ConfigError("config.json", f"{path} does not exist: is --bundle the bundle folder?") from None
    try:
        cfg = fastjson.loads(raw)
    except ValueError as exc:
        raise ConfigError("config.json", f"{path} is not valid JSON: {exc}") from None
    if not isinstance(cfg, dict):
        raise ConfigError("config.json", "the top level must be a JSON object")
    validate(cfg, bundle)
    return cfg


def _obj(cfg: dict[str, Any], key: str, field: str) -> dict[str, Any]:
    value = cfg.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(field, f"must be an object, not {type(value).__name__}")
    return value


def _list(cfg: dict[str, Any], key: str, field: str) -> list[Any]:
    value = cfg.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(field, f"must be an array, not {type(value).__name__}")
    return value


def _str_list(value: Any, field: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(field, "must be an array of strings")
    return value


def _uint(value: Any, field: str, bits: int = 32) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0 or value >= 1 << bits:
        raise ConfigError(field, f"must be an unsigned {bits}-bit integer, not {value!r}")
    return value


def validate(cfg: dict[str, Any], bundle: str) -> None:
    version = cfg.get("ociVersion")
    if not isinstance(version, str) or not version.startswith("1."):
        raise ConfigError("ociVersion", f"must be a 1.x version string, not {version!r}")
    root = _obj(cfg, "root", "root")
    root_path = root.get("path")
    if not isinstance(root_path, str) or not root_path:
        raise ConfigError("root.path", "is required: the path of the container's root filesystem")
    full = root_path if os.path.isabs(root_path) else os.path.join(bundle, root_path)
    full = os.path.abspath(full)
    if not os.path.isdir(full):
        raise ConfigError("root.path", f"{full} does not exist or is not a directory")
    root["path"] = full
    if "readonly" in root and not isinstance(root["readonly"], bool):
        raise ConfigError("root.readonly", "must be true or false")
    validate_process(_obj(cfg, "process", "process"), "process", required=True)
    if "hostname" in cfg and not isinstance(cfg["hostname"], str):
        raise ConfigError("hostname", "must be a string")
    linux = _obj(cfg, "linux", "linux")
    ns_types = _validate_namespaces(linux)
    if cfg.get("hostname") and "uts" not in ns_types:
        raise ConfigError("hostname", "setting a hostname needs a new uts namespace in linux.namespaces")
    if cfg.get("domainname") and "uts" not in ns_types:
        raise ConfigError("domainname", "setting a domainname needs a new uts namespace in linux.namespaces")
    _validate_mounts(cfg)
    _validate_id_mappings(linux, ns_types)
    _validate_hooks(cfg)
    for i, dev in enumerate(_list(linux, "devices", "linux.devices")):
        field = f"linux.devices[{i}]"
        if not isinstance(dev, dict) or not isinstance(dev.get("path"), str) or not dev["path"]:
            raise ConfigError(f"{field}.path", "is required")
        if dev.get("type") not in ("c", "b", "u", "p"):
            raise ConfigError(f"{field}.type", f"must be one of c, b, u, p, not {dev.get('type')!r}")
        if dev["type"] != "p":
            for key in ("major", "minor"):
                _uint(dev.get(key), f"{field}.{key}", 32 if key == "minor" else 12)
    sysctl = _obj(linux, "sysctl", "linux.sysctl")
    for key, value in sysctl.items():
        if not isinstance(value, str):
            raise ConfigError(f"linux.sysctl.{key}", "values must be strings")
        if ".." in key or key.startswith("/"):
            raise ConfigError(f"linux.sysctl.{key}", "is not a valid sysctl name")
    for key in ("maskedPaths", "readonlyPaths"):
        for i, p in enumerate(_str_list(linux.get(key, []), f"linux.{key}")):
            if not p.startswith("/"):
                raise ConfigError(f"linux.{key}[{i}]", f"{p!r} must be an absolute path")
    prop = linux.get("rootfsPropagation")
    if prop not in (
        None,
        "",
        "shared",
        "slave",
        "private",
        "unbindable",
        "rshared",
        "rslave",
        "rprivate",
        "runbindable",
    ):
        raise ConfigError("linux.rootfsPropagation", f"unknown propagation {prop!r}")
    if linux.get("intelRdt"):
        from dockyard.errors import Unsupported

        raise Unsupported(
            "linux.intelRdt: Intel RDT (resctrl) is not supported by dockyard-runtime; "
            "remove linux.intelRdt from config.json"
        )
    if "personality" in linux:
        pers = linux["personality"]
        if not isinstance(pers, dict) or pers.get("domain") not in ("LINUX", "LINUX32"):
            raise ConfigError("linux.personality.domain", "must be LINUX or LINUX32")


def validate_process(proc: dict[str, Any], field: str, required: bool = False) -> None:
    if not proc:
        if required:
            raise ConfigError(field, "is required")
        return
    args = proc.get("args")
    if not isinstance(args, list) or not args or not all(isinstance(a, str) for a in args):
        raise ConfigError(f"{field}.args", "must be a non-empty array of strings (the command to run)")
    if not args[0]:
        raise ConfigError(f"{field}.args[0]", "the program must not be empty")
    cwd = proc.get("cwd", "/")
    if not isinstance(cwd, str) or not cwd.startswith("/"):
        raise ConfigError(f"{field}.cwd", f"must be an absolute path, not {cwd!r}")
    for i, env in enumerate(_str_list(proc.get("env", []), f"{field}.env")):
        if "=" not in env:
            raise ConfigError(f"{field}.env[{i}]", f"{env!r} must have the form KEY=value")
    user = proc.get("user", {})
    if not isinstance(user, dict):
        raise ConfigError(f"{field}.user", "must be an object")
    for key in ("uid", "gid"):
        _uint(user.get(key, 0), f"{field}.user.{key}")
    if "umask" in user and user["umask"] is not None:
        _uint(user["umask"], f"{field}.user.umask")
    for i, gid in enumerate(user.get("additionalGids") or []):
        _uint(gid, f"{field}.user.additionalGids[{i}]")
    for i, rl in enumerate(proc.get("rlimits") or []):
        f = f"{field}.rlimits[{i}]"
        if not isinstance(rl, dict) or rl.get("type") not in RLIMITS:
            raise ConfigError(
                f"{f}.type", f"unknown rlimit {rl.get('type') if isinstance(rl, dict) else rl!r}"
            )
        soft, hard = _uint(rl.get("soft"), f"{f}.soft", 64), _uint(rl.get("hard"), f"{f}.hard", 64)
        if soft > hard:
            raise ConfigError(f, f"soft limit {soft} is above the hard limit {hard}")
    if "oomScoreAdj" in proc:
        adj = proc["oomScoreAdj"]
        if not isinstance(adj, int) or not -1000 <= adj <= 1000:
            raise ConfigError(f"{field}.oomScoreAdj", f"must be between -1000 and 1000, not {adj!r}")
    cs = proc.get("consoleSize")
    if cs is not None:
        if not isinstance(cs, dict):
            raise ConfigError(f"{field}.consoleSize", "must be an object with height and width")
        for key in ("height", "width"):
            _uint(cs.get(key, 0), f"{field}.consoleSize.{key}", 16)


def _validate_namespaces(linux: dict[str, Any]) -> set[str]:
    seen: set[str] = set()
    for i, ns in enumerate(_list(linux, "namespaces", "linux.namespaces")):
        if not isinstance(ns, dict):
            raise ConfigError(f"linux.namespaces[{i}]", "must be an object with a type")
        kind = ns.get("type")
        if kind not in NAMESPACE_FLAGS:
            raise ConfigError(
                f"linux.namespaces[{i}].type",
                f"unknown namespace type {kind!r}: use one of {', '.join(NAMESPACE_FLAGS)}",
            )
        if kind in seen:
            raise ConfigError(f"linux.namespaces[{i}].type", f"namespace {kind!r} is listed twice")
        seen.add(kind)
        path = ns.get("path")
        if path:
            if not isinstance(path, str) or not os.path.isabs(path):
                raise ConfigError(f"linux.namespaces[{i}].path", f"must be an absolute path, not {path!r}")
            if not os.path.exists(path):
                raise ConfigError(f"linux.namespaces[{i}].path", f"{path} does not exist")
    return seen


def _validate_mounts(cfg: dict[str, Any]) -> None:
    for i, m in enumerate(_list(cfg, "mounts", "mounts")):
        field = f"mounts[{i}]"
        if not isinstance(m, dict):
            raise ConfigError(field, "must be an object")
        dest = m.get("destination")
        if not isinstance(dest, str) or not dest:
            raise ConfigError(f"{field}.destination", "is required: where to mount inside the container")
        _str_list(m.get("options", []), f"{field}.options")
        kind = m.get("type") or ""
        opts = m.get("options") or []
        is_bind = kind == "bind" or "bind" in opts or "rbind" in opts
        if is_bind and not m.get("source"):
            raise ConfigError(f"{field}.source", f"a bind mount on {dest} needs a source")
        if not kind and not is_bind:
            raise ConfigError(f"{field}.type", f"mount on {dest} needs a type (or a bind option)")


def _validate_id_mappings(linux: dict[str, Any], ns_types: set[str]) -> None:
    for key in ("uidMappings", "gidMappings"):
        maps = _list(linux, key, f"linux.{key}")
        if maps and "user" not in ns_types:
            raise ConfigError(f"linux.{key}", "id mappings need a user namespace in linux.namespaces")
        for i, m in enumerate(maps):
            f = f"linux.{key}[{i}]"
            if not isinstance(m, dict):
                raise ConfigError(f, "must be an object with containerID, hostID and size")
            for k in ("containerID", "hostID", "size"):
                _uint(m.get(k), f"{f}.{k}")
            if m["size"] == 0:
                raise ConfigError(f"{f}.size", "must be at least 1")


HOOK_KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")


def _validate_hooks(cfg: dict[str, Any]) -> None:
    hooks = _obj(cfg, "hooks", "hooks")
    for kind, entries in hooks.items():
        if kind not in HOOK_KINDS:
            raise ConfigError(f"hooks.{kind}", f"unknown hook kind: use one of {', '.join(HOOK_KINDS)}")
        if not isinstance(entries, list):
            raise ConfigError(f"hooks.{kind}", "must be an array")
        for i, hook in enumerate(entries):
            f = f"hooks.{kind}[{i}]"
            if not isinstance(hook, dict) or not isinstance(hook.get("path"), str):
                raise ConfigError(f"{f}.path", "is required")
            if not os.path.isabs(hook["path"]):
                raise ConfigError(f"{f}.path", f"must be absolute, not {hook['path']!r}")
            timeout = hook.get("timeout")
            if timeout is not None and (not isinstance(timeout, int) or timeout <= 0):
                raise ConfigError(f"{f}.timeout", "must be a positive number of seconds")


def namespaces(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    return list(cfg.get("linux", {}).get("namespaces") or [])

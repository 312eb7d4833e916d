"""The shape of a Compose file, checked by our own code (the Compose Specification's JSON schema,
written as checks): unknown keys, wrong types. Syntax inside strings (ports, volumes, durations)
is checked where it is parsed (canonical.py). ``x-`` keys are allowed at every level.

Values may be strings where numbers or booleans are expected: interpolation always yields
strings (``replicas: ${N}``), and compose-go converts them after interpolating.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from dockyard.compose.problems import invalid, join, suggest

Check = Callable[[Any, str, str], None]  # (value, file, path); raises InvalidArgument

_INT = re.compile(r"^[+-]?\d+$")
_NUM = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
BOOL_STRINGS = {
    "true": True, "yes": True, "y": True, "on": True,
    "false": False, "no": False, "n": False, "off": False,
}  # fmt: skip


def kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list",
            dict: "a mapping"}.get(type(value), type(value).__name__)  # fmt: skip


def _type_error(file: str, path: str, want: str, value: Any) -> Exception:
    shown = f" {value!r}" if isinstance(value, str | int | float) else ""
    return invalid(file, path, f"must be {want}, not {kind(value)}{shown}")


def t_any(value: Any, file: str, path: str) -> None:
    return None


def t_str(value: Any, file: str, path: str) -> None:
    if not isinstance(value, str):
        raise _type_error(file, path, "a string", value)


def t_str_or_num(value: Any, file: str, path: str) -> None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _type_error(file, path, "a string or a number", value)


def t_int(value: Any, file: str, path: str) -> None:
    if isinstance(value, bool) or not (
        isinstance(value, int) or (isinstance(value, str) and _INT.match(value))
    ):
        raise _type_error(file, path, "an integer", value)


def t_num(value: Any, file: str, path: str) -> None:
    if isinstance(value, bool) or not (
        isinstance(value, int | float) or (isinstance(value, str) and _NUM.match(value))
    ):
        raise _type_error(file, path, "a number", value)


def t_bool(value: Any, file: str, path: str) -> None:
    if not (isinstance(value, bool) or (isinstance(value, str) and value.lower() in BOOL_STRINGS)):
        raise _type_error(file, path, "a boolean (true or false)", value)


def t_scalar_or_null(value: Any, file: str, path: str) -> None:
    if value is not None and not isinstance(value, str | int | float | bool):
        raise _type_error(file, path, "a string, a number, a boolean or null", value)


def nullable(check: Check) -> Check:
    def run(value: Any, file: str, path: str) -> None:
        if value is not None:
            check(value, file, path)

    return run


def list_of(item: Check) -> Check:
    def run(value: Any, file: str, path: str) -> None:
        if not isinstance(value, list):
            raise _type_error(file, path, "a list", value)
        for i, v in enumerate(value):
            item(v, file, join(path, i))

    return run


def str_or_list(value: Any, file: str, path: str) -> None:
    if isinstance(value, str):
        return
    if not isinstance(value, list):
        raise _type_error(file, path, "a string or a list of strings", value)
    list_of(t_str)(value, file, path)


def dict_of(item: Check) -> Check:
    def run(value: Any, file: str, path: str) -> None:
        if not isinstance(value, dict):
            raise _type_error(file, path, "a mapping", value)
        for k, v in value.items():
            if not isinstance(k, str):
                raise invalid(file, path, f"key {k!r} must be a string")
            item(v, file, join(path, k))

    return run


def list_or_dict(value: Any, file: str, path: str) -> None:
    """environment, labels, args, sysctls: ["K=V", "K"] or {K: V}."""
    if isinstance(value, list):
        list_of(t_str_or_num)(value, file, path)
    elif isinstance(value, dict):
        dict_of(t_scalar_or_null)(value, file, path)
    else:
        raise _type_error(file, path, 'a list ("KEY=value") or a mapping', value)


def obj(fields: dict[str, Check], required: tuple[str, ...] = ()) -> Check:
    def run(value: Any, file: str, path: str) -> None:
        if not isinstance(value, dict):
            raise _type_error(file, path, "a mapping", value)
        for k, v in value.items():
            if not isinstance(k, str):
                raise invalid(file, path, f"key {k!r} must be a string")
            if k.startswith("x-"):
                continue
            check = fields.get(k)
            if check is None:
                raise invalid(file, join(path, k), f'unknown key "{k}"{suggest(k, fields)}')
            check(v, file, join(path, k))
        for k in required:
            if k not in value:
                raise invalid(file, path, f'"{k}" is required')

    return run


def either(*checks: tuple[type | tuple[type, ...], Check], want: str) -> Check:
    """Dispatch on the value's Python type: ``either((str, t_str), (dict, obj(...)), want=...)``."""

    def run(value: Any, file: str, path: str) -> None:
        for types, check in checks:
            if isinstance(value, types) and not (isinstance(value, bool) and bool not in _flat(types)):
                check(value, file, path)
                return
        raise _type_error(file, path, want, value)

    return run


def _flat(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


t_size = t_str_or_num
t_duration = t_str_or_num
t_mode = t_str_or_num  # 0440 (YAML's octal int) or "0440"
_labels = list_or_dict
_strs = list_of(t_str)

_extra_hosts = either(
    (list, list_of(t_str)),
    (dict, dict_of(either((str, t_str), (list, _strs), want="an address"))),
    want="a list or a mapping",
)

BUILD = either(
    (str, t_str),
    (dict, obj({
        "context": t_str, "dockerfile": t_str, "dockerfile_inline": t_str, "args": list_or_dict,
        "target": t_str, "labels": _labels, "cache_from": _strs, "cache_to": _strs, "network": t_str,
        "extra_hosts": _extra_hosts, "shm_size": t_size, "ssh": t_any, "secrets": t_any, "tags": _strs,
        "platforms": _strs, "no_cache": t_bool, "pull": t_bool, "additional_contexts": list_or_dict,
        "privileged": t_bool, "isolation": t_str, "entitlements": _strs,
    })),
    want="a string (the context) or a mapping",
)  # fmt: skip

PORT = either(
    ((str, int), t_str_or_num),
    (dict, obj({
        "target": t_int, "published": t_str_or_num, "host_ip": t_str, "protocol": t_str, "mode": t_str,
        "name": t_str, "app_protocol": t_str,
    }, required=("target",))),
    want='a string ("8080:80") or a mapping',
)  # fmt: skip

VOLUME = either(
    (str, t_str),
    (dict, obj({
        "type": t_str, "source": t_str, "target": t_str, "read_only": t_bool, "consistency": t_str,
        "bind": obj({"propagation": t_str, "create_host_path": t_bool, "selinux": t_str}),
        "volume": obj({"nocopy": t_bool, "subpath": t_str}),
        "tmpfs": obj({"size": t_size, "mode": t_mode}),
        "image": obj({"subpath": t_str}),
    }, required=("type",))),
    want='a string ("data:/var/lib/data") or a mapping',
)  # fmt: skip

FILE_USE = either(
    (str, t_str),
    (dict, obj({"source": t_str, "target": t_str, "uid": t_str_or_num, "gid": t_str_or_num, "mode": t_mode},
               required=("source",))),
    want="a string or a mapping",
)  # fmt: skip

_resources = obj(
    {"cpus": t_num, "memory": t_size, "pids": t_int, "devices": t_any, "generic_resources": t_any}
)

SERVICE_FIELDS: dict[str, Check] = {
    "image": t_str,
    "build": BUILD,
    "command": nullable(str_or_list),
    "entrypoint": nullable(str_or_list),
    "environment": list_or_dict,
    "env_file": either((str, t_str), (list, list_of(either(
        (str, t_str), (dict, obj({"path": t_str, "required": t_bool, "format": t_str}, required=("path",))),
        want="a path or a mapping"))), want="a path or a list"),
    "ports": list_of(PORT),
    "expose": list_of(t_str_or_num),
    "volumes": list_of(VOLUME),
    "tmpfs": str_or_list,
    "networks": either((list, _strs), (dict, dict_of(nullable(obj({
        "aliases": _strs, "ipv4_address": t_str, "ipv6_address": t_str, "priority": t_int,
        "gw_priority": t_int, "link_local_ips": _strs, "mac_address": t_str,
        "driver_opts": dict_of(t_str_or_num), "interface_name": t_str,
    })))), want="a list of network names or a mapping"),
    "network_mode": t_str,
    "depends_on": either((list, _strs), (dict, dict_of(obj({
        "condition": t_str, "restart": t_bool, "required": t_bool,
    })), ), want="a list of service names or a mapping"),
    "healthcheck": obj({
        "test": str_or_list, "interval": t_duration, "timeout": t_duration, "retries": t_int,
        "start_period": t_duration, "start_interval": t_duration, "disable": t_bool,
    }),
    "restart": t_str,
    "deploy": obj({
        "replicas": t_int, "mode": t_str, "endpoint_mode": t_str, "labels": _labels,
        "resources": obj({"limits": _resources, "reservations": _resources}),
        "restart_policy": t_any, "placement": t_any, "update_config": t_any, "rollback_config": t_any,
    }),
    "scale": t_int,
    "labels": _labels,
    "container_name": t_str,
    "hostname": t_str,
    "domainname": t_str,
    "user": t_str_or_num,
    "working_dir": t_str,
    "read_only": t_bool,
    "privileged": t_bool,
    "init": t_bool,
    "tty": t_bool,
    "stdin_open": t_bool,
    "cap_add": _strs,
    "cap_drop": _strs,
    "security_opt": _strs,
    "stop_signal": t_str,
    "stop_grace_period": t_duration,
    "ulimits": dict_of(either((int, t_int), (str, t_int), (dict, obj({"soft": t_int, "hard": t_int},
                                                                     required=("soft", "hard"))),
                              want="a number or a mapping {soft, hard}")),
    "logging": obj({"driver": t_str, "options": dict_of(t_scalar_or_null)}),
    "configs": list_of(FILE_USE),
    "secrets": list_of(FILE_USE),
    "dns": str_or_list,
    "extra_hosts": _extra_hosts,
    "mem_limit": t_size,
    "cpus": t_num,
    "pids_limit": t_int,
    "shm_size": t_size,
    "sysctls": list_or_dict,
    "pull_policy": t_str,
    "platform": t_str,
    "profiles": _strs,
    "extends": either((str, t_str), (dict, obj({"service": t_str, "file": t_str}, required=("service",))),
                      want="a service name or a mapping {service, file}"),
}  # fmt: skip

#: Keys of the specification that dockyard accepts and ignores, with a warning (the container runs
#: without them); anything else unknown is an error.
IGNORED_SERVICE_KEYS = (
    "links", "external_links", "dns_search", "dns_opt", "mac_address", "cpu_shares", "cpu_quota",
    "cpu_period", "cpuset", "cpu_count", "cpu_percent", "cpu_rt_runtime", "cpu_rt_period", "mem_reservation",
    "memswap_limit", "mem_swappiness", "oom_score_adj", "oom_kill_disable", "group_add", "devices", "pid",
    "ipc", "uts", "userns_mode", "cgroup", "cgroup_parent", "runtime", "isolation", "storage_opt",
    "annotations", "attach", "develop", "blkio_config", "credential_spec", "device_cgroup_rules", "gpus",
    "post_start", "pre_stop", "volumes_from", "label_file", "stop_timeout",
)  # fmt: skip

SERVICE = obj({**SERVICE_FIELDS, **dict.fromkeys(IGNORED_SERVICE_KEYS, t_any)})

_external = either((bool, t_bool), (str, t_bool), (dict, obj({"name": t_str})), want="true, false or {name}")

NETWORK = nullable(obj({
    "name": t_str, "driver": t_str, "driver_opts": dict_of(t_str_or_num), "external": _external,
    "internal": t_bool, "attachable": t_bool, "enable_ipv6": t_bool, "enable_ipv4": t_bool, "labels": _labels,
    "ipam": obj({"driver": t_str, "options": dict_of(t_str_or_num), "config": list_of(obj({
        "subnet": t_str, "gateway": t_str, "ip_range": t_str, "aux_addresses": dict_of(t_str),
    }))}),
}))  # fmt: skip

VOLUME_DECL = nullable(obj({
    "name": t_str, "driver": t_str, "driver_opts": dict_of(t_str_or_num), "external": _external,
    "labels": _labels,
}))  # fmt: skip

CONFIG_DECL = nullable(obj({
    "name": t_str, "file": t_str, "environment": t_str, "content": t_str, "external": _external,
    "labels": _labels, "template_driver": t_str,
}))  # fmt: skip

SECRET_DECL = nullable(obj({
    "name": t_str, "file": t_str, "environment": t_str, "external": _external, "labels": _labels,
    "driver": t_str, "driver_opts": dict_of(t_str_or_num), "template_driver": t_str,
}))  # fmt: skip

INCLUDE = list_of(either(
    (str, t_str),
    (dict, obj({"path": str_or_list, "project_directory": t_str, "env_file": str_or_list},
               required=("path",))),
    want="a path or a mapping {path, project_directory, env_file}",
))  # fmt: skip

_SERVICE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$")


def _services(value: Any, file: str, path: str) -> None:
    if not isinstance(value, dict):
        raise _type_error(file, path, "a mapping of service names to services", value)
    for name, svc in value.items():
        if not isinstance(name, str) or not _SERVICE_NAME.match(name):
            raise invalid(
                file, join(path, str(name)), "invalid service name: use letters, digits, '.', '_' and '-'"
            )
        if name.startswith("x-"):
            continue
        if svc is None:
            svc = {}
        SERVICE(svc, file, join(path, name))


TOP_LEVEL = obj({
    "version": t_any, "name": t_str, "services": nullable(_services), "networks": nullable(dict_of(NETWORK)),
    "volumes": nullable(dict_of(VOLUME_DECL)), "configs": nullable(dict_of(CONFIG_DECL)),
    "secrets": nullable(dict_of(SECRET_DECL)), "include": INCLUDE,
})  # fmt: skip


def check_file(document: Any, file: str) -> None:
    """Raise InvalidArgument at the first key of ``document`` that the specification does not allow."""
    if document is None:
        raise invalid(file, "", "the file is empty: a Compose file needs at least a services: mapping")
    if not isinstance(document, dict):
        raise invalid(file, "", f"the top level must be a mapping, not {kind(document)}")
    TOP_LEVEL(document, file, "")

"""One file's services and resources, short syntax to long (as plain dicts), paths made absolute.

This runs per file, before files are merged, so a syntax error names the file it is in, and
relative paths resolve against the folder they were written for (the project folder; for
``extends: {file: ...}`` and ``include``, that file's own folder). The dicts keep the Compose
long syntax, which merge.py combines and normalize.py turns into model.py's types.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from typing import Any

from dockyard.compose.mounts import long_volume, parse_mode, parse_volume, resolve_host_path
from dockyard.compose.ports import long_port, parse_port
from dockyard.compose.problems import invalid, join
from dockyard.compose.schema import BOOL_STRINGS
from dockyard.compose.units import parse_duration, parse_size

_CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")
_RESTART = ("no", "always", "unless-stopped", "on-failure")
_PULL = ("always", "never", "missing", "if_not_present", "build", "daily", "weekly")


def to_bool(value: Any) -> bool:
    return value if isinstance(value, bool) else BOOL_STRINGS[str(value).lower()]


def scalar_str(value: Any) -> str:
    """A mapping value as the engine sees it: YAML's true -> "true", 1.5 -> "1.5"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def key_values(value: Any, *, keep_unset: bool) -> dict[str, Any]:
    """["K=V", "K"] or {K: V} -> {K: "V"}; a bare K (or K: null) is None when ``keep_unset``, else ""."""
    out: dict[str, Any] = {}
    if isinstance(value, list):
        for item in value:
            key, sep, val = str(item).partition("=")
            out[key] = val if sep else (None if keep_unset else "")
    else:
        for key, val in (value or {}).items():
            out[key] = scalar_str(val) if val is not None else (None if keep_unset else "")
    return out


def is_url(context: str) -> bool:
    return "://" in context or context.startswith(("git@", "github.com/"))


class _Service:
    """Canonicalizes one service dict; ``fail(path, message)`` raises at ``services.<name>.<path>``."""

    def __init__(self, name: str, raw: dict[str, Any], file: str, base_dir: str) -> None:
        self.name, self.raw, self.file, self.base_dir = name, raw, file, base_dir
        self.path = join("services", name)

    def fail(self, key: str | int, message: str, sub: str | int | None = None) -> Exception:
        path = join(self.path, key)
        if sub is not None:
            path = join(path, sub)
        return invalid(self.file, path, message)

    def parse(self, key: str, parser: Callable[[Any], Any]) -> Any:
        try:
            return parser(self.raw[key])
        except ValueError as e:
            raise self.fail(key, f"invalid value {self.raw[key]!r}: {e}") from None

    def run(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in self.raw.items():
            handler = getattr(self, "c_" + key, None)
            out[key] = handler(value) if handler is not None else value
        return out

    # -- one method per key whose short syntax has a long form ------------------------------
    def c_build(self, value: Any) -> dict[str, Any]:
        build = {"context": value} if isinstance(value, str) else dict(value)
        context = str(build.get("context", "."))
        build["context"] = context if is_url(context) else resolve_host_path(context, self.base_dir)
        for key in ("args", "labels"):
            if key in build:
                build[key] = key_values(build[key], keep_unset=key == "args")
        if "extra_hosts" in build:
            build["extra_hosts"] = _extra_hosts(build["extra_hosts"])
        if "shm_size" in build:
            build["shm_size"] = self.parse_in(build, "shm_size", "build.shm_size", parse_size)
        return build

    def parse_in(self, parent: dict[str, Any], sub: str, where: str, parser: Callable[[Any], Any]) -> Any:
        """``parser(parent[sub])``; an error is located at ``services.<name>.<where>``."""
        try:
            return parser(parent[sub])
        except ValueError as e:
            raise invalid(self.file, f"{self.path}.{where}", f"invalid value {parent[sub]!r}: {e}") from None

    def c_command(self, value: Any) -> list[str] | None:
        if value is None or isinstance(value, list):
            return value
        try:
            return shlex.split(value)
        except ValueError as e:
            raise self.fail("command", f"cannot split {value!r} as a shell would: {e}") from None

    def c_entrypoint(self, value: Any) -> list[str] | None:
        if value is None or isinstance(value, list):
            return value
        try:
            return shlex.split(value)
        except ValueError as e:
            raise self.fail("entrypoint", f"cannot split {value!r} as a shell would: {e}") from None

    def c_environment(self, value: Any) -> dict[str, Any]:
        return key_values(value, keep_unset=True)

    def c_labels(self, value: Any) -> dict[str, Any]:
        return key_values(value, keep_unset=False)

    def c_sysctls(self, value: Any) -> dict[str, Any]:
        return key_values(value, keep_unset=False)

    def c_env_file(self, value: Any) -> list[dict[str, Any]]:
        entries = [value] if isinstance(value, str) else value
        out = []
        for entry in entries:
            item = {"path": entry} if isinstance(entry, str) else dict(entry)
            item["path"] = resolve_host_path(item["path"], self.base_dir)
            item["required"] = to_bool(item.get("required", True))
            out.append(item)
        return out

    def c_ports(self, value: list[Any]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i, entry in enumerate(value):
            try:
                out.extend([long_port(entry)] if isinstance(entry, dict) else parse_port(entry))
            except ValueError as e:
                shown = f' "{entry}"' if not isinstance(entry, dict) else ""
                raise self.fail("ports", f"invalid port{shown}: {e}", i) from None
        return out

    def c_expose(self, value: list[Any]) -> list[str]:
        return [str(v) for v in value]

    def c_volumes(self, value: list[Any]) -> list[dict[str, Any]]:
        out = []
        for i, entry in enumerate(value):
            try:
                out.append(
                    long_volume(entry, self.base_dir)
                    if isinstance(entry, dict)
                    else parse_volume(entry, self.base_dir)
                )
            except ValueError as e:
                shown = f' "{entry}"' if not isinstance(entry, dict) else ""
                raise self.fail("volumes", f"invalid volume{shown}: {e}", i) from None
        return out

    def c_tmpfs(self, value: Any) -> list[str]:
        return [value] if isinstance(value, str) else list(value)

    def c_dns(self, value: Any) -> list[str]:
        return [value] if isinstance(value, str) else list(value)

    def c_extra_hosts(self, value: Any) -> list[str]:
        try:
            return _extra_hosts(value)
        except ValueError as e:
            raise self.fail("extra_hosts", str(e)) from None

    def c_networks(self, value: Any) -> dict[str, dict[str, Any]]:
        if isinstance(value, list):
            return {name: {} for name in value}
        out = {}
        for name, opts in value.items():
            item = dict(opts or {})
            if "priority" in item:
                item["priority"] = int(item["priority"])
            out[name] = item
        return out

    def c_depends_on(self, value: Any) -> dict[str, dict[str, Any]]:
        if isinstance(value, list):
            return {name: {"condition": "service_started", "required": True} for name in value}
        out = {}
        for name, dep in value.items():
            condition = dep.get("condition", "service_started")
            if condition not in _CONDITIONS:
                raise self.fail(
                    "depends_on",
                    f'unknown condition "{condition}": use one of {", ".join(_CONDITIONS)}',
                    name,
                )
            item: dict[str, Any] = {"condition": condition, "required": to_bool(dep.get("required", True))}
            if "restart" in dep:
                item["restart"] = to_bool(dep["restart"])
            out[name] = item
        return out

    def c_healthcheck(self, value: dict[str, Any]) -> dict[str, Any]:
        check = dict(value)
        test = check.get("test")
        if isinstance(test, str):
            check["test"] = ["CMD-SHELL", test]
        elif isinstance(test, list) and test and test[0] not in ("CMD", "CMD-SHELL", "NONE"):
            raise self.fail(
                "healthcheck",
                f'a test list starts with "CMD", "CMD-SHELL" or "NONE", not {test[0]!r}',
                "test",
            )
        for key in ("interval", "timeout", "start_period", "start_interval"):
            if key in check:
                check[key] = self.parse_in(check, key, f"healthcheck.{key}", parse_duration)
        if "retries" in check:
            check["retries"] = int(check["retries"])
        if "disable" in check:
            check["disable"] = to_bool(check["disable"])
        return check

    def c_restart(self, value: str) -> str:
        policy, _, count = value.partition(":")
        if policy not in _RESTART or (count and (policy != "on-failure" or not count.isdigit())):
            raise self.fail(
                "restart",
                f'invalid restart policy "{value}": use no, always, on-failure[:N] or unless-stopped',
            )
        return value

    def c_pull_policy(self, value: str) -> str:
        if value not in _PULL and not value.startswith("every_"):
            raise self.fail(
                "pull_policy", f'invalid pull policy "{value}": use always, never, missing or build'
            )
        return value

    def c_deploy(self, value: dict[str, Any]) -> dict[str, Any]:
        deploy = dict(value)
        if "replicas" in deploy:
            deploy["replicas"] = int(deploy["replicas"])
        resources = dict(deploy.get("resources") or {})
        for kind in ("limits", "reservations"):
            if kind in resources:
                res = dict(resources[kind])
                if "memory" in res:
                    res["memory"] = self.parse_in(
                        res, "memory", f"deploy.resources.{kind}.memory", parse_size
                    )
                if "cpus" in res:
                    res["cpus"] = float(res["cpus"])
                if "pids" in res:
                    res["pids"] = int(res["pids"])
                resources[kind] = res
        if resources:
            deploy["resources"] = resources
        return deploy

    def c_ulimits(self, value: dict[str, Any]) -> dict[str, dict[str, int]]:
        out = {}
        for name, limit in value.items():
            if isinstance(limit, dict):
                out[name] = {"soft": int(limit["soft"]), "hard": int(limit["hard"])}
            else:
                out[name] = {"soft": int(limit), "hard": int(limit)}
        return out

    def c_logging(self, value: dict[str, Any]) -> dict[str, Any]:
        logging = dict(value)
        if "options" in logging:
            logging["options"] = key_values(logging["options"], keep_unset=False)
        return logging

    def c_configs(self, value: list[Any]) -> list[dict[str, Any]]:
        return self._file_uses("configs", value, lambda source: "/" + source)

    def c_secrets(self, value: list[Any]) -> list[dict[str, Any]]:
        return self._file_uses("secrets", value, lambda source: "/run/secrets/" + source)

    def _file_uses(self, key: str, value: list[Any], default: Callable[[str], str]) -> list[dict[str, Any]]:
        out = []
        for i, entry in enumerate(value):
            use = {"source": entry} if isinstance(entry, str) else dict(entry)
            target = use.get("target") or default(use["source"])
            if not target.startswith("/"):
                # Secrets with a relative target go under /run/secrets (the spec); configs under /.
                target = default(target)
            use["target"] = target
            for idk in ("uid", "gid"):
                if idk in use:
                    use[idk] = str(use[idk])
            if "mode" in use:
                try:
                    use["mode"] = parse_mode(use["mode"])
                except ValueError as e:
                    raise self.fail(key, str(e), i) from None
            out.append(use)
        return out

    def c_extends(self, value: Any) -> dict[str, Any]:
        ext = {"service": value} if isinstance(value, str) else dict(value)
        if "file" in ext:
            ext["file"] = resolve_host_path(ext["file"], self.base_dir)
        return ext

    def c_user(self, value: Any) -> str:
        return str(value)

    def c_stop_grace_period(self, value: Any) -> float:
        return float(self.parse("stop_grace_period", parse_duration))

    def c_mem_limit(self, value: Any) -> int:
        return int(self.parse("mem_limit", parse_size))

    def c_shm_size(self, value: Any) -> int:
        return int(self.parse("shm_size", parse_size))

    def c_cpus(self, value: Any) -> float:
        return float(value)

    def c_pids_limit(self, value: Any) -> int:
        return int(value)

    def c_scale(self, value: Any) -> int:
        return int(value)

    def c_cap_add(self, value: list[str]) -> list[str]:
        return list(value)


def _extra_hosts(value: Any) -> list[str]:
    """["host:ip"], ["host=ip"] or {host: ip | [ip, ...]} -> ["host:ip", ...]."""
    out = []
    if isinstance(value, dict):
        for host, ips in value.items():
            for ip in ips if isinstance(ips, list) else [ips]:
                out.append(f"{host}:{ip}")
        return out
    for entry in value:
        # host=ip is compose's newer form (IPv6 addresses hold colons); host:ip the classic one
        host, sep, ip = entry.partition("=")
        if not sep:
            host, sep, ip = entry.partition(":")
        if not sep or not host or not ip:
            raise ValueError(f'invalid extra host "{entry}": use host:ip or host=ip')
        out.append(f"{host}:{ip}")
    return out


_BOOL_KEYS = ("read_only", "privileged", "init", "tty", "stdin_open")


def canonical_service(name: str, raw: dict[str, Any] | None, file: str, base_dir: str) -> dict[str, Any]:
    """The long form of one service as written in ``file`` (relative paths against ``base_dir``)."""
    out = _Service(name, dict(raw or {}), file, base_dir).run()
    for key in _BOOL_KEYS:
        if key in out:
            out[key] = to_bool(out[key])
    return out


def canonical_resources(document: dict[str, Any], file: str, base_dir: str) -> dict[str, Any]:
    """Top-level networks, volumes, configs and secrets with their long forms and absolute paths."""
    out: dict[str, Any] = {}
    for section in ("networks", "volumes", "configs", "secrets"):
        entries = document.get(section) or {}
        out[section] = {}
        for key, raw in entries.items():
            if key.startswith("x-"):
                continue
            item = dict(raw or {})
            ext = item.get("external")
            if isinstance(ext, dict):
                # the legacy `external: {name: x}` form
                item["external"] = True
                if ext.get("name"):
                    item["name"] = ext["name"]
            elif ext is not None:
                item["external"] = to_bool(ext)
            for flag in ("internal", "attachable", "enable_ipv6"):
                if flag in item:
                    item[flag] = to_bool(item[flag])
            if "labels" in item:
                item["labels"] = key_values(item["labels"], keep_unset=False)
            if "driver_opts" in item:
                item["driver_opts"] = {k: scalar_str(v) for k, v in item["driver_opts"].items()}
            if "file" in item:
                item["file"] = os.path.normpath(resolve_host_path(item["file"], base_dir))
            if section in ("configs", "secrets"):
                sources = [k for k in ("file", "environment", "content") if k in item]
                if not item.get("external") and len(sources) != 1:
                    raise invalid(
                        file,
                        join(section, key),
                        "give exactly one of file, environment or content, or external: true",
                    )
            out[section][key] = item
    return out

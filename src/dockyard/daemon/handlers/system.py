"""System endpoints: /_ping, /version, /info, /system/df, /auth.

Docker clients call /_ping first and read its API-Version header to choose the version of every
later request (the docker CLI negotiates down to it), so these answers must be cheap and exact.
"""

from __future__ import annotations

import asyncio
import os
import platform
import socket
from typing import Any

from aiohttp import web

from dockyard import __version__
from dockyard.daemon.app import context
from dockyard.daemon.http import json_response, read_json
from dockyard.daemon.version import API_VERSION, ENGINE_VERSION, MIN_VERSION


async def ping(request: web.Request) -> web.StreamResponse:
    headers = {
        "Api-Version": API_VERSION,
        "Ostype": "linux",
        "Builder-Version": "1",
        "Docker-Experimental": "false",
        "Cache-Control": "no-cache, no-store, must-revalidate",
        "Pragma": "no-cache",
    }
    if request.method == "HEAD":
        return web.Response(status=200, headers=headers, content_type="text/plain")
    return web.Response(status=200, text="OK", headers=headers)


def version_info() -> dict[str, Any]:
    uname = os.uname()
    return {
        "Platform": {"Name": "dockyard"},
        "Components": [
            {
                "Name": "Engine",
                "Version": ENGINE_VERSION,
                "Details": {
                    "ApiVersion": API_VERSION,
                    "Arch": _goarch(),
                    "BuildTime": "",
                    "Experimental": "false",
                    "GitCommit": "dockyard",
                    "GoVersion": f"python{platform.python_version()}",
                    "KernelVersion": uname.release,
                    "MinAPIVersion": MIN_VERSION,
                    "Os": "linux",
                },
            },
            {"Name": "dockyard", "Version": __version__, "Details": {"GitCommit": ""}},
        ],
        "Version": ENGINE_VERSION,
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_VERSION,
        "GitCommit": "dockyard",
        "GoVersion": f"python{platform.python_version()}",
        "Os": "linux",
        "Arch": _goarch(),
        "KernelVersion": uname.release,
        "Experimental": False,
        "BuildTime": "",
    }


def _goarch() -> str:
    machine = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(machine, machine)


async def version(request: web.Request) -> web.StreamResponse:
    return json_response(version_info())


async def info(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    opts = ctx.options
    counts = {"total": 0, "running": 0, "paused": 0, "stopped": 0}
    images = 0
    if ctx.engine is not None:
        counts = ctx.engine.counts()
    if ctx.images is not None:
        images = len(ctx.images.list(all=True))
    mem_total = 0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_total = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    uname = os.uname()
    cgroup_version = "2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "1"
    runtimes = {"dockyard": {"path": "dockyard-runtime"}, "runc": {"path": "runc"}, "crun": {"path": "crun"}}
    runtimes.update({name: {"path": path} for name, path in opts.runtimes.items()})
    return json_response(
        {
            "ID": _daemon_id(ctx.options.data_root),
            "Containers": counts["total"],
            "ContainersRunning": counts["running"],
            "ContainersPaused": counts["paused"],
            "ContainersStopped": counts["stopped"],
            "Images": images,
            "Driver": "overlay2",
            "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"]],
            "Plugins": {
                "Volume": ["local"],
                "Network": ["bridge", "host", "null"],
                "Authorization": None,
                "Log": ["json-file", "none"],
            },
            "MemoryLimit": True,
            "SwapLimit": os.path.exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"),
            "CpuCfsPeriod": True,
            "CpuCfsQuota": True,
            "CPUShares": True,
            "CPUSet": True,
            "PidsLimit": True,
            "IPv4Forwarding": _read("/proc/sys/net/ipv4/ip_forward") == "1",
            "BridgeNfIptables": _read("/proc/sys/net/bridge/bridge-nf-call-iptables") == "1",
            "BridgeNfIp6tables": _read("/proc/sys/net/bridge/bridge-nf-call-ip6tables") == "1",
            "Debug": opts.log_level == "debug",
            "NFd": len(os.listdir("/proc/self/fd")),
            "OomKillDisable": cgroup_version == "1",
            "NGoroutines": 0,
            "SystemTime": _now(),
            "LoggingDriver": "json-file",
            "CgroupDriver": "cgroupfs",
            "CgroupVersion": cgroup_version,
            "NEventsListener": 0,
            "KernelVersion": uname.release,
            "OperatingSystem": _os_name(),
            "OSVersion": _os_release().get("VERSION_ID", ""),
            "OSType": "linux",
            "Architecture": uname.machine,
            "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": {
                "AllowNondistributableArtifactsCIDRs": [],
                "AllowNondistributableArtifactsHostnames": [],
                "InsecureRegistryCIDRs": ["127.0.0.0/8"],
                "IndexConfigs": {},
                "Mirrors": list(opts.registry_mirrors),
            },
            "NCPU": os.cpu_count() or 1,
            "MemTotal": mem_total,
            "GenericResources": None,
            "DockerRootDir": str(opts.data_root),
            "HttpProxy": os.environ.get("HTTP_PROXY", ""),
            "HttpsProxy": os.environ.get("HTTPS_PROXY", ""),
            "NoProxy": os.environ.get("NO_PROXY", ""),
            "Name": socket.gethostname(),
            "Labels": list(opts.labels),
            "ExperimentalBuild": False,
            "ServerVersion": ENGINE_VERSION,
            "Runtimes": runtimes,
            "DefaultRuntime": opts.default_runtime,
            "Swarm": {
                "NodeID": "",
                "NodeAddr": "",
                "LocalNodeState": "inactive",
                "ControlAvailable": False,
                "Error": "",
                "RemoteManagers": None,
            },
            "LiveRestoreEnabled": opts.live_restore,
            "Isolation": "",
            "InitBinary": "docker-init",
            "ContainerdCommit": {"ID": "", "Expected": ""},
            "RuncCommit": {"ID": "", "Expected": ""},
            "InitCommit": {"ID": "", "Expected": ""},
            # dockerd's list: the default seccomp profile is builtin (its words since 23.0), and
            # "name=userns" when --userns-remap is on
            "SecurityOptions": ["name=seccomp,profile=builtin"]
            + (["name=userns"] if opts.userns_remap else []),
            "ProductLicense": "Apache-2.0",
            "DefaultAddressPools": [],
            "Warnings": [],
            "CDISpecDirs": [],
        }
    )


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _os_release() -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        with open("/etc/os-release") as f:
            for line in f:
                key, sep, value = line.strip().partition("=")
                if sep:
                    out[key] = value.strip('"')
    except OSError:
        pass
    return out


def _os_name() -> str:
    return _os_release().get("PRETTY_NAME", "Linux")


def _daemon_id(data_root: Any) -> str:
    """A stable id for this daemon, kept in the data root (Docker keeps engine-id)."""
    import uuid
    from pathlib import Path

    path = Path(data_root) / "engine-id"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        from dockyard.util.atomic import write_atomic

        value = str(uuid.uuid4())
        write_atomic(str(path), value.encode())
        return value


async def system_df(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    engine, images_svc = ctx.engine, ctx.images
    containers = await asyncio.to_thread(engine.df) if engine is not None else []
    volumes = await asyncio.to_thread(engine.volumes_df) if engine is not None else []
    by_image: dict[str, int] = {}
    for c in containers:
        by_image[c["ImageID"]] = by_image.get(c["ImageID"], 0) + 1
    layers_size, images = (
        await asyncio.to_thread(images_svc.df, by_image) if images_svc is not None else (0, [])
    )
    return json_response(
        {
            "LayersSize": layers_size,
            "Images": images,
            "Containers": containers,
            "Volumes": volumes,
            "BuildCache": [],
        }
    )


async def auth(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    body = await read_json(request, required=True)
    status, identity_token = await ctx.images.login(
        body.get("serveraddress") or "https://index.docker.io/v1/",
        body.get("username", ""),
        body.get("password", ""),
    )
    return json_response({"Status": status, "IdentityToken": identity_token})


def routes(ctx: object) -> list[web.RouteDef]:
    return [
        web.get("/_ping", ping),
        web.head("/_ping", ping),
        web.get("/version", version),
        web.get("/info", info),
        web.get("/system/df", system_df),
        web.post("/auth", auth),
    ]

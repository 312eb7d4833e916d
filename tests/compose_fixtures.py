"""What the compose tests share: projects built in Python, as the loader (compose/loader.py)
makes them from files, and helpers for the tests that run them against a daemon.

``demo_project`` is examples/compose-demo/compose.yaml written out by hand in the model's
normalized form; the demo's test checks that ``load_demo()`` (the YAML through the loader) gives
the same services.
"""

from __future__ import annotations

import socket
from pathlib import Path

from dockyard.client.api import APIClient, encode_filters
from dockyard.compose.model import (
    Build,
    Dependency,
    Healthcheck,
    Mount,
    Network,
    Port,
    Project,
    Service,
    ServiceNetwork,
    Volume,
)

DEMO_DIR = Path(__file__).resolve().parent.parent / "examples" / "compose-demo"


def project(
    name: str, *services: Service, volumes: tuple[str, ...] = (), working_dir: str = "/tmp"
) -> Project:
    """A project with a default network; services without networks join it, as the loader does."""
    for s in services:
        if not s.networks and not s.network_mode:
            s.networks = {"default": ServiceNetwork()}
    return Project(
        name=name,
        working_dir=working_dir,
        config_files=[f"{working_dir}/compose.yaml"],
        services={s.name: s for s in services},
        networks={"default": Network(name=f"{name}_default")},
        volumes={key: Volume(name=f"{name}_{key}") for key in volumes},
    )


def service(name: str, **fields: object) -> Service:
    fields.setdefault("image", "busybox")
    return Service(name=name, **fields)  # type: ignore[arg-type]


def demo_project(name: str, web_port: int) -> Project:
    """examples/compose-demo/compose.yaml with ``WEB_PORT=web_port``."""
    worker_script = (
        'i=0; while :; do i=$((i+1)); echo "hello from the worker, round $i" > /data/message.new; '
        'mv /data/message.new /data/message; echo "wrote round $i"; sleep 2; done'
    )
    web = Service(
        name="web",
        build=Build(context=str(DEMO_DIR / "web")),
        init=True,
        ports=[Port(target=80, published=str(web_port), host_ip="127.0.0.1")],
        healthcheck=Healthcheck(
            test=["CMD-SHELL", "grep -q ':0050 0*:0000 0A' /proc/net/tcp6 /proc/net/tcp"],
            interval=0.5,
            timeout=2.0,
            retries=60,
        ),
        depends_on={"api": Dependency(condition="service_healthy")},
    )
    api = Service(
        name="api",
        build=Build(context=str(DEMO_DIR / "api")),
        init=True,
        volumes=[
            Mount(type="volume", source="data", target="/data", read_only=True, bind_create_host_path=False)
        ],
        depends_on={"worker": Dependency()},
        healthcheck=Healthcheck(
            test=["CMD-SHELL", "test -s /data/message"], interval=0.5, timeout=2.0, retries=60
        ),
    )
    worker = Service(
        name="worker",
        image="busybox",
        command=["sh", "-c", worker_script],
        volumes=[Mount(type="volume", source="data", target="/data", bind_create_host_path=False)],
        init=True,
    )
    p = project(name, web, api, worker, volumes=("data",), working_dir=str(DEMO_DIR))
    p.config_files = [str(DEMO_DIR / "compose.yaml")]
    return p


def load_demo(name: str, web_port: int) -> Project:
    """examples/compose-demo/compose.yaml through the loader."""
    from dockyard.compose import loader

    return loader.load(
        loader.LoadOptions(
            files=[str(DEMO_DIR / "compose.yaml")],
            project_name=name,
            environ={"WEB_PORT": str(web_port), "PATH": "/usr/bin:/bin"},
        )
    )


class Lines:
    """A text stream that keeps what is written (compose's progress and log output)."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass


def project_leftovers(client: APIClient, name: str) -> dict[str, list[str]]:
    """The containers, networks and volumes that carry project ``name``'s label."""
    label = encode_filters({"label": [f"com.docker.compose.project={name}"]})
    return {
        "containers": [
            c["Names"][0] for c in client.get("/containers/json", {"all": True, "filters": label})
        ],
        "networks": [n["Name"] for n in client.get("/networks", {"filters": label})],
        "volumes": [v["Name"] for v in client.get("/volumes", {"filters": label}).get("Volumes") or []],
    }


def http_get(port: int, path: str) -> str:
    """The body of a 200 answer to GET ``path`` on 127.0.0.1:``port``."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.decode().partition("\r\n\r\n")
    assert head.startswith("HTTP/1.") and " 200 " in head.split("\r\n")[0], head
    return body

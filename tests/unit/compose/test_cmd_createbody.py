"""A service replica as the Engine API's create body."""

from __future__ import annotations

import io
import tarfile

import pytest

from dockyard.compose import injectfiles
from dockyard.compose.createbody import create_body
from dockyard.compose.errors import ComposeError
from dockyard.compose.model import Deploy as DeployModel
from dockyard.compose.model import Healthcheck, Logging, Mount, Port, Resources, ServiceNetwork, Ulimit
from dockyard.errors import InvalidArgument, Unsupported
from tests.compose_fixtures import project, service


def test_full_translation() -> None:
    api = service(
        "api",
        command=["httpd", "-f"],
        entrypoint=["/bin/sh", "-c"],
        environment={"A": "1", "UNSET": None},
        ports=[Port(target=80, published="8080", host_ip="127.0.0.1"), Port(target=53, protocol="udp")],
        expose=["9000"],
        volumes=[
            Mount(type="volume", source="data", target="/data", read_only=True),
            Mount(type="bind", source="/srv", target="/srv"),
            Mount(type="tmpfs", target="/scratch", tmpfs_size=1 << 20),
        ],
        networks={
            "default": ServiceNetwork(aliases=["backend"]),
            "front": ServiceNetwork(ipv4_address="10.9.0.5"),
        },
        healthcheck=Healthcheck(test=["CMD-SHELL", "true"], interval=0.5, retries=3),
        restart="on-failure:3",
        user="1000",
        working_dir="/app",
        cap_add=["NET_ADMIN"],
        ulimits={"nofile": Ulimit(soft=100, hard=200)},
        logging=Logging(driver="json-file", options={"max-size": "1m"}),
        deploy=DeployModel(limits=Resources(memory=64 << 20, cpus=0.5)),
        stop_grace_period=3.0,
        init=True,
    )
    p = project("demo", api, volumes=("data",))
    from dockyard.compose.model import Network

    p.networks["front"] = Network(name="demo_front")
    body = create_body(p, api, image="busybox", labels={"l": "v"})
    assert body["Image"] == "busybox" and body["Labels"] == {"l": "v"}
    assert body["Cmd"] == ["httpd", "-f"] and body["Entrypoint"] == ["/bin/sh", "-c"]
    assert body["Env"] == ["A=1"]
    assert body["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}, "9000/tcp": {}}
    assert body["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 500_000_000, "Retries": 3}
    assert body["StopTimeout"] == 3 and body["User"] == "1000" and body["WorkingDir"] == "/app"
    host = body["HostConfig"]
    assert host["PortBindings"] == {
        "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
        "53/udp": [{"HostIp": "", "HostPort": ""}],
    }
    assert host["Mounts"] == [
        {"Type": "volume", "Target": "/data", "ReadOnly": True, "Source": "demo_data"},
        {"Type": "bind", "Target": "/srv", "ReadOnly": False, "Source": "/srv"},
        {"Type": "tmpfs", "Target": "/scratch", "ReadOnly": False, "TmpfsOptions": {"SizeBytes": 1 << 20}},
    ]
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert host["Memory"] == 64 << 20 and host["NanoCpus"] == 500_000_000
    assert host["Ulimits"] == [{"Name": "nofile", "Soft": 100, "Hard": 200}]
    assert host["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "1m"}}
    assert host["Init"] is True and host["CapAdd"] == ["NET_ADMIN"]
    assert host["NetworkMode"] == "demo_default"
    assert body["NetworkingConfig"]["EndpointsConfig"] == {
        "demo_default": {"Aliases": ["api", "backend"]},
        "demo_front": {"Aliases": ["api"], "IPAMConfig": {"IPv4Address": "10.9.0.5"}},
    }
    oneoff = create_body(
        p, api, image="busybox", labels={}, command=["sh"], extra_env={"B": "2"}, oneoff=True
    )
    assert oneoff["Cmd"] == ["sh"] and oneoff["Env"] == ["A=1", "B=2"]
    assert "PortBindings" not in oneoff["HostConfig"] and "RestartPolicy" not in oneoff["HostConfig"]


def test_network_mode_and_undeclared_resources() -> None:
    side = service("side", network_mode="host")
    p = project("demo", side)
    assert create_body(p, side, image="busybox", labels={})["HostConfig"]["NetworkMode"] == "host"
    lost = service("lost", volumes=[Mount(type="volume", source="nope", target="/x")])
    p = project("demo", lost)
    with pytest.raises(InvalidArgument, match='mounts volume "nope", which is not declared'):
        create_body(p, lost, image="busybox", labels={})


def test_default_network_and_file_secrets() -> None:
    from dockyard.compose.model import FileObject, FileUse, Network, Project, Service

    web = Service(
        name="web",
        image="busybox",
        secrets=[FileUse(source="token", target="/run/secrets/token")],
        configs=[FileUse(source="conf", target="/etc/app.conf")],
    )
    p = Project(
        name="demo",
        working_dir="/srv",
        services={"web": web},
        networks={"default": Network(name="demo_default")},
        secrets={"token": FileObject(name="demo_token", file="/srv/token.txt")},
        configs={"conf": FileObject(name="demo_conf", file="/srv/app.conf")},
    )
    body = create_body(p, web, image="busybox", labels={})
    assert body["HostConfig"]["NetworkMode"] == "demo_default"
    assert body["NetworkingConfig"]["EndpointsConfig"] == {"demo_default": {"Aliases": ["web"]}}
    assert body["HostConfig"]["Mounts"] == [
        {"Type": "bind", "Source": "/srv/app.conf", "Target": "/etc/app.conf", "ReadOnly": True},
        {"Type": "bind", "Source": "/srv/token.txt", "Target": "/run/secrets/token", "ReadOnly": True},
    ]
    # inline and environment-sourced ones are not bound: they are written in before the start
    p.secrets["token"] = FileObject(name="demo_token", environment="TOKEN")
    p.configs["conf"] = FileObject(name="demo_conf", content="port=80\n")
    web.configs[0].mode, web.configs[0].uid = 0o440, "100"
    assert create_body(p, web, image="busybox", labels={})["HostConfig"].get("Mounts", []) == []
    with pytest.raises(ComposeError, match="TOKEN, which is not set"):
        injectfiles.files_for(p, web)
    p.environment["TOKEN"] = "s3cret"
    files = injectfiles.files_for(p, web)
    assert files == [
        injectfiles.Injected("/etc/app.conf", b"port=80\n", 0o440, 100, 0),
        injectfiles.Injected("/run/secrets/token", b"s3cret", 0o444, 0, 0),
    ]
    with tarfile.open(fileobj=io.BytesIO(injectfiles.tar_of(files))) as tar:
        members = {m.name: (m.mode, m.uid, m.isfile()) for m in tar.getmembers()}
    assert members == {"etc/app.conf": (0o440, 100, True), "run/secrets/token": (0o444, 0, True)}
    p.secrets["token"] = FileObject(name="demo_token", external=True)
    with pytest.raises(Unsupported, match='uses secret "token", which has no file, content or environment'):
        create_body(p, web, image="busybox", labels={})

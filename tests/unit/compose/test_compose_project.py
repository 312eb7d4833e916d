"""A realistic project (several files, .env, extends, profiles) normalized into the model, and the
`compose config` output that loads back to the same project."""

from __future__ import annotations

import io
import json
from pathlib import Path

from dockyard.compose.loader import LoadOptions, load, to_yaml
from dockyard.compose.model import (
    Build,
    Dependency,
    Deploy,
    FileObject,
    FileUse,
    Healthcheck,
    Network,
    Port,
    Resources,
    ServiceNetwork,
    Ulimit,
    Volume,
)
from dockyard.compose.output import to_compose
from tests.unit.compose.helpers import load_in

FILES = {
    ".env": "TAG=1.36\nWEB_PORT=8080\nexport REPLICAS=2\n",
    "compose.yaml": """\
        name: ${PROJECT:-shop}
        x-base: &base
          restart: unless-stopped
          logging: {driver: json-file, options: {max-size: 10m}}
        services:
          web:
            <<: *base
            image: busybox:${TAG}
            command: httpd -f -p 80 -h "/srv/www root"
            ports: ["${WEB_PORT}:80", "127.0.0.1:9000-9001:9000-9001/udp"]
            expose: [8080, "9090/udp"]
            depends_on:
              api: {condition: service_healthy}
              worker: {condition: service_started, restart: true}
            networks:
              front:
              back: {aliases: [www], ipv4_address: 172.28.0.10, priority: 10}
            extra_hosts: ["gw:host-gateway", "db.local=10.0.0.5"]
            configs: [site]
            secrets: [{source: token, target: tok, mode: 0400, uid: 1000}]
          api:
            extends: {file: common.yaml, service: app}
            environment: [ROLE=api]
            healthcheck:
              test: nc -z localhost 80
              interval: 1m30s
              timeout: 500ms
              retries: 3
              start_period: 10s
            deploy:
              replicas: ${REPLICAS}
              resources:
                limits: {cpus: "0.5", memory: 64m, pids: 100}
                reservations: {memory: 16m}
            networks: [back]
          worker:
            extends: {file: common.yaml, service: app}
            entrypoint: ["/bin/sh", "-c"]
            command: ["while true; do date >> /data/log; sleep 1; done"]
            volumes: ["data:/data", {type: tmpfs, target: /scratch, tmpfs: {size: 1g}}]
            ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 512}
            sysctls: [net.core.somaxconn=1024]
            stop_grace_period: 1m
            shm_size: 64m
            init: true
            user: 1000:1000
          debug:
            image: busybox:${TAG}
            profiles: [debug]
            network_mode: service:web
        networks:
          front: {}
          back:
            ipam: {config: [{subnet: 172.28.0.0/16, gateway: 172.28.0.1}]}
            labels: [tier=back]
        volumes:
          data: {}
        configs:
          site: {file: ./site.conf}
        secrets:
          token: {environment: TOKEN}
        """,
    "compose.override.yaml": """\
        services:
          web:
            environment: {DEBUG: "true"}
            ports: ["8443:443"]
          worker:
            scale: 2
        """,
    "common.yaml": """\
        services:
          app:
            image: busybox:${TAG}
            build: {context: ./app, dockerfile: Containerfile, args: ["VERSION=${TAG}"], target: run}
            env_file: app.env
            read_only: true
            cap_drop: [ALL]
            cap_add: [NET_BIND_SERVICE]
        """,
    "app.env": "LOG_LEVEL=info\nROLE=none\n",
    "site.conf": "listen 80\n",
}


def test_realistic_project(compose_dir: Path) -> None:
    p = load_in(compose_dir, FILES, {"TOKEN": "s3cret"})
    assert p.name == "shop"
    assert p.working_dir == str(compose_dir)
    assert sorted(p.services) == ["api", "web", "worker"] and sorted(p.disabled) == ["debug"]

    web = p.services["web"]
    assert web.image == "busybox:1.36"
    assert web.command == ["httpd", "-f", "-p", "80", "-h", "/srv/www root"]
    assert web.restart == "unless-stopped"
    assert web.logging is not None and web.logging.options == {"max-size": "10m"}
    assert web.ports == [
        Port(target=80, published="8080"),
        Port(target=9000, published="9000", host_ip="127.0.0.1", protocol="udp"),
        Port(target=9001, published="9001", host_ip="127.0.0.1", protocol="udp"),
        Port(target=443, published="8443"),
    ]
    assert web.expose == ["8080", "9090/udp"]
    assert web.environment == {"DEBUG": "true"}
    assert web.depends_on == {
        "api": Dependency(condition="service_healthy"),
        "worker": Dependency(restart=True),
    }
    assert web.networks == {
        "front": ServiceNetwork(),
        "back": ServiceNetwork(aliases=["www"], ipv4_address="172.28.0.10", priority=10),
    }
    assert web.extra_hosts == ["gw:host-gateway", "db.local:10.0.0.5"]
    assert web.configs == [FileUse(source="site", target="/site")]
    assert web.secrets == [FileUse(source="token", target="/run/secrets/tok", uid="1000", mode=0o400)]

    api = p.services["api"]
    assert api.build == Build(
        context=f"{compose_dir}/app", dockerfile="Containerfile", args={"VERSION": "1.36"}, target="run"
    )
    assert api.environment == {"LOG_LEVEL": "info", "ROLE": "api"}
    assert (api.read_only, api.cap_drop, api.cap_add) == (True, ["ALL"], ["NET_BIND_SERVICE"])
    assert api.healthcheck == Healthcheck(
        test=["CMD-SHELL", "nc -z localhost 80"], interval=90.0, timeout=0.5, retries=3, start_period=10.0
    )
    assert api.deploy == Deploy(
        replicas=2,
        limits=Resources(memory=64 << 20, cpus=0.5, pids=100),
        reservations=Resources(memory=16 << 20),
    )
    assert api.replicas() == 2
    assert api.networks == {"back": ServiceNetwork()}

    worker = p.services["worker"]
    assert worker.entrypoint == ["/bin/sh", "-c"]
    assert worker.command == ["while true; do date >> /data/log; sleep 1; done"]
    assert worker.networks == {"default": ServiceNetwork()}
    assert worker.ulimits == {"nofile": Ulimit(1024, 2048), "nproc": Ulimit(512, 512)}
    assert worker.sysctls == {"net.core.somaxconn": "1024"}
    assert (worker.stop_grace_period, worker.shm_size, worker.init, worker.user) == (
        60.0,
        64 << 20,
        True,
        "1000:1000",
    )
    assert worker.volumes[1].tmpfs_size == 1 << 30
    assert worker.replicas() == 2

    debug = p.disabled["debug"]
    assert debug.networks == {} and debug.depends_on == {"web": Dependency()}

    assert p.networks == {
        "front": Network(name="shop_front"),
        "back": Network(
            name="shop_back",
            ipam_subnets=[{"subnet": "172.28.0.0/16", "gateway": "172.28.0.1"}],
            labels={"tier": "back"},
        ),
        "default": Network(name="shop_default"),
    }
    assert p.volumes == {"data": Volume(name="shop_data")}
    assert p.configs == {"site": FileObject(name="shop_site", file=f"{compose_dir}/site.conf")}
    assert p.secrets == {"token": FileObject(name="shop_token", environment="TOKEN")}
    assert p.warnings == []


def test_config_output_loads_back_to_the_same_project(compose_dir: Path) -> None:
    p = load_in(compose_dir, FILES, profiles=["debug"])
    text = to_yaml(p)
    assert "debug" in p.services
    again = load(LoadOptions(files=["-"], stdin=io.StringIO(text), profiles=["debug"]))
    assert again.name == p.name
    assert again.services == p.services
    assert (again.networks, again.volumes, again.configs, again.secrets) == (
        p.networks,
        p.volumes,
        p.configs,
        p.secrets,
    )
    assert to_yaml(again) == text


def test_config_output_is_canonical_long_syntax(compose_dir: Path) -> None:
    out = to_compose(load_in(compose_dir, FILES))
    web = out["services"]["web"]
    assert web["ports"][0] == {"target": 80, "published": "8080", "protocol": "tcp", "mode": "ingress"}
    assert out["services"]["api"]["healthcheck"]["interval"] == "1m30s"
    assert out["services"]["worker"]["stop_grace_period"] == "1m0s"
    assert out["networks"]["default"] == {"name": "shop_default"}
    assert list(out) == ["name", "services", "networks", "volumes", "configs", "secrets"]


def test_to_dict_is_json_and_stable(compose_dir: Path) -> None:
    first = load_in(compose_dir, FILES).to_dict()
    second = load_in(compose_dir, {}).to_dict()
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    assert first["services"]["web"]["ports"][0]["published"] == "8080"

"""User-defined networks through the real docker CLI: names and aliases served by the embedded
DNS, HTTP between containers by name, isolation from another network (both ways), connect and
disconnect of a running container, --internal, --ip, --mac-address, --add-host host-gateway,
several networks per container, network events."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.root

if os.geteuid() != 0:
    pytest.skip("network tests need root", allow_module_level=True)

# busybox-static's wget crashes in a minimal rootfs; nc speaks HTTP well enough. The loop waits
# for the server's listener (the container runs before httpd has bound its port).
GET_FN = (
    "get() { for i in $(seq 1 30); do "
    "r=$(printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 $1 $2) && [ -n \"$r\" ] && "
    'echo "$r" | head -1 && return 0; sleep 0.1; done; return 1; }; '
)


def get(host: str, port: int) -> str:
    return GET_FN + f"get {host} {port}"


# One quick attempt: for what must *not* connect (refused, or dropped until the timeout).
TRY = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {host} {port} | head -1"


def uid(name: str) -> str:
    return f"{name}{os.getpid()}"


class Cleanup:
    def __init__(self, d: Any) -> None:
        self.d = d
        self.containers: list[str] = []
        self.networks: list[str] = []

    def run(self, *args: str) -> str:
        out = str(self.d.docker("run", "-d", *args).stdout.strip())
        self.containers.append(out)
        return out

    def network(self, name: str, *args: str) -> str:
        self.d.docker("network", "create", *args, name)
        self.networks.append(name)
        return name

    def close(self) -> None:
        if self.containers:
            self.d.docker("rm", "-f", *self.containers, check=False)
        for net in self.networks:
            self.d.docker("network", "rm", net, check=False)


@pytest.fixture
def env(dockyard_daemon: Any) -> Iterator[Cleanup]:
    c = Cleanup(dockyard_daemon)
    try:
        yield c
    finally:
        c.close()


def sh(d: Any, network: str, script: str, *extra: str, check: bool = True) -> Any:
    return d.docker("run", "--rm", "--network", network, *extra, "busybox", "sh", "-c", script, check=check)


def test_names_aliases_http_and_isolation(env: Cleanup) -> None:
    d = env.d
    front, back = env.network(uid("front")), env.network(uid("back"))
    web = uid("web")
    env.run(
        "--name", web, "--network", front, "--network-alias", "www", "busybox", "httpd", "-f", "-p", "8080"
    )
    other = uid("other")
    env.run("--name", other, "--network", back, "busybox", "httpd", "-f", "-p", "8080")

    by_name = sh(d, front, get(web, 8080))
    assert by_name.stdout.startswith("HTTP/1.")
    by_alias = sh(d, front, get("www", 8080))
    assert by_alias.stdout.startswith("HTTP/1.")
    looked_up = sh(d, front, f"nslookup {web}; nslookup www")
    web_ip = d.docker(
        "inspect", "-f", f"{{{{.NetworkSettings.Networks.{front}.IPAddress}}}}", web
    ).stdout.strip()
    assert looked_up.stdout.count(f"Address: {web_ip}") == 2, looked_up.stdout
    reverse = sh(d, front, f"nslookup {web_ip}")
    assert f"{web}.{front}" in reverse.stdout, reverse.stdout

    # The other network's DNS does not know names of the first one, nor its address space.
    unknown = sh(d, back, f"nslookup {web}", check=False)
    assert web_ip not in unknown.stdout
    other_ip = d.docker("inspect", "-f", f"{{{{.NetworkSettings.Networks.{back}.IPAddress}}}}", other).stdout
    # back -> front and front -> back: refused or dropped, never an answer.
    assert "HTTP" not in sh(d, back, TRY.format(host=web_ip, port=8080), check=False).stdout
    assert "HTTP" not in sh(d, front, TRY.format(host=other_ip.strip(), port=8080), check=False).stdout
    # Joined to both networks, one container reaches both servers by name.
    script = GET_FN + f"get {web} 8080 && get {other} 8080"
    both = d.docker("create", "--network", front, "busybox", "sh", "-c", script).stdout.strip()
    env.containers.append(both)
    d.docker("network", "connect", back, both)
    answered = d.docker("start", "-a", both)
    assert answered.stdout.count("HTTP/1.") == 2, answered.stdout


def test_connect_disconnect_inspect_and_events(env: Cleanup) -> None:
    d = env.d
    net = env.network(uid("conn"), "--subnet", "10.234.5.0/24", "--ip-range", "10.234.5.64/26",
                      "--label", "purpose=test")  # fmt: skip
    since = str(int(time.time()) - 1)
    box = uid("box")
    env.run("--name", box, "busybox", "sleep", "300")
    d.docker("network", "connect", "--alias", "boxy", "--ip", "10.234.5.77", net, box)
    info = json.loads(d.docker("network", "inspect", net).stdout)[0]
    assert info["Labels"] == {"purpose": "test"} and info["IPAM"]["Config"][0]["IPRange"] == "10.234.5.64/26"
    [(cid, member)] = info["Containers"].items()
    assert member["Name"] == box and member["IPv4Address"] == "10.234.5.77/24"
    settings = json.loads(d.docker("inspect", "-f", "{{json .NetworkSettings.Networks}}", box).stdout)
    assert set(settings) == {"bridge", net}
    assert settings[net]["Aliases"] == ["boxy"] and settings[net]["IPAddress"] == "10.234.5.77"
    assert box in settings[net]["DNSNames"] and cid[:12] in settings[net]["DNSNames"]
    links = d.docker("exec", box, "ip", "-o", "addr").stdout
    assert "eth1" in links and "10.234.5.77/24" in links
    # By alias from a container on the network; the next address comes from the ip range.
    seen = sh(d, net, "nslookup boxy; ip -o -4 addr show eth0")
    assert "10.234.5.77" in seen.stdout and "10.234.5.6" in seen.stdout.split("eth0", 1)[1][:30]
    rm = d.docker("network", "rm", net, check=False)
    assert rm.returncode != 0 and "active endpoints" in rm.stderr
    d.docker("network", "disconnect", net, box)
    assert "eth1" not in d.docker("exec", box, "ip", "-o", "link").stdout
    # The CLI sends `--until 0s` as whole seconds: let this second pass.
    time.sleep(max(0.0, int(time.time()) + 1.05 - time.time()))
    events = d.docker("events", "--since", since, "--until", "0s", "--filter", "type=network",
                      "--format", "{{.Action}} {{.Actor.Attributes.name}}").stdout.split("\n")  # fmt: skip
    mine = [e for e in events if e.endswith(f" {net}")]
    assert mine[:3] == [f"create {net}", f"connect {net}", f"connect {net}"] and f"disconnect {net}" in mine


def test_internal_network_ip_mac_and_host_gateway(env: Cleanup) -> None:
    d = env.d
    net = env.network(uid("inner"), "--internal", "--subnet", "10.234.9.0/24")
    out = sh(
        d,
        net,
        "ip route; ip -o link show eth0; cat /etc/hosts; cat /etc/hostname",
        "--ip", "10.234.9.50", "--mac-address", "02:42:0a:ea:09:99", "--hostname", "inside",
        "--add-host", "hostbox:host-gateway", "--add-host", "db:192.0.2.10",
    )  # fmt: skip
    assert "default" not in out.stdout  # an internal network has no route out
    assert "02:42:0a:ea:09:99" in out.stdout
    assert "10.234.9.50\tinside" in out.stdout and "192.0.2.10\tdb" in out.stdout
    assert "\thostbox" in out.stdout and out.stdout.rstrip().endswith("inside")
    dns = sh(d, net, "cat /etc/resolv.conf", "--dns", "192.0.2.53")
    assert "nameserver 10.234.9.1" in dns.stdout  # the embedded DNS; --dns becomes its upstream

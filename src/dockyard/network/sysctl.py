"""The few kernel settings the network touches, through /proc/sys (no sysctl binary)."""

from __future__ import annotations

import os
import subprocess

from dockyard.errors import SystemFailure

IP_FORWARD = "/proc/sys/net/ipv4/ip_forward"


def read(path: str) -> str:
    with open(path, encoding="ascii") as f:
        return f.read().strip()


def enable_ip_forward() -> None:
    """net.ipv4.ip_forward=1, which masquerading needs to route containers' traffic out.

    Never turned off again, as dockerd leaves it: other software may rely on it by then.
    """
    try:
        if read(IP_FORWARD) != "1":
            with open(IP_FORWARD, "w", encoding="ascii") as f:
                f.write("1\n")
    except OSError as exc:
        raise SystemFailure(f"cannot enable {IP_FORWARD}: {exc.strerror}", exc.errno or 0) from exc


def set_route_localnet(link: str) -> None:
    """net.ipv4.conf.<link>.route_localnet=1: a connection to 127.0.0.1:<published port>, DNATed
    to a container, leaves through the bridge with its loopback source; without this the kernel
    drops it as martian (ip_route_output_key_hash_rcu)."""
    path = f"/proc/sys/net/ipv4/conf/{link}/route_localnet"
    try:
        with open(path, "w", encoding="ascii") as f:
            f.write("1\n")
    except OSError as exc:
        raise SystemFailure(f"cannot enable {path}: {exc.strerror}", exc.errno or 0) from exc


BRIDGE_NF = "/proc/sys/net/bridge/bridge-nf-call-iptables"


def enable_bridge_netfilter() -> None:
    """net.bridge.bridge-nf-call-iptables=1, loading br_netfilter first if needed: frames bridged
    between two containers of one bridge reach the IP forward hook only then, which icc=false
    needs (dockerd sets it too). Host-wide, and left on, as dockerd leaves it."""
    if not os.path.exists(BRIDGE_NF):
        subprocess.run(["modprobe", "br_netfilter"], capture_output=True, check=False)
    try:
        if read(BRIDGE_NF) != "1":
            with open(BRIDGE_NF, "w", encoding="ascii") as f:
                f.write("1\n")
    except OSError as exc:
        raise SystemFailure(
            f"cannot enable {BRIDGE_NF} (icc=false needs br_netfilter): {exc.strerror}", exc.errno or 0
        ) from exc

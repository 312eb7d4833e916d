"""The few kernel settings the network touches, through /proc/sys (no sysctl binary)."""

from __future__ import annotations

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

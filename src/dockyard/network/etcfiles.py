"""A container's /etc/hostname and /etc/hosts, in dockerd's layout.

/etc/hosts: the localhost lines (IPv4 and the IPv6 names), then --add-host entries, then the
container's own address with its name. For the "host" network the host's /etc/hosts is used,
with the --add-host entries after it, as dockerd does.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from dockyard.errors import InvalidArgument

DEFAULT_HOSTS = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n"
)

#: The --add-host value that stands for the host's address on the bridge (dockerd's HostGatewayIP).
HOST_GATEWAY = "host-gateway"


def parse_extra_host(entry: str, gateway: str | None) -> tuple[str, str]:
    """An ExtraHosts entry "name:ip" (the API's form; the IP may be IPv6) -> (name, ip)."""
    name, sep, ip = entry.partition(":")
    if not sep or not name or not ip:
        raise InvalidArgument(f"invalid extra host {entry!r}: use name:ip, e.g. db:192.0.2.10")
    if ip == HOST_GATEWAY:
        if not gateway:
            raise InvalidArgument(
                f"invalid extra host {entry!r}: {HOST_GATEWAY} needs the bridge network's gateway"
            )
        ip = gateway
    try:
        ipaddress.ip_address(ip.strip("[]"))
    except ValueError:
        raise InvalidArgument(
            f"invalid extra host {entry!r}: {ip!r} is not an IP address; use name:ip"
        ) from None
    return name, ip.strip("[]")


def hosts(
    hostname: str,
    domainname: str,
    ip: str,
    extra_hosts: Sequence[str],
    gateway: str | None,
    base: str = DEFAULT_HOSTS,
) -> str:
    lines = [base.rstrip("\n")] if base.strip() else []
    for entry in extra_hosts:
        name, address = parse_extra_host(entry, gateway)
        lines.append(f"{address}\t{name}")
    if ip and hostname:
        names = f"{hostname}.{domainname} {hostname}" if domainname else hostname
        lines.append(f"{ip}\t{names}")
    return "\n".join(lines) + "\n"


def hostname_file(hostname: str) -> str:
    return hostname + "\n"

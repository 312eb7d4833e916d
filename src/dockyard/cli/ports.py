"""Published ports: ``-p`` / ``--expose`` specs (docker/go-connections ``nat``) and their display.

``-p [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]``, ranges as ``8000-8009:80-89``; a host range
with a single container port is a pool to pick a free host port from. The result is the
Engine API's ``ExposedPorts`` (``{"80/tcp": {}}``) and ``PortBindings``
(``{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}``).
"""

from __future__ import annotations

from dockyard.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

PROTOCOLS = ("tcp", "udp", "sctp")


def _split_proto(text: str) -> tuple[str, str]:
    port, sep, proto = text.partition("/")
    return (proto if sep else "tcp"), port


def _port_range(text: str) -> tuple[int, int]:
    start_text, sep, end_text = text.partition("-")
    try:
        start = int(start_text)
        end = int(end_text) if sep else start
    except ValueError:
        raise ValueError(text) from None
    if not (0 <= start <= 65535 and 0 <= end <= 65535) or end < start:
        raise ValueError(text)
    return start, end


def _valid_ip(ip: str) -> bool:
    import socket

    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, ip)
            return True
        except OSError:
            continue
    return False


def parse_publish(spec: str) -> list[tuple[str, dict[str, str]]]:
    """``-p`` value -> [("80/tcp", {"HostIp": ..., "HostPort": ...}), ...]."""
    parts = spec.split(":")
    container_text = parts[-1]
    if len(parts) == 1:
        ip, host_port = "", ""
    elif len(parts) == 2:
        ip, host_port = "", parts[0]
    else:
        ip, host_port = ":".join(parts[:-2]), parts[-2]
    proto, container_text = _split_proto(container_text)
    if ip.startswith("[") and ip.endswith("]"):
        ip = ip[1:-1]
    if ip and not _valid_ip(ip):
        raise InvalidArgument(f"invalid IP address: {ip}")
    if not container_text:
        raise InvalidArgument(f"no port specified: {spec}<empty>")
    try:
        start, end = _port_range(container_text)
    except ValueError:
        raise InvalidArgument(f"invalid containerPort: {container_text}") from None
    host_start = host_end = 0
    if host_port:
        try:
            host_start, host_end = _port_range(host_port)
        except ValueError:
            raise InvalidArgument(f"invalid hostPort: {host_port}") from None
        if end - start != host_end - host_start and end != start:
            raise InvalidArgument(
                f"invalid ranges specified for container and host Ports: {container_text} and {host_port}"
            )
    if proto.lower() not in PROTOCOLS:
        raise InvalidArgument(f"invalid proto: {proto}")
    out = []
    for i in range(end - start + 1):
        host = str(host_start + i) if host_port else ""
        if start == end and host_start != host_end:
            host = f"{host_start}-{host_end}"
        out.append((f"{start + i}/{proto.lower()}", {"HostIp": ip, "HostPort": host}))
    return out


def parse_expose(spec: str) -> list[str]:
    """``--expose 80``, ``--expose 8000-8010/udp`` -> ["80/tcp", ...]."""
    proto, text = _split_proto(spec)
    try:
        start, end = _port_range(text)
    except ValueError:
        raise InvalidArgument(f"invalid range format for --expose: {spec}, error: bad port range") from None
    if proto.lower() not in PROTOCOLS:
        raise InvalidArgument(f"invalid proto: {proto}")
    return [f"{p}/{proto.lower()}" for p in range(start, end + 1)]


def publish_config(
    publish: Iterable[str], expose: Iterable[str]
) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, str]]]]:
    """(ExposedPorts, PortBindings) for the ``-p`` and ``--expose`` values of a run."""
    exposed: dict[str, dict[str, Any]] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for spec in publish:
        for port, binding in parse_publish(spec):
            exposed.setdefault(port, {})
            bindings.setdefault(port, []).append(binding)
    for spec in expose:
        for port in parse_expose(spec):
            exposed.setdefault(port, {})
    return exposed, bindings


def _join_host_port(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def display(ports: list[dict[str, Any]] | None) -> str:
    """docker's ``DisplayablePorts``: ``0.0.0.0:8080->80/tcp, 443/tcp``, consecutive ports as ranges."""
    if not ports:
        return ""

    def key(p: dict[str, Any]) -> tuple[int, str, int, str]:
        return (p.get("PrivatePort") or 0, p.get("IP") or "", p.get("PublicPort") or 0, p.get("Type") or "")

    groups: dict[str, list[int]] = {}
    order: list[str] = []
    result: list[str] = []
    host_mappings: list[str] = []
    for port in sorted(ports, key=key):
        current = port.get("PrivatePort") or 0
        kind = port.get("Type") or "tcp"
        ip = port.get("IP") or ""
        group_key = kind
        if ip:
            public = port.get("PublicPort") or 0
            if public != current:
                host_mappings.append(f"{_join_host_port(ip, public)}->{current}/{kind}")
                continue
            group_key = f"{ip}/{kind}"
        group = groups.get(group_key)
        if group is None:
            groups[group_key] = [current, current]
            order.append(group_key)
            continue
        if current == group[1] + 1:
            group[1] = current
            continue
        result.append(_form_group(group_key, group[0], group[1]))
        groups[group_key] = [current, current]
    result.extend(_form_group(k, *groups[k]) for k in order)
    result.extend(host_mappings)
    return ", ".join(result)


def _form_group(key: str, first: int, last: int) -> str:
    ip, sep, kind = key.rpartition("/")
    text = str(first) if first == last else f"{first}-{last}"
    if sep and ip:
        text = f"{ip}:{text}->{text}"
    return f"{text}/{kind}"

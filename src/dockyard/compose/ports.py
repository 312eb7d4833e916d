"""Port short syntax to long: ``[HOST_IP:][PUBLISHED:]TARGET[/PROTOCOL]`` with ranges.

As docker/go-connections ``nat.ParsePortSpec`` (which compose-go uses): a target range with a
published range of the same size pairs them one by one (``8080-8081:80-81`` is two ports); a
single target with a published range keeps the range (``8000-8010:80``: the engine picks one);
a target range with no published port gives one entry per target. IPv6 host addresses are
written in brackets: ``[::1]:8080:80``.
"""

from __future__ import annotations

from typing import Any

_PROTOCOLS = ("tcp", "udp")


def _range(text: str, what: str) -> tuple[int, int]:
    lo, sep, hi = text.partition("-")
    try:
        start, end = int(lo), int(hi) if sep else int(lo)
    except ValueError:
        raise ValueError(f"the {what} port {text!r} is not a number or a range such as 8080-8081") from None
    if not (0 < start <= 65535 and 0 < end <= 65535):
        raise ValueError(f"the {what} port {text!r} is out of range: use 1 to 65535")
    if end < start:
        raise ValueError(f"the {what} range {text!r} ends before it starts")
    return start, end


def parse_port(spec: str | int) -> list[dict[str, Any]]:
    """The long-syntax ports of one short entry. Raises ValueError with the reason."""
    text, _, protocol = str(spec).strip().partition("/")
    protocol = protocol.lower() or "tcp"
    if protocol not in _PROTOCOLS:
        raise ValueError(f"unsupported protocol {protocol!r}: use tcp or udp")
    host_ip = ""
    if text.startswith("["):
        close = text.find("]")
        if close < 0 or text[close + 1 : close + 2] != ":":
            raise ValueError("an IPv6 host address goes in brackets before a colon: [::1]:8080:80")
        host_ip, rest = text[1:close], text[close + 2 :]
        parts = rest.split(":")
        if len(parts) != 2:
            raise ValueError("expected [IP]:PUBLISHED:TARGET")
        published, target = parts
    else:
        parts = text.split(":")
        if len(parts) == 1:
            published, target = "", parts[0]
        elif len(parts) == 2:
            published, target = parts
        elif len(parts) == 3:
            host_ip, published, target = parts
        else:
            raise ValueError("too many colons: write [IP:][PUBLISHED:]TARGET[/PROTOCOL] (IPv6 in brackets)")
    if not target:
        raise ValueError("the container port is missing")
    t_start, t_end = _range(target, "container")
    out: list[dict[str, Any]] = []
    if not published:
        for port in range(t_start, t_end + 1):
            out.append({"target": port, "host_ip": host_ip, "protocol": protocol, "mode": "ingress"})
        return out
    p_start, p_end = _range(published, "published")
    if t_start == t_end:
        pub = str(p_start) if p_start == p_end else f"{p_start}-{p_end}"
        return [
            {"target": t_start, "published": pub, "host_ip": host_ip, "protocol": protocol, "mode": "ingress"}
        ]
    if p_end - p_start != t_end - t_start:
        raise ValueError("the published and container ranges differ in size")
    for offset in range(t_end - t_start + 1):
        out.append(
            {
                "target": t_start + offset,
                "published": str(p_start + offset),
                "host_ip": host_ip,
                "protocol": protocol,
                "mode": "ingress",
            }
        )
    return out


def long_port(entry: dict[str, Any]) -> dict[str, Any]:
    """A long-syntax entry checked and with its defaults. Raises ValueError."""
    target = int(entry["target"])
    _range(str(target), "container")
    protocol = str(entry.get("protocol", "tcp")).lower()
    if protocol not in _PROTOCOLS:
        raise ValueError(f"unsupported protocol {protocol!r}: use tcp or udp")
    out: dict[str, Any] = {"target": target, "host_ip": str(entry.get("host_ip", "")), "protocol": protocol}
    published = entry.get("published")
    if published is not None and str(published) != "":
        start, end = _range(str(published), "published")
        out["published"] = str(start) if start == end else f"{start}-{end}"
    out["mode"] = str(entry.get("mode", "ingress"))
    if out["mode"] not in ("ingress", "host"):
        raise ValueError(f"unknown mode {out['mode']!r}: use ingress or host")
    return out


def port_key(port: dict[str, Any]) -> tuple[Any, ...]:
    """What makes two ports the same when files are merged (compose-go's merge of ports)."""
    return (port.get("host_ip", ""), port.get("published"), port["target"], port.get("protocol", "tcp"))

"""The daemon's registry settings: insecure registries, mirrors, offline domains, size limits.

    --insecure-registry HOST[:PORT] | CIDR    plain HTTP to that registry (loopback always is)
    --registry-mirror URL                     a mirror of Docker Hub (dockerd's meaning)
    --registry-mirror DOMAIN=URL              a mirror of any registry (dockyard's extension)

A pull asks each mirror of the reference's domain in turn and falls back to the registry itself
(dockerd's order, registry/service.go lookupV2Endpoints). Pushes always go to the registry.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from dockyard.errors import InvalidArgument

from .endpoint import DOCKER_HUB, Endpoint, endpoint_for, split_host_port

#: The limits on what a registry may send (the issue's defaults; each is a daemon option).
MANIFEST_MAX = 4 << 20
INDEX_DEPTH = 8


@dataclass(frozen=True)
class RegistrySettings:
    insecure: tuple[str, ...] = ()
    mirrors: dict[str, tuple[str, ...]] = field(default_factory=dict)
    offline_domains: frozenset[str] = frozenset()
    manifest_max: int = MANIFEST_MAX
    index_depth: int = INDEX_DEPTH

    @classmethod
    def build(
        cls,
        *,
        insecure: list[str] | tuple[str, ...] = (),
        mirrors: list[str] | tuple[str, ...] = (),
        offline_domains: frozenset[str] = frozenset(),
        manifest_max: int = MANIFEST_MAX,
        index_depth: int = INDEX_DEPTH,
    ) -> RegistrySettings:
        table: dict[str, list[str]] = {}
        for text in mirrors:
            domain, url = parse_mirror(text)
            table.setdefault(domain, []).append(url)
        for entry in insecure:
            _check_insecure(entry)
        return cls(
            tuple(insecure),
            {d: tuple(u) for d, u in table.items()},
            offline_domains,
            manifest_max,
            index_depth,
        )

    def is_insecure(self, domain: str) -> bool:
        host, _ = split_host_port(domain)
        for entry in self.insecure:
            if entry in (domain, host):
                return True
            if "/" in entry:
                try:
                    if ipaddress.ip_address(host.strip("[]")) in ipaddress.ip_network(entry, strict=False):
                        return True
                except ValueError:
                    continue
        return False

    def endpoint(self, domain: str, what: str = "") -> Endpoint:
        return endpoint_for(
            domain, offline_domains=self.offline_domains, what=what, insecure=self.is_insecure(domain)
        )

    def pull_endpoints(self, domain: str, what: str = "") -> list[Endpoint]:
        """Mirrors first, then the registry (left out when it is offline and a mirror exists)."""
        out = [Endpoint(domain, url, mirror=True) for url in self.mirrors.get(domain, ())]
        if out and domain in self.offline_domains:
            return out
        out.append(self.endpoint(domain, what))
        return out


def parse_mirror(text: str) -> tuple[str, str]:
    """``URL`` (Docker Hub's mirror) or ``DOMAIN=URL``; the URL's path must be empty."""
    domain, sep, url = text.partition("=")
    if not sep:
        domain, url = DOCKER_HUB, text
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        raise InvalidArgument(
            f"invalid registry mirror {text!r}: use http(s)://HOST[:PORT] or DOMAIN=http(s)://HOST[:PORT]"
        )
    if not domain or "/" in domain:
        raise InvalidArgument(f"invalid registry mirror {text!r}: {domain!r} is no registry domain")
    return domain, url


def _check_insecure(entry: str) -> None:
    if not entry or "://" in entry or entry.count("/") > 1:
        raise InvalidArgument(
            f"invalid insecure registry {entry!r}: use HOST[:PORT] or a CIDR like 10.0.0.0/8"
        )
    if "/" in entry:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise InvalidArgument(f"invalid insecure registry {entry!r}: not a CIDR network") from None

"""Where a registry domain is reached.

Docker treats ``localhost`` and loopback addresses as insecure registries (plain HTTP); every
other registry is HTTPS. A domain listed as offline (Docker Hub on a host without internet) is
refused before any name is resolved, so a pull fails at once instead of waiting on DNS.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from dockyard.errors import DockyardError

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"


class RegistryUnreachable(DockyardError):
    """The registry cannot be reached from this host (HTTP 500, as dockerd answers)."""


@dataclass(frozen=True)
class Endpoint:
    domain: str  # as in the reference: "localhost:5000", "docker.io"
    base_url: str  # "http://127.0.0.1:5000"
    mirror: bool = False  # a pull-through mirror of ``domain`` (pulls only)

    def url(self, path: str) -> str:
        return self.base_url + path


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def split_host_port(domain: str) -> tuple[str, str]:
    if domain.startswith("["):
        host, _, rest = domain.partition("]")
        return host + "]", rest.lstrip(":")
    host, _, port = domain.partition(":")
    return host, port


def endpoint_for(
    domain: str, *, offline_domains: frozenset[str] = frozenset(), what: str = "", insecure: bool = False
) -> Endpoint:
    if domain in offline_domains:
        raise RegistryUnreachable(
            f"cannot {what or 'reach ' + domain}: no route to the internet from this host "
            f"({domain} is not reachable): use a registry on this machine (e.g. localhost:5000/NAME) "
            "or, for busybox, `dockyard image bootstrap`"
        )
    host, port = split_host_port(domain)
    if is_loopback(host):
        # "localhost" is mapped to 127.0.0.1 here so no resolver is ever asked.
        addr = "127.0.0.1" if host == "localhost" else host
        return Endpoint(domain, f"http://{addr}{':' + port if port else ''}")
    api_host = DOCKER_HUB_API if domain == DOCKER_HUB else domain
    # --insecure-registry: plain HTTP, as dockerd falls back to for those registries.
    return Endpoint(domain, f"{'http' if insecure else 'https'}://{api_host}")

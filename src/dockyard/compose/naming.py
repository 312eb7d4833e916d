"""The names Compose gives what it creates, and reading them back.

Compose v2 names a service's containers ``<project>-<service>-<n>`` and one-off containers
(``compose run``) ``<project>-<service>-run-<12 hex>``; Compose v1 (Debian's docker-compose
1.29) used ``_`` as the separator. Both put the same labels on them, so the commands find a
project's containers by label and never by name; the name is only for people (and DNS).
Networks and volumes are ``<project>_<key>`` in both, unless the file names them (the loader
puts the engine's name in :attr:`Network.name` / :attr:`Volume.name`).
"""

from __future__ import annotations

import secrets

from dockyard.compose.model import Project, Service

SEPARATOR = "-"


def container_name(project: str, service: Service, number: int) -> str:
    """``container_name`` if the file gives one (one replica only), else ``<project>-<service>-<n>``."""
    if service.container_name:
        return service.container_name
    return f"{project}{SEPARATOR}{service.name}{SEPARATOR}{number}"


def oneoff_name(project: str, service: str) -> str:
    return f"{project}{SEPARATOR}{service}{SEPARATOR}run{SEPARATOR}{secrets.token_hex(6)}"


def default_image(project: str, service: str) -> str:
    """The tag ``--build`` gives a service that has a build section and no ``image``."""
    return f"{project}{SEPARATOR}{service}"


def service_image(project: Project, service: Service) -> str:
    return service.image or default_image(project.name, service.name)


def display_name(name: str) -> str:
    """A container name as the engine lists it (``/demo-web-1``) without the slash."""
    return name[1:] if name.startswith("/") else name

"""Configs and secrets that have no file on the host (``content:`` inline, or ``environment:``
naming a variable): written into the container after it is created and before it starts, as a
tar through the archive API (``PUT /containers/{id}/archive``), as Compose v2 does without swarm.

File-based ones are read-only binds (:func:`dockyard.compose.createbody.create_body`).
"""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass

from dockyard.client.api import APIClient, quote_path
from dockyard.compose.errors import ComposeError
from dockyard.compose.model import FileObject, FileUse, Project, Service


@dataclass(frozen=True)
class Injected:
    target: str  # absolute path in the container
    data: bytes
    mode: int
    uid: int
    gid: int


def target_of(kind: str, use: FileUse) -> str:
    if use.target.startswith("/"):
        return use.target
    return f"/run/secrets/{use.target}" if kind == "secret" else f"/{use.target}"


def _value(kind: str, key: str, obj: FileObject, project: Project, service: str) -> bytes:
    if obj.content is not None:
        return obj.content.encode()
    assert obj.environment is not None
    if obj.environment not in project.environment:
        raise ComposeError(
            f'service "{service}" uses {kind} "{key}" from the environment variable '
            f"{obj.environment}, which is not set: set it in the environment or in .env"
        )
    return project.environment[obj.environment].encode()


def _id(value: str | None, what: str, service: str) -> int:
    if value is None or value == "":
        return 0
    if not value.isdigit():
        raise ComposeError(f'service "{service}": {what} "{value}" must be a number (a uid or gid)')
    return int(value)


def files_for(project: Project, service: Service) -> list[Injected]:
    """The inline and environment-sourced configs and secrets ``service`` uses."""
    out = []
    for kind, uses, table in (
        ("config", service.configs, project.configs),
        ("secret", service.secrets, project.secrets),
    ):
        for use in uses:
            obj = table.get(use.source)
            if obj is None or obj.file is not None or (obj.content is None and obj.environment is None):
                continue  # a file (bound), or external (the loader refuses those without swarm)
            out.append(
                Injected(
                    target=target_of(kind, use),
                    data=_value(kind, use.source, obj, project, service.name),
                    mode=use.mode if use.mode is not None else 0o444,
                    uid=_id(use.uid, "uid", service.name),
                    gid=_id(use.gid, "gid", service.name),
                )
            )
    return out


def tar_of(files: list[Injected]) -> bytes:
    """A tar to extract at ``/``: each file with its owner and mode. No folder entries: missing
    parents are made 0755 by the extraction, and existing ones (``/run``) keep their metadata."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for f in files:
            info = tarfile.TarInfo(f.target.strip("/"))
            info.size, info.mode, info.uid, info.gid = len(f.data), f.mode, f.uid, f.gid
            tar.addfile(info, io.BytesIO(f.data))
    return buf.getvalue()


def inject(client: APIClient, cid: str, files: list[Injected]) -> None:
    if files:
        path = f"/containers/{quote_path(cid)}/archive"
        client.request("PUT", path, {"path": "/"}, body=tar_of(files)).read()

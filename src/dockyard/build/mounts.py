"""RUN --mount: cache, bind, secret and tmpfs mounts of one RUN step.

    --mount=type=cache,target=/root/.cache[,id=name]   a folder kept across builds, under
                                                        <data-root>/build/cachemounts/<id>
    --mount=type=bind,target=/src[,source=dir][,from=stage|image][,rw]   read-only by default
    --mount=type=secret,id=token[,target=/run/secrets/token][,required]  from --secret id=,src=
    --mount=type=tmpfs,target=/tmp

Mount points the runtime creates for them in the rootfs are left out of the step's layer (see
layer.py), as BuildKit leaves them out. What a step mounts counts in its cache key: the cache
mount's id, a bind mount's source content (or its image), never a secret's value.
"""

from __future__ import annotations

import hashlib
import os
import secrets as pysecrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dockyard.build import copy as copymod
from dockyard.build.paths import secure_join
from dockyard.errors import InvalidArgument

if TYPE_CHECKING:
    from dockyard.build.builder import BuildSession

_TYPES = ("cache", "bind", "secret", "tmpfs")


@dataclass
class MountSpec:
    type: str
    target: str
    options: dict[str, str] = field(default_factory=dict)

    def get(self, key: str, default: str = "") -> str:
        return self.options.get(key, default)


def parse_mount(raw: str, expanded: str) -> MountSpec:
    opts: dict[str, str] = {}
    for part in expanded.split(","):
        if not part:
            continue
        k, eq, v = part.partition("=")
        k = k.strip().lower()
        if k == "dst" or k == "destination":
            k = "target"
        if k == "src":
            k = "source"
        if k in ("readonly", "ro"):
            opts["readonly"] = v or "true"
            continue
        if k in ("rw", "readwrite"):
            opts["readonly"] = "false" if (v or "true") == "true" else "true"
            continue
        opts[k] = v if eq else "true"
    kind = opts.pop("type", "bind")
    if kind not in _TYPES:
        raise InvalidArgument(
            f"RUN --mount={raw}: unknown mount type {kind!r}: use cache, bind, secret or tmpfs"
        )
    target = opts.pop("target", "")
    if kind == "secret" and not target:
        sid = opts.get("id") or os.path.basename(opts.get("source", ""))
        if not sid:
            raise InvalidArgument(f"RUN --mount={raw}: a secret mount needs id=NAME")
        opts["id"] = sid
        target = f"/run/secrets/{sid}"
    if not target:
        raise InvalidArgument(f"RUN --mount={raw}: give target=/path")
    if not target.startswith("/"):
        raise InvalidArgument(f"RUN --mount={raw}: target {target!r} must be an absolute path")
    return MountSpec(kind, target, opts)


class RunMounts:
    def __init__(self, session: BuildSession, specs: list[MountSpec]) -> None:
        self.s = session
        self.specs = specs
        self._roots: dict[int, tuple[str, str | None]] = {}
        self._hashes: dict[int, str] = {}
        self._releases: list[Callable[[], Awaitable[None]]] = []
        self._files: list[str] = []

    async def resolve_sources(self) -> None:
        import asyncio

        for i, spec in enumerate(self.specs):
            if spec.type != "bind":
                continue
            root, image_id, release = await self.s.source_root(spec.get("from") or None)
            self._releases.append(release)
            self._roots[i] = (root, image_id)
            if image_id is None:
                sources = await asyncio.to_thread(
                    copymod.find_sources, root, spec.get("source", "."), "build context"
                )
                self._hashes[i] = await asyncio.to_thread(copymod.content_hash, sources)

    def cache_parts(self) -> list[Any]:
        parts: list[Any] = []
        for i, spec in enumerate(self.specs):
            entry: dict[str, Any] = {"type": spec.type, "target": spec.target}
            if spec.type == "cache":
                entry["id"] = spec.get("id") or spec.target
            elif spec.type == "bind":
                entry["source"] = spec.get("source", ".")
                entry["image"] = self._roots[i][1]
                entry["hash"] = self._hashes.get(i)
                entry["rw"] = spec.get("readonly", "true") == "false"
            elif spec.type == "secret":
                entry["id"] = spec.get("id")
            parts.append(entry)
        return parts

    async def prepare(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i, spec in enumerate(self.specs):
            if spec.type == "cache":
                cid = spec.get("id") or spec.target
                folder = self.s.cache_mount_dir(hashlib.sha256(cid.encode()).hexdigest()[:32])
                out.append({"Type": "bind", "Source": str(folder), "Target": spec.target, "ReadOnly": False})
            elif spec.type == "bind":
                root = self._roots[i][0]
                source = secure_join(root, spec.get("source", "."))
                if not os.path.exists(source):
                    raise InvalidArgument(f"RUN --mount: source {spec.get('source')!r} does not exist")
                ro = spec.get("readonly", "true") != "false"
                out.append({"Type": "bind", "Source": source, "Target": spec.target, "ReadOnly": ro})
            elif spec.type == "secret":
                sid = spec.get("id")
                value = self.s.options.secrets.get(sid)
                if value is None:
                    if spec.get("required", "false") == "true":
                        raise InvalidArgument(
                            f"secret {sid} not found: pass it with --secret id={sid},src=FILE"
                        )
                    continue
                path = os.path.join(self.s.tmpdir(), f"secret-{pysecrets.token_hex(8)}")
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
                with os.fdopen(fd, "wb") as f:
                    f.write(value)
                self._files.append(path)
                out.append({"Type": "bind", "Source": path, "Target": spec.target, "ReadOnly": True})
            else:
                out.append({"Type": "tmpfs", "Target": spec.target})
        return out

    def stubs(self) -> set[str]:
        """Mount points (and their parents) the runtime may have made: not part of the layer."""
        out: set[str] = set()
        for spec in self.specs:
            parts = [p for p in spec.target.split("/") if p]
            for n in range(1, len(parts) + 1):
                out.add("/".join(parts[:n]))
        return out

    async def release(self) -> None:
        for path in self._files:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        for release in self._releases:
            await release()
        self._releases.clear()

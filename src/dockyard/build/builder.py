"""The build: a Dockerfile's stages run on the image store, RUN steps through the step runner.

    Builder(images, runner, data_root).build(context_dir, options, emit, dockerfile_text=None)
        -> image id

Stages are built only when the target needs them (its FROM, COPY --from, RUN --mount from=),
independent ones at the same time. Output is Docker's legacy builder's: ``Step i/N : ...``,
`` ---> Using cache``, `` ---> <id>``, the RUN's own output, then ``Successfully built <short
id>`` and ``Successfully tagged <name>`` (docker-py and compose read the id from those lines),
and ``{"aux": {"ID": ...}}``. Tags are set only after every step succeeded.

Build time T (reproducible builds, the default): the build arg SOURCE_DATE_EPOCH when given,
else the stage's base image's ``created`` (the epoch for scratch). Every ``created`` and
history time is T and every mtime in a new layer is clamped to T, so the same context built
twice gives the same image id.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import secrets as pysecrets
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from dockyard.build import copy as copymod
from dockyard.build.cache import BuildCache
from dockyard.build.instructions import From, Plan, Stage, instruction, plan
from dockyard.build.layer import layer_tar
from dockyard.build.options import BuildOptions
from dockyard.build.parser import DockerfileError, parse
from dockyard.build.paths import secure_join
from dockyard.build.runner import StepRunner
from dockyard.build.shellwords import SubstitutionError, expand
from dockyard.build.state import DEFAULT_PATH, StageState, parse_rfc3339
from dockyard.build.steps import StageBuilder, StepFailed
from dockyard.errors import DockyardError, InvalidArgument, NotFound
from dockyard.images.model import Layer
from dockyard.images.service import ImageService
from dockyard.oci import platform as oci_platform
from dockyard.oci import reference

Emit = Callable[[dict[str, Any]], Awaitable[None]]
Release = Callable[[], Awaitable[None]]

#: the stage whose task is emitting (None: the build itself)
_STAGE: contextvars.ContextVar[int | None] = contextvars.ContextVar("dockyard_build_stage", default=None)


class OrderedOutput:
    """Stages run at the same time, but their output reads as if one ran after the other: the
    first unfinished stage (in file order) writes through, the others are held until then."""

    def __init__(self, emit: Emit) -> None:
        self._emit = emit
        self.order: list[int] = []
        self._pos = 0
        self._held: dict[int, list[dict[str, Any]]] = {}
        self._done: set[int] = set()

    def _current(self) -> int | None:
        return self.order[self._pos] if self._pos < len(self.order) else None

    async def write(self, message: dict[str, Any]) -> None:
        stage = _STAGE.get()
        if stage is None or stage == self._current() or self._current() is None:
            await self._emit(message)
        else:
            self._held.setdefault(stage, []).append(message)

    async def finish(self, stage: int) -> None:
        self._done.add(stage)
        while self._current() is not None and self._current() in self._done:
            nxt = self.order[self._pos + 1] if self._pos + 1 < len(self.order) else None
            if nxt is not None:
                held = self._held.setdefault(nxt, [])
                while held:
                    batch = list(held)
                    held.clear()
                    for m in batch:
                        await self._emit(m)
            self._pos += 1


async def _noop() -> None:
    return None


class BuildSession:
    """One build's shared state: what steps of every stage reach."""

    def __init__(
        self,
        builder: Builder,
        context_dir: Path,
        options: BuildOptions,
        emit: Emit,
        work: Path,
    ) -> None:
        self.builder = builder
        self.output = OrderedOutput(emit)
        self.images = builder.images
        self.runner = builder.runner
        self.cache = builder.cache
        self.options = options
        self.context_dir = context_dir
        self._emit = emit
        self.work = work
        self.touched: list[str] = []
        self.used_args: set[str] = set()
        self.meta_args: dict[str, str] = {}
        self.stage_results: dict[int, asyncio.Future[str]] = {}
        self.plan: Plan | None = None
        self._cache_from: dict[tuple[str, str], str] = {}

    async def stream(self, text: str) -> None:
        if not self.options.quiet:
            await self.output.write({"stream": text})

    async def emit(self, message: dict[str, Any]) -> None:
        await self.output.write(message)

    def tmpdir(self) -> str:
        return str(self.work)

    def cache_mount_dir(self, name: str) -> Path:
        folder = self.builder.root / "cachemounts" / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    # ------------------------------------------------------------------ images and stages

    async def stage_image(self, ref: str) -> str | None:
        """The result of an earlier stage named (or numbered) ``ref``; None if no such stage."""
        assert self.plan is not None
        stage = self.plan.stage(ref)
        if stage is None:
            return None
        future = self.stage_results.get(stage.index)
        if future is None:
            raise InvalidArgument(f"stage {ref!r} is not built in this build")
        return await asyncio.shield(future)

    async def image(self, ref: str, *, pull: bool = False) -> str:
        """An image id by reference, pulled when missing (or always with ``pull``)."""
        found = None if pull else await asyncio.to_thread(self.images.resolve_id, ref)
        if found is not None:
            return found
        try:
            async for message in self.images.pull(ref, self.options.auth, self.options.platform):
                if "error" in message:
                    raise DockyardError(str(message["error"]))
                status = message.get("status")
                if status and not message.get("progressDetail"):
                    await self.emit({"status": status, **({"id": message["id"]} if "id" in message else {})})
        except DockyardError as e:
            local = await asyncio.to_thread(self.images.resolve_id, ref)
            if local is not None and pull:
                await self.stream(f"[Warning] pull of {ref} failed ({e}); using the local image\n")
                return local
            raise NotFound(f"pull access denied or image not found for {ref}: {e}") from None
        found = await asyncio.to_thread(self.images.resolve_id, ref)
        if found is None:
            raise NotFound(f"No such image: {ref}")
        return found

    async def source_root(self, from_ref: str | None) -> tuple[str, str | None, Release]:
        """(folder to read from, its image id or None for the context, release)."""
        if from_ref is None:
            return str(self.context_dir), None, _noop
        image_id = await self.stage_image(from_ref)
        if image_id is None:
            image_id = await self.image(from_ref)
        path, release = await asyncio.to_thread(self.mount_image, image_id)
        return path, image_id, release

    def mount_image(self, image_id: str) -> tuple[str, Release]:
        wid = f"build-{pysecrets.token_hex(8)}"
        target = self.builder.root / "mnt" / wid
        self.images.prepare_rootfs(wid, image_id, target)

        async def release() -> None:
            await asyncio.to_thread(self._unmount, wid, target)

        return str(target), release

    def _unmount(self, wid: str, target: Path) -> None:
        self.images.unmount_rootfs(wid, target)
        self.images.remove_rootfs(wid)
        shutil.rmtree(target, ignore_errors=True)

    # ------------------------------------------------------------------ layers (blocking)

    def copy_layer(
        self,
        image_id: str,
        sources: list[copymod.Source],
        dest: str,
        chown: str | None,
        chmod: int | None,
        extract: bool,
        clamp: int | None,
    ) -> Layer:
        wid = f"build-{pysecrets.token_hex(8)}"
        target = self.builder.root / "mnt" / wid
        self.images.prepare_rootfs(wid, image_id, target)
        try:
            try:
                owner = copymod.resolve_owner(str(target), chown)
                copymod.Copier(str(target), owner, chmod).copy(sources, dest, extract=extract)
            finally:
                self.images.unmount_rootfs(wid, target)
            return self._layer(wid, clamp, set())
        finally:
            self.images.remove_rootfs(wid)
            shutil.rmtree(target, ignore_errors=True)

    def layer_from_container(self, cid: str, clamp: int | None, stubs: set[str]) -> Layer:
        return self._layer(cid, clamp, stubs)

    def _layer(self, cid: str, clamp: int | None, stubs: set[str]) -> Layer:
        snaps = self.images.snapshots
        upper = snaps.upper_dir(cid)
        lowers = snaps.mount_of(cid).lower_paths()
        return self.images.add_layer(layer_tar(upper, clamp, lowers, stubs), snaps.parent_of(cid))

    # ------------------------------------------------------------------ ADD <url>

    async def fetch(self, url: str, checksum: str | None, tmp: Path, clamp: int | None) -> copymod.Source:
        name = os.path.basename(urllib.parse.urlparse(url).path) or "__unnamed__"
        path = tmp / f"url-{pysecrets.token_hex(4)}" / name
        path.parent.mkdir(parents=True)

        def download() -> None:
            import hashlib

            h = hashlib.sha256()
            try:
                with urllib.request.urlopen(url, timeout=30) as resp, open(path, "wb") as f:
                    modified = resp.headers.get("Last-Modified")
                    while chunk := resp.read(1 << 20):
                        h.update(chunk)
                        f.write(chunk)
            except (urllib.error.URLError, OSError) as e:
                raise StepFailed(f"ADD failed: cannot download {url}: {e}") from None
            if checksum:
                algo, _, want = checksum.partition(":")
                if algo != "sha256" or not want:
                    raise InvalidArgument(f"ADD --checksum={checksum}: use sha256:<hex>")
                if h.hexdigest() != want:
                    raise StepFailed(
                        f"ADD failed: checksum of {url} is sha256:{h.hexdigest()}, expected {checksum}"
                    )
            os.chmod(path, 0o600)
            mtime = time.time()
            if modified:
                from email.utils import parsedate_to_datetime

                try:
                    mtime = parsedate_to_datetime(modified).timestamp()
                except (TypeError, ValueError):
                    pass
            if clamp is not None:
                mtime = min(mtime, clamp)
            os.utime(path, (mtime, mtime))

        await asyncio.to_thread(download)
        return copymod.Source(url, str(path), name)

    # ------------------------------------------------------------------ --cache-from

    async def load_cache_from(self) -> None:
        """Index the --cache-from images and their local parents by (parent, created_by)."""
        for ref in self.options.cache_from:
            image_id = await asyncio.to_thread(self.images.resolve_id, ref)
            while image_id:
                img = await asyncio.to_thread(self.images.get, image_id)
                history = [h for h in img.config.get("history") or []]
                if history and img.parent:
                    self._cache_from[(img.parent, str(history[-1].get("created_by", "")))] = img.id
                image_id = img.parent or None

    def cache_from_match(self, parent: str | None, created_by: str | None) -> str | None:
        if not parent or created_by is None:
            return None
        return self._cache_from.get((parent, created_by))


class Builder:
    def __init__(self, images: ImageService, runner: StepRunner, data_root: Path) -> None:
        self.images = images
        self.runner = runner
        self.root = Path(data_root) / "build"
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        (self.root / "mnt").mkdir(parents=True, exist_ok=True)
        self._clean_leftovers()
        self.cache = BuildCache(self.root / "cache.db")

    def _clean_leftovers(self) -> None:
        """What a daemon that died mid-build left: mounted work snapshots and temp folders.

        The builder is made at the first build of a daemon's life, so nothing here is in use.
        """
        for target in (self.root / "mnt").iterdir():
            self.images.unmount_rootfs(target.name, target)
            self.images.remove_rootfs(target.name)
            shutil.rmtree(target, ignore_errors=True)
        for leftover in (self.root / "tmp").iterdir():
            shutil.rmtree(leftover, ignore_errors=True)

    def close(self) -> None:
        self.cache.close()

    def prune(self, all_cache: bool = True, in_use: Callable[[str], Any] = lambda _i: None) -> dict[str, Any]:
        """``builder prune``: forget every cached step and remove the images only the cache held
        (``in_use(image_id)``: truthy when a container uses the image: it stays)."""
        ids = self.cache.image_ids()
        self.cache.clear()
        deleted: list[str] = []
        reclaimed = 0
        left = sorted(ids)
        while left:
            # An image with children cannot go first: pass again while the last pass removed some.
            kept: list[str] = []
            for image_id in left:
                try:
                    img = self.images.get(image_id)
                except DockyardError:
                    continue
                if img.repo_tags or img.repo_digests:
                    continue
                try:
                    self.images.remove(image_id, force=False, noprune=True, in_use=in_use)
                except DockyardError:
                    kept.append(image_id)
                    continue
                deleted.append(image_id)
                reclaimed += img.size
            if len(kept) == len(left):
                break
            left = kept
        mounts = self.root / "cachemounts"
        if all_cache and mounts.exists():
            for sub in mounts.iterdir():
                shutil.rmtree(sub, ignore_errors=True)
                deleted.append(f"cachemount:{sub.name}")
        return {"CachesDeleted": deleted, "SpaceReclaimed": reclaimed}

    def read_dockerfile(self, context_dir: Path, name: str) -> str:
        path = secure_join(str(context_dir), name)
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFound(
                f"Cannot locate specified Dockerfile: {name}: give its path inside the context with -f"
            ) from None

    async def build(
        self, context_dir: Path, options: BuildOptions, emit: Emit, dockerfile_text: str | None = None
    ) -> str:
        for tag in options.tags:
            reference.parse(tag)  # an invalid -t fails before any step
        if dockerfile_text is None:
            dockerfile_text = await asyncio.to_thread(self.read_dockerfile, context_dir, options.dockerfile)
        name = os.path.basename(options.dockerfile) or "Dockerfile"
        if name.startswith("__dockerfile"):
            name = "Dockerfile"
        the_plan = plan(parse(dockerfile_text, name))
        self._check_platform(options.platform)
        work = Path(os.path.join(self.root, "tmp", f"b-{pysecrets.token_hex(8)}"))
        work.mkdir(parents=True)
        session = BuildSession(self, context_dir, options, emit, work)
        session.plan = the_plan
        try:
            await session.load_cache_from()
            return await self._run(session, the_plan)
        finally:
            await asyncio.to_thread(shutil.rmtree, work, True)

    @staticmethod
    def _check_platform(platform: str | None) -> None:
        if not platform:
            return
        want = oci_platform.parse(platform)
        host = oci_platform.host()
        if want.os != host.os or want.architecture != host.architecture:
            raise InvalidArgument(f"platform {platform} is not supported here: this host builds for {host}")

    def _meta_args(self, session: BuildSession, the_plan: Plan) -> dict[str, str]:
        host = str(oci_platform.host())
        hp = oci_platform.host()
        values: dict[str, str] = {
            "TARGETPLATFORM": host,
            "TARGETOS": hp.os,
            "TARGETARCH": hp.architecture,
            "BUILDPLATFORM": host,
            "BUILDOS": hp.os,
            "BUILDARCH": hp.architecture,
        }
        declared: dict[str, str] = {}
        for ins in the_plan.meta_args:
            for key, default in ins.pairs:
                given = session.options.build_args.get(key)
                if given is not None:
                    declared[key] = given
                    session.used_args.add(key)
                elif default is not None:
                    try:
                        declared[key] = expand(default, {**values, **declared}, the_plan.escape)
                    except SubstitutionError as e:
                        raise DockerfileError(the_plan.name, ins.line, str(e), e.column + 1) from None
                elif key in values:
                    declared[key] = values[key]
        return {**values, **declared}

    def _deps(self, session: BuildSession, stage: Stage) -> set[int]:
        assert session.plan is not None
        deps: set[int] = set()
        refs: list[str] = [self._from_name(session, stage.base)]
        for ins in stage.instructions:
            value = ins.flag("from")
            if value:
                refs.append(value)
            for m in ins.flags.get("mount", []):
                for part in m.split(","):
                    k, _, v = part.partition("=")
                    if k.strip() == "from" and v:
                        refs.append(v)
        for ref in refs:
            try:
                ref = expand(ref, session.meta_args, session.plan.escape)
            except SubstitutionError:
                continue
            other = session.plan.stage(ref)
            if other is not None and other.index < stage.index:
                deps.add(other.index)
        return deps

    def _from_name(self, session: BuildSession, base: From) -> str:
        assert session.plan is not None
        try:
            return expand(base.image, session.meta_args, session.plan.escape)
        except SubstitutionError as e:
            raise DockerfileError(session.plan.name, base.line, str(e), e.column + 1) from None

    async def _run(self, session: BuildSession, the_plan: Plan) -> str:
        options = session.options
        session.meta_args = self._meta_args(session, the_plan)
        target = the_plan.stages[-1]
        if options.target:
            found = the_plan.stage(options.target)
            if found is None:
                raise InvalidArgument(f"failed to reach build target {options.target} in Dockerfile")
            target = found
        needed: set[int] = set()
        todo = [target.index]
        while todo:
            i = todo.pop()
            if i in needed:
                continue
            needed.add(i)
            todo.extend(self._deps(session, the_plan.stages[i]))
        order = sorted(needed)
        total = sum(1 + len(the_plan.stages[i].instructions) for i in order) + (1 if options.labels else 0)
        offsets: dict[int, int] = {}
        n = 0
        for i in order:
            offsets[i] = n
            n += 1 + len(the_plan.stages[i].instructions)
        loop = asyncio.get_running_loop()
        session.output.order = order
        for i in order:
            session.stage_results[i] = loop.create_future()
        tasks = [
            asyncio.create_task(self._stage(session, the_plan, the_plan.stages[i], offsets[i], total))
            for i in order
        ]
        try:
            final_state = None
            for i, task in zip(order, tasks, strict=True):
                state = await task
                if i == target.index:
                    final_state = state
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for fut in session.stage_results.values():
                if not fut.done():
                    fut.cancel()
                elif not fut.cancelled():
                    fut.exception()  # retrieved: no "never retrieved" warning
            raise
        assert final_state is not None
        stage_builder = final_state
        if options.labels:
            labels = dict(options.labels)
            await session.stream(
                f"Step {total}/{total} : LABEL " + " ".join(f"{k}={v}" for k, v in labels.items()) + "\n"
            )
            await stage_builder._metadata(
                target.base,
                "LABEL " + " ".join(f"{k}={v}" for k, v in sorted(labels.items())),
                lambda cfg: cfg.__setitem__("Labels", {**(cfg.get("Labels") or {}), **labels}),
            )
        image_id = await stage_builder._ensure_image()
        unused = sorted(k for k in options.build_args if k not in session.used_args)
        if unused:
            await session.stream(f"[Warning] One or more build-args [{' '.join(unused)}] were not consumed\n")
        await session.emit({"aux": {"ID": image_id}})
        short = image_id.partition(":")[2][:12]
        await session.stream(f"Successfully built {short}\n")
        for tag in options.tags:
            ref = reference.parse(tag)
            await asyncio.to_thread(self.images.tag, image_id, str(ref), None)
            await session.stream(f"Successfully tagged {ref.familiar()}\n")
        if options.quiet:
            await session.emit({"stream": image_id + "\n"})
        return image_id

    async def _stage(
        self, session: BuildSession, the_plan: Plan, stage: Stage, offset: int, total: int
    ) -> StageBuilder:
        future = session.stage_results[stage.index]
        _STAGE.set(stage.index)
        try:
            sb = await self._stage_steps(session, the_plan, stage, offset, total)
            image_id = await sb._ensure_image()
        except BaseException as e:
            if not future.done():
                future.set_exception(e if isinstance(e, Exception) else asyncio.CancelledError())
            raise
        future.set_result(image_id)
        _STAGE.set(None)
        await session.output.finish(stage.index)
        return sb

    async def _stage_steps(
        self, session: BuildSession, the_plan: Plan, stage: Stage, offset: int, total: int
    ) -> StageBuilder:
        options = session.options
        base_name = self._from_name(session, stage.base)
        self._check_platform(
            expand(stage.base.flag("platform") or "", session.meta_args, the_plan.escape) or None
        )
        step = offset + 1
        await session.stream(f"Step {step}/{total} : {_text(stage.base)}\n")
        sde = options.build_args.get("SOURCE_DATE_EPOCH")
        if sde is not None and not sde.isdigit():
            raise InvalidArgument(f"SOURCE_DATE_EPOCH={sde!r}: use whole seconds since 1970")
        if sde is not None:
            session.used_args.add("SOURCE_DATE_EPOCH")
        host = oci_platform.host()
        if base_name.lower() == "scratch":
            config: dict[str, Any] = {
                "architecture": host.architecture,
                "os": host.os,
                "config": {"Env": [DEFAULT_PATH]},
                "rootfs": {"type": "layers", "diff_ids": []},
                "history": [],
            }
            state = StageState(None, config, [], float(sde) if sde is not None else 0.0, options.reproducible)
            await session.stream(" ---> \n")
        else:
            image_id = await session.stage_image(base_name)
            if image_id is None:
                image_id = await session.image(base_name, pull=options.pull)
            img = await asyncio.to_thread(self.images.get, image_id)
            created = (
                float(sde) if sde is not None else float(parse_rfc3339(str(img.config.get("created") or "")))
            )
            state = StageState(img.id, img.config, list(img.layers), created, options.reproducible)
            session.touched.append(img.id)
            await session.stream(f" ---> {img.short_id}\n")
        sb = StageBuilder(session, state, the_plan.escape, the_plan.name)
        triggers = list(state.run_config.get("OnBuild") or [])
        if triggers:
            state.config = state.child()
            state.run_config["OnBuild"] = None
            await session.stream(
                f"# Executing {len(triggers)} build trigger{'s' if len(triggers) > 1 else ''}\n"
            )
            for trigger in triggers:
                nodes = parse(trigger, the_plan.name).nodes
                for node in nodes:
                    await sb.execute(instruction(node, the_plan.name, the_plan.escape))
        for ins in stage.instructions:
            step += 1
            await session.stream(f"Step {step}/{total} : {_text(ins)}\n")
            await sb.execute(ins)
        return sb


def _text(ins: Any) -> str:
    node = ins.node
    parts = [node.keyword, *node.flags, node.args]
    return " ".join(p for p in parts if p)

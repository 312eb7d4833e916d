"""One stage's instructions, step by step: each looks up the cache, else runs and commits.

Every instruction after FROM makes an image (registered in the image store, untagged: an
intermediate image hidden from ``images`` without ``-a``), as Docker's legacy builder does;
metadata instructions add a history entry marked ``empty_layer``, RUN, COPY and ADD add a layer.
"""

from __future__ import annotations

import asyncio
import os
import secrets as pysecrets
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.build import copy as copymod
from dockyard.build.cache import step_key
from dockyard.build.instructions import (
    CommandInstruction,
    Copy,
    Healthcheck,
    Instruction,
    KeyValues,
    Onbuild,
    Run,
    Words,
)
from dockyard.build.mounts import RunMounts, parse_mount
from dockyard.build.runner import RunStep
from dockyard.build.shellwords import SubstitutionError, expand, expand_words
from dockyard.build.state import StageState, check_signal, exposed_ports, parse_duration
from dockyard.errors import DockyardError, InvalidArgument

if TYPE_CHECKING:
    from dockyard.build.builder import BuildSession

Emit = Callable[[str], Awaitable[None]]


class StepFailed(DockyardError):
    """A step that failed; ``code`` is the RUN's exit code (errorDetail.code)."""

    http_status = 400

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class StageBuilder:
    def __init__(self, session: BuildSession, state: StageState, escape: str, name: str) -> None:
        self.s = session
        self.state = state
        self.escape = escape
        self.name = name
        self.cache_broken = session.options.no_cache

    # ------------------------------------------------------------------ helpers

    def expand(self, ins: Instruction, word: str) -> str:
        try:
            return expand(word, self.state.expansion_env(), self.escape)
        except SubstitutionError as e:
            raise InvalidArgument(f"{self.name}:{ins.line}:{e.column + 1}: {e}") from None

    def expand_words(self, ins: Instruction, text: str) -> list[str]:
        try:
            return expand_words(text, self.state.expansion_env(), self.escape)
        except SubstitutionError as e:
            raise InvalidArgument(f"{self.name}:{ins.line}:{e.column + 1}: {e}") from None

    async def _cached(self, key: str, created_by: str | None = None) -> bool:
        if self.cache_broken:
            return False
        image_id = await asyncio.to_thread(self.s.cache.get, key)
        if image_id is None:
            image_id = self.s.cache_from_match(self.state.image_id, created_by)
        if image_id is None:
            self.cache_broken = True
            return False
        try:
            image = await asyncio.to_thread(self.s.images.get, image_id)
        except DockyardError:
            await asyncio.to_thread(self.s.cache.drop, key)
            self.cache_broken = True
            return False
        self.state.image_id = image.id
        self.state.config = image.config
        self.state.layers = list(image.layers)
        self.s.touched.append(image.id)
        await self.s.stream(" ---> Using cache\n")
        await self.s.stream(f" ---> {image.short_id}\n")
        return True

    async def _commit(self, key: str, created_by: str, layer: Any | None, config: dict[str, Any]) -> None:
        history = list(config.get("history") or [])
        entry: dict[str, Any] = {"created": self.state.created(), "created_by": created_by}
        if layer is None:
            entry["empty_layer"] = True
        history.append(entry)
        config["history"] = history
        config["created"] = self.state.created()
        layers = list(self.state.layers)
        if layer is not None:
            layers.append(layer)
            config["rootfs"] = {"type": "layers", "diff_ids": [la.diff_id for la in layers]}
        config.setdefault("rootfs", {"type": "layers", "diff_ids": []})
        parent = self.state.image_id or ""
        image_id = await asyncio.to_thread(self.s.images.register, config, layers, parent=parent)
        await asyncio.to_thread(self.s.cache.put, key, image_id)
        self.state.image_id = image_id
        self.state.config = config
        self.state.layers = layers
        self.s.touched.append(image_id)
        await self.s.stream(f" ---> {image_id.partition(':')[2][:12]}\n")

    async def _metadata(self, ins: Instruction, text: str, change: Callable[[dict[str, Any]], None]) -> None:
        key = step_key(self.state.image_id, {"meta": text, "created": self.state.created()})
        created_by = f"/bin/sh -c #(nop)  {text}"
        if await self._cached(key, created_by):
            return
        config = self.state.child()
        cfg = config.setdefault("config", {})
        change(cfg)
        await self._commit(key, created_by, None, config)

    # ------------------------------------------------------------------ dispatch

    async def execute(self, ins: Instruction) -> None:
        kw = ins.keyword
        if kw == "RUN":
            assert isinstance(ins, Run)
            await self.run(ins)
        elif kw in ("COPY", "ADD"):
            assert isinstance(ins, Copy)
            await self.copy(ins)
        elif kw == "ARG":
            assert isinstance(ins, KeyValues)
            await self.arg(ins)
        elif kw in ("ENV", "LABEL"):
            assert isinstance(ins, KeyValues)
            await self.env_or_label(ins)
        elif kw in ("CMD", "ENTRYPOINT", "SHELL"):
            assert isinstance(ins, CommandInstruction)
            await self.command(ins)
        elif kw == "HEALTHCHECK":
            assert isinstance(ins, Healthcheck)
            await self.healthcheck(ins)
        elif kw == "ONBUILD":
            assert isinstance(ins, Onbuild)
            trigger = ins.trigger

            def add(cfg: dict[str, Any]) -> None:
                cfg["OnBuild"] = [*(cfg.get("OnBuild") or []), trigger]

            await self._metadata(ins, f"ONBUILD {trigger}", add)
        else:
            assert isinstance(ins, Words)
            await self.words(ins)

    # ------------------------------------------------------------------ metadata instructions

    async def arg(self, ins: KeyValues) -> None:
        parts = []
        for key, default in ins.pairs:
            value: str | None
            if key in self.s.options.build_args and self.s.options.build_args[key] is not None:
                value = self.s.options.build_args[key]
                self.s.used_args.add(key)
            elif default is not None:
                value = self.expand(ins, default)
            else:
                value = self.s.meta_args.get(key)
            if key in self.s.options.build_args:
                self.s.used_args.add(key)
            if value is not None:
                self.state.args[key] = value
            parts.append(f"{key}={value}" if default is not None else key)
        await self._metadata(ins, "ARG " + " ".join(parts), lambda cfg: None)

    async def env_or_label(self, ins: KeyValues) -> None:
        pairs = [(self.expand(ins, k), self.expand(ins, v or "")) for k, v in ins.pairs]
        text = ins.keyword + " " + " ".join(f"{k}={v}" for k, v in pairs)
        if ins.keyword == "ENV":

            def change(cfg: dict[str, Any]) -> None:
                env = [e for e in cfg.get("Env") or [] if e.partition("=")[0] not in {k for k, _ in pairs}]
                cfg["Env"] = env + [f"{k}={v}" for k, v in pairs]
        else:

            def change(cfg: dict[str, Any]) -> None:
                cfg["Labels"] = {**(cfg.get("Labels") or {}), **dict(pairs)}

        await self._metadata(ins, text, change)

    async def command(self, ins: CommandInstruction) -> None:
        cmd = ins.command
        kw = ins.keyword
        if kw == "SHELL":
            argv = list(cmd.argv or [])
            await self._metadata(ins, f"SHELL {argv}", lambda cfg: cfg.__setitem__("Shell", argv))
            return
        argv = cmd.argv if cmd.argv is not None else [*self.state.shell(), cmd.shell or ""]
        if kw == "CMD":
            self.state.cmd_set = True
            await self._metadata(ins, f"CMD {_json(argv)}", lambda cfg: cfg.__setitem__("Cmd", argv))
            return
        keep_cmd = self.state.cmd_set

        def change(cfg: dict[str, Any]) -> None:
            cfg["Entrypoint"] = argv
            if not keep_cmd:
                # ENTRYPOINT drops a CMD inherited from the base image (Dockerfile reference).
                cfg["Cmd"] = None

        await self._metadata(ins, f"ENTRYPOINT {_json(argv)}", change)

    async def healthcheck(self, ins: Healthcheck) -> None:
        if ins.none or ins.command is None:
            hc: dict[str, Any] = {"Test": ["NONE"]}
        else:
            c = ins.command
            test = ["CMD", *c.argv] if c.argv is not None else ["CMD-SHELL", c.shell or ""]
            hc = {"Test": test}
            for flag, key in (
                ("interval", "Interval"),
                ("timeout", "Timeout"),
                ("start-period", "StartPeriod"),
                ("start-interval", "StartInterval"),
            ):
                value = ins.flag(flag)
                if value is not None:
                    hc[key] = parse_duration(value, flag)
            retries = ins.flag("retries")
            if retries is not None:
                if not retries.isdigit():
                    raise InvalidArgument(f"invalid --retries={retries}: use a whole number")
                hc["Retries"] = int(retries)
        await self._metadata(ins, f"HEALTHCHECK {_json(hc)}", lambda cfg: cfg.__setitem__("Healthcheck", hc))

    async def words(self, ins: Words) -> None:
        kw = ins.keyword
        if kw == "EXPOSE":
            ports = exposed_ports(self.expand_words(ins, ins.text))

            def expose(cfg: dict[str, Any]) -> None:
                cfg["ExposedPorts"] = {**(cfg.get("ExposedPorts") or {}), **{p: {} for p in ports}}

            await self._metadata(ins, "EXPOSE " + " ".join(ports), expose)
        elif kw == "VOLUME":
            vols = (
                [self.expand(ins, v) for v in ins.items]
                if ins.items is not None
                else self.expand_words(ins, ins.text)
            )
            for v in vols:
                if not v.strip():
                    raise InvalidArgument(
                        f"{self.name}:{ins.line}: VOLUME specified can not be an empty string"
                    )

            def volume(cfg: dict[str, Any]) -> None:
                cfg["Volumes"] = {**(cfg.get("Volumes") or {}), **{v: {} for v in vols}}

            await self._metadata(ins, f"VOLUME {_json(vols)}", volume)
        elif kw == "USER":
            user = self.expand(ins, ins.text)
            await self._metadata(ins, f"USER {user}", lambda cfg: cfg.__setitem__("User", user))
        elif kw == "WORKDIR":
            path = self.expand(ins, ins.text)
            if not path.startswith("/"):
                path = os.path.join(self.state.run_config.get("WorkingDir") or "/", path)
            path = os.path.normpath(path)
            await self._metadata(ins, f"WORKDIR {path}", lambda cfg: cfg.__setitem__("WorkingDir", path))
        elif kw == "STOPSIGNAL":
            sig = check_signal(self.expand(ins, ins.text))
            await self._metadata(ins, f"STOPSIGNAL {sig}", lambda cfg: cfg.__setitem__("StopSignal", sig))
        elif kw == "MAINTAINER":
            author = ins.text
            key = step_key(
                self.state.image_id, {"meta": f"MAINTAINER {author}", "created": self.state.created()}
            )
            created_by = f"/bin/sh -c #(nop)  MAINTAINER {author}"
            if await self._cached(key, created_by):
                return
            config = self.state.child()
            config["author"] = author
            await self._commit(key, created_by, None, config)

    # ------------------------------------------------------------------ RUN

    def _run_argv(self, ins: Run) -> list[str]:
        cmd = ins.command
        if cmd.argv is not None:
            return list(cmd.argv)
        script = cmd.shell or ""
        if ins.heredocs:
            first = ins.heredocs[0]
            if len(ins.heredocs) == 1 and script.strip().lstrip("<-").strip("\"'") == first.name:
                script = first.content  # RUN <<EOF alone: the body is the script
            else:
                # The shell reads the heredocs itself (busybox sh and bash both do).
                script = script + "\n" + "".join(f"{h.content}{h.name}\n" for h in ins.heredocs)
        return [*self.state.shell(), script]

    async def run(self, ins: Run) -> None:
        argv = self._run_argv(ins)
        network = ins.flag("network") or self.s.options.network
        if network not in ("default", "none", "host", "bridge"):
            raise InvalidArgument(
                f"{self.name}:{ins.line}: RUN --network={network}: use none, default or host"
            )
        specs = [parse_mount(m, self.expand(ins, m)) for m in ins.flags.get("mount", [])]
        mounts = RunMounts(self.s, specs)
        await mounts.resolve_sources()
        args_env = sorted(f"{k}={v}" for k, v in self.state.args.items())
        key = step_key(
            self.state.image_id,
            {
                "run": argv,
                "args": args_env,
                "mounts": mounts.cache_parts(),
                "network": network,
                "created": self.state.created(),
            },
        )
        created_by = _display(argv)
        if args_env:
            created_by = f"|{len(args_env)} {' '.join(args_env)} {created_by}"
        if await self._cached(key, created_by):
            return
        env_map = self.state.env()
        env = [f"{k}={v}" for k, v in self.state.args.items() if k not in env_map]
        env = list(self.state.run_config.get("Env") or []) + env
        if not any(e.startswith("PATH=") for e in env):
            env.insert(0, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        image_id = await self._ensure_image()
        try:
            engine_mounts = await mounts.prepare()
            step = RunStep(
                image_id=image_id,
                argv=argv,
                env=env,
                user=self.state.run_config.get("User") or "",
                workdir=self.state.run_config.get("WorkingDir") or "",
                network="default" if network == "bridge" else network,
                mounts=engine_mounts,
            )
            cid = await self.s.runner.create(step)
            await self.s.stream(f" ---> Running in {cid[:12]}\n")
            tail: list[bytes] = []

            async def output(data: bytes) -> None:
                tail.append(data)
                del tail[:-20]
                await self.s.stream(data.decode("utf-8", "replace"))

            removed = False
            try:
                code = await self.s.runner.run(cid, output)
                if code != 0:
                    shown = _display(argv)
                    raise StepFailed(f"The command '{shown}' returned a non-zero code: {code}", code)
                layer = await asyncio.to_thread(
                    self.s.layer_from_container, cid, self.state.clamp(), mounts.stubs()
                )
            except BaseException:
                if self.s.options.force_remove or self.s.options.remove:
                    await self.s.runner.remove(cid)
                    removed = True
                raise
            finally:
                if not removed and self.s.options.remove:
                    await self.s.runner.remove(cid)
                    await self.s.stream(f" ---> Removing intermediate container {cid[:12]}\n")
        finally:
            await mounts.release()
        await self._commit(key, created_by, layer, self.state.child())

    async def _ensure_image(self) -> str:
        """The stage's image id; a scratch stage with no step yet is registered empty."""
        if self.state.image_id is None:
            config = self.state.child()
            config.setdefault("rootfs", {"type": "layers", "diff_ids": []})
            self.state.image_id = await asyncio.to_thread(self.s.images.register, config, [])
            self.s.touched.append(self.state.image_id)
        return self.state.image_id

    # ------------------------------------------------------------------ COPY and ADD

    async def copy(self, ins: Copy) -> None:
        kw = ins.keyword
        dest = self.expand(ins, ins.dest)
        dest = copymod.dest_path(dest, self.state.run_config.get("WorkingDir") or "/")
        if ins.dest.endswith("/") and not dest.endswith("/"):
            dest += "/"
        chown = self.expand(ins, ins.flag("chown") or "") or None
        chmod = copymod.parse_chmod(ins.flag("chmod"))
        from_ref = ins.flag("from")
        if from_ref is not None and kw == "ADD":
            raise InvalidArgument(f"{self.name}:{ins.line}: ADD has no --from flag: use COPY --from")
        tmp = Path(self.s.tmpdir()) / f"src-{pysecrets.token_hex(4)}"
        tmp.mkdir(parents=True)
        try:
            root, from_id, release = await self.s.source_root(
                self.expand(ins, from_ref) if from_ref else None
            )
            try:
                sources: list[copymod.Source] = []
                heredocs = {h.name: h for h in ins.heredocs}
                for raw in ins.sources:
                    word = raw.lstrip("<-").strip("\"'") if raw.startswith("<<") else None
                    if word is not None and word in heredocs:
                        h = heredocs[word]
                        content = self.expand(ins, h.content) if h.expand else h.content
                        (tmp / word).write_text(content)
                        os.chmod(tmp / word, 0o644)
                        sources.append(copymod.Source(word, str(tmp / word), word))
                        continue
                    pattern = self.expand(ins, raw)
                    if kw == "ADD" and pattern.startswith(("http://", "https://")):
                        sources.append(
                            await self.s.fetch(pattern, ins.flag("checksum"), tmp, self.state.clamp())
                        )
                        continue
                    what = "build context" if from_id is None else f"image {from_ref}"
                    try:
                        sources.extend(await asyncio.to_thread(copymod.find_sources, root, pattern, what))
                    except DockyardError as e:
                        raise StepFailed(f"{kw} failed: {e}") from None
                digest = await asyncio.to_thread(copymod.content_hash, sources)
                key = step_key(
                    self.state.image_id,
                    {
                        kw.lower(): dest,
                        "hash": digest,
                        "chown": chown,
                        "chmod": chmod,
                        "from": from_id,
                        "names": [s.rel for s in sources],
                        "created": self.state.created(),
                    },
                )
                kind = "dir" if len(sources) == 1 and os.path.isdir(sources[0].path) else "file"
                kind = "multi" if len(sources) > 1 else kind
                created_by = f"/bin/sh -c #(nop) {kw} {kind}:{digest} in {dest} "
                if await self._cached(key, created_by):
                    return
                image_id = await self._ensure_image()
                layer = await asyncio.to_thread(
                    self.s.copy_layer, image_id, sources, dest, chown, chmod, kw == "ADD", self.state.clamp()
                )
            finally:
                await release()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        await self._commit(key, created_by, layer, self.state.child())


def _json(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"))


def _display(argv: list[str]) -> str:
    return " ".join(argv)

"""POST /build (the classic builder's API, as ``DOCKER_BUILDKIT=0 docker build`` uses it) and
POST /build/prune.

The body is the context: a tar (plain, gzip, bzip2, xz) or a Dockerfile alone. It is spooled to
a temp folder under the data root, unpacked less what .dockerignore excludes, and built; the
answer is newline-delimited JSON streamed as the build goes (``stream``, ``status``, ``aux``,
and ``error``/``errorDetail`` when a step fails), status 200 as dockerd sends it. A bad query
(an invalid tag, malformed buildargs) is a plain 400 before the stream starts.

Dockyard's own extras: ``reproducible=0`` (Docker's timestamps: now), and the
``X-Dockyard-Build-Secrets`` header (base64 JSON {id: base64 value}) for RUN --mount=type=secret.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web

from dockyard.build.builder import Builder
from dockyard.build.context import apply_dockerignore, unpack
from dockyard.build.options import BuildOptions
from dockyard.build.steps import StepFailed
from dockyard.daemon.app import context
from dockyard.daemon.build_steps import EngineStepRunner
from dockyard.daemon.http import JSON, bool_param, json_response, str_param
from dockyard.errors import DockyardError, InvalidArgument
from dockyard.oci import reference

_BATCH = 1 << 20


def builder_of(request: web.Request) -> Builder:
    ctx = context(request)
    if ctx.builder is None:
        if ctx.images is None or ctx.engine is None:
            raise DockyardError("the image service and the engine are not running")
        ctx.builder = Builder(ctx.images, EngineStepRunner(ctx.engine), Path(ctx.options.data_root))
    b: Builder = ctx.builder
    return b


def _json_param(request: web.Request, name: str) -> Any:
    raw = str_param(request, name)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise InvalidArgument(f"invalid {name} parameter {raw!r}: expected JSON") from None


def _string_map(value: Any, name: str) -> dict[str, str | None]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise InvalidArgument(f"invalid {name} parameter: expected a JSON object of strings")
    return {k: (None if v is None else str(v)) for k, v in value.items()}


def _secrets(request: web.Request) -> dict[str, bytes]:
    raw = request.headers.get("X-Dockyard-Build-Secrets", "")
    if not raw:
        return {}
    try:
        data = json.loads(base64.b64decode(raw))
        return {str(k): base64.b64decode(v) for k, v in data.items()}
    except (binascii.Error, ValueError, AttributeError):
        raise InvalidArgument(
            "invalid X-Dockyard-Build-Secrets header: expected base64 JSON of base64 values"
        ) from None


def options_from(request: web.Request) -> BuildOptions:
    tags = request.query.getall("t", [])
    for tag in tags:
        try:
            reference.parse(tag)
        except DockyardError:
            raise InvalidArgument(f"invalid tag {tag!r}: invalid reference format") from None
    network = str_param(request, "networkmode") or "default"
    if network not in ("default", "bridge", "none", "host"):
        raise InvalidArgument(
            f"networkmode {network!r} is not supported for builds: use default, none or host"
        )
    cache_from = _json_param(request, "cachefrom") or []
    if not isinstance(cache_from, list):
        raise InvalidArgument("invalid cachefrom parameter: expected a JSON list of image names")
    labels = {k: v or "" for k, v in _string_map(_json_param(request, "labels"), "labels").items()}
    return BuildOptions(
        tags=list(tags),
        dockerfile=str_param(request, "dockerfile") or "Dockerfile",
        build_args=_string_map(_json_param(request, "buildargs"), "buildargs"),
        target=str_param(request, "target") or None,
        no_cache=bool_param(request, "nocache"),
        pull=bool_param(request, "pull"),
        labels=labels,
        network="default" if network == "bridge" else network,
        platform=str_param(request, "platform") or None,
        remove=bool_param(request, "rm", True),
        force_remove=bool_param(request, "forcerm"),
        cache_from=[str(c) for c in cache_from],
        reproducible=bool_param(request, "reproducible", True),
        secrets=_secrets(request),
        quiet=bool_param(request, "q"),
    )


def _line(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode() + b"\r\n"


async def build(request: web.Request) -> web.StreamResponse:
    b = builder_of(request)
    opts = options_from(request)
    work = Path(tempfile.mkdtemp(prefix=f"ctx-{secrets.token_hex(4)}-", dir=b.root / "tmp"))
    try:
        body = work / "context.tar"
        try:
            with open(body, "wb") as f:
                async for chunk in request.content.iter_chunked(_BATCH):
                    await asyncio.to_thread(f.write, chunk)
        except (ConnectionResetError, ConnectionError):
            raise InvalidArgument(
                "the client closed the connection while sending the build context"
            ) from None
        folder = work / "context"

        def prepare() -> str | None:
            with open(body, "rb") as f:
                text = unpack(f, folder)
            os.unlink(body)
            folder.mkdir(exist_ok=True)
            apply_dockerignore(folder, keep=(opts.dockerfile.lstrip("./"),))
            return text

        dockerfile_text = await asyncio.to_thread(prepare)
        resp = web.StreamResponse(status=200, headers={"Content-Type": JSON})
        await resp.prepare(request)

        async def emit(message: dict[str, Any]) -> None:
            await resp.write(_line(message))

        try:
            await b.build(folder, opts, emit, dockerfile_text)
        except (ConnectionResetError, ConnectionError):
            return resp  # the client went away: the build stopped with it
        except DockyardError as e:
            detail: dict[str, Any] = {"message": str(e)}
            if isinstance(e, StepFailed) and e.code is not None:
                detail["code"] = e.code
            try:
                await resp.write(_line({"errorDetail": detail, "error": str(e)}))
            except (ConnectionResetError, ConnectionError):
                return resp
        await resp.write_eof()
        return resp
    finally:
        await asyncio.to_thread(shutil.rmtree, work, True)


async def prune(request: web.Request) -> web.Response:
    b = builder_of(request)
    engine = context(request).engine
    result = await asyncio.to_thread(b.prune, bool_param(request, "all", True), engine.image_in_use)
    return json_response(result)


def routes(ctx: object) -> list[web.RouteDef]:
    return [
        web.post("/build", build),
        web.post("/build/prune", prune),
    ]

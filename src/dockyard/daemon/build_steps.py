"""The engine's side of the builder's step runner (dockyard.build.runner.StepRunner).

A RUN step is a container like any other: created through ``Engine.create`` on the step's image
(its env, user and workdir; the image's healthcheck off), attached before it starts so no output
is lost, started, waited for, then removed with its anonymous volumes. Its log driver is
"none": the output goes to the build's stream only.
"""

from __future__ import annotations

from typing import Any

from dockyard.build.runner import Output, RunStep
from dockyard.engine.stdcopy import Demuxer


class EngineStepRunner:
    def __init__(self, engine: Any) -> None:
        self.engine = engine

    async def create(self, step: RunStep) -> str:
        body: dict[str, Any] = {
            "Image": step.image_id,
            "Entrypoint": step.argv,
            "Cmd": None,
            "Env": step.env,
            "User": step.user,
            "WorkingDir": step.workdir,
            "Labels": step.labels,
            "AttachStdout": True,
            "AttachStderr": True,
            "Healthcheck": {"Test": ["NONE"]},
            "HostConfig": {
                "NetworkMode": step.network,
                "Mounts": step.mounts,
                "LogConfig": {"Type": "none", "Config": {}},
            },
        }
        created = await self.engine.create(None, body)
        return str(created["Id"])

    async def run(self, container_id: str, output: Output) -> int:
        _, future = await self.engine.attach(
            container_id, stdin=False, stdout=True, stderr=True, logs=False, stream=True
        )
        try:
            await self.engine.start_container(container_id)
        except BaseException:
            if future is not None and not future.done():
                future.cancel()
            raise
        if future is not None:
            reader, writer = await future
            demux = Demuxer()
            try:
                while data := await reader.read(65536):
                    for _stream, payload in demux.feed(data):
                        await output(payload)
            finally:
                writer.close()
        result = await self.engine.wait(container_id, "not-running")
        return int(result["StatusCode"])

    async def remove(self, container_id: str) -> None:
        from dockyard.errors import NotFound

        try:
            await self.engine.remove(container_id, force=True, volumes=True)
        except NotFound:
            pass  # already gone: the asked-for state

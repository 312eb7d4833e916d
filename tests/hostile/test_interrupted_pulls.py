"""Pulls cut short: by the network (resumed with Range, must-show 3), by SIGKILL of the process
pulling, 20 times at random points (the store ends clean), and two pulls sharing one download."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.images.service import ImageService
from tests.conftest import remove_tree
from tests.hostile.static_registry import StaticRegistry, entry, sha, tar


@pytest.fixture
def reg() -> Iterator[StaticRegistry]:
    r = StaticRegistry()
    try:
        yield r
    finally:
        r.stop()


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[ImageService]:
    root = tmp_path / f"store-{os.getpid()}"
    s = ImageService(root)
    try:
        yield s
    finally:
        s.close()
        remove_tree(str(root))


def collect(agen: AsyncIterator[dict[str, Any]]) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        return [m async for m in agen]

    return asyncio.run(run())


def errors(msgs: list[dict[str, Any]]) -> list[str]:
    return [m["error"] for m in msgs if "error" in m]


def test_pull_of_200mb_cut_at_half_resumes_the_other_half(reg: StaticRegistry, svc: ImageService) -> None:
    layer = tar([entry("data", data=os.urandom(200 * 1000 * 1000))])
    digest = sha(layer)
    reg.add_image("big/image", "t", [layer])
    ref = f"{reg.host}/big/image:t"
    reg.cut[digest] = len(layer) // 2  # the connection drops after half of the blob
    first = collect(svc.pull(ref, None, None))
    assert any("broke off" in e and "pull again to resume" in e for e in errors(first)), first
    assert reg.served(digest) == len(layer) // 2
    assert svc.content.ingests() == [(f"pull-{digest}".replace(":", "-"), len(layer) // 2)]
    second = collect(svc.pull(ref, None, None))
    assert not errors(second), second
    resumed = reg.served(digest) - len(layer) // 2
    assert resumed == len(layer) - len(layer) // 2  # exactly the missing half: Range from 50 %
    assert any(r.startswith("GET") and "/blobs/" + digest in r for r in reg.requests)
    assert svc.content.ingests() == []
    assert svc.check()["Clean"]


_PULLER = """
import asyncio, sys
from pathlib import Path
from dockyard.images.service import ImageService
async def main():
    svc = ImageService(Path(sys.argv[1]))
    async for m in svc.pull(sys.argv[2], None, None):
        pass
asyncio.run(main())
"""


def test_pull_killed_20_times_then_resumed_ends_clean(reg: StaticRegistry, tmp_path: Path) -> None:
    layers = [tar([entry(f"l{i}/f{j}", data=os.urandom(1 << 20)) for j in range(6)]) for i in range(3)]
    reg.add_image("killed/image", "t", layers)
    # bytes per second per blob: 12 s of transfer per blob, more than ten runs of at most 0.9 s
    # each can give it, so at least ten kills land while the pull runs, however fast the machine
    reg.rate = 512 << 10
    ref = f"{reg.host}/killed/image:t"
    root = tmp_path / f"killed-{os.getpid()}"
    rng = random.Random(4)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    killed_mid_pull = 0
    try:
        for _ in range(20):
            proc = subprocess.Popen([sys.executable, "-c", _PULLER, str(root), ref], env=env)
            try:
                time.sleep(rng.uniform(0.25, 0.9))
            finally:
                if proc.poll() is None:
                    killed_mid_pull += 1
                proc.send_signal(signal.SIGKILL)
                proc.wait()
        assert killed_mid_pull >= 10  # most kills landed while the pull ran
        reg.rate = None
        svc = ImageService(root)
        try:
            msgs = collect(svc.pull(ref, None, None))
            assert not errors(msgs), msgs
            report = svc.check()
            assert report["Clean"] and report["Layers"] == 3 and report["Images"] == 1, report
            assert svc.content.ingests() == []
            target = tmp_path / "rootfs"
            svc.prepare_rootfs("c", svc.resolve(ref).id, target)
            try:
                assert sorted(os.listdir(target)) == ["l0", "l1", "l2"]
                assert len(os.listdir(target / "l2")) == 6
            finally:
                svc.unmount_rootfs("c", target)
                svc.remove_rootfs("c")
        finally:
            svc.close()
    finally:
        remove_tree(str(root))


def test_two_concurrent_pulls_share_one_download(reg: StaticRegistry, svc: ImageService) -> None:
    base = tar([entry("base", data=os.urandom(4 << 20))])
    reg.add_image("shared/a", "t", [base, tar([entry("a", data=b"a")])])
    reg.add_image("shared/b", "t", [base, tar([entry("b", data=b"b")])])
    reg.rate = 16 << 20  # slow enough for the two pulls to overlap

    async def both() -> list[list[dict[str, Any]]]:
        async def one(ref: str) -> list[dict[str, Any]]:
            return [m async for m in svc.pull(ref, None, None)]

        return list(await asyncio.gather(one(f"{reg.host}/shared/a:t"), one(f"{reg.host}/shared/b:t")))

    a, b = asyncio.run(both())
    assert not errors(a) and not errors(b), (a, b)
    assert reg.served(sha(base)) == len(base)  # downloaded once
    assert svc.downloads.shared == 1
    assert "Waiting" in [m.get("status") for m in a + b]
    assert svc.resolve(f"{reg.host}/shared/a:t").layers[0].chain_id == sha(base)
    assert svc.check()["Clean"]

"""A pull through the real daemon, the daemon SIGKILLed mid-blob, restarted on the same roots: the
second pull asks for the rest of the blob with a Range request (issue 4: "a pull interrupted
(network drop or daemon SIGKILL) resumes the partial blob with HTTP Range").

The registry is the crafted one of tests/hostile (throttled, counting the bytes it serves per
blob); the daemon is tests/daemon_harness.py's, pulling through the real docker CLI.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest

from dockyard.util.busybox import find_busybox
from tests.daemon_harness import DOCKER_CLI, DockyardDaemon
from tests.hostile.static_registry import StaticRegistry, entry, sha, tar

_BLOB = 40 << 20  # bytes of incompressible data in the big layer
_RATE = 10 << 20  # bytes per second while the first pull runs: about 4 s for the whole blob


@pytest.fixture
def reg() -> Iterator[StaticRegistry]:
    r = StaticRegistry()
    try:
        yield r
    finally:
        r.stop()


def _busybox_layer() -> bytes:
    with open(find_busybox(), "rb") as f:
        binary = f.read()
    info, data = entry("bin/busybox", data=binary)
    info.mode = 0o755
    return tar([entry("bin", "dir"), (info, data)])


def test_pull_resumes_after_daemon_sigkill(reg: StaticRegistry) -> None:
    payload = os.urandom(_BLOB)
    big = tar([entry("data", data=payload)])
    big_digest = sha(big)
    reg.add_image("resume/daemon", "t", [_busybox_layer(), big])
    ref = f"{reg.host}/resume/daemon:t"
    reg.rate = _RATE
    d = DockyardDaemon()
    with d:
        assert d.proc is not None
        daemon = d.proc
        puller = subprocess.Popen(
            [DOCKER_CLI, "pull", ref], env=d.env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            deadline = time.monotonic() + 60
            while reg.served(big_digest) < len(big) * 2 // 5:
                assert puller.poll() is None, puller.stderr.read() if puller.stderr else ""
                assert time.monotonic() < deadline, f"the pull did not start:\n{d.log()}"
                time.sleep(0.02)
            os.kill(daemon.pid, signal.SIGKILL)  # the daemon itself, by its pid, mid-blob
            daemon.wait()
        finally:
            puller.wait(30)
        first = reg.served(big_digest)
        assert first < len(big)  # the kill landed before the blob was complete
        ingest_root = d.data_root / "content" / "ingest"
        kept = {p.name: (p / "data").stat().st_size for p in ingest_root.iterdir()}
        assert kept.get(f"pull-{big_digest}".replace(":", "-"), 0) > 0, kept

        reg.rate = None
        d.start()  # same data root, exec root and bridge
        d.docker("pull", ref, timeout=120)
        total = reg.served(big_digest)
        # Only the missing part was fetched again: a Range request from what the ingest held.
        assert total < len(big) * 1.1, (first, total, len(big))
        assert any(r.startswith("GET") and big_digest in r for r in reg.requests[-10:])
        assert list(ingest_root.iterdir()) == []
        check = d.dockyard("system", "check")
        assert "clean" in check.stdout and "(0 partial downloads)" in check.stdout, check.stdout
        out = d.docker("run", "--rm", "--network", "none", ref, "/bin/busybox", "sha256sum", "/data")
        assert out.stdout.split()[0] == hashlib.sha256(payload).hexdigest()

"""A registry killed with SIGKILL in the middle of 20 uploads restarts with no partial blob
visible: content becomes a blob only by one rename after its digest is checked."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import threading

import requests

from tests.unit.registry.harness import Api, RegistryServer, running_registry, sha256


def _slow_upload(server: RegistryServer, name: str, data: bytes, sent: threading.Event) -> None:
    """PATCH half the data, signal, then dribble the rest until the server dies."""
    try:
        r = requests.post(f"{server.url}/v2/{name}/blobs/uploads/", timeout=10)
        loc = r.headers["Location"]
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            head = (
                f"PATCH {loc} HTTP/1.1\r\nHost: {server.addr}\r\nContent-Type: application/octet-stream\r\n"
                f"Content-Length: {len(data)}\r\n\r\n"
            ).encode()
            sock.sendall(head + data[: len(data) // 2])
            sent.set()
            for i in range(len(data) // 2, len(data), 4096):
                sock.sendall(data[i : i + 4096])
                threading.Event().wait(0.01)
    except OSError:
        pass  # the server was killed under us: that is the point
    finally:
        sent.set()


def test_sigkill_during_20_uploads_leaves_no_partial_blob(tmp_path: str) -> None:
    storage = os.path.join(str(tmp_path), "data")
    payloads = [os.urandom(2_000_000) for _ in range(20)]
    name = f"crash{os.getpid()}/app"
    with running_registry(storage) as server:
        events = [threading.Event() for _ in payloads]
        threads = [
            threading.Thread(target=_slow_upload, args=(server, name, data, ev), daemon=True)
            for data, ev in zip(payloads, events, strict=True)
        ]
        for t in threads:
            t.start()
        for ev in events:
            assert ev.wait(30)
        server.kill()
        for t in threads:
            t.join(30)
        server.start()
        api = Api(server.url)
        # No upload finished, so no blob exists, and none is half-visible.
        for data in payloads:
            assert api.head(f"/v2/{name}/blobs/{sha256(data)}").status_code == 404
        blob_root = os.path.join(storage, "blobs")
        for folder, _dirs, files in os.walk(blob_root):
            for f in files:
                with open(os.path.join(folder, f), "rb") as fh:
                    content = fh.read()
                assert os.path.basename(folder) == hashlib.sha256(content).hexdigest()
        # The registry still works: a fresh push of the same content succeeds and reads back whole.
        d = api.push_blob(name, payloads[0])
        assert api.get(f"/v2/{name}/blobs/{d}").content == payloads[0]
        # The 20 dead upload sessions (and their temp files) are garbage once older than the grace.
        res = subprocess.run(
            [*server.cmd(), "gc", "--storage", storage, "--grace", "0"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout)["uploads_removed"] == 20
        leftovers = [
            f
            for _d, _s, files in os.walk(os.path.join(storage, "repositories"))
            for f in files
            if f.startswith(".tmp-")
        ]
        assert leftovers == []

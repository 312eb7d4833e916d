"""``dockyard registry gc`` on a live registry: unreferenced old blobs go, everything a push in
progress may still reference stays (grace period on blob and link mtimes), dry runs change nothing."""

from __future__ import annotations

import json
import os
import subprocess
import time

from tests.unit.registry.harness import OCI_MANIFEST, Api, make_layer, running_registry, sha256

HOUR = 3600


def age(storage: str, seconds: float) -> None:
    """Make every file of the store look ``seconds`` old (as if pushed that long ago)."""
    then = time.time() - seconds
    for folder, _dirs, files in os.walk(storage):
        for f in files:
            os.utime(os.path.join(folder, f), (then, then))


def gc(server_cmd: list[str], storage: str, *args: str) -> dict[str, object]:
    res = subprocess.run(
        [*server_cmd, "gc", "--storage", storage, *args], capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stderr
    report: dict[str, object] = json.loads(res.stdout)
    return report


def test_gc_removes_only_old_unreferenced_blobs(tmp_path: str) -> None:
    storage = os.path.join(str(tmp_path), "store")
    with running_registry(storage) as server:
        api = Api(server.url)
        cmd = server.cmd()
        name = f"gc{os.getpid()}/app"
        kept_layer = make_layer({"kept": b"1"})
        kept_digest, _ = api.push_image(name, "v1", [kept_layer])
        gone_layer = make_layer({"gone": b"2"})
        gone_digest, _ = api.push_image(name, "old", [gone_layer])
        assert api.delete(f"/v2/{name}/manifests/{gone_digest}").status_code == 202
        untagged_layer = make_layer({"untagged": b"3"})
        untagged_digest, _ = api.push_image(name, "tmp", [untagged_layer])
        assert api.delete(f"/v2/{name}/manifests/tmp").status_code == 202  # tag only
        relinked = make_layer({"relinked": b"4"})
        api.push_blob(name, relinked)
        age(storage, 2 * HOUR)
        # A push in progress: a fresh blob with no manifest yet, and an old blob pushed again
        # (its link rewritten now) that the coming manifest will name.
        fresh = make_layer({"fresh": b"5"})
        api.push_blob(name, fresh)
        api.push_blob(name, relinked)

        dry = gc(cmd, storage, "--dry-run", "--delete-untagged")
        assert dry["dry_run"] is True and dry["blobs_removed"]
        assert api.head(f"/v2/{name}/blobs/{sha256(gone_layer)}").status_code == 200

        report = gc(cmd, storage)
        assert report["manifests_removed"] == []
        assert api.head(f"/v2/{name}/blobs/{sha256(gone_layer)}").status_code == 404
        assert api.get(f"/v2/{name}/manifests/{untagged_digest}").status_code == 200  # untagged kept
        for blob in (kept_layer, untagged_layer, fresh, relinked):
            assert api.head(f"/v2/{name}/blobs/{sha256(blob)}").status_code == 200
        assert api.get(f"/v2/{name}/manifests/v1", headers={"Accept": OCI_MANIFEST}).status_code == 200

        report = gc(cmd, storage, "--delete-untagged")
        assert report["manifests_removed"] == [f"{name}@{untagged_digest}"]
        assert api.get(f"/v2/{name}/manifests/{untagged_digest}").status_code == 404
        assert api.head(f"/v2/{name}/blobs/{sha256(untagged_layer)}").status_code == 404
        assert api.head(f"/v2/{name}/blobs/{sha256(kept_layer)}").status_code == 200
        assert api.head(f"/v2/{name}/blobs/{sha256(fresh)}").status_code == 200
        # The push in progress completes after gc: its manifest names the kept blobs.
        cfg_digest = api.push_blob(name, b"{}")
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": cfg_digest,
                    "size": 2,
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": sha256(b),
                        "size": len(b),
                    }
                    for b in (fresh, relinked)
                ],
            }
        ).encode()
        assert api.push_manifest(name, "v2", manifest, OCI_MANIFEST).status_code == 201
        assert api.get(f"/v2/{name}/manifests/{kept_digest}").status_code == 200

"""The image service's options and the daemon flags and daemon.json keys that set them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockyard.daemon import options as daemon_options
from dockyard.errors import InvalidArgument
from dockyard.images import options


def test_defaults_are_the_issues() -> None:
    o = options.build()
    assert o.max_concurrent_downloads == 3 and o.max_concurrent_uploads == 5
    assert (o.limits.max_entries, o.limits.max_depth, o.limits.max_size) == (1_000_000, 256, 64 << 30)
    assert (o.registry.manifest_max, o.registry.index_depth) == (4 << 20, 8)


def test_limits_are_checked() -> None:
    o = options.build(limits={"max-entries": 10, "max-index-depth": 2})
    assert o.limits.max_entries == 10 and o.registry.index_depth == 2
    with pytest.raises(InvalidArgument, match="unknown image limit 'max-files'"):
        options.build(limits={"max-files": 1})
    with pytest.raises(InvalidArgument, match="must be a positive integer"):
        options.build(limits={"max-depth": 0})


def test_daemon_flags_and_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "daemon.json"
    cfg.write_text(
        json.dumps({"registry-mirrors": ["quay.io=http://127.0.0.1:5001"], "max-concurrent-uploads": 2})
    )
    opts = daemon_options.parse([
        "--config-file", str(cfg), "--max-concurrent-downloads", "7", "--image-limit", "max-entries=500",
        "--insecure-registry", "10.0.0.0/8",
    ])  # fmt: skip
    assert opts.max_concurrent_downloads == 7 and opts.max_concurrent_uploads == 2
    assert opts.image_limits == {"max-entries": 500}
    assert opts.registry_mirrors == ["quay.io=http://127.0.0.1:5001"]
    with pytest.raises(InvalidArgument, match="invalid --image-limit"):
        daemon_options.parse(["--config-file", str(cfg), "--image-limit", "max-entries"])
    cfg.write_text(json.dumps({"registry-mirrors": ["nope"]}))
    with pytest.raises(InvalidArgument, match="invalid registry mirror 'nope'"):
        daemon_options.parse(["--config-file", str(cfg)])

"""The context tar `dockyard build` sends: read back with tarfile, .dockerignore applied."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

from dockyard.cli.build_context import tar_context


def test_context_tar_reads_back(tmp_path: Path) -> None:
    long_dir = "a/" + "b" * 120
    (tmp_path / long_dir).mkdir(parents=True)
    (tmp_path / long_dir / "f").write_text("x" * 1000)
    (tmp_path / "Dockerfile").write_text("FROM x\n")
    os.symlink("Dockerfile", tmp_path / "lnk")
    os.link(tmp_path / "Dockerfile", tmp_path / "hard")
    (tmp_path / "ünï").write_text("u")
    (tmp_path / "skip.log").write_text("s")
    (tmp_path / ".dockerignore").write_text("*.log\nDockerfile\n")
    data = b"".join(tar_context(str(tmp_path), "Dockerfile", {"__df": b"FROM y\n"}))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert tar.extractfile(members[f"{long_dir}/f"]).read() == b"x" * 1000  # type: ignore[union-attr]
        assert tar.extractfile(members["__df"]).read() == b"FROM y\n"  # type: ignore[union-attr]
    assert sorted(members) == sorted(
        [".dockerignore", "Dockerfile", "a", long_dir, f"{long_dir}/f", "hard", "lnk", "ünï", "__df"]
    )
    assert members["lnk"].issym() and members["lnk"].linkname == "Dockerfile"
    assert members["hard"].islnk() and members["hard"].linkname == "Dockerfile"
    assert members["a"].isdir() and members["Dockerfile"].uid == 0

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def compose_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder named like a project, made the current folder for the test."""
    folder = tmp_path / "shop"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder

"""seccomp_cache: compiled programs kept between containers, used only while provably the same."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from dockyard.errors import ConfigError
from dockyard.runtime import seccomp, seccomp_cache

pytestmark = pytest.mark.skipif(not seccomp.available(), reason="libseccomp2 is not installed")


def profile(errno: int = 1) -> dict[str, Any]:
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [
            {"names": ["read", "write", "exit_group", "mkdir"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno},
        ],
    }


def no_compiler(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object, **__: object) -> bytes:
        raise AssertionError("compiled although a valid entry was cached")

    monkeypatch.setattr(seccomp, "export_bpf", refuse)


def test_miss_compiles_and_stores_then_hit_needs_no_compiler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = profile()
    compiled = seccomp.export_bpf(cfg)
    assert seccomp_cache.program(cfg, str(tmp_path)) == compiled
    (entry,) = tmp_path.glob("*.bpf")
    assert entry.name == seccomp_cache.key(cfg) + ".bpf"
    assert entry.stat().st_mode & 0o777 == 0o600
    assert not list(tmp_path.glob(".*.tmp"))
    no_compiler(monkeypatch)
    assert seccomp_cache.program(cfg, str(tmp_path)) == compiled


def test_other_profiles_are_other_entries(tmp_path: Path) -> None:
    a, b = profile(1), profile(2)
    assert seccomp_cache.key(a) != seccomp_cache.key(b)
    assert seccomp_cache.program(a, str(tmp_path)) != seccomp_cache.program(b, str(tmp_path))
    assert len(list(tmp_path.glob("*.bpf"))) == 2
    assert seccomp_cache.program(b, str(tmp_path)) == seccomp.export_bpf(b)


@pytest.mark.parametrize(
    "damage",
    ["torn", "flipped", "other-library", "other-format", "garbage"],
)
def test_damaged_or_foreign_entries_are_compiled_again(tmp_path: Path, damage: str) -> None:
    cfg = profile()
    compiled = seccomp_cache.program(cfg, str(tmp_path))
    entry = tmp_path / (seccomp_cache.key(cfg) + ".bpf")
    header, _, body = entry.read_bytes().partition(b"\n")
    fmt, checksum, lib, ident = header.split(b" ")
    if damage == "torn":
        data = header + b"\n" + body[:-8]
    elif damage == "flipped":
        data = header + b"\n" + body[:-5] + bytes([body[-5] ^ 1]) + body[-4:]
    elif damage == "other-library":
        data = b" ".join((fmt, checksum, lib, b"1:2:3:4")) + b"\n" + body
    elif damage == "other-format":
        data = b" ".join((b"dockyard-seccomp-0", checksum, lib, ident)) + b"\n" + body
    else:
        data = b"\x00\x01 not a cache entry"
    entry.write_bytes(data)
    assert seccomp_cache.lookup(str(tmp_path), seccomp_cache.key(cfg)) is None
    assert seccomp_cache.program(cfg, str(tmp_path)) == compiled
    assert seccomp_cache.lookup(str(tmp_path), seccomp_cache.key(cfg)) == compiled  # rewritten


def test_invalid_profile_is_refused_even_when_cached(tmp_path: Path) -> None:
    cfg = profile()
    seccomp_cache.program(cfg, str(tmp_path))
    cfg["syscalls"][1]["action"] = "SCMP_ACT_NOPE"
    with pytest.raises(ConfigError, match="unknown action"):
        seccomp_cache.program(cfg, str(tmp_path))


def test_no_filter_and_no_cache(tmp_path: Path) -> None:
    assert seccomp_cache.program({}, str(tmp_path)) == b""
    assert not tmp_path.exists() or not list(tmp_path.iterdir())
    assert seccomp_cache.program(profile(), None) == seccomp.export_bpf(profile())


def test_unwritable_cache_is_only_a_miss(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("in the folder's place")
    cfg = profile()
    assert seccomp_cache.program(cfg, str(blocker)) == seccomp.export_bpf(cfg)
    assert blocker.read_text() == "in the folder's place"


def test_full_cache_is_emptied_before_a_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seccomp_cache, "MAX_ENTRIES", 3)
    for errno in range(1, 4):
        seccomp_cache.program(profile(errno), str(tmp_path))
    assert len(list(tmp_path.glob("*.bpf"))) == 3
    seccomp_cache.program(profile(4), str(tmp_path))
    assert [p.name for p in tmp_path.glob("*.bpf")] == [seccomp_cache.key(profile(4)) + ".bpf"]


def test_cache_folder_is_no_container_id() -> None:
    from dockyard.errors import InvalidArgument
    from dockyard.runtime.state import validate_id

    with pytest.raises(InvalidArgument):
        validate_id(seccomp_cache.DIR_NAME)
    assert os.sep not in seccomp_cache.DIR_NAME

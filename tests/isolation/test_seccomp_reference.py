"""The default seccomp filter, dockyard's against dockerd 20.10's, compared syscall by syscall.

Both filters are read back from a running default container's init (PTRACE_SECCOMP_GET_FILTER)
and run through the runtime's cBPF interpreter for every x86_64 syscall number, with zeroed
arguments, and for the argument-filtered calls (clone, socket, personality) with the values that
matter. dockyard's profile is Docker's current one: it may allow what moby added after 20.10 (the
names below), and must refuse everything else 20.10 refuses, with the same errno.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from dockyard.runtime import seccomp
from tests.isolation import defences
from tests.isolation.engines import Engine

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.uname().machine != "x86_64", reason="compares x86_64 syscall numbers"),
]

#: Allowed by moby's current default profile, not yet by Debian's dockerd 20.10 (moby 23-24
#: allowed them: name_to_handle_at, which needs open_by_handle_at (CAP_DAC_READ_SEARCH) to be of
#: use; process_vm_readv/writev on kernels >= 4.8 under ptrace's own checks; memory protection
#: keys).
NEWER_THAN_20_10 = {"name_to_handle_at", "process_vm_readv", "process_vm_writev", "pkey_alloc",
                    "pkey_free", "pkey_mprotect"}  # fmt: skip
#: Refused by the current profile, allowed by 20.10: AF_VSOCK sockets reach the hypervisor, outside
#: every namespace the container has (moby refuses them since 24.0).
STRICTER_THAN_20_10 = {("socket", (40, 1, 0))}

ARG_CASES = [
    ("clone", (0x11,)),  # SIGCHLD: a plain fork
    ("clone", (0x10000000 | 0x11,)),  # CLONE_NEWUSER
    ("clone", (0x00020000 | 0x11,)),  # CLONE_NEWNS
    ("socket", (2, 1, 0)),  # AF_INET
    ("socket", (40, 1, 0)),  # AF_VSOCK
    ("personality", (0,)),
    ("personality", (0xFFFFFFFF,)),
    ("personality", (0x0040000,)),  # READ_IMPLIES_EXEC
]


@pytest.fixture(scope="module")
def filters(request: pytest.FixtureRequest) -> Iterator[dict[str, bytes]]:
    out: dict[str, bytes] = {}
    made: list[Engine] = []
    try:
        for name in ("dockyard", "docker"):
            e: Engine = request.getfixturevalue(f"{name}_engine")
            made.append(e)
            cname = f"iso{os.getpid()}-{name}-seccomp"
            e.run(cname, command=["sleep", "600"])
            out[name] = defences.read_filter(e.pid(cname))
        yield out
    finally:
        for e in made:
            e.cleanup()


def test_same_verdict_for_every_syscall(filters: dict[str, bytes]) -> None:
    ours, theirs = filters["dockyard"], filters["docker"]
    stricter: list[str] = []
    looser: list[str] = []
    for nr in range(0, 470):
        a, b = seccomp.evaluate(ours, nr), seccomp.evaluate(theirs, nr)
        if a == b:
            continue
        name = seccomp.syscall_name(nr) or str(nr)
        (looser if a == 0x7FFF0000 else stricter).append(f"{name}: ours {a:#x}, dockerd {b:#x}")
    assert not stricter, f"dockyard refuses what dockerd allows (or with another errno): {stricter}"
    unexpected = [line for line in looser if line.split(":")[0] not in NEWER_THAN_20_10]
    assert not unexpected, f"dockyard allows what dockerd 20.10 refuses: {unexpected}"


def test_same_verdict_on_filtered_arguments(filters: dict[str, bytes]) -> None:
    for name, args in ARG_CASES:
        nr = seccomp.syscall_number(name)
        assert nr is not None
        ours = seccomp.evaluate(filters["dockyard"], nr, args=args)
        theirs = seccomp.evaluate(filters["docker"], nr, args=args)
        if (name, args) in STRICTER_THAN_20_10:
            assert (ours, theirs) == (0x50001, 0x7FFF0000), (
                f"{name}{args}: ours {ours:#x}, dockerd {theirs:#x}"
            )
        else:
            assert ours == theirs, f"{name}{args}: ours {ours:#x}, dockerd {theirs:#x}"

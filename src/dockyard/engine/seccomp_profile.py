"""A Docker seccomp profile (``--security-opt seccomp=profile.json``) as OCI ``linux.seccomp``.

Docker's profile format is the OCI one plus three conveniences (moby profiles/seccomp): an
``archMap`` of an architecture and its sub-architectures (only the host's entry is used), and
per-rule ``includes``/``excludes`` on capabilities, architectures and kernel versions, decided
here for the container's capabilities and the host. ``defaultErrnoRet`` and ``flags`` pass
through.

A container without ``seccomp=...`` gets the built-in profile of ``seccomp_default``, in this
same format; ``seccomp=unconfined`` (and ``--privileged``) gives none.
"""

from __future__ import annotations

import os
from typing import Any

from dockyard.errors import InvalidArgument

# Go's GOARCH names, as Docker's archMap keys architectures by the OCI/libseccomp names.
_HOST_ARCH = {
    "x86_64": "SCMP_ARCH_X86_64",
    "aarch64": "SCMP_ARCH_AARCH64",
    "armv7l": "SCMP_ARCH_ARM",
    "ppc64le": "SCMP_ARCH_PPC64LE",
    "s390x": "SCMP_ARCH_S390X",
    "riscv64": "SCMP_ARCH_RISCV64",
}


def _kernel_at_least(version: str) -> bool:
    def numbers(text: str) -> tuple[int, ...]:
        out = []
        for part in text.split("-")[0].split(".")[:2]:
            digits = "".join(c for c in part if c.isdigit())
            out.append(int(digits or 0))
        return tuple(out)

    return numbers(os.uname().release) >= numbers(version)


def _applies(rule: dict[str, Any], caps: list[str], arch: str) -> bool:
    includes = rule.get("includes") or {}
    excludes = rule.get("excludes") or {}
    if includes.get("arches") and arch not in [_arch_name(a) for a in includes["arches"]]:
        return False
    if includes.get("caps") and not all(c in caps for c in includes["caps"]):
        return False
    if includes.get("minKernel") and not _kernel_at_least(includes["minKernel"]):
        return False
    if excludes.get("arches") and arch in [_arch_name(a) for a in excludes["arches"]]:
        return False
    return not (excludes.get("caps") and any(c in caps for c in excludes["caps"]))


def _arch_name(name: str) -> str:
    # includes/excludes name architectures by GOARCH ("amd64"); archMap by SCMP names.
    goarch = {"amd64": "SCMP_ARCH_X86_64", "arm64": "SCMP_ARCH_AARCH64", "arm": "SCMP_ARCH_ARM",
              "ppc64le": "SCMP_ARCH_PPC64LE", "s390x": "SCMP_ARCH_S390X", "riscv64": "SCMP_ARCH_RISCV64",
              "386": "SCMP_ARCH_X86"}  # fmt: skip
    return goarch.get(name, name)


def to_oci(profile: dict[str, Any], caps: list[str]) -> dict[str, Any]:
    if not isinstance(profile.get("defaultAction"), str):
        raise InvalidArgument("seccomp profile: defaultAction is missing: name one, e.g. SCMP_ACT_ERRNO")
    arch = _HOST_ARCH.get(os.uname().machine, "SCMP_ARCH_X86_64")
    out: dict[str, Any] = {"defaultAction": profile["defaultAction"]}
    if "defaultErrnoRet" in profile:
        out["defaultErrnoRet"] = profile["defaultErrnoRet"]
    if profile.get("architectures"):
        out["architectures"] = list(profile["architectures"])
    elif profile.get("archMap"):
        for arch_entry in profile["archMap"]:
            if arch_entry.get("architecture") == arch:
                out["architectures"] = [arch, *arch_entry.get("subArchitectures", [])]
    if profile.get("flags"):
        out["flags"] = list(profile["flags"])
    if profile.get("listenerPath"):
        out["listenerPath"] = profile["listenerPath"]
    syscalls = []
    for rule in profile.get("syscalls") or []:
        if not isinstance(rule, dict):
            raise InvalidArgument(f"seccomp profile: syscall rule {rule!r} is not an object")
        if not _applies(rule, caps, arch):
            continue
        names = list(rule.get("names") or ([rule["name"]] if rule.get("name") else []))
        if not names:
            raise InvalidArgument("seccomp profile: a syscall rule has no names")
        entry: dict[str, Any] = {"names": names, "action": rule.get("action", "SCMP_ACT_ALLOW")}
        if rule.get("args"):
            entry["args"] = rule["args"]
        if "errnoRet" in rule:
            entry["errnoRet"] = rule["errnoRet"]
        syscalls.append(entry)
    if syscalls:
        out["syscalls"] = syscalls
    return out

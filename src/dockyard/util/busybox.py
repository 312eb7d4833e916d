"""Busybox root filesystems and OCI bundles built from the host's busybox-static.

Every test and script that needs a container starts here: no image, no internet. The root
filesystem is what Docker's busybox image holds: the static busybox binary, a relative symlink
for each applet it lists (``busybox --list-full``), a minimal /etc (passwd, group) and the empty
folders a runtime mounts onto.

    make_rootfs(dest)                       build a fresh root filesystem in ``dest``
    copy_rootfs(template, dest)             copy one (a session's cached template) cheaply
    make_bundle(dest, args, terminal=...)   ``dest/rootfs`` + ``dest/config.json``

Command line, for scripts::

    python -m dockyard.util.busybox rootfs DIR
    python -m dockyard.util.busybox bundle DIR [--terminal] [--spec-from RUNTIME] -- ARGS...

Standard library only (a leaf of the package map).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

from dockyard.errors import InvalidArgument, NotFound
from dockyard.oci.runtime_config import default_spec

#: Where Debian's busybox-static puts its binary (/usr/bin/busybox is the same file on a
#: merged-/usr system). Debian's dynamically linked ``busybox`` package installs /bin/busybox too,
#: which is why the binary is checked for an ELF interpreter before use.
BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")
APT_PACKAGE = "busybox-static"

PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
    "user:x:1000:1000:user:/home/user:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/home:/bin/false\n"
)
GROUP = "root:x:0:\ndaemon:x:1:\ntty:x:5:\nusers:x:100:user\nuser:x:1000:\nnogroup:x:65534:\n"

# Folders a runtime mounts onto or a program expects; mode as in Docker's busybox image.
_DIRS: tuple[tuple[str, int], ...] = (
    ("bin", 0o755),
    ("sbin", 0o755),
    ("usr", 0o755),
    ("usr/bin", 0o755),
    ("usr/sbin", 0o755),
    ("etc", 0o755),
    ("dev", 0o755),
    ("proc", 0o555),
    ("sys", 0o555),
    ("tmp", 0o1777),
    ("root", 0o700),
    ("var", 0o755),
    ("var/tmp", 0o1777),
    ("run", 0o755),
    ("home", 0o755),
    ("home/user", 0o755),
)

# busybox --list-full names "linuxrc" (an initrd's init) too: not part of a container image.
_SKIP_APPLETS = frozenset({"linuxrc"})


class _Remove:
    """Marker for :func:`merge_config`: delete this key from the base config."""

    def __repr__(self) -> str:
        return "REMOVE"


#: Pass as an override value to delete a key, e.g. ``linux={"seccomp": REMOVE}``.
REMOVE: Any = _Remove()


def find_busybox() -> str:
    """Return the path of the host's statically linked busybox, or raise naming the package."""
    for path in BUSYBOX_CANDIDATES:
        if os.path.isfile(path):
            if _elf_has_interpreter(path):
                raise NotFound(
                    f"{path} is dynamically linked and cannot run inside an empty root filesystem: "
                    f"install the static build with `apt-get install -y {APT_PACKAGE}`"
                )
            return path
    raise NotFound(
        f"busybox not found (looked at {', '.join(BUSYBOX_CANDIDATES)}): "
        f"install it with `apt-get install -y {APT_PACKAGE}`"
    )


def _elf_has_interpreter(path: str) -> bool:
    """True when the ELF file asks for a dynamic loader (a PT_INTERP program header)."""
    with open(path, "rb") as f:
        ident = f.read(64)
        if ident[:4] != b"\x7fELF":
            raise InvalidArgument(f"{path} is not an ELF executable: reinstall {APT_PACKAGE}")
        bits64 = ident[4] == 2
        order = "<" if ident[5] == 1 else ">"
        if bits64:
            (phoff,) = struct.unpack_from(order + "Q", ident, 32)
            phentsize, phnum = struct.unpack_from(order + "HH", ident, 54)
        else:
            (phoff,) = struct.unpack_from(order + "I", ident, 28)
            phentsize, phnum = struct.unpack_from(order + "HH", ident, 42)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    pt_interp = 3
    for i in range(phnum):
        (p_type,) = struct.unpack_from(order + "I", table, i * phentsize)
        if p_type == pt_interp:
            return True
    return False


def applets(busybox: str) -> list[str]:
    """The applets' paths relative to / (``usr/bin/env``, ``bin/sh``, ...), as busybox lists them."""
    out = subprocess.run([busybox, "--list-full"], check=True, capture_output=True, text=True).stdout
    names = []
    for line in out.splitlines():
        line = line.strip().lstrip("/")
        if line and line not in _SKIP_APPLETS and line != "bin/busybox":
            names.append(line)
    return names


def make_rootfs(dest: str, *, busybox: str | None = None) -> None:
    """Build a busybox root filesystem in ``dest`` (created; must be absent or empty).

    Applets are relative symlinks to /bin/busybox, so the tree is valid wherever it is mounted.
    """
    busybox = busybox or find_busybox()
    os.makedirs(dest, exist_ok=True)
    if os.listdir(dest):
        raise InvalidArgument(f"rootfs folder {dest!r} is not empty: pass a new or empty folder")
    for rel, mode in _DIRS:
        path = os.path.join(dest, rel)
        os.makedirs(path, exist_ok=True)
        os.chmod(path, mode)  # chmod, not makedirs' mode: the umask would strip the sticky bit
    shutil.copyfile(busybox, os.path.join(dest, "bin/busybox"))
    os.chmod(os.path.join(dest, "bin/busybox"), 0o755)
    for rel in applets(busybox):
        link = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(link), exist_ok=True)
        target = os.path.relpath("bin/busybox", os.path.dirname(rel) or ".")
        try:
            os.symlink(target, link)
        except FileExistsError:
            pass  # busybox lists a few applets twice under the same path
    _write(os.path.join(dest, "etc/passwd"), PASSWD, 0o644)
    _write(os.path.join(dest, "etc/group"), GROUP, 0o644)
    if os.geteuid() == 0:
        os.chown(os.path.join(dest, "home/user"), 1000, 1000)


def copy_rootfs(template: str, dest: str) -> None:
    """Copy a root filesystem made by :func:`make_rootfs`, keeping modes, owners and symlinks.

    Regular files are copied, never hardlinked: a container that writes to /bin/busybox must
    not change the template every other test copies.
    """
    os.mkdir(dest)
    _copy_tree(template, dest)


def _copy_tree(src: str, dst: str) -> None:
    st = os.lstat(src)
    for entry in os.scandir(src):
        s = entry.path
        d = os.path.join(dst, entry.name)
        if entry.is_symlink():
            os.symlink(os.readlink(s), d)
            _chown(d, os.lstat(s), follow=False)
        elif entry.is_dir(follow_symlinks=False):
            os.mkdir(d)
            _copy_tree(s, d)
        elif entry.is_file(follow_symlinks=False):
            shutil.copyfile(s, d, follow_symlinks=False)
            est = os.lstat(s)
            os.chmod(d, stat.S_IMODE(est.st_mode))
            _chown(d, est, follow=True)
        # Device nodes, fifos and sockets never appear in a template: skip them.
    os.chmod(dst, stat.S_IMODE(st.st_mode))
    _chown(dst, st, follow=True)


def _chown(path: str, st: os.stat_result, *, follow: bool) -> None:
    if os.geteuid() == 0 and (st.st_uid or st.st_gid):
        os.chown(path, st.st_uid, st.st_gid, follow_symlinks=follow)


def _write(path: str, text: str, mode: int) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, mode)


def spec_from_runtime(runtime: str) -> dict[str, Any]:
    """Ask an OCI runtime for its default config.json, as ``RUNTIME spec`` writes it."""
    # The runtime writes into its working directory, so a relative path must be resolved first.
    exe = os.path.abspath(runtime) if os.sep in runtime else shutil.which(runtime)
    if exe is None or not os.access(exe, os.X_OK):
        raise NotFound(f"OCI runtime {runtime!r} not found or not executable: give its path")
    with tempfile.TemporaryDirectory(prefix="dockyard-spec-") as tmp:
        proc = subprocess.run([exe, "spec"], cwd=tmp, capture_output=True, text=True)
        path = os.path.join(tmp, "config.json")
        if proc.returncode != 0 or not os.path.exists(path):
            raise InvalidArgument(
                f"`{runtime} spec` failed (exit {proc.returncode}): {proc.stderr.strip() or 'no config.json'}"
            )
        with open(path, encoding="utf-8") as f:
            spec: dict[str, Any] = json.load(f)
            return spec


def merge_config(base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``overrides`` into a copy of ``base``.

    Mappings merge key by key; any other value (lists included) replaces the base's; the
    :data:`REMOVE` marker deletes the key.
    """
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if value is REMOVE:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = merge_config(out[key], value)
        else:
            out[key] = copy.deepcopy(_strip_remove(value))
    return out


def _strip_remove(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _strip_remove(v) for k, v in value.items() if v is not REMOVE}
    return value


def make_bundle(
    dest: str,
    args: Sequence[str],
    *,
    terminal: bool = False,
    spec: Mapping[str, Any] | None = None,
    rootfs_template: str | None = None,
    readonly_rootfs: bool = False,
    overrides: Mapping[str, Any] | None = None,
) -> str:
    """Write an OCI bundle to ``dest``: ``rootfs/`` and ``config.json``; return ``dest``.

    ``spec`` is the base config (default: runc's, ``dockyard.oci.runtime_config.default_spec``);
    ``process.args`` and
    ``process.terminal`` are set from ``args`` and ``terminal``, ``root`` to ``rootfs`` (writable
    unless ``readonly_rootfs``, as dockerd writes it), and then ``overrides`` are deep-merged
    (see :func:`merge_config`). With ``rootfs_template`` the root filesystem is copied from it
    instead of built.
    """
    os.makedirs(dest, exist_ok=True)
    rootfs = os.path.join(dest, "rootfs")
    if rootfs_template:
        copy_rootfs(rootfs_template, rootfs)
    else:
        make_rootfs(rootfs)
    config = merge_config(
        dict(spec) if spec is not None else default_spec(),
        {
            "process": {"args": list(args), "terminal": terminal},
            "root": {"path": "rootfs", "readonly": readonly_rootfs},
        },
    )
    if overrides:
        config = merge_config(config, overrides)
    with open(os.path.join(dest, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    return dest


def _main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m dockyard.util.busybox", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="verb", required=True)
    p_rootfs = sub.add_parser("rootfs", help="build a busybox root filesystem in DIR")
    p_rootfs.add_argument("dir")
    p_bundle = sub.add_parser("bundle", help="build an OCI bundle (DIR/rootfs + DIR/config.json)")
    p_bundle.add_argument("dir")
    p_bundle.add_argument("--terminal", action="store_true", help="process.terminal = true")
    p_bundle.add_argument("--readonly", action="store_true", help="root.readonly = true")
    p_bundle.add_argument("--hostname", help="the container's hostname")
    p_bundle.add_argument(
        "--spec-from", metavar="RUNTIME", help="start from `RUNTIME spec` instead of runc's default"
    )
    p_bundle.add_argument("args", nargs="*", help="the process (after --; default: sh)")
    # argparse mishandles "--" inside a subcommand: split the process's arguments off first.
    process: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, process = argv[:cut], argv[cut + 1 :]
    ns = parser.parse_args(argv)
    process = [*ns.args, *process] if ns.verb == "bundle" else []
    try:
        if ns.verb == "rootfs":
            make_rootfs(ns.dir)
        else:
            spec = spec_from_runtime(ns.spec_from) if ns.spec_from else None
            overrides = {"hostname": ns.hostname} if ns.hostname else None
            make_bundle(
                ns.dir,
                process or ["sh"],
                terminal=ns.terminal,
                spec=spec,
                readonly_rootfs=ns.readonly,
                overrides=overrides,
            )
    except (NotFound, InvalidArgument) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))

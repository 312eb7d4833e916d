"""Reading and writing cgroupfs control files, shared by the v1 and v2 managers.

Control files are written with one write(2) each: the kernel parses every write as one command,
so a value must never be split or buffered into several writes.
"""

from __future__ import annotations

import errno
import os
import time

from dockyard.errors import ConfigError, SystemFailure, Unsupported

#: What cgroupfs shows for "no limit" once parsed (v2 writes "max"; v1 shows a huge number).
MAX_UINT64 = (1 << 64) - 1


def read(folder: str, name: str) -> str:
    # Control files are ASCII; UTF-8 reads them alike and its codec is loaded at start-up (the
    # "ascii" one would be imported from the standard library on first use).
    with open(os.path.join(folder, name), encoding="utf-8", errors="replace") as f:
        return f.read()


def read_opt(folder: str, name: str) -> str | None:
    """The file's text, or None when it does not exist (a controller or feature not there)."""
    try:
        return read(folder, name)
    except (FileNotFoundError, NotADirectoryError):
        return None


def parse_uint(text: str) -> int:
    text = text.strip()
    if text == "max":
        return MAX_UINT64
    value = int(text)
    # v1 reports some counters that went negative (races in the kernel's accounting) as -1.
    return max(value, 0)


def read_uint(folder: str, name: str) -> int:
    """A one-number file; 0 when it does not exist; "max" is MAX_UINT64."""
    text = read_opt(folder, name)
    if text is None or not text.strip():
        return 0
    try:
        return parse_uint(text.split()[0])
    except ValueError:
        return 0


def read_keyed(folder: str, name: str) -> dict[str, int]:
    """A flat-keyed file (``key value`` per line, as memory.stat or cpu.stat); {} if absent."""
    out: dict[str, int] = {}
    text = read_opt(folder, name)
    if text is None:
        return out
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = parse_uint(parts[1])
            except ValueError:
                continue
    return out


def write_raw(folder: str, name: str, value: str) -> None:
    """One write(2) of ``value``; raises OSError as the kernel reports it."""
    fd = os.open(os.path.join(folder, name), os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def write(folder: str, name: str, value: str, field: str = "") -> None:
    """Write a control file for an OCI field, turning kernel errors into errors naming the field."""
    try:
        write_raw(folder, name, value)
    except OSError as exc:
        raise error(exc, folder, name, value, field) from None


def error(exc: OSError, folder: str, name: str, value: str, field: str = "") -> Exception:
    """The dockyard error for a failed write of ``value`` to control file ``name``.

    EINVAL/ERANGE mean the kernel refused the value (out of range, or inconsistent with another
    limit or with the parent's): the config is wrong. ENOENT means this kernel or this hierarchy
    lacks the file: the host cannot do what was asked.
    """
    path = os.path.join(folder, name)
    what = field or name
    code = exc.errno or 0
    if code in (errno.EINVAL, errno.ERANGE, errno.EOVERFLOW) and field:
        return ConfigError(field, f"the kernel rejected {value!r} for {path}: {os.strerror(code)}")
    if code == errno.ENOENT:
        return Unsupported(
            f"{what}: {path} does not exist: this kernel or cgroup hierarchy lacks the feature"
        )
    return SystemFailure(f"{what}: writing {value!r} to {path} failed: {os.strerror(code)}", code)


def add_pid(folder: str, pid: int) -> None:
    """Move ``pid`` (0: the caller) into the cgroup at ``folder``.

    The kernel answers EINVAL for a task that is still being set up by fork or has just exited:
    runc retries a few times before giving up, and so do we.
    """
    for attempt in range(5):
        try:
            write_raw(folder, "cgroup.procs", str(pid))
            return
        except OSError as exc:
            if exc.errno != errno.EINVAL or attempt == 4:
                raise SystemFailure(
                    f"cannot add pid {pid} to cgroup {folder}: {os.strerror(exc.errno or 0)}", exc.errno or 0
                ) from None
            time.sleep(0.03)


def procs(folder: str) -> list[int]:
    """The pids of ``folder``'s own cgroup.procs (not its children)."""
    text = read_opt(folder, "cgroup.procs")
    if text is None:
        return []
    return [int(x) for x in text.split()]


def procs_recursive(folder: str) -> list[int]:
    """The pids in ``folder`` and every cgroup below it; [] when it does not exist."""
    out: list[int] = []
    seen: set[int] = set()
    for current, _dirs, _files in os.walk(folder):
        for pid in procs(current):
            if pid not in seen:
                seen.add(pid)
                out.append(pid)
    return out


def subdirs_deepest_first(folder: str) -> list[str]:
    found: list[str] = []
    for current, _dirs, _files in os.walk(folder):
        found.append(current)
    return sorted(found, key=lambda p: p.count("/"), reverse=True)


def remove_cgroup(folder: str) -> None:
    """rmdir ``folder`` and every cgroup below it; nothing to do when it is already gone, nor
    when it is a hierarchy's root (a mount point).

    A cgroup is removable once it has no live task and no child; a task that was just killed may
    still be exiting, so EBUSY is retried for a short while (runc: 5 tries, 10 ms doubling) and
    then raised as OSError for the caller to retry or report.
    """
    # The usual case first: a leaf cgroup whose tasks are gone goes with one rmdir(2), without
    # listing the folder (it holds dozens of control files, which rmdir ignores). A mount point
    # (a hierarchy's root, for cgroupsPath "/") refuses rmdir with EBUSY whatever it holds.
    try:
        os.rmdir(folder)
        return
    except FileNotFoundError:
        return
    except OSError as exc:
        if exc.errno not in (errno.EBUSY, errno.ENOTEMPTY):
            raise
    if os.path.ismount(folder):
        return  # a hierarchy's root: never ours to remove, nor what lies below it
    delay = 0.01
    for attempt in range(6):
        busy: OSError | None = None
        for sub in subdirs_deepest_first(folder):
            try:
                os.rmdir(sub)
            except FileNotFoundError:
                continue  # already removed, by us or by a concurrent delete
            except OSError as exc:
                if exc.errno != errno.EBUSY:
                    raise
                busy = exc
        if busy is None:
            return
        if attempt == 5:
            raise busy
        time.sleep(delay)
        delay *= 2


def mkdir_chain(top: str, folder: str) -> list[str]:
    """Create ``folder`` and its missing parents below ``top``; the folders made, top-down."""
    made: list[str] = []
    if not _is_under(folder, top):
        os.makedirs(folder, exist_ok=True)
        return made
    rel = os.path.relpath(folder, top)
    current = top
    if rel == ".":
        return made
    for part in rel.split("/"):
        current = os.path.join(current, part)
        try:
            os.mkdir(current, 0o755)
            made.append(current)
        except FileExistsError:
            pass
    return made


def _is_under(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def chain(top: str, folder: str) -> list[str]:
    """``top`` and every folder from it down to ``folder`` included."""
    if not _is_under(folder, top):
        return [folder]
    out = [top]
    rel = os.path.relpath(folder, top)
    if rel == ".":
        return out
    current = top
    for part in rel.split("/"):
        current = os.path.join(current, part)
        out.append(current)
    return out


def parse_list(text: str) -> list[int]:
    """A cpuset list such as ``0-3,8,10-11`` expanded to its numbers."""
    out: list[int] = []
    for part in text.strip().split(","):
        part = part.strip()
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        if sep:
            out.extend(range(int(lo), int(hi) + 1))
        else:
            out.append(int(lo))
    return out


def hugepage_sizes(sysfs: str = "/sys/kernel/mm/hugepages") -> list[str]:
    """The huge page sizes of this machine as cgroup file names spell them ("2MB", "1GB")."""
    try:
        names = os.listdir(sysfs)
    except OSError:
        return []
    sizes: list[tuple[int, str]] = []
    for name in names:
        # hugepages-2048kB
        if not (name.startswith("hugepages-") and name.endswith("kB")):
            continue
        try:
            kib = int(name[len("hugepages-") : -2])
        except ValueError:
            continue
        sizes.append((kib, page_size_name(kib * 1024)))
    return [s for _, s in sorted(sizes)]


def page_size_name(size: int) -> str:
    """Bytes -> the kernel's hugetlb name for the size (mm/hugetlb_cgroup.c mem_fmt)."""
    if size >= 1 << 30:
        return f"{size >> 30}GB"
    if size >= 1 << 20:
        return f"{size >> 20}MB"
    return f"{size >> 10}KB"

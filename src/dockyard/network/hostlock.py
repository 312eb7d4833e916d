"""A host-wide lock for what every dockyard daemon on this host shares: the choice of a free
subnet (two daemons starting together would both see 172.17.0.0/16 free) and the shared
iptables chains. An flock on a file in /run/lock: released by the kernel if the holder dies."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

LOCK_PATH = "/run/lock/dockyard-network.lock"


@contextmanager
def host_lock(path: str = LOCK_PATH) -> Iterator[None]:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the last fd of the open file releases the flock

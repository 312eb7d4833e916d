"""Namespaces made ahead of need, so `docker run` does not wait for the kernel to build one.

Creating a network namespace costs 1 to 1.5 ms of kernel work (every per-namespace subsystem
initialises), and a veth pair with its bridge port about as much again. The worker keeps one
spare of each kind ready, held by an fd, lo already up and, for the bridge kind, the veth pair
made and enslaved; create_sandbox() then only mounts the spare at the container's path and sets
eth0's MAC, address and route. The refill runs on the worker right after, off the caller's path.

A spare's namespace is freed by closing its fd, which frees its eth0 and with it the veth pair:
a daemon that exits or crashes leaves no spare behind.

Used on the netlink worker thread only (see netlink.py), hence no lock.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass

from dockyard.errors import Conflict
from dockyard.network import netns, rtnl, veth
from dockyard.network.addresses import veth_name

log = logging.getLogger("dockyard.network")

_VETH_ATTEMPTS = 4  # random 28-bit names: a second collision in a row means something else is wrong


@dataclass
class Spare:
    fd: int  # holds the namespace
    sock: socket.socket  # rtnetlink, inside the namespace
    veth: str = ""  # the host end ("" for a namespace without a link: network "none")
    eth0: int = 0  # eth0's ifindex inside

    def close(self) -> None:
        self.sock.close()
        os.close(self.fd)


def make(host_sock: socket.socket, bridge_index: int | None, mtu: int) -> Spare:
    """A namespace with lo up and, when ``bridge_index`` is given, a veth pair into the bridge."""
    fd, sock = netns.new()
    spare = Spare(fd, sock)
    try:
        rtnl.prepare(sock)
        veth.loopback_up(sock)
        if bridge_index is not None:
            spare.veth = _add_veth(host_sock, bridge_index, fd, mtu)
            spare.eth0 = veth.eth0_index(sock)
    except BaseException:
        spare.close()  # the namespace goes, and the veth pair with its eth0
        raise
    return spare


def _add_veth(host_sock: socket.socket, bridge_index: int, netns_fd: int, mtu: int) -> str:
    for _ in range(_VETH_ATTEMPTS):
        name = veth_name()
        try:
            veth.add_pair(host_sock, name, bridge_index, netns_fd, mtu)
            return name
        except veth.NameTaken:
            continue
    raise Conflict(f"no free veth name after {_VETH_ATTEMPTS} random tries: too many links named veth*?")


class SparePool:
    def __init__(self, host_sock: socket.socket, bridge_index: int, mtu: int, size: int = 1) -> None:
        self.host_sock = host_sock
        self.bridge_index = bridge_index
        self.mtu = mtu
        self.size = size
        self._spares: dict[bool, list[Spare]] = {True: [], False: []}  # with a veth?

    def take(self, with_veth: bool) -> Spare:
        ready = self._spares[with_veth]
        if ready:
            return ready.pop()
        return make(self.host_sock, self.bridge_index if with_veth else None, self.mtu)

    def refill(self) -> None:
        try:
            for with_veth, ready in self._spares.items():
                while len(ready) < self.size:
                    ready.append(make(self.host_sock, self.bridge_index if with_veth else None, self.mtu))
        except Exception as exc:
            # The next take() makes one itself and reports the error to its caller.
            log.warning("network: cannot prepare a spare namespace: %s", exc)

    def drain(self) -> None:
        for ready in self._spares.values():
            while ready:
                ready.pop().close()

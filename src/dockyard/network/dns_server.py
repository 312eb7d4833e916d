"""The embedded DNS server: container names and aliases on user-defined networks.

dockerd serves 127.0.0.11 inside every container (a DNAT in the container's namespace to a
socket dockerd opened there). Here one thread of the daemon listens on UDP port 53 of each user
network's gateway address, and containers on that network get it as their nameserver. A query is
answered from the records of the networks its *sender* is on (found by its source address on the
network the query arrived from): names of other networks are never answered, whichever gateway
is asked. A and PTR records come from the index the manager rebuilds on every change
(DNSIndex, swapped in whole: the thread reads it without a lock). Names it does not know go to
the upstream resolvers (the container's --dns servers, else the daemon's; none: NXDOMAIN),
from a small pool of threads so one slow upstream never holds up local answers.

The daemon's namespace is the host's, so an upstream on the host's loopback works as it does
for dockerd; a daemon that is down answers nothing until it is back (the containers' resolver
retries).
"""

from __future__ import annotations

import errno
import logging
import os
import selectors
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from dockyard.network import dns_wire

log = logging.getLogger("dockyard.network.dns")

DNS_PORT = 53
_IP_FREEBIND = 15  # bind before the address is up (a bridge just made); linux/in.h
_UPSTREAM_TIMEOUT = 2.0


@dataclass
class DNSIndex:
    """What the server answers, by network id."""

    names: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # net -> name -> IPs
    names6: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # net -> name -> IPv6s
    ptr: dict[str, dict[str, str]] = field(default_factory=dict)  # net -> IP -> name
    members: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (net, source IP) -> nets
    upstream: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (net, source IP) -> --dns


def parse_server(text: str) -> tuple[str, int]:
    """ "192.0.2.53", "127.0.0.1:5353" -> (ip, port)."""
    host, sep, port = text.rpartition(":")
    if sep and host and "." in host:
        return host, int(port)
    return text, DNS_PORT


class DNSServer:
    def __init__(self, upstream: list[str], port: int = DNS_PORT) -> None:
        self.upstream = list(upstream)
        self.port = port
        self.index = DNSIndex()
        self._sel = selectors.DefaultSelector()
        self._socks: dict[str, socket.socket] = {}  # network id -> listener
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dockyard-dns-upstream")
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="dockyard-dns", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ listeners

    def listen(self, network_id: str, address: str) -> None:
        """Serve ``network_id`` on ``address``:53; idempotent. A failure is logged, not raised:
        names on that network then go unanswered, everything else keeps working."""
        with self._lock:
            if network_id in self._socks:
                return
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.setsockopt(socket.IPPROTO_IP, _IP_FREEBIND, 1)
                sock.bind((address, self.port))
                sock.setblocking(False)
            except OSError as exc:
                sock.close()
                log.warning("dns: cannot listen on %s:%d: %s", address, self.port, exc)
                return
            self._socks[network_id] = sock
            self._sel.register(sock, selectors.EVENT_READ, network_id)
        self._wake()

    def forget(self, network_id: str) -> None:
        with self._lock:
            sock = self._socks.pop(network_id, None)
            if sock is not None:
                self._sel.unregister(sock)
                sock.close()
        self._wake()

    def close(self) -> None:
        self._stopping = True
        self._wake()
        self._thread.join(timeout=5)
        with self._lock:
            for sock in self._socks.values():
                sock.close()
            self._socks.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._sel.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except BlockingIOError:
            pass  # a wake-up is already pending

    # ------------------------------------------------------------------ serving

    def _loop(self) -> None:
        while not self._stopping:
            for key, _ in self._sel.select(timeout=1.0):
                if key.data is None:
                    try:
                        os.read(self._wake_r, 4096)
                    except BlockingIOError:
                        pass
                    continue
                with self._lock:
                    sock = self._socks.get(key.data)
                if sock is None:
                    continue
                try:
                    data, peer = sock.recvfrom(4096)
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK):
                        log.debug("dns: receive failed: %s", exc)
                    continue
                try:
                    self._answer(sock, key.data, data, peer)
                except Exception:  # a bad packet must never stop the server
                    log.exception("dns: answering %s failed", peer)

    def _answer(self, sock: socket.socket, network_id: str, data: bytes, peer: tuple[str, int]) -> None:
        try:
            q = dns_wire.parse_query(data)
        except dns_wire.DNSFormatError:
            reply = dns_wire.error_for(data, dns_wire.FORMERR)
            if reply:
                sock.sendto(reply, peer)
            return
        index = self.index
        source = (network_id, peer[0])
        nets = index.members.get(source, [network_id])
        if q.qclass == dns_wire.CLASS_IN:
            if q.qtype in (dns_wire.TYPE_A, dns_wire.TYPE_AAAA):
                for net in nets:
                    ips = index.names.get(net, {}).get(q.name)
                    if ips:
                        # A known name without IPv6: an empty NOERROR answer to AAAA, as dockerd.
                        if q.qtype == dns_wire.TYPE_A:
                            reply = dns_wire.response(q, a=ips)
                        else:
                            reply = dns_wire.response(q, aaaa=index.names6.get(net, {}).get(q.name) or [])
                        sock.sendto(reply, peer)
                        return
            elif q.qtype == dns_wire.TYPE_PTR:
                ip = dns_wire.reverse_ipv4(q.name)
                for net in nets:
                    name = index.ptr.get(net, {}).get(ip or "")
                    if name:
                        sock.sendto(dns_wire.response(q, ptr=[name]), peer)
                        return
        servers = index.upstream.get(source) or self.upstream
        if not servers:
            # NXDOMAIN, not REFUSED: a resolver walking its search list ("web.example.org" first)
            # goes on to the next candidate only after a "no such name".
            sock.sendto(dns_wire.response(q, dns_wire.NXDOMAIN), peer)
            return
        self._pool.submit(self._forward, sock, data, peer, list(servers))

    def _forward(self, sock: socket.socket, data: bytes, peer: tuple[str, int], servers: list[str]) -> None:
        for server in servers:
            try:
                address = parse_server(server)
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as up:
                    up.settimeout(_UPSTREAM_TIMEOUT)
                    up.connect(address)
                    up.send(data)
                    answer = up.recv(65535)
            except (OSError, ValueError):
                continue
            try:
                sock.sendto(answer, peer)
            except OSError:
                pass  # the listener closed meanwhile (network removed)
            return
        reply = dns_wire.error_for(data, dns_wire.SERVFAIL)
        if reply:
            try:
                sock.sendto(reply, peer)
            except OSError:
                pass

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

Over TCP too (RFC 7766: resolvers retry there when a UDP answer comes back truncated): beside
each UDP socket a TCP listener on the same address and port; each connection is served by a
thread of its own (at most _TCP_MAX at once) that reads 2-byte-length-framed queries until the
client closes or idles _TCP_IDLE seconds, answers them from the same logic, and forwards unknown
names to the upstream over TCP. Local answers over UDP longer than 512 bytes (many containers
behind one alias) go out truncated, with the TC bit set.

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
import struct
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from dockyard.network import dns_wire

log = logging.getLogger("dockyard.network.dns")

DNS_PORT = 53
_IP_FREEBIND = 15  # bind before the address is up (a bridge just made); linux/in.h
_UPSTREAM_TIMEOUT = 2.0
_TCP_IDLE = 10.0  # seconds a TCP client may stay silent between queries (RFC 7766 6.2.3)
_TCP_MAX = 64  # TCP connections served at once; more are closed at once
_UDP, _TCP = "udp", "tcp"
Resolution = bytes | list[str] | None  # an answer, the upstream servers to ask, or nothing to say


@dataclass
class DNSIndex:
    """What the server answers, by network id."""

    names: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # net -> name -> IPs
    names6: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # net -> name -> IPv6s
    ptr: dict[str, dict[str, str]] = field(default_factory=dict)  # net -> IP -> name
    members: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (net, source IP) -> nets
    # source IP -> the user networks of the container that has it (every container address,
    # default bridge included: [] there). A container reaches every gateway, as they are all
    # addresses of the host; whichever it asks, it gets its own networks' names only.
    sources: dict[str, list[str]] = field(default_factory=dict)
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
        self._socks: dict[tuple[str, str], socket.socket] = {}  # (udp|tcp, network id) -> listener
        self._tcp_slots = threading.BoundedSemaphore(_TCP_MAX)
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dockyard-dns-upstream")
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="dockyard-dns", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ listeners

    def listen(self, network_id: str, address: str) -> None:
        """Serve ``network_id`` on ``address``:53, UDP and TCP; idempotent. A failure is logged,
        not raised: names on that network then go unanswered, everything else keeps working."""
        with self._lock:
            for kind in (_UDP, _TCP):
                if (kind, network_id) in self._socks:
                    continue
                sock = socket.socket(
                    socket.AF_INET, socket.SOCK_DGRAM if kind == _UDP else socket.SOCK_STREAM
                )
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    sock.setsockopt(socket.IPPROTO_IP, _IP_FREEBIND, 1)
                    sock.bind((address, self.port))
                    if kind == _TCP:
                        sock.listen(16)
                    sock.setblocking(False)
                except OSError as exc:
                    sock.close()
                    log.warning("dns: cannot listen on %s %s:%d: %s", kind, address, self.port, exc)
                    continue
                self._socks[kind, network_id] = sock
                self._sel.register(sock, selectors.EVENT_READ, (kind, network_id))
        self._wake()

    def forget(self, network_id: str) -> None:
        with self._lock:
            for kind in (_UDP, _TCP):
                sock = self._socks.pop((kind, network_id), None)
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
                kind, network_id = key.data
                if kind == _TCP:
                    self._accept(sock, network_id)
                    continue
                try:
                    data, peer = sock.recvfrom(4096)
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK):
                        log.debug("dns: receive failed: %s", exc)
                    continue
                try:
                    self._answer(sock, network_id, data, peer)
                except Exception:  # a bad packet must never stop the server
                    log.exception("dns: answering %s failed", peer)

    def _answer(self, sock: socket.socket, network_id: str, data: bytes, peer: tuple[str, int]) -> None:
        found = self.resolve(network_id, data, peer[0])
        if isinstance(found, bytes):
            sock.sendto(dns_wire.fit_udp(found), peer)
        elif found is not None:
            self._pool.submit(self._forward, sock, data, peer, found)

    def resolve(self, network_id: str, data: bytes, source_ip: str) -> Resolution:
        """The answer to query ``data`` that arrived on ``network_id``'s address from
        ``source_ip``; or the upstream servers to forward it to; None when it is unreadable."""
        try:
            q = dns_wire.parse_query(data)
        except dns_wire.DNSFormatError:
            return dns_wire.error_for(data, dns_wire.FORMERR)
        index = self.index
        source = (network_id, source_ip)
        nets = index.members.get(source)
        if nets is None:
            # Not a container of this network: another network's container (its own names), or
            # a process of the host (this network's names, as it asked this gateway).
            nets = index.sources.get(source_ip, [network_id])
        if q.qclass == dns_wire.CLASS_IN:
            if q.qtype in (dns_wire.TYPE_A, dns_wire.TYPE_AAAA):
                for net in nets:
                    ips = index.names.get(net, {}).get(q.name)
                    if ips:
                        # A known name without IPv6: an empty NOERROR answer to AAAA, as dockerd.
                        if q.qtype == dns_wire.TYPE_A:
                            return dns_wire.response(q, a=ips)
                        return dns_wire.response(q, aaaa=index.names6.get(net, {}).get(q.name) or [])
            elif q.qtype == dns_wire.TYPE_PTR:
                ip = dns_wire.reverse_ipv4(q.name)
                for net in nets:
                    name = index.ptr.get(net, {}).get(ip or "")
                    if name:
                        return dns_wire.response(q, ptr=[name])
        servers = index.upstream.get(source) or self.upstream
        if not servers:
            # NXDOMAIN, not REFUSED: a resolver walking its search list ("web.example.org" first)
            # goes on to the next candidate only after a "no such name".
            return dns_wire.response(q, dns_wire.NXDOMAIN)
        return list(servers)

    # ------------------------------------------------------------------ TCP

    def _accept(self, listener: socket.socket, network_id: str) -> None:
        try:
            conn, peer = listener.accept()
        except OSError:
            return  # the client gave up already
        if not self._tcp_slots.acquire(blocking=False):
            conn.close()
            return
        threading.Thread(
            target=self._serve_tcp, args=(conn, network_id, peer[0]), name="dockyard-dns-tcp", daemon=True
        ).start()

    def _serve_tcp(self, conn: socket.socket, network_id: str, source_ip: str) -> None:
        try:
            conn.setblocking(True)
            conn.settimeout(_TCP_IDLE)
            while not self._stopping:
                data = _read_framed(conn)
                if data is None:
                    return
                found = self.resolve(network_id, data, source_ip)
                if isinstance(found, list):
                    found = _ask_tcp(data, found) or dns_wire.error_for(data, dns_wire.SERVFAIL)
                if found is None:
                    return
                conn.sendall(struct.pack("!H", len(found)) + found)
        except OSError:
            pass  # the client went away or idled out
        except Exception:
            log.exception("dns: serving a TCP client on %s failed", network_id)
        finally:
            conn.close()
            self._tcp_slots.release()

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


def _read_exactly(conn: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _read_framed(conn: socket.socket) -> bytes | None:
    """One message of a DNS TCP stream (RFC 1035 4.2.2: a 2-byte length, then the message)."""
    head = _read_exactly(conn, 2)
    if head is None:
        return None
    return _read_exactly(conn, struct.unpack("!H", head)[0])


def _ask_tcp(data: bytes, servers: list[str]) -> bytes | None:
    """The first upstream's answer to ``data`` over TCP; None if none answered."""
    for server in servers:
        try:
            with socket.create_connection(parse_server(server), timeout=_UPSTREAM_TIMEOUT) as up:
                up.sendall(struct.pack("!H", len(data)) + data)
                answer = _read_framed(up)
        except (OSError, ValueError):
            continue
        if answer:
            return answer
    return None

"""The embedded DNS: wire format, and the server on loopback with a fake upstream resolver (the
network rule: no test asks a real nameserver)."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from dockyard.network import dns_wire
from dockyard.network.dns_server import DNSIndex, DNSServer, parse_server


def query(name: str, qtype: int = dns_wire.TYPE_A, qid: int = 0x1234) -> bytes:
    return (
        struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
        + dns_wire.encode_name(name)
        + struct.pack("!HH", qtype, dns_wire.CLASS_IN)
    )


def rcode(answer: bytes) -> int:
    return int(struct.unpack_from("!H", answer, 2)[0]) & 0xF


def a_records(answer: bytes) -> list[str]:
    count = struct.unpack_from("!H", answer, 6)[0]
    out = []
    offset = answer.index(b"\0", 12) + 5  # after the question
    for _ in range(count):
        offset += 2  # the name, a pointer
        rtype, _cls, _ttl, length = struct.unpack_from("!HHIH", answer, offset)
        offset += 10
        if rtype == dns_wire.TYPE_A:
            out.append(socket.inet_ntoa(answer[offset : offset + length]))
        offset += length
    return out


def test_parse_and_answer() -> None:
    q = dns_wire.parse_query(query("Web.Example."))
    assert (q.id, q.name, q.qtype) == (0x1234, "web.example", dns_wire.TYPE_A)
    answer = dns_wire.response(q, a=["10.1.2.3", "10.1.2.4"])
    assert rcode(answer) == 0 and a_records(answer) == ["10.1.2.3", "10.1.2.4"]
    assert struct.unpack_from("!H", answer, 0)[0] == 0x1234
    ptr = dns_wire.response(
        dns_wire.parse_query(query("3.2.1.10.in-addr.arpa", dns_wire.TYPE_PTR)), ptr=["web.net"]
    )
    assert dns_wire.encode_name("web.net") in ptr
    assert dns_wire.reverse_ipv4("3.2.1.10.in-addr.arpa") == "10.1.2.3"
    assert dns_wire.reverse_ipv4("example.org") is None


def test_malformed_queries_are_refused_cleanly() -> None:
    for bad in (b"", b"\x00" * 5, query("x")[:14], struct.pack("!HHHHHH", 1, 0x8000, 1, 0, 0, 0)):
        with pytest.raises(dns_wire.DNSFormatError):
            dns_wire.parse_query(bad)
    assert dns_wire.error_for(b"\x00", dns_wire.FORMERR) is None
    assert rcode(dns_wire.error_for(query("x"), dns_wire.SERVFAIL) or b"") == dns_wire.SERVFAIL


def test_parse_server() -> None:
    assert parse_server("192.0.2.53") == ("192.0.2.53", 53)
    assert parse_server("127.0.0.1:5353") == ("127.0.0.1", 5353)


@pytest.fixture
def upstream() -> Iterator[int]:
    """A resolver on loopback that answers every A query with 192.0.2.99."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(512)
            except TimeoutError:
                continue
            sock.sendto(dns_wire.response(dns_wire.parse_query(data), a=["192.0.2.99"]), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        sock.close()


def ask(port: int, data: bytes, source: str = "127.0.0.1") -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((source, 0))
        s.settimeout(3)
        s.sendto(data, ("127.0.0.1", port))
        return s.recv(4096)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_server_answers_its_networks_and_forwards_the_rest(upstream: int) -> None:
    port = free_udp_port()
    server = DNSServer([f"127.0.0.1:{upstream}"], port=port)
    try:
        server.listen("netA", "127.0.0.1")
        server.index = DNSIndex(
            names={"netA": {"web": ["10.0.0.2"]}, "netB": {"db": ["10.1.0.2"]}},
            names6={"netA": {"web": ["fd00::2"]}},
            ptr={"netA": {"10.0.0.2": "web.netA"}},
            # A querier from 127.0.0.2 is on netB as well; one from 127.0.0.1 only on netA.
            members={("netA", "127.0.0.2"): ["netA", "netB"]},
            # 127.0.0.3 is a container of netB only, 127.0.0.4 one of the default bridge.
            sources={"127.0.0.2": ["netA", "netB"], "127.0.0.3": ["netB"], "127.0.0.4": []},
        )
        assert a_records(ask(port, query("web"))) == ["10.0.0.2"]
        assert a_records(ask(port, query("db"), source="127.0.0.2")) == ["10.1.0.2"]
        # db is on a network the first querier is not on: not ours to answer, so upstream's.
        assert a_records(ask(port, query("db"))) == ["192.0.2.99"]
        # Asking another network's gateway gives the asker's own networks' names only.
        assert a_records(ask(port, query("web"), source="127.0.0.3")) == ["192.0.2.99"]
        assert a_records(ask(port, query("db"), source="127.0.0.3")) == ["10.1.0.2"]
        assert a_records(ask(port, query("web"), source="127.0.0.4")) == ["192.0.2.99"]
        assert dns_wire.encode_name("web.netA") in ask(
            port, query("2.0.0.10.in-addr.arpa", dns_wire.TYPE_PTR)
        )
        aaaa = ask(port, query("web", dns_wire.TYPE_AAAA))
        assert rcode(aaaa) == 0 and socket.inet_pton(socket.AF_INET6, "fd00::2") in aaaa
        no_v6 = ask(port, query("db", dns_wire.TYPE_AAAA), source="127.0.0.2")
        assert rcode(no_v6) == 0 and struct.unpack_from("!H", no_v6, 6)[0] == 0  # known, no IPv6
        assert rcode(ask(port, struct.pack("!HHHHHH", 7, 0x0100, 2, 0, 0, 0))) == dns_wire.FORMERR
        server.upstream = []
        assert rcode(ask(port, query("elsewhere.example"))) == dns_wire.NXDOMAIN
    finally:
        server.close()


def test_fit_udp_truncates_long_answers_to_header_and_question() -> None:
    q = dns_wire.parse_query(query("many"))
    ips = [f"10.0.{i // 250}.{i % 250 + 1}" for i in range(40)]
    full = dns_wire.response(q, a=ips)
    assert len(full) > dns_wire.UDP_LIMIT and not dns_wire.truncated(full)
    cut = dns_wire.fit_udp(full)
    assert dns_wire.truncated(cut) and a_records(cut) == []
    assert cut[12:] == q.raw_question and struct.unpack_from("!HHHH", cut, 4) == (1, 0, 0, 0)
    short = dns_wire.response(q, a=ips[:2])
    assert dns_wire.fit_udp(short) == short


@pytest.fixture
def tcp_upstream() -> Iterator[int]:
    """A TCP resolver on loopback that answers every A query with 192.0.2.77."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(3)
                size = struct.unpack("!H", conn.recv(2))[0]
                data = conn.recv(size)
                answer = dns_wire.response(dns_wire.parse_query(data), a=["192.0.2.77"])
                conn.sendall(struct.pack("!H", len(answer)) + answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        listener.close()


def free_port_both() -> int:
    """A loopback port free for UDP and TCP alike (the server binds both)."""
    for _ in range(50):
        port = free_udp_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no port free for both UDP and TCP")


def ask_tcp(port: int, *queries: bytes) -> list[bytes]:
    """Queries over one TCP connection, 2-byte-length framed; their answers in order."""
    answers = []
    with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
        for data in queries:
            s.sendall(struct.pack("!H", len(data)) + data)
        stream = s.makefile("rb")
        for _ in queries:
            size = struct.unpack("!H", stream.read(2))[0]
            answers.append(stream.read(size))
    return answers


def test_tcp_answers_like_udp_and_forwards_over_tcp(tcp_upstream: int) -> None:
    port = free_port_both()
    server = DNSServer([f"127.0.0.1:{tcp_upstream}"], port=port)
    try:
        server.listen("netA", "127.0.0.1")
        many = [f"10.0.{i // 250}.{i % 250 + 1}" for i in range(40)]
        server.index = DNSIndex(
            names={"netA": {"web": ["10.0.0.2"], "many": many}, "netB": {"db": ["10.1.0.2"]}}
        )
        web, db, everyone = ask_tcp(port, query("web", qid=1), query("db", qid=2), query("many", qid=3))
        assert a_records(web) == ["10.0.0.2"] and struct.unpack_from("!H", web)[0] == 1
        # db is another network's: not answered from the index, so the upstream's, over TCP.
        assert a_records(db) == ["192.0.2.77"] and struct.unpack_from("!H", db)[0] == 2
        assert sorted(a_records(everyone)) == sorted(many) and not dns_wire.truncated(everyone)
        # The same long answer over UDP: truncated, so the resolver retries over TCP.
        udp = ask(port, query("many"))
        assert dns_wire.truncated(udp) and a_records(udp) == []
        assert rcode(ask_tcp(port, struct.pack("!HHHHHH", 7, 0x0100, 2, 0, 0, 0))[0]) == dns_wire.FORMERR
        server.upstream = []
        assert rcode(ask_tcp(port, query("elsewhere.example"))[0]) == dns_wire.NXDOMAIN
        server.forget("netA")
        with pytest.raises(ConnectionRefusedError):
            ask_tcp(port, query("web"))
    finally:
        server.close()

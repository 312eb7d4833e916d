"""HTTP/1.1 framing of the client (dockyard.client.http11 through APIClient) against a scripted peer."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from dockyard.client import errors
from dockyard.client.api import APIClient
from dockyard.client.http11 import ProtocolError, SocketReader, encode_request
from tests.unit.client.wire import Peer, chunked, response

PING = response(200, b"OK", {"Api-Version": "1.45"})


@pytest.fixture
def peers() -> Iterator[list[Peer]]:
    made: list[Peer] = []
    try:
        yield made
    finally:
        for p in made:
            p.close()


def serve(peers: list[Peer], answers: list[bytes], keep_open: bool = True) -> Peer:
    """A peer that answers the requests of each connection with ``answers`` in order."""
    queue = list(answers)

    def handler(conn: socket.socket) -> None:
        while queue:
            if peer.read_request(conn) is None:
                return
            conn.sendall(queue.pop(0))
        if keep_open:
            while peer.read_request(conn) is not None:
                pass

    peer = Peer(handler)
    peers.append(peer)
    return peer


def test_content_length_json_and_keep_alive(peers: list[Peer]) -> None:
    body = json.dumps([{"Id": "abc"}]).encode()
    peer = serve(peers, [PING, response(200, body), response(200, body)])
    client = APIClient(peer.url)
    assert client.get("/containers/json", {"all": True}) == [{"Id": "abc"}]
    assert client.get("/containers/json") == [{"Id": "abc"}]
    assert peer.connections == 1  # ping and both requests on one kept-alive connection
    first = peer.requests[1].decode()
    assert first.startswith("GET /v1.44/containers/json?all=1 HTTP/1.1\r\n")
    assert "Host: api.moby.localhost\r\n" in first
    client.close()


def test_version_negotiated_down_to_the_daemons(peers: list[Peer]) -> None:
    old_ping = response(200, b"OK", {"Api-Version": "1.41"})
    peer = serve(peers, [old_ping, response(204)])
    client = APIClient(peer.url)
    client.call("POST", "/containers/x/start")
    assert peer.requests[1].startswith(b"POST /v1.41/containers/x/start HTTP/1.1\r\n")
    assert b"Content-Length: 0\r\n" in peer.requests[1]


def test_pinned_version_skips_the_ping(peers: list[Peer]) -> None:
    peer = serve(peers, [response(200, b"{}")])
    APIClient(peer.url, version="1.30").get("/info")
    assert len(peer.requests) == 1 and peer.requests[0].startswith(b"GET /v1.30/info ")


def test_chunked_body_split_anywhere(peers: list[Peer]) -> None:
    lines = [json.dumps({"status": f"step {i}"}).encode() + b"\n" for i in range(5)]
    blob = b"".join(lines)
    parts = [blob[:3], blob[3:40], blob[40:41], blob[41:]]
    peer = serve(
        peers, [response(200, chunked(parts), {"Content-Length": "", "Transfer-Encoding": "chunked"})]
    )
    client = APIClient(peer.url, version="1.44")
    got = [m["status"] for m in client.stream_json("POST", "/images/create")]
    assert got == [f"step {i}" for i in range(5)]


def test_body_until_close(peers: list[Peer]) -> None:
    def handler(conn: socket.socket) -> None:
        peer.read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nraw bytes to the end")

    peer = Peer(handler)
    peers.append(peer)
    resp = APIClient(peer.url, version="1.44").request("GET", "/containers/x/export")
    assert resp.read() == b"raw bytes to the end"


def test_error_status_maps_to_errors(peers: list[Peer]) -> None:
    answers = [
        response(404, b'{"message": "No such container: nope"}', reason="Not Found"),
        response(409, b'{"message": "name in use"}', reason="Conflict"),
        response(500, b"plain text failure", reason="Internal Server Error"),
        response(400, b"", reason="Bad Request"),
    ]
    peer = serve(peers, answers)
    client = APIClient(peer.url, version="1.44")
    with pytest.raises(errors.NoSuchObject) as found:
        client.get("/containers/nope/json")
    assert (found.value.message, found.value.status) == ("No such container: nope", 404)
    with pytest.raises(errors.ObjectConflict, match="name in use"):
        client.post("/containers/create")
    with pytest.raises(errors.DaemonError, match="plain text failure"):
        client.get("/info")
    with pytest.raises(errors.BadRequest, match="400 Bad Request"):
        client.get("/info")


def test_304_is_success(peers: list[Peer]) -> None:
    peer = serve(peers, [response(304, reason="Not Modified", headers={"Content-Length": ""})])
    assert APIClient(peer.url, version="1.44").call("POST", "/containers/x/stop") is None


def test_stale_keep_alive_connection_is_retried(peers: list[Peer]) -> None:
    """A connection the daemon closed while idle: the request goes again on a new one."""

    def handler(conn: socket.socket) -> None:
        peer.read_request(conn)
        conn.sendall(response(200, b'"first"'))
        if peer.connections == 1:
            time.sleep(0.05)
            conn.shutdown(socket.SHUT_RDWR)  # idle timeout: closed without a word
            return
        while peer.read_request(conn) is not None:
            conn.sendall(response(200, b'"again"'))

    peer = Peer(handler)
    peers.append(peer)
    client = APIClient(peer.url, version="1.44")
    assert client.get("/a") == "first"
    time.sleep(0.2)
    assert client.get("/b") == "first"  # sent again on connection 2, whose first answer is "first"
    assert peer.connections == 2


def test_chunked_upload_of_a_file(peers: list[Peer], tmp_path: object) -> None:
    peer = serve(peers, [response(200, b'{"stream": "Loaded image: x\\n"}\n')])
    client = APIClient(peer.url, version="1.44")

    class Source:
        def __init__(self) -> None:
            self.parts = [b"a" * 70000, b"b" * 10]

        def read(self, n: int) -> bytes:
            return self.parts.pop(0) if self.parts else b""

    messages = list(client.stream_json("POST", "/images/load", body=Source()))  # type: ignore[arg-type]
    assert messages == [{"stream": "Loaded image: x\n"}]
    request = peer.requests[0]
    assert b"Transfer-Encoding: chunked\r\n" in request
    assert request.endswith(b"%x\r\n%s\r\n0\r\n\r\n" % (10, b"b" * 10))


def test_hijack_keeps_bytes_sent_with_the_101(peers: list[Peer]) -> None:
    def handler(conn: socket.socket) -> None:
        peer.read_request(conn)
        frame = bytes((1, 0, 0, 0, 0, 0, 0, 6)) + b"hello\n"
        # The first frame arrives in the same segment as the 101's head: it must not be lost.
        conn.sendall(b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n" + frame)
        data = b""
        while not data.endswith(b"input\n"):
            data += conn.recv(100)
        conn.sendall(bytes((2, 0, 0, 0, 0, 0, 0, 4)) + data[:4])
        assert conn.recv(100) == b""  # the client's half-close
        conn.sendall(bytes((1, 0, 0, 0, 0, 0, 0, 3)) + b"end")

    peer = Peer(handler)
    peers.append(peer)
    stream = APIClient(peer.url, version="1.41").hijack("/containers/x/attach", {"stream": True})
    output = stream.output()
    assert next(output) == (1, b"hello\n")
    stream.write(b"input\n")
    assert next(output) == (2, b"inpu")
    stream.close_write()
    assert list(output) == [(1, b"end")]
    stream.close()
    assert b"Connection: Upgrade\r\nUpgrade: tcp\r\n" in peer.requests[0]


def test_unreachable_daemon(tmp_path: object) -> None:
    url = "unix:///nonexistent/dockyard-test.sock"
    with pytest.raises(errors.DaemonUnreachable) as found:
        APIClient(url).get("/info")
    assert found.value.message == (
        f"Cannot connect to the dockyard daemon at {url}. Is the daemon running? "
        "Start it with: dockyard daemon"
    )
    with pytest.raises(
        errors.DaemonUnreachable, match=r"Cannot connect to the dockyard daemon at tcp://127\.0\.0\.1:9"
    ):
        APIClient("tcp://127.0.0.1:9").get("/info")


def test_garbage_answer_is_a_protocol_error(peers: list[Peer]) -> None:
    def handler(conn: socket.socket) -> None:
        peer.read_request(conn)
        conn.sendall(b"SSH-2.0-OpenSSH\r\n")

    peer = Peer(handler)
    peers.append(peer)
    with pytest.raises(ProtocolError, match="not HTTP"):
        APIClient(peer.url, version="1.44").get("/info")


def test_socket_reader_lines_and_exact_reads() -> None:
    a, b = socket.socketpair()
    try:
        a.sendall(b"line one\r\nrest")
        a.shutdown(socket.SHUT_WR)
        reader = SocketReader(b)
        assert reader.readline() == b"line one\r\n"
        assert reader.read_exact(2) == b"re"
        assert reader.read_some() == b"st"
        assert reader.read_some() == b""
        with pytest.raises(ProtocolError, match="2 bytes early"):
            reader.read_exact(2)
    finally:
        a.close()
        b.close()


def test_encode_request_lengths() -> None:
    assert encode_request("GET", "/x", [("Host", "h")], None) == b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n"
    assert b"Transfer-Encoding: chunked" in encode_request("PUT", "/x", [], None)
    assert b"Content-Length: 3" in encode_request("POST", "/x", [], 3)

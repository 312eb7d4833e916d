"""stdcopy frames, config.json credentials, image references, query strings."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from dockyard.client import auth, reference
from dockyard.client.api import encode_filters, query_string, quote_path
from dockyard.client.stdcopy import STDERR, STDOUT, Demuxer, StreamError, demux, frame
from dockyard.errors import DockyardError, InvalidArgument


def test_demux_frames_split_at_every_byte() -> None:
    data = frame(STDOUT, b"out one\n") + frame(STDERR, b"err\n") + frame(STDOUT, b"") + frame(STDOUT, b"two")
    pieces = [data[i : i + 1] for i in range(len(data))]
    got: dict[int, bytes] = {STDOUT: b"", STDERR: b""}
    for stream, payload in demux(pieces):
        got[stream] += payload
    assert got == {STDOUT: b"out one\ntwo", STDERR: b"err\n"}


def test_demux_hands_out_partial_payloads() -> None:
    parser = Demuxer()
    big = frame(STDOUT, b"x" * 100)
    assert parser.feed(big[:58]) == [(STDOUT, b"x" * 50)]
    assert parser.pending == 50
    assert parser.feed(big[58:]) == [(STDOUT, b"x" * 50)]
    assert parser.pending == 0


def test_demux_system_error_and_garbage() -> None:
    with pytest.raises(StreamError, match="the daemon reported an error: boom"):
        list(demux([frame(3, b"boom")]))
    with pytest.raises(DockyardError, match="malformed multiplexed stream"):
        list(demux([b"hello world, not framed"]))


def test_query_strings() -> None:
    assert (
        query_string({"all": True, "size": False, "none": None, "name": "a b/c"})
        == "?all=1&size=0&name=a%20b%2Fc"
    )
    assert query_string({"names": ["a:1", "b"]}) == "?names=a%3A1&names=b"
    assert query_string({}) == ""
    assert json.loads(encode_filters({"label": ["a=b", "c"]}) or "") == {"label": {"a=b": True, "c": True}}
    assert encode_filters({}) is None
    assert quote_path("localhost:5000/my/img:tag") == "localhost:5000/my/img:tag"
    assert quote_path("we?ird#") == "we%3Fird%23"


def test_config_round_trip(tmp_path: Path) -> None:
    path = str(tmp_path / "sub" / "config.json")
    assert auth.load(path) == {}
    config: dict[str, object] = {"psFormat": "table {{.ID}}"}
    auth.put(config, "localhost:5000", "me", "pw:with:colons")
    auth.put(config, "docker.io", "hub", "x")
    auth.save(path, config)
    assert os.stat(path).st_mode & 0o777 == 0o600
    loaded = auth.load(path)
    assert loaded["psFormat"] == "table {{.ID}}"  # other keys kept
    assert set(loaded["auths"]) == {"localhost:5000", auth.INDEX_SERVER}
    assert auth.get(loaded, "localhost:5000") == ("me", "pw:with:colons")
    assert auth.get(loaded, "index.docker.io") == ("hub", "x")
    assert auth.remove(loaded, "https://localhost:5000/v2/") is True
    assert auth.get(loaded, "localhost:5000") is None
    assert auth.remove(loaded, "localhost:5000") is False


def test_docker_written_keys_are_found() -> None:
    config = {"auths": {"https://reg.example:444/v1/": {"auth": base64.b64encode(b"u:p").decode()}}}
    assert auth.get(config, "reg.example:444") == ("u", "p")
    header = json.loads(base64.urlsafe_b64decode(auth.header_for(config, "reg.example:444")))
    assert header == {"username": "u", "password": "p", "serveraddress": "reg.example:444"}
    assert auth.header_for({}, "docker.io") == "e30="
    config["auths"]["https://reg.example:444/v1/"]["identitytoken"] = "refresh"  # as login stores it
    header = json.loads(base64.urlsafe_b64decode(auth.header_for(config, "reg.example:444")))
    assert header["identitytoken"] == "refresh" and header["username"] == "u"


def test_bad_config_files(tmp_path: Path) -> None:
    broken = tmp_path / "config.json"
    broken.write_text("{not json")
    with pytest.raises(InvalidArgument, match="is not valid JSON"):
        auth.load(str(broken))
    with pytest.raises(InvalidArgument, match="not base64"):
        auth.get({"auths": {"r": {"auth": "%%%"}}}, "r")


def test_config_dir() -> None:
    assert auth.config_dir({"DOCKER_CONFIG": "/x"}) == "/x"
    assert auth.config_dir({"DOCKER_CONFIG": "/x"}, "/y") == "/y"
    assert auth.config_dir({}).endswith("/.docker")


@pytest.mark.parametrize(
    ("text", "domain", "path", "tag", "familiar"),
    [
        ("busybox", "docker.io", "library/busybox", "", "busybox"),
        ("busybox:1.36", "docker.io", "library/busybox", "1.36", "busybox"),
        ("me/app", "docker.io", "me/app", "", "me/app"),
        ("localhost:5000/app:v1", "localhost:5000", "app", "v1", "localhost:5000/app"),
        ("127.0.0.1:5000/a/b", "127.0.0.1:5000", "a/b", "", "127.0.0.1:5000/a/b"),
        ("docker.io/library/busybox:latest", "docker.io", "library/busybox", "latest", "busybox"),
        ("quay.io/x/y@sha256:abc", "quay.io", "x/y", "", "quay.io/x/y"),
    ],
)
def test_references(text: str, domain: str, path: str, tag: str, familiar: str) -> None:
    ref = reference.parse(text)
    assert (ref.domain, ref.path, ref.tag, ref.familiar_name) == (domain, path, tag, familiar)
    assert reference.registry_of(text) == domain


def test_reference_default_tag_and_str() -> None:
    assert str(reference.parse("busybox").with_default_tag()) == "busybox:latest"
    assert str(reference.parse("a/b@sha256:12").with_default_tag()) == "a/b@sha256:12"
    assert reference.parse("busybox").with_default_tag().name == "docker.io/library/busybox"


@pytest.mark.parametrize("text", ["Busybox", "busybox:", ":tag", "a//b", "img@sha256", "bad_/x", "x:-t"])
def test_bad_references(text: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid reference format"):
        reference.parse(text)

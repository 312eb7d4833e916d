"""References normalised as Docker's distribution/reference does."""

from __future__ import annotations

import pytest

from dockyard.errors import InvalidArgument
from dockyard.oci import reference

HEX = "a" * 64


@pytest.mark.parametrize(
    ("text", "full", "familiar"),
    [
        ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
        ("library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("index.docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("user/app:v1", "docker.io/user/app:v1", "user/app:v1"),
        ("localhost:5000/a/b:t", "localhost:5000/a/b:t", "localhost:5000/a/b:t"),
        ("localhost/x", "localhost/x:latest", "localhost/x:latest"),
        ("127.0.0.1:5000/x", "127.0.0.1:5000/x:latest", "127.0.0.1:5000/x:latest"),
        ("Registry.Example/x", "Registry.Example/x:latest", "Registry.Example/x:latest"),
        ("[::1]:5000/x:t", "[::1]:5000/x:t", "[::1]:5000/x:t"),
        (f"x@sha256:{HEX}", f"docker.io/library/x@sha256:{HEX}", f"x@sha256:{HEX}"),
        (f"x:t@sha256:{HEX}", f"docker.io/library/x:t@sha256:{HEX}", f"x:t@sha256:{HEX}"),
        ("ab__c-d/e.f", "docker.io/ab__c-d/e.f:latest", "ab__c-d/e.f:latest"),
    ],
)
def test_normalise_and_familiar(text: str, full: str, familiar: str) -> None:
    ref = reference.parse(text)
    assert str(ref) == full
    assert ref.familiar() == familiar
    assert reference.familiar(full) == familiar


def test_parts() -> None:
    ref = reference.parse("localhost:5000/a/b:t")
    assert (ref.domain, ref.path, ref.tag, ref.digest) == ("localhost:5000", "a/b", "t", None)
    assert ref.repository == "localhost:5000/a/b"
    assert ref.object == "t"
    assert reference.parse(f"x@sha256:{HEX}").object == f"sha256:{HEX}"
    assert reference.parse("x", default_tag=False).tag is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Busybox", "invalid reference format: repository name must be lowercase"),
        ("user/App", "invalid reference format: repository name must be lowercase"),
        ("", "invalid reference format"),
        ("a//b", "invalid reference format"),
        ("a:b:c", "invalid reference format"),
        ("x:-bad", "invalid tag"),
        ("x@sha256:abc", "invalid reference format"),
        ("x@md5:" + "a" * 32, "unsupported digest algorithm"),
        ("-x", "invalid reference format"),
        ("a.b_c/x", "invalid registry host"),
        (HEX, "cannot specify 64-byte hexadecimal strings"),
        ("a" * 300, "must not be more than 255 characters"),
    ],
)
def test_invalid(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message.replace("(", r"\(")):
        reference.parse(text)


def test_with_tag_and_digest() -> None:
    ref = reference.parse("busybox")
    assert str(ref.with_tag("v2")) == "docker.io/library/busybox:v2"
    assert ref.with_digest(f"sha256:{HEX}").familiar() == f"busybox@sha256:{HEX}"
    with pytest.raises(InvalidArgument):
        ref.with_tag(".bad")

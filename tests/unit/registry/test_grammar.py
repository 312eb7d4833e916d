"""Names, tags, digests, scopes and pagination: the spec's grammar, checked without a server."""

from __future__ import annotations

import pytest

from dockyard.registry.auth.scopes import allowed_actions, parse_scope
from dockyard.registry.digest import digest_of, parse_digest
from dockyard.registry.errcode import RegistryError
from dockyard.registry.names import check_name, check_tag, is_tag
from dockyard.registry.pagination import page


@pytest.mark.parametrize("name", ["a", "library/busybox", "a.b/c_d/e__f", "x-y--z/0", "org/team/app"])
def test_valid_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "..",
        "a/../b",
        "a/./b",
        "A",
        "a//b",
        "/a",
        "a/",
        "_x",
        "a/_layers",
        "a..b",
        "a___b",
        "a/b ",
        "a" * 256,
    ],
)
def test_invalid_names_raise_name_invalid(name: str) -> None:
    with pytest.raises(RegistryError) as e:
        check_name(name)
    assert e.value.code == "NAME_INVALID"
    assert e.value.http_status == 400


def test_tags() -> None:
    assert is_tag("v1.0_rc-1") and is_tag("_x") and is_tag("A" * 128)
    for bad in ("", ".x", "-x", "a" * 129, "a/b", "a:b"):
        assert not is_tag(bad)
    with pytest.raises(RegistryError) as e:
        check_tag("-x")
    assert "invalid tag" in e.value.message


def test_digests() -> None:
    d = digest_of(b"hello")
    assert parse_digest(str(d)) == d
    assert len(parse_digest("sha512:" + "a" * 128).hex) == 128
    for bad, code in [
        ("sha256:ABC", "DIGEST_INVALID"),
        ("sha256:" + "a" * 63, "DIGEST_INVALID"),
        ("md5:" + "a" * 32, "UNSUPPORTED"),
        ("nocolon", "DIGEST_INVALID"),
        ("sha256:../../etc", "DIGEST_INVALID"),
    ]:
        with pytest.raises(RegistryError) as e:
            parse_digest(bad)
        assert e.value.code == code, bad


def test_scopes() -> None:
    s = parse_scope("repository:org/app:pull,push")
    assert s is not None and s.name == "org/app" and s.actions == {"pull", "push"}
    assert parse_scope("garbage") is None
    assert allowed_actions(1, frozenset({"pull", "push", "delete"})) == ["pull"]
    assert allowed_actions(3, frozenset({"*"})) == ["*"]


def test_pagination() -> None:
    items = ["a", "b", "c", "d", "e"]
    chosen, link = page(items, "2", None, "/v2/x/tags/list")
    assert chosen == ["a", "b"]
    assert link == '</v2/x/tags/list?n=2&last=b>; rel="next"'
    assert page(items, "2", "d", "/l") == (["e"], None)
    assert page(items, None, "b", "/l") == (["c", "d", "e"], None)
    assert page(items, "0", None, "/l") == ([], None)
    with pytest.raises(RegistryError) as e:
        page(items, "x", None, "/l")
    assert "invalid page size" in e.value.message

"""The token requests' shapes (distribution docs/spec/auth/token.md and oauth.md)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from dockyard.distribution import oauth


def test_get_asks_for_a_refresh_token_only_with_credentials() -> None:
    url = oauth.get_url("http://t/token?x=1", "svc", ["repository:a:pull", "repository:b:push"], offline=True)
    parts = urlsplit(url)
    assert parse_qsl(parts.query) == [
        ("x", "1"), ("service", "svc"), ("client_id", "dockyard"), ("offline_token", "true"),
        ("scope", "repository:a:pull"), ("scope", "repository:b:push"),
    ]  # fmt: skip
    assert "offline_token" not in oauth.get_url("http://t/token", "svc", [], offline=False)


def test_refresh_form_joins_scopes_with_spaces() -> None:
    form = oauth.refresh_form("svc", ["repository:a:pull", "repository:b:pull,push"], "R")
    assert form == {
        "grant_type": "refresh_token", "refresh_token": "R", "client_id": "dockyard", "service": "svc",
        "scope": "repository:a:pull repository:b:pull,push",
    }  # fmt: skip


def test_answers() -> None:
    got = oauth.parse_answer(b'{"access_token": "A", "expires_in": 300, "refresh_token": "R"}')
    assert got == oauth.TokenAnswer("A", 300.0, "R")
    assert oauth.parse_answer(b'{"token": "T"}') == oauth.TokenAnswer("T", None, None)
    for bad in (b"", b"[]", b'{"token": ""}', b"\xff", b'{"expires_in": 3}'):
        assert oauth.parse_answer(bad) is None

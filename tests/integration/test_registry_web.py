"""The web page in a real browser: Debian's chromium driven by Playwright signs in, searches, opens
a pushed image's tag page, sees its layers, and makes the repository public. Every page visited
is saved as a PNG in $DOCKYARD_SCREENSHOTS (default: <tmp>/dockyard-registry-screenshots), kept
after the run on purpose: they are the run's evidence of what a person sees.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import Browser, Page, sync_playwright

from tests.unit.registry.harness import OCI_MANIFEST, Api, RegistryServer, make_layer, running_registry

CHROMIUM = "/usr/bin/chromium"
SHOTS = os.environ.get("DOCKYARD_SCREENSHOTS") or os.path.join(
    tempfile.gettempdir(), "dockyard-registry-screenshots"
)


@pytest.fixture(scope="module")
def server() -> Iterator[RegistryServer]:
    with running_registry(auth=True) as srv:
        srv.add_user("alice", "alice-pass-1")
        srv.add_user("bob", "bob-pass-12")
        tok = requests.get(
            f"{srv.url}/token",
            auth=("alice", "alice-pass-1"),
            timeout=10,
            params={"scope": "repository:alice/webapp:pull,push"},
        ).json()["token"]
        layers = [make_layer({"bin/app": b"#!/bin/sh\necho hi\n"}), make_layer({"etc/conf": b"x=1\n"})]
        api = Api(srv.url, tok)
        _digest, body = api.push_image("alice/webapp", "v1", layers)
        assert api.push_manifest("alice/webapp", "old", body, OCI_MANIFEST).status_code == 201
        yield srv


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def shot(page: Page, name: str) -> None:
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def sign_in(page: Page, server: RegistryServer, user: str, password: str) -> None:
    page.goto(f"{server.url}/ui/login")
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("#signin")
    page.wait_for_url(f"{server.url}/ui/")


def test_sign_in_find_image_see_layers_make_public(server: RegistryServer, browser: Browser) -> None:
    page = browser.new_page()
    try:
        page.goto(f"{server.url}/ui/login")
        shot(page, "01-login")
        sign_in(page, server, "alice", "alice-pass-1")
        assert page.text_content("#user") == "alice"
        page.fill("#search", "webapp")
        page.click("#search-go")
        shot(page, "02-repositories")
        page.click("text=alice/webapp")
        assert page.text_content("#visibility") == "private"
        assert "v1" in (page.text_content("#tags") or "")
        shot(page, "03-repository")
        page.click("#tags >> text=v1")
        assert page.locator("tr.layer").count() == 2
        assert "docker pull" in (page.text_content("#pull-command") or "")
        assert "PATH=/bin" in (page.text_content(".config") or "")
        shot(page, "04-tag")
        page.go_back()
        page.click("#tags tr:has-text('old') .delete-tag")
        page.wait_for_load_state()
        assert "old" not in (page.text_content("#tags") or "")
        page.click("#toggle-visibility")
        page.wait_for_load_state()
        assert page.text_content("#visibility") == "public"
        shot(page, "05-public")
        page.click("#signout")
        page.wait_for_url(f"{server.url}/ui/login")
        # Now anyone, signed in or not, can see and pull it.
        page.goto(f"{server.url}/ui/")
        assert "alice/webapp" in (page.text_content("#repos") or "")
        r = requests.get(f"{server.url}/token", params={"scope": "repository:alice/webapp:pull"}, timeout=10)
        anon = Api(server.url, r.json()["token"])
        assert anon.get("/v2/alice/webapp/tags/list").json()["tags"] == ["v1"]
    finally:
        page.close()


def test_pages_of_a_private_repository_are_refused(server: RegistryServer, browser: Browser) -> None:
    tok = requests.get(
        f"{server.url}/token",
        auth=("alice", "alice-pass-1"),
        timeout=10,
        params={"scope": "repository:alice/hidden:pull,push"},
    ).json()["token"]
    Api(server.url, tok).push_image("alice/hidden", "v1")
    page = browser.new_page()
    try:
        for who in ("anonymous", "bob"):
            if who == "bob":
                sign_in(page, server, "bob", "bob-pass-12")
            page.goto(f"{server.url}/ui/")
            assert "alice/hidden" not in (page.content())
            for path in ("/ui/repo?name=alice/hidden", "/ui/tag?name=alice/hidden&tag=v1"):
                resp = page.goto(server.url + path)
                assert resp is not None and resp.status in (401, 403), (who, path)
                assert "sha256:" not in page.content()
            shot(page, f"06-refused-{who}")
    finally:
        page.close()


def test_forms_need_the_csrf_token(server: RegistryServer) -> None:
    s = requests.Session()
    login = s.get(f"{server.url}/ui/login", timeout=10)
    assert login.status_code == 200
    # Without the form's token (a cross-site POST) the sign-in is refused.
    r = s.post(
        f"{server.url}/ui/login",
        data={"username": "alice", "password": "alice-pass-1"},
        timeout=10,
        allow_redirects=False,
    )
    assert r.status_code == 403
    token = login.text.split('name="csrf" value="')[1].split('"')[0]
    r = s.post(
        f"{server.url}/ui/login",
        data={"username": "alice", "password": "alice-pass-1", "csrf": token},
        timeout=10,
        allow_redirects=False,
    )
    assert r.status_code == 303
    r = s.post(
        f"{server.url}/ui/repo/visibility",
        data={"name": "alice/webapp", "visibility": "private"},
        timeout=10,
        allow_redirects=False,
    )
    assert r.status_code == 403

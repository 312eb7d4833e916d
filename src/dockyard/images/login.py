"""``docker login`` on the daemon's side (POST /auth): check credentials against a registry.

As dockerd: the registry's /v2/ is asked with the credentials, answering its challenge (Basic,
or a Bearer token fetched from its token server with the credentials and no scope). A 200 at
the end is "Login Succeeded"; a refusal is 401 with the registry's words. Nothing is stored on
the daemon's side: the client keeps the credentials (config.json) and sends them with each
pull and push. A token server that hands out a refresh token (asked for with
``offline_token=true``) makes it the IdentityToken of the answer, as dockerd's loginV2 does: the
client stores it as ``identitytoken`` and pulls trade it for tokens (OAuth2 POST).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dockyard.distribution.auth import Credentials
from dockyard.distribution.client import RegistryClient
from dockyard.errors import InvalidArgument
from dockyard.oci import reference

if TYPE_CHECKING:
    from dockyard.images.service import ImageService

LOGIN_SUCCEEDED = "Login Succeeded"
_HUB_ADDRESSES = {"index.docker.io", "registry-1.docker.io", "docker.io"}


def registry_domain(server_address: str) -> str:
    """``https://index.docker.io/v1/``, ``http://127.0.0.1:5000``, ``127.0.0.1:5000/v2/`` -> domain."""
    text = server_address.strip()
    for scheme in ("https://", "http://"):
        if text.startswith(scheme):
            text = text[len(scheme) :]
            break
    domain = text.split("/", 1)[0]
    if not domain:
        raise InvalidArgument(f"invalid registry address {server_address!r}: give a host[:port]")
    return reference.DEFAULT_DOMAIN if domain in _HUB_ADDRESSES else domain


async def login(
    server_address: str,
    username: str,
    password: str,
    *,
    offline_domains: frozenset[str],
    svc: ImageService | None = None,
) -> tuple[str, str]:
    """("Login Succeeded", identity token or "")."""
    if not username or not password:
        raise InvalidArgument("login needs a username and a password (or a token as the password)")
    domain = registry_domain(server_address)
    credentials = Credentials(username=username, password=password)
    async with RegistryClient(
        domain,
        credentials,
        offline_domains=offline_domains,
        settings=svc.options.registry if svc is not None else None,
        what=f"log in to {domain}",
    ) as client:
        resp = await client.request("GET", "/v2/", scope=None, ok=(200,), what=f"login to {domain}")
        resp.release()
        bearer = client.tokens.bearer.get(client.endpoint.base_url)
        identity = client.tokens.refresh_token(bearer.realm, bearer.service, username) if bearer else None
    return LOGIN_SUCCEEDED, identity or ""

"""Wire accounts, tokens and throttling into an application (used by app.make_app)."""

from __future__ import annotations

from aiohttp import web

from dockyard.registry.auth.accounts import Accounts
from dockyard.registry.auth.admin import AdminAPI
from dockyard.registry.auth.credentials import Credentials
from dockyard.registry.auth.endpoint import TokenEndpoint
from dockyard.registry.auth.sessions import Sessions
from dockyard.registry.auth.throttle import Throttle
from dockyard.registry.auth.tokenauth import TokenAuthorizer
from dockyard.registry.auth.tokens import TokenIssuer, load_or_create_key
from dockyard.registry.config import Settings

ACCOUNTS = web.AppKey("accounts", Accounts)
SESSIONS = web.AppKey("sessions", Sessions)
CREDENTIALS = web.AppKey("credentials", Credentials)
AUTHORIZER = web.AppKey("authorizer", TokenAuthorizer)


def install_auth(app: web.Application, settings: Settings) -> tuple[Accounts, TokenAuthorizer]:
    accounts = Accounts(settings.accounts_path(), bcrypt_rounds=settings.bcrypt_rounds)
    sessions = Sessions(accounts)
    issuer = TokenIssuer(load_or_create_key(settings.token_key_path()), settings.service, settings.token_ttl)
    throttle = Throttle(
        accounts.db, settings.throttle_failures, settings.throttle_window, settings.throttle_block
    )
    credentials = Credentials(accounts, issuer, throttle)
    authorizer = TokenAuthorizer(accounts, credentials, settings.service, settings.realm)
    endpoint = TokenEndpoint(accounts, sessions, credentials, issuer)
    app.router.add_get("/token", endpoint.get)
    app.router.add_post("/token", endpoint.post)
    AdminAPI(accounts, credentials, authorizer.challenge).add_routes(app)
    app[ACCOUNTS] = accounts
    app[SESSIONS] = sessions
    app[CREDENTIALS] = credentials
    app[AUTHORIZER] = authorizer

    async def close(_app: web.Application) -> None:
        accounts.close()

    app.on_cleanup.append(close)
    return accounts, authorizer

"""The registry's aiohttp application: the distribution API, and with accounts the token
endpoint, the admin API, Docker's search and the web pages."""

from __future__ import annotations

from aiohttp import web

from dockyard.registry import api
from dockyard.registry.access import Authorizer, OpenAccess
from dockyard.registry.config import Settings
from dockyard.registry.context import REGISTRY, Registry
from dockyard.registry.storage import StorageDriver, open_driver


def make_app(settings: Settings, driver: StorageDriver | None = None) -> web.Application:
    driver = driver or open_driver(settings.storage, fsync=settings.fsync, s3_endpoint=settings.s3_endpoint)
    authorizer: Authorizer = OpenAccess()
    app = web.Application(middlewares=[api.errors], client_max_size=1 << 20)
    accounts = None
    if settings.auth:
        from dockyard.registry.auth.setup import install_auth

        accounts, authorizer = install_auth(app, settings)
    reg = Registry(driver, authorizer, read_only=settings.read_only)
    app[REGISTRY] = reg
    api.add_routes(app)
    if accounts is not None:
        from dockyard.registry.search import add_routes as add_search

        add_search(app)
        if settings.ui:
            from dockyard.registry.web.pages import add_routes as add_ui

            add_ui(app, settings)
    return app

"""Building, starting and stopping the daemon's services, and collecting the API's routes.

Order matters: the image store and the network come first, the engine sits on both and
reconciles containers a previous daemon left (live restore) before the API accepts requests.
Stop is the reverse: the engine stops its containers (or, with --live-restore, leaves them
running), then the network lets go of its netlink worker. The bridge and its firewall rules
stay, for the containers that live on.
"""

from __future__ import annotations

import asyncio
import importlib
import logging

from aiohttp import web

from dockyard.daemon.context import DaemonContext
from dockyard.daemon.options import DaemonOptions
from dockyard.engine.engine import Engine, EngineOptions
from dockyard.engine.events import EventBus
from dockyard.images import options as images_options
from dockyard.images.options import ImageOptions
from dockyard.images.service import OFFLINE_DOMAINS, ImageService
from dockyard.network.manager import NetworkManager
from dockyard.network.options import NetworkOptions

log = logging.getLogger("dockyard.daemon")

# The handler modules, in registration order (specific paths before catch-alls).
HANDLER_MODULES = [
    "system",
    "bootstrap",
    "containers",
    "exec",
    "archive",
    "images",
    "volumes",
    "networks",
    "events",
    "build",
]


def image_options(opts: DaemonOptions) -> ImageOptions:
    return images_options.build(
        max_concurrent_downloads=opts.max_concurrent_downloads,
        max_concurrent_uploads=opts.max_concurrent_uploads,
        insecure_registries=opts.insecure_registries,
        registry_mirrors=opts.registry_mirrors,
        offline_domains=OFFLINE_DOMAINS,
        limits=opts.image_limits,
        sync_layers=opts.sync_layers,
    )


def reload_images(ctx: DaemonContext) -> None:
    """SIGHUP: the registry settings and download limits apply to the next pull or push."""
    if ctx.images is not None:
        fresh = image_options(ctx.options)
        fresh.push_chunk_size = ctx.images.options.push_chunk_size
        ctx.images.options = fresh


def build(ctx: DaemonContext) -> None:
    opts = ctx.options
    ctx.images = ImageService(opts.data_root, options=image_options(opts))
    ctx.network = NetworkManager(
        opts.data_root,
        opts.exec_root,
        NetworkOptions(
            bridge=opts.bridge,
            subnet=opts.bip,
            masquerade=opts.ip_masq,
            isolate=opts.isolate_egress,
            icc=opts.icc,
            dns_upstream=dns_upstream(opts.dns_upstream),
            firewall_backend=opts.firewall_backend,
        ),
    )
    ctx.events = EventBus()
    events = ctx.events
    ctx.network.on_event = lambda action, nid, attrs: events.publish("network", action, nid, attrs)
    ctx.engine = Engine(
        EngineOptions(
            data_root=opts.data_root,
            exec_root=opts.exec_root,
            default_runtime=opts.default_runtime,
            runtimes=dict(opts.runtimes),
            live_restore=opts.live_restore,
            userns_remap=opts.userns_remap,
        ),
        ctx.images,
        ctx.network,
        ctx.events,
    )


def dns_upstream(values: list[str] | None) -> list[str] | None:
    """--dns-upstream: absent = the host's resolvers (None); "none" = nowhere ([])."""
    if values is None:
        return None
    return [v for v in values if v != "none"]


async def start(ctx: DaemonContext) -> None:
    await asyncio.to_thread(ctx.network.start)
    await ctx.engine.start()


async def stop(ctx: DaemonContext) -> None:
    try:
        await ctx.engine.stop()
    finally:
        await asyncio.to_thread(ctx.network.stop)
        ctx.images.close()


def routes(ctx: DaemonContext) -> list[list[web.RouteDef]]:
    groups = []
    for name in HANDLER_MODULES:
        module = importlib.import_module(f"dockyard.daemon.handlers.{name}")
        groups.append(module.routes(ctx))
    return groups

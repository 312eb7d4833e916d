"""The catalog: every repository in the store, found by walking repositories/.

A folder is a repository when it has a ``_manifests`` child; folders between (``org`` of
``org/app``) are namespaces only. Names come back sorted, as the catalog API lists them.
"""

from __future__ import annotations

import asyncio

from dockyard.registry import paths
from dockyard.registry.storage import StorageDriver


def walk_repositories(driver: StorageDriver) -> list[str]:
    """Every repository name, sorted (synchronous: for gc and worker threads)."""
    out: list[str] = []
    _walk(driver, "", out)
    return sorted(out)


def _walk(driver: StorageDriver, prefix: str, out: list[str]) -> None:
    base = paths.REPOS + ("/" + prefix if prefix else "")
    for child in driver.list_dir(base):
        if child.startswith("_"):
            continue
        name = f"{prefix}/{child}" if prefix else child
        kids = driver.list_dir(f"{paths.REPOS}/{name}")
        if "_manifests" in kids:
            out.append(name)
        if any(not k.startswith("_") for k in kids):
            _walk(driver, name, out)


async def list_repositories(driver: StorageDriver) -> list[str]:
    return await asyncio.to_thread(walk_repositories, driver)

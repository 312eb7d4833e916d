"""Structured access logs: one JSON object per request on the ``dockyard.registry.access`` logger."""

from __future__ import annotations

import json
import logging

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger


class JsonAccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        entry = {
            "remote": request.remote,
            "method": request.method,
            "path": request.path,
            "status": response.status,
            "bytes": response.body_length,
            "ms": round(time * 1000, 2),
            "user_agent": request.headers.get("User-Agent", ""),
        }
        account = request.get("account")
        if account:
            entry["account"] = account
        self.logger.info(json.dumps(entry, separators=(",", ":")))


def access_logger() -> logging.Logger:
    return logging.getLogger("dockyard.registry.access")

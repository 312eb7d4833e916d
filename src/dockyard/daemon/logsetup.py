"""Structured daemon logs, as dockerd writes them (logrus): text `time=... level=... msg=...`
with key=value fields, or one JSON object per line with `--log-format json`."""

from __future__ import annotations

import json
import logging
import sys
import time

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "fatal": logging.CRITICAL,
}
_NAMES = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warning",
    logging.ERROR: "error",
    logging.CRITICAL: "fatal",
}


def _timestamp(created: float) -> str:
    secs = int(created)
    nanos = int((created - secs) * 1e9)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{nanos:09d}Z"


def _fields(record: logging.LogRecord) -> dict[str, object]:
    extra = getattr(record, "fields", None)
    return dict(extra) if isinstance(extra, dict) else {}


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        if record.exc_info:
            msg += "\n" + self.formatException(record.exc_info)
        parts = [
            f'time="{_timestamp(record.created)}"',
            f"level={_NAMES.get(record.levelno, 'info')}",
            f"msg={json.dumps(msg)}",
        ]
        parts += [f"{k}={json.dumps(v) if isinstance(v, str) else v}" for k, v in _fields(record).items()]
        return " ".join(parts)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        if record.exc_info:
            msg += "\n" + self.formatException(record.exc_info)
        data: dict[str, object] = {
            "level": _NAMES.get(record.levelno, "info"),
            "msg": msg,
            "time": _timestamp(record.created),
        }
        data.update(_fields(record))
        return json.dumps(data)


def setup(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS.get(level, logging.INFO))
    # aiohttp's access log at info would print every request; dockerd logs requests at debug.
    logging.getLogger("aiohttp.access").setLevel(logging.DEBUG if level == "debug" else logging.WARNING)


def set_level(level: str) -> None:
    logging.getLogger().setLevel(_LEVELS.get(level, logging.INFO))

"""What every command gets: the daemon client (made on first use), output streams, the config file."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, BinaryIO

    from dockyard.client.api import APIClient
    from dockyard.client.tls import TLSConfig


class Context:
    def __init__(
        self,
        *,
        host: str,
        tls: TLSConfig | None = None,
        config_dir: str | None = None,
        env: Mapping[str, str] | None = None,
        stdout: BinaryIO | None = None,
        stderr: BinaryIO | None = None,
        stdin: BinaryIO | None = None,
    ) -> None:
        self.host = host
        self.tls = tls
        self.env = os.environ if env is None else env
        self.config_dir = (
            config_dir or self.env.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
        )
        self.stdout: BinaryIO = stdout or sys.stdout.buffer
        self.stderr: BinaryIO = stderr or sys.stderr.buffer
        self.stdin: BinaryIO = stdin or sys.stdin.buffer
        self.command_path = "dockyard"
        self.aliases: list[str] = []
        self._client: APIClient | None = None
        self._config: dict[str, Any] | None = None

    @property
    def client(self) -> APIClient:
        if self._client is None:
            from dockyard.client.api import APIClient

            version = self.env.get("DOCKYARD_API_VERSION") or self.env.get("DOCKER_API_VERSION") or ""
            self._client = APIClient(self.host, tls=self.tls, version=version)
        return self._client

    @property
    def config_path(self) -> str:
        return os.path.join(self.config_dir, "config.json")

    def config(self) -> dict[str, Any]:
        """``config.json`` (registry credentials, detach keys, default formats), read once."""
        if self._config is None:
            from dockyard.client import auth

            self._config = auth.load(self.config_path)
        return self._config

    def print(self, text: str = "", end: str = "\n") -> None:
        self.stdout.write((text + end).encode("utf-8", "surrogateescape"))

    def warn(self, text: str, end: str = "\n") -> None:
        self.stderr.write((text + end).encode("utf-8", "surrogateescape"))
        self.stderr.flush()

    def write(self, data: bytes) -> None:
        self.stdout.write(data)

    def flush(self) -> None:
        try:
            self.stdout.flush()
        finally:
            self.stderr.flush()

    def stdout_is_tty(self) -> bool:
        try:
            return os.isatty(self.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            return False

    def stdin_is_tty(self) -> bool:
        try:
            return os.isatty(self.stdin.fileno())
        except (OSError, ValueError, AttributeError):
            return False

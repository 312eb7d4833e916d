"""Settings of ``dockyard registry serve``: defaults, then a TOML file (``--config``), then flags.

The TOML file uses the same names as the settings below, e.g.::

    addr = "0.0.0.0:5000"
    storage = "s3://images/registry"
    s3_endpoint = "http://127.0.0.1:9000"
    auth = true
    accounts = "/var/lib/dockyard-registry/accounts.db"
    token_key = "/var/lib/dockyard-registry/token-key.pem"
    [throttle]
    failures = 5
    window = 60
    block = 60
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from typing import Any

from dockyard.errors import InvalidArgument

DEFAULT_STORAGE = "/var/lib/dockyard-registry"


@dataclass
class Settings:
    addr: str = "127.0.0.1:5000"
    storage: str = DEFAULT_STORAGE
    s3_endpoint: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    read_only: bool = False
    auth: bool = True
    accounts: str | None = None  # SQLite file; default <storage>/accounts.db (filesystem storage)
    token_key: str | None = None  # PEM private key; default beside the accounts file
    service: str = "dockyard-registry"
    realm: str | None = None  # token endpoint URL; default http(s)://<Host>/token of each request
    token_ttl: int = 300
    bcrypt_rounds: int = 12
    throttle_failures: int = 5
    throttle_window: float = 60.0
    throttle_block: float = 60.0
    fsync: bool = True
    upload_grace: float = 3600.0  # gc: blobs and uploads younger than this are never removed
    ui: bool = True
    workers: int = 0  # server processes sharing the port (SO_REUSEPORT); 0 = one per CPU

    def host_port(self) -> tuple[str, int]:
        host, sep, port = self.addr.rpartition(":")
        if not sep or not port.isdigit():
            raise InvalidArgument(f"invalid --addr {self.addr!r}: use HOST:PORT, e.g. 127.0.0.1:5000")
        return host.strip("[]") or "0.0.0.0", int(port)

    def accounts_path(self) -> str:
        if self.accounts:
            return self.accounts
        if self.storage.startswith("s3://"):
            raise InvalidArgument(
                "with s3:// storage give --accounts PATH (an SQLite file every replica can reach) "
                "or --no-auth"
            )
        return os.path.join(self.storage, "accounts.db")

    def token_key_path(self) -> str:
        return self.token_key or os.path.join(
            os.path.dirname(os.path.abspath(self.accounts_path())), "token-key.pem"
        )


def load(path: str | None, overrides: dict[str, Any]) -> Settings:
    s = Settings()
    known = {f.name for f in fields(Settings)}
    if path:
        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except OSError as e:
            raise InvalidArgument(f"cannot read --config {path}: {e.strerror}") from None
        except tomllib.TOMLDecodeError as e:
            raise InvalidArgument(f"--config {path} is not valid TOML: {e}") from None
        throttle = data.pop("throttle", {})
        for k, v in throttle.items():
            data[f"throttle_{k}"] = v
        for k, v in data.items():
            key = k.replace("-", "_")
            if key not in known:
                raise InvalidArgument(
                    f"unknown setting {k!r} in {path}: use one of {', '.join(sorted(known))}"
                )
            setattr(s, key, v)
    for k, v in overrides.items():
        if v is not None:
            setattr(s, k, v)
    return s

"""Login throttling and the settings file."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.errors import InvalidArgument
from dockyard.registry import config
from dockyard.registry.auth.db import Database
from dockyard.registry.auth.throttle import Throttle
from dockyard.registry.errcode import RegistryError


def test_throttle_blocks_after_failures_then_lifts(tmp_path: Path) -> None:
    t = Throttle(Database(str(tmp_path / "a.db")), failures=3, window=60, block=0.3)
    for _ in range(2):
        t.check("account:a")
        t.failed("account:a", "address:1")
    t.failed("account:a", "address:2")
    with pytest.raises(RegistryError) as e:
        t.check("account:a")
    assert e.value.http_status == 429
    assert e.value.headers["Retry-After"] == "1"
    t.check("address:1")  # two failures only
    import time

    time.sleep(0.35)
    t.check("account:a")
    # A second process on the same database sees the same counts.
    other = Throttle(Database(str(tmp_path / "a.db")), failures=3, window=60, block=0.3)
    t.failed("address:9")
    t.failed("address:9")
    other.failed("address:9")
    with pytest.raises(RegistryError):
        t.check("address:9")


def test_settings_file_and_overrides(tmp_path: Path) -> None:
    f = tmp_path / "r.toml"
    f.write_text('addr = "0.0.0.0:6000"\nstorage = "/srv/reg"\n[throttle]\nfailures = 9\n')
    s = config.load(str(f), {"addr": "127.0.0.1:7000", "storage": None})
    assert s.addr == "127.0.0.1:7000" and s.storage == "/srv/reg" and s.throttle_failures == 9
    assert s.host_port() == ("127.0.0.1", 7000)
    assert s.accounts_path() == "/srv/reg/accounts.db"
    f.write_text("colour = 1\n")
    with pytest.raises(InvalidArgument, match="unknown setting 'colour'"):
        config.load(str(f), {})
    with pytest.raises(InvalidArgument, match="HOST:PORT"):
        config.Settings(addr="nope").host_port()
    with pytest.raises(InvalidArgument, match="--accounts"):
        config.Settings(storage="s3://b/p").accounts_path()

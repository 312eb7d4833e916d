"""Which of the old container's mounts a recreated container takes over (Compose v2's rules)."""

from __future__ import annotations

from typing import Any

from dockyard.compose.inherit import inherit_mounts
from dockyard.compose.model import Mount
from tests.compose_fixtures import service


def old(kind: str, name: str, dest: str, rw: bool = True) -> dict[str, Any]:
    return {"Type": kind, "Name": name, "Source": f"/var/lib/x/{name}", "Destination": dest, "RW": rw}


def test_anonymous_and_image_volumes_are_taken_over_others_not() -> None:
    svc = service(
        "db",
        volumes=[
            Mount(type="volume", target="/cache"),  # anonymous: takes the old one
            Mount(type="volume", source="named", target="/named"),
            Mount(type="bind", source="/srv/conf", target="/conf"),
        ],
    )
    body: dict[str, Any] = {
        "HostConfig": {
            "Mounts": [
                {"Type": "volume", "Target": "/cache", "ReadOnly": False},
                {"Type": "volume", "Source": "p_named", "Target": "/named", "ReadOnly": False},
                {"Type": "bind", "Source": "/srv/conf", "Target": "/conf", "ReadOnly": False},
            ]
        }
    }
    mounts = [
        old("volume", "aaa", "/cache"),
        old("volume", "bbb", "/data/", rw=False),  # the image's VOLUME /data
        old("volume", "ccc", "/gone"),  # neither declared nor anonymous any more: dropped
        old("volume", "ddd", "/named"),  # the named volume's mount: the service says which
        old("bind", "", "/conf"),
        old("tmpfs", "", "/tmp"),
    ]
    inherit_mounts(body, svc, ["/data", "/named"], mounts)
    assert body["HostConfig"]["Mounts"] == [
        {"Type": "volume", "Source": "aaa", "Target": "/cache", "ReadOnly": False},
        {"Type": "volume", "Source": "p_named", "Target": "/named", "ReadOnly": False},
        {"Type": "bind", "Source": "/srv/conf", "Target": "/conf", "ReadOnly": False},
        {"Type": "volume", "Source": "bbb", "Target": "/data", "ReadOnly": True},
    ]

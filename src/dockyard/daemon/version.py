"""The Engine API versions this daemon speaks.

We advertise API_VERSION (what dockerd 26 advertises) and accept any version from MIN_VERSION
up in the path (`/v1.41/containers/json`), as dockerd does: clients pin the version they were
built for and expect the shapes of that version or a compatible superset.
"""

API_VERSION = "1.45"
MIN_VERSION = "1.24"
ENGINE_VERSION = "26.1.0-dockyard"  # what `docker version` shows as the server's version


def as_tuple(version: str) -> tuple[int, int]:
    major, _, minor = version.partition(".")
    return int(major), int(minor or 0)

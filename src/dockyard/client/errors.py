"""Errors of the client: the daemon's ``{"message": ...}`` answers and an unreachable daemon.

    DockyardError
     +-- DaemonError               the daemon answered with an error status; ``status`` is it
     |    +-- BadRequest           400 (also InvalidArgument)
     |    +-- AuthFailed           401 (also Unauthorized)
     |    +-- NoSuchObject         404 (also NotFound)
     |    +-- ObjectConflict       409 (also Conflict)
     |    +-- NotImplementedByDaemon  501 (also Unsupported)
     +-- DaemonUnreachable         no daemon at the address (also SystemFailure)

The command line prints a DaemonError as docker does, ``Error response from daemon: MESSAGE``.
"""

from __future__ import annotations

from dockyard.errors import (
    Conflict,
    DockyardError,
    InvalidArgument,
    NotFound,
    SystemFailure,
    Unauthorized,
    Unsupported,
)

START_HINT = "Start it with: dockyard daemon"


class DaemonError(DockyardError):
    status = 500

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status
        self.http_status = status


class BadRequest(DaemonError, InvalidArgument):
    pass


class AuthFailed(DaemonError, Unauthorized):
    pass


class NoSuchObject(DaemonError, NotFound):
    pass


class ObjectConflict(DaemonError, Conflict):
    pass


class NotImplementedByDaemon(DaemonError, Unsupported):
    pass


_BY_STATUS: dict[int, type[DaemonError]] = {
    400: BadRequest,
    401: AuthFailed,
    403: AuthFailed,
    404: NoSuchObject,
    409: ObjectConflict,
    501: NotImplementedByDaemon,
}


def from_response(status: int, reason: str, body: bytes) -> DaemonError:
    """The error for an error answer: its JSON ``message``, else its text, else the status line."""
    message = ""
    text = body.decode("utf-8", "replace").strip()
    if text.startswith("{"):
        from dockyard.oci import fastjson

        try:
            data = fastjson.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            message = data["message"]
    if not message:
        message = text or f"{status} {reason}".strip()
    return _BY_STATUS.get(status, DaemonError)(message, status)


class DaemonUnreachable(SystemFailure):
    def __init__(self, url: str, reason: str = "", errno: int = 0) -> None:
        if reason == "permission":
            message = (
                f"permission denied while trying to connect to the dockyard daemon socket at {url}: "
                "run as root or as a member of the socket's group"
            )
        else:
            message = f"Cannot connect to the dockyard daemon at {url}. Is the daemon running? {START_HINT}"
            if reason:
                message = f"{message} ({reason})"
        super().__init__(message, errno)
        self.url = url

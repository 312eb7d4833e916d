"""One exception tree for all of dockyard.

    DockyardError                 exit 1, HTTP 500
     +-- InvalidArgument          exit 1, HTTP 400  bad input from a user or a config file
     |    +-- ConfigError         exit 1, HTTP 400  an OCI config.json field is wrong (names the field)
     +-- Unauthorized             exit 1, HTTP 401  a registry refused the credentials
     +-- NotFound                 exit 1, HTTP 404  a container, image or object does not exist
     +-- Conflict                 exit 1, HTTP 409  the object exists or is in the wrong state
     +-- Unsupported              exit 1, HTTP 501  this host or build lacks a feature that was asked for
     +-- SystemFailure            exit 1, HTTP 500  the kernel refused an operation (wraps errno)
     +-- NotModified              exit 0, HTTP 304  nothing to do (stop of a stopped container)

Each error knows its process exit code and its HTTP status, so the command line and the API
report it the same way.
"""

from __future__ import annotations


class DockyardError(Exception):
    exit_code: int = 1
    http_status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidArgument(DockyardError):
    http_status = 400


class ConfigError(InvalidArgument):
    """A field of an OCI runtime config.json is malformed or contradictory."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"config.json: {field}: {problem}")
        self.field = field


class Unauthorized(DockyardError):
    http_status = 401


class NotFound(DockyardError):
    http_status = 404


class Conflict(DockyardError):
    http_status = 409


class Unsupported(DockyardError):
    http_status = 501


class SystemFailure(DockyardError):
    """An operating-system call failed; carries the errno."""

    def __init__(self, message: str, errno: int = 0) -> None:
        super().__init__(message)
        self.errno = errno


class NotModified(DockyardError):
    """The object is already in the asked-for state: the Engine API answers 304 with no body."""

    exit_code = 0
    http_status = 304

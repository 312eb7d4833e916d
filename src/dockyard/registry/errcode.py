"""The distribution spec's error codes ("Error Codes") and the HTTP status each answers with.

A handler raises :class:`RegistryError` with a code; the app's error middleware turns it into
``{"errors": [{"code", "message", "detail"}]}``. The message names the bad value and the fix.
"""

from __future__ import annotations

from typing import Any

from dockyard.errors import DockyardError

#: code -> HTTP status (distribution's registry/api/errcode and the OCI spec's table).
STATUS: dict[str, int] = {
    "BLOB_UNKNOWN": 404,
    "BLOB_UPLOAD_INVALID": 400,
    "BLOB_UPLOAD_UNKNOWN": 404,
    "DIGEST_INVALID": 400,
    "MANIFEST_BLOB_UNKNOWN": 400,
    "MANIFEST_INVALID": 400,
    "MANIFEST_UNKNOWN": 404,
    "NAME_INVALID": 400,
    "NAME_UNKNOWN": 404,
    "SIZE_INVALID": 400,
    "TAG_INVALID": 400,
    "UNAUTHORIZED": 401,
    "DENIED": 403,
    "UNSUPPORTED": 405,
    "TOOMANYREQUESTS": 429,
    "RANGE_INVALID": 416,  # not a spec code: a blob GET with a Range outside the blob
    "PAYLOAD_TOO_LARGE": 413,
    "UNKNOWN": 500,
}


class RegistryError(DockyardError):
    """An error the registry reports to its client with a spec error code."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        detail: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = status if status is not None else STATUS.get(code, 500)
        self.detail = detail
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail is not None:
            entry["detail"] = self.detail
        return {"errors": [entry]}

"""Content digests (OCI image spec, "Digests"): ``algorithm ":" encoded``, checked strictly.

Only sha256 and sha512 are registered algorithms; both must be lowercase hex of the exact
length. A digest that passes is safe to use as a path component.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from dockyard.registry.errcode import RegistryError

_LENGTHS = {"sha256": 64, "sha512": 128}
_GRAMMAR = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
_HEX = re.compile(r"[0-9a-f]+")


@dataclass(frozen=True, slots=True)
class Digest:
    algorithm: str
    hex: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    def hasher(self) -> Any:
        return hashlib.new(self.algorithm)


def parse_digest(value: str, *, code: str = "DIGEST_INVALID") -> Digest:
    """Parse ``sha256:<64 hex>`` (or sha512); anything else raises ``code`` naming the value."""
    if not _GRAMMAR.fullmatch(value):
        raise RegistryError(
            code, f"invalid digest {value!r}: use sha256:<64 lowercase hex digits>", detail={"digest": value}
        )
    algorithm, encoded = value.split(":", 1)
    want = _LENGTHS.get(algorithm)
    if want is None:
        raise RegistryError(
            "UNSUPPORTED" if code == "DIGEST_INVALID" else code,
            f"unsupported digest algorithm {algorithm!r} in {value!r}: use sha256 or sha512",
            detail={"digest": value},
        )
    if len(encoded) != want or not _HEX.fullmatch(encoded):
        raise RegistryError(
            code,
            f"invalid digest {value!r}: {algorithm} needs {want} lowercase hex digits",
            detail={"digest": value},
        )
    return Digest(algorithm, encoded)


def is_digest(value: str) -> bool:
    return ":" in value


def digest_of(data: bytes, algorithm: str = "sha256") -> Digest:
    return Digest(algorithm, hashlib.new(algorithm, data).hexdigest())

"""Content digests (OCI image spec, descriptor.md "Digests"): ``algorithm:encoded``.

    Digest.parse("sha256:ab..")     validated; the registered algorithms only
    digest_bytes(data)              sha256 of bytes, as a Digest
    Verifier                        hash a stream while it is written, check the expected digest
    chain_ids(diff_ids)             the layer chain ids of the image spec (config.md "ChainID")

Standard library only.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from dockyard.errors import InvalidArgument

# The image spec registers sha256 and sha512 with fixed lengths; the grammar would allow other
# algorithms, but a digest we cannot compute is one we cannot verify, so they are refused.
_HEX_LEN = {"sha256": 64, "sha512": 128}
_ENCODED = re.compile(r"[a-f0-9]+")


@dataclass(frozen=True, slots=True)
class Digest:
    algorithm: str
    encoded: str

    @classmethod
    def parse(cls, text: str) -> Digest:
        algorithm, sep, encoded = text.partition(":")
        if not sep:
            raise InvalidArgument(f"invalid digest {text!r}: expected algorithm:hex, e.g. sha256:<64 hex>")
        want = _HEX_LEN.get(algorithm)
        if want is None:
            raise InvalidArgument(
                f"unsupported digest algorithm {algorithm!r} in {text!r}: use sha256 or sha512"
            )
        if len(encoded) != want or not _ENCODED.fullmatch(encoded):
            raise InvalidArgument(
                f"invalid digest {text!r}: {algorithm} takes {want} lowercase hex characters"
            )
        return cls(algorithm, encoded)

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.encoded}"

    def hasher(self) -> hashlib._Hash:
        return hashlib.new(self.algorithm)

    @property
    def short(self) -> str:
        """The 12-character id Docker prints (``docker images``, progress lines)."""
        return self.encoded[:12]


def is_digest(text: str) -> bool:
    try:
        Digest.parse(text)
    except InvalidArgument:
        return False
    return True


def digest_bytes(data: bytes, algorithm: str = "sha256") -> Digest:
    return Digest(algorithm, hashlib.new(algorithm, data).hexdigest())


def digest_of(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``: image ids, manifest and config digests."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Verifier:
    """Hash bytes as they pass; :meth:`check` raises when they do not match ``expected``."""

    def __init__(self, expected: Digest | None, algorithm: str = "sha256") -> None:
        self.expected = expected
        self._h = expected.hasher() if expected else hashlib.new(algorithm)
        self.size = 0

    def update(self, chunk: bytes | memoryview) -> None:
        self._h.update(chunk)
        self.size += len(chunk)

    def digest(self) -> Digest:
        return Digest(self._h.name, self._h.hexdigest())

    def verified(self) -> bool:
        return self.expected is None or self.digest() == self.expected

    def check(self, what: str = "content") -> Digest:
        got = self.digest()
        if self.expected is not None and got != self.expected:
            raise InvalidArgument(
                f"{what}: digest mismatch: expected {self.expected}, got {got} ({self.size} bytes): "
                "the data was corrupted in transit or the source serves bad content"
            )
        return got


def chain_ids(diff_ids: Iterable[str]) -> list[str]:
    """ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))."""
    out: list[str] = []
    for diff_id in diff_ids:
        if not out:
            out.append(diff_id)
        else:
            out.append(digest_of(f"{out[-1]} {diff_id}".encode()))
    return out


class DigestReader:
    """A reader that hashes what passes through it (a layer's diff id while it is unpacked)."""

    def __init__(self, raw: object, expected: Digest | None = None) -> None:
        self._read = raw.read  # type: ignore[attr-defined]
        self.verifier = Verifier(expected)

    def read(self, n: int = -1) -> bytes:
        data: bytes = self._read(n)
        if data:
            self.verifier.update(data)
        return data

    def readable(self) -> bool:
        return True

"""Image references as the docker CLI reads them (distribution's ``reference`` package, familiar form).

``NAME[:TAG][@DIGEST]``. The first path component of NAME is a registry when it has a ``.`` or a
``:`` or is ``localhost``; otherwise the image is on Docker Hub (``docker.io``) and a one-component
name lives under ``library/``. A tag follows the last ``:`` after the last ``/``.
"""

from __future__ import annotations

from dockyard.errors import InvalidArgument

DEFAULT_DOMAIN = "docker.io"
DEFAULT_TAG = "latest"
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-/")
_TAG_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


class Reference:
    __slots__ = ("digest", "domain", "path", "tag")

    def __init__(self, domain: str, path: str, tag: str, digest: str) -> None:
        self.domain = domain
        self.path = path
        self.tag = tag
        self.digest = digest

    @property
    def name(self) -> str:
        """The full repository name: ``docker.io/library/busybox``."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """The repository as users write it: ``busybox``, ``me/app``, ``localhost:5000/app``."""
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        return self.path[len("library/") :] if self.path.startswith("library/") else self.path

    def __str__(self) -> str:
        """The familiar form with what was given: ``busybox:1``, ``busybox@sha256:...``."""
        text = self.familiar_name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    def with_default_tag(self) -> Reference:
        """``busybox`` -> ``busybox:latest`` (a digest alone keeps no tag)."""
        if self.tag or self.digest:
            return self
        return Reference(self.domain, self.path, DEFAULT_TAG, "")


def split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    if not sep:
        return DEFAULT_DOMAIN, f"library/{name}"
    if first == "index.docker.io":
        return DEFAULT_DOMAIN, rest
    return DEFAULT_DOMAIN, name


def parse(text: str) -> Reference:
    """Parse a familiar reference; InvalidArgument as docker's "invalid reference format"."""
    remainder, _, digest = text.partition("@")
    if digest and (":" not in digest or not digest.split(":", 1)[1]):
        raise InvalidArgument(f'invalid reference format: bad digest in "{text}": use NAME@sha256:<hex>')
    slash = remainder.rfind("/")
    colon = remainder.rfind(":")
    tag = ""
    if colon > slash:
        remainder, tag = remainder[:colon], remainder[colon + 1 :]
        if not tag or not set(tag) <= _TAG_CHARS or tag[0] in ".-" or len(tag) > 128:
            raise InvalidArgument(f'invalid reference format: bad tag "{tag}" in "{text}"')
    if not remainder:
        raise InvalidArgument(f'invalid reference format: "{text}" has no repository name')
    domain, path = split_domain(remainder)
    if path.lower() != path:
        raise InvalidArgument(f"invalid reference format: repository name ({path}) must be lowercase")
    components = path.split("/")
    if not set(path) <= _NAME_CHARS or any(
        not c or not c[0].isalnum() or not c[-1].isalnum() for c in components
    ):
        raise InvalidArgument(f'invalid reference format: bad repository name "{remainder}"')
    return Reference(domain, path, tag, digest)


def registry_of(text: str) -> str:
    """The registry host an image reference pulls from (``docker.io`` for Hub images)."""
    return split_domain(text.partition("@")[0])[0]

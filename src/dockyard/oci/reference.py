"""Image references normalised as Docker does (distribution/reference, "normalize.go").

    busybox                      -> docker.io/library/busybox:latest
    localhost:5000/a/b:t         -> localhost:5000/a/b:t
    x@sha256:<hex>               -> docker.io/library/x@sha256:<hex>

Grammar (reference.go)::

    reference  := name [ ":" tag ] [ "@" digest ]
    name       := [domain "/"] path-component ["/" path-component]*
    domain     := host [":" port]          (a first component with "." or ":", or "localhost",
                                            or any uppercase letter, is a domain)
    path-comp  := [a-z0-9]+ (([_.]|__|[-]+) [a-z0-9]+)*
    tag        := [\\w][\\w.-]{0,127}

Standard library only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dockyard.errors import InvalidArgument
from dockyard.oci.digest import Digest

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_MAX = 255

_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[_.]|__|[-]+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_PATH_RE = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")
_DOMAIN_RE = re.compile(_DOMAIN)
_TAG_RE = re.compile(r"[\w][\w.-]{0,127}")
_ID_RE = re.compile(r"[a-f0-9]{64}")

_FORMAT = "invalid reference format"


@dataclass(frozen=True, slots=True)
class Reference:
    """A normalised reference: ``domain/path`` plus a tag, a digest, or both."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def repository(self) -> str:
        """``docker.io/library/busybox``: the name without tag or digest."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_repository(self) -> str:
        """``busybox``: the short form Docker shows (``docker.io/`` and ``library/`` dropped)."""
        if self.domain != DEFAULT_DOMAIN:
            return self.repository
        path = self.path
        if path.startswith(OFFICIAL_PREFIX) and "/" not in path[len(OFFICIAL_PREFIX) :]:
            path = path[len(OFFICIAL_PREFIX) :]
        return path

    def familiar(self) -> str:
        return self.familiar_repository + self._suffix()

    def __str__(self) -> str:
        return self.repository + self._suffix()

    def _suffix(self) -> str:
        out = f":{self.tag}" if self.tag else ""
        return out + (f"@{self.digest}" if self.digest else "")

    def with_tag(self, tag: str) -> Reference:
        return Reference(self.domain, self.path, parse_tag(tag), None)

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.domain, self.path, None, digest)

    @property
    def object(self) -> str:
        """What a registry's /manifests/<ref> endpoint takes: the digest if any, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG


def parse(text: str, *, default_tag: bool = True) -> Reference:
    """Parse and normalise ``text``; with ``default_tag`` a bare name gets ``:latest``.

    Raises InvalidArgument with Docker's messages (``invalid reference format: ...``).
    """
    if not text:
        raise InvalidArgument(f"{_FORMAT}: empty image name: give a name such as busybox or busybox:latest")
    if _ID_RE.fullmatch(text):
        raise InvalidArgument(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings: "
            "refer to an image by its id with `sha256:` in front, or by name"
        )
    rest, at, digest_text = text.partition("@")
    digest = None
    if at:
        try:
            digest = str(Digest.parse(digest_text))
        except InvalidArgument as e:
            raise InvalidArgument(f"{_FORMAT}: {text!r}: {e}") from None
    name, tag = _split_tag(rest)
    domain, path = _split_domain(name)
    if not _PATH_RE.fullmatch(path):
        if path.lower() != path and _PATH_RE.fullmatch(path.lower()):
            raise InvalidArgument(f"{_FORMAT}: repository name must be lowercase: {text!r}")
        raise InvalidArgument(
            f"{_FORMAT}: {text!r}: a name is lowercase letters, digits and separators (. _ __ -), "
            "with an optional registry host in front and :tag or @sha256:digest after"
        )
    if not _DOMAIN_RE.fullmatch(domain):
        raise InvalidArgument(f"{_FORMAT}: {text!r}: invalid registry host {domain!r}")
    if len(domain) + 1 + len(path) > NAME_MAX:
        raise InvalidArgument(f"{_FORMAT}: repository name must not be more than {NAME_MAX} characters")
    if tag is not None:
        tag = parse_tag(tag, text)
    elif digest is None and default_tag:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag, digest)


def parse_tag(tag: str, whole: str | None = None) -> str:
    if not _TAG_RE.fullmatch(tag):
        raise InvalidArgument(
            f"{_FORMAT}: invalid tag {tag!r}{f' in {whole!r}' if whole else ''}: a tag is up to 128 "
            "letters, digits, '_', '.' and '-', not starting with '.' or '-'"
        )
    return tag


def parse_repository(text: str) -> Reference:
    """A repository name alone (``docker tag``'s and ``docker push``'s repo argument)."""
    ref = parse(text, default_tag=False)
    if ref.digest:
        raise InvalidArgument(f"{_FORMAT}: {text!r}: a repository name takes no digest here")
    return ref


def _split_tag(name: str) -> tuple[str, str | None]:
    # A ":" after the last "/" starts the tag; one before it belongs to the domain's port.
    colon = name.rfind(":")
    if colon > name.rfind("/"):
        return name[:colon], name[colon + 1 :]
    return name, None


def _split_domain(name: str) -> tuple[str, str]:
    first, slash, remainder = name.partition("/")
    if not slash or (
        "." not in first and ":" not in first and first != "localhost" and first.lower() == first
    ):
        domain, remainder = DEFAULT_DOMAIN, name
    else:
        domain = first
    if domain == LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_PREFIX + remainder
    return domain, remainder


def familiar(text: str) -> str:
    """``docker.io/library/busybox:latest`` -> ``busybox:latest``; other text is returned unchanged."""
    try:
        return parse(text, default_tag=False).familiar()
    except InvalidArgument:
        return text

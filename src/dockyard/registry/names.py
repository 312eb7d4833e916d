"""Repository names, tags and references: the OCI distribution spec's grammar (v1.1, "Pulling").

    name       <component>(/<component>)*          at most 255 characters in all
    component  [a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*  so no component is "..", "." or starts with "_"
    tag        [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}

A name that passes can be joined into a storage path safely: no component can climb out of the
tree ("..") or collide with the store's own folders, which all start with "_" (see paths.py).
"""

from __future__ import annotations

import re

from dockyard.registry.errcode import RegistryError

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
NAME_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
TAG_RE = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
MAX_NAME = 255


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid repository name, else raise NAME_INVALID."""
    if len(name) > MAX_NAME:
        raise RegistryError(
            "NAME_INVALID",
            f"repository name is {len(name)} characters long: use at most {MAX_NAME}",
            detail={"name": name[:64] + "..."},
        )
    if not NAME_RE.fullmatch(name):
        raise RegistryError(
            "NAME_INVALID",
            f"invalid repository name {name!r}: use lowercase letters, digits and single "
            "separators (. _ __ -) between them, components joined by /",
            detail={"name": name},
        )
    return name


def is_tag(reference: str) -> bool:
    return TAG_RE.fullmatch(reference) is not None


def check_tag(tag: str) -> str:
    if not is_tag(tag):
        raise RegistryError(
            "TAG_INVALID",
            f"invalid tag {tag!r}: use up to 128 letters, digits, _ . or -, not starting with . or -",
            detail={"tag": tag},
        )
    return tag


def namespace(name: str) -> str:
    """The first component: the account (user or organisation) that owns the repository."""
    return name.split("/", 1)[0]

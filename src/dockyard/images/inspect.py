"""The Engine API's image JSON: ImageSummary (list), ImageInspect, HistoryResponseItem; list filters.

Field names and presence follow moby's api/swagger.yaml (v1.44): every non-omitempty field of
the Go structs is present even when empty.
"""

from __future__ import annotations

import calendar
import dataclasses
import re
import time
from typing import TYPE_CHECKING, Any

from dockyard.errors import InvalidArgument
from dockyard.images.model import Image
from dockyard.oci import reference

if TYPE_CHECKING:
    from dockyard.images.service import ImageService

# container.Config fields in Go's order; those marked omitempty appear only when set.
_CONFIG_FIELDS: tuple[tuple[str, Any, bool], ...] = (
    ("Hostname", "", False),
    ("Domainname", "", False),
    ("User", "", False),
    ("AttachStdin", False, False),
    ("AttachStdout", False, False),
    ("AttachStderr", False, False),
    ("ExposedPorts", None, True),
    ("Tty", False, False),
    ("OpenStdin", False, False),
    ("StdinOnce", False, False),
    ("Env", None, False),
    ("Cmd", None, False),
    ("Healthcheck", None, True),
    ("ArgsEscaped", None, True),
    ("Image", "", False),
    ("Volumes", None, False),
    ("WorkingDir", "", False),
    ("Entrypoint", None, False),
    ("NetworkDisabled", None, True),
    ("MacAddress", None, True),
    ("OnBuild", None, False),
    ("Labels", None, False),
    ("StopSignal", None, True),
    ("StopTimeout", None, True),
    ("Shell", None, True),
)


def container_config(cfg: dict[str, Any] | None) -> dict[str, Any]:
    """An image config's ``config`` (OCI's subset) in the shape of Docker's container.Config."""
    src = cfg or {}
    out: dict[str, Any] = {}
    for key, default, omitempty in _CONFIG_FIELDS:
        value = src.get(key, default)
        if omitempty and not value:
            continue
        out[key] = value
    return out


def parse_time(text: str) -> int:
    """RFC 3339 (nanoseconds allowed) -> Unix seconds; 0 when absent or malformed."""
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)?", text or "")
    if not m:
        return 0
    secs = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S"))
    tz = m.group(2)
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        secs -= sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    return secs


def image_summary(svc: ImageService, img: Image) -> dict[str, Any]:
    return {
        "Id": img.id,
        "ParentId": img.parent,
        "RepoTags": img.repo_tags,
        "RepoDigests": img.repo_digests,
        "Created": parse_time(img.created),
        "Size": img.size,
        "SharedSize": -1,
        "VirtualSize": img.size,
        "Labels": img.labels,
        "Containers": -1,
    }


def image_inspect(svc: ImageService, img: Image) -> dict[str, Any]:
    cfg = img.config
    out: dict[str, Any] = {
        "Id": img.id,
        "RepoTags": img.repo_tags,
        "RepoDigests": img.repo_digests,
        "Parent": img.parent,
        "Comment": cfg.get("comment", ""),
        "Created": img.created,
        "Container": cfg.get("container", ""),
        "ContainerConfig": container_config(cfg.get("container_config")),
        "DockerVersion": cfg.get("docker_version", ""),
        "Author": cfg.get("author", ""),
        "Config": container_config(cfg.get("config")),
        "Architecture": cfg.get("architecture", ""),
    }
    if cfg.get("variant"):
        out["Variant"] = cfg["variant"]
    out["Os"] = cfg.get("os", "")
    if cfg.get("os.version"):
        out["OsVersion"] = cfg["os.version"]
    out.update(
        {
            "Size": img.size,
            "VirtualSize": img.size,
            "GraphDriver": {"Name": "overlay2", "Data": graph_driver_data(svc, img)},
            "RootFS": {"Type": "layers", "Layers": [la.diff_id for la in img.layers]},
            "Metadata": {"LastTagTime": img.last_tag_time or "0001-01-01T00:00:00Z"},
        }
    )
    return out


def graph_driver_data(svc: ImageService, img: Image) -> dict[str, str] | None:
    if not img.layers:
        return None
    top = svc.snapshots.layer_dir(img.layers[-1].chain_id)
    data = {
        "MergedDir": str(top / "merged"),
        "UpperDir": str(top / "diff"),
        "WorkDir": str(top / "work"),
    }
    lowers = [str(svc.snapshots.diff_dir(la.chain_id)) for la in reversed(img.layers[:-1])]
    if lowers:
        data = {"LowerDir": ":".join(lowers), **data}
    return data


def history(svc: ImageService, img: Image) -> list[dict[str, Any]]:
    """Newest first; the top entry carries the image id and tags, the others ``<missing>``."""
    entries = img.config.get("history") or []
    sizes = [la.size for la in img.layers]
    out: list[dict[str, Any]] = []
    layer_idx = 0
    for entry in entries:
        size = 0
        if not entry.get("empty_layer"):
            size = sizes[layer_idx] if layer_idx < len(sizes) else 0
            layer_idx += 1
        out.append(
            {
                "Id": "<missing>",
                "Created": parse_time(str(entry.get("created", ""))),
                "CreatedBy": entry.get("created_by", ""),
                "Tags": None,
                "Size": size,
                "Comment": entry.get("comment", ""),
            }
        )
    if not out:
        out.append(
            {
                "Id": "<missing>",
                "Created": parse_time(img.created),
                "CreatedBy": "",
                "Tags": None,
                "Size": img.size,
                "Comment": "",
            }
        )
    out.reverse()
    out[0]["Id"] = img.id
    out[0]["Tags"] = img.repo_tags or None
    # Local parents (commit) are real images: name them as Docker does.
    parent = img.parent
    depth = 1
    while parent and depth < len(out):
        try:
            pimg = svc.get(parent)
        except Exception:
            break
        pos = len(out) - len(pimg.config.get("history") or [None])
        if 0 <= pos < len(out):
            out[pos]["Id"] = pimg.id
            out[pos]["Tags"] = pimg.repo_tags or None
        parent = pimg.parent
        depth += 1
    return out


# ------------------------------------------------------------------ list filters

_FILTERS = ("dangling", "label", "before", "since", "reference", "until")


def filter_images(svc: ImageService, show_all: bool, filters: dict[str, list[str]]) -> list[Image]:
    for key in filters:
        if key not in _FILTERS:
            raise InvalidArgument(f"invalid filter '{key}': use one of {', '.join(_FILTERS)}")
    images = svc.images()
    has_children = {img.parent for img in images if img.parent}
    out = []
    before = _bound(svc, filters.get("before"))
    since = _bound(svc, filters.get("since"))
    for img in images:
        dangling = not img.repo_tags and not img.repo_digests
        if not show_all and dangling and img.id in has_children and "dangling" not in filters:
            continue  # an intermediate image (parent of another): hidden unless --all
        if "dangling" in filters:
            want = _bool(filters["dangling"], "dangling")
            if want != (not img.repo_tags):
                continue
        if "label" in filters and not all(_label_match(img.labels, f) for f in filters["label"]):
            continue
        created = parse_time(img.created)
        if before is not None and created >= before:
            continue
        if since is not None and created <= since:
            continue
        if "until" in filters and not any(created < _until(u) for u in filters["until"]):
            continue
        if "reference" in filters:
            tags = _matching_tags(img, filters["reference"])
            if not tags:
                continue
            # As dockerd: the summary names only the references that matched.
            img = dataclasses.replace(
                img,
                repo_tags=[t for t in img.repo_tags if t in tags],
                repo_digests=[d for d in img.repo_digests if d in tags],
            )
        out.append(img)
    out.sort(key=lambda i: parse_time(i.created), reverse=True)
    return out


def _bool(values: list[str], key: str) -> bool:
    v = values[-1].lower()
    if v in ("true", "1"):
        return True
    if v in ("false", "0"):
        return False
    raise InvalidArgument(f"invalid filter '{key}={values[-1]}': use true or false")


def _label_match(labels: dict[str, str], flt: str) -> bool:
    key, eq, value = flt.partition("=")
    if key.endswith("!"):
        return labels.get(key[:-1]) != value
    if not eq:
        return key in labels
    return labels.get(key) == value


def _bound(svc: ImageService, values: list[str] | None) -> int | None:
    if not values:
        return None
    return parse_time(svc.resolve(values[-1]).created)


def _until(text: str) -> int:
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return int(float(text))
    m = re.fullmatch(r"(\d+)([smh])", text)
    if m:
        return int(time.time()) - int(m.group(1)) * {"s": 1, "m": 60, "h": 3600}[m.group(2)]
    secs = parse_time(text)
    if not secs:
        raise InvalidArgument(f"invalid until filter {text!r}: use a Unix time, an RFC 3339 time or 10m/2h")
    return secs


def _matching_tags(img: Image, patterns: list[str]) -> list[str]:
    import fnmatch

    out = []
    for tag in img.repo_tags + img.repo_digests:
        full = str(reference.parse(tag, default_tag=False)) if tag else tag
        for pat in patterns:
            # docker matches the pattern against the familiar name, with and without the tag.
            name = tag.rsplit(":", 1)[0] if "@" not in tag else tag.split("@")[0]
            if (
                fnmatch.fnmatchcase(tag, pat)
                or fnmatch.fnmatchcase(name, pat)
                or fnmatch.fnmatchcase(full, pat)
            ):
                out.append(tag)
                break
    return out

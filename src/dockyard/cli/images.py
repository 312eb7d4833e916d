"""Local images: ``images`` (``image ls``), ``tag``, ``rmi``, ``history`` and ``image prune``."""

from __future__ import annotations

import time

from dockyard.cli import formatter, humanize
from dockyard.cli.command import Command, Exit
from dockyard.cli.lifecycle import confirm
from dockyard.client import reference
from dockyard.client.api import encode_filters, quote_path
from dockyard.client.errors import DaemonError
from dockyard.errors import DockyardError, InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.context import Context

DEFAULT_TABLE = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
DIGESTS_TABLE = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
HEADERS = {
    "Repository": "REPOSITORY",
    "Tag": "TAG",
    "Digest": "DIGEST",
    "ID": "IMAGE ID",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "Size": "SIZE",
    "Containers": "CONTAINERS",
    "VirtualSize": "VIRTUAL SIZE",
    "SharedSize": "SHARED SIZE",
    "UniqueSize": "UNIQUE SIZE",
}


class ImageRow:
    """One repository:tag of an image as ``--format`` sees it (docker's ``imageContext``)."""

    def __init__(
        self, image: dict[str, Any], repo: str, tag: str, digest: str, trunc: bool, now: float
    ) -> None:
        self.i = image
        self.repo = repo
        self.tag = tag
        self.digest = digest
        self.trunc = trunc
        self.now = now

    def ID(self) -> str:
        image_id = str(self.i.get("Id") or "")
        return formatter.truncate_id(image_id) if self.trunc else image_id

    def Repository(self) -> str:
        return self.repo

    def Tag(self) -> str:
        return self.tag

    def Digest(self) -> str:
        return self.digest

    def CreatedSince(self) -> str:
        return humanize.ago(float(self.i.get("Created") or 0), self.now)

    def CreatedAt(self) -> str:
        return humanize.go_time(float(self.i.get("Created") or 0))

    def Size(self) -> str:
        return humanize.size(float(self.i.get("Size") or 0), 3)

    def VirtualSize(self) -> str:
        return humanize.size(float(self.i.get("VirtualSize") or self.i.get("Size") or 0))

    def SharedSize(self) -> str:
        shared = self.i.get("SharedSize", -1)
        return "N/A" if shared is None or shared < 0 else humanize.size(float(shared))

    def UniqueSize(self) -> str:
        shared = self.i.get("SharedSize", -1)
        if shared is None or shared < 0:
            return "N/A"
        return humanize.size(float(self.i.get("Size") or 0) - shared)

    def Containers(self) -> str:
        count = self.i.get("Containers", -1)
        return "N/A" if count is None or count < 0 else str(count)

    def json_fields(self) -> dict[str, str]:
        return {name: getattr(self, name)() for name in sorted(HEADERS)}


def image_rows(images: list[dict[str, Any]], digests: bool, trunc: bool, now: float) -> list[ImageRow]:
    """One row per repository:tag (and per digest with ``--digests``), ``<none>`` for the untagged."""
    rows: list[ImageRow] = []
    for image in images:
        tags: dict[str, list[str]] = {}
        repo_digests: dict[str, list[str]] = {}
        for text in image.get("RepoTags") or []:
            if text == "<none>:<none>":
                continue
            try:
                ref = reference.parse(text)
            except InvalidArgument:
                continue
            if ref.tag:
                tags.setdefault(ref.familiar_name, []).append(ref.tag)
        for text in image.get("RepoDigests") or []:
            if text.startswith("<none>@"):
                continue
            try:
                ref = reference.parse(text)
            except InvalidArgument:
                continue
            if ref.digest:
                repo_digests.setdefault(ref.familiar_name, []).append(ref.digest)
        for repo in sorted(tags):
            # A repository's digests go on its tag rows (with --digests), never on rows of their own.
            found = repo_digests.pop(repo, [])
            shown = found if digests else []
            for tag in tags[repo]:
                for digest in shown or ["<none>"]:
                    rows.append(ImageRow(image, repo, tag, digest, trunc, now))
        for repo in sorted(repo_digests):
            for digest in repo_digests[repo] if digests else ["<none>"]:
                rows.append(ImageRow(image, repo, "<none>", digest, trunc, now))
        if not tags and not repo_digests:
            rows.append(ImageRow(image, "<none>", "<none>", "<none>", trunc, now))
    return rows


def images(ctx: Context, argv: list[str]) -> int:
    cmd = Command(ctx, "[OPTIONS] [REPOSITORY[:TAG]]", "List images", max_args=1)
    f = cmd.flags
    f.bool("all", "a", "Show all images (default hides intermediate images)")
    f.bool("digests", help="Show digests")
    f.strings("filter", "f", "Filter output based on conditions provided", metavar="filter")
    f.string(
        "format", help="Format output using a custom template: 'table', 'table TEMPLATE', 'json', or TEMPLATE"
    )
    f.bool("no-trunc", help="Don't truncate output")
    f.bool("quiet", "q", "Only show image IDs")
    opts, args = cmd.parse(argv)
    filters = formatter.filters(opts.filter)
    if args:
        filters.setdefault("reference", []).append(args[0])
    listed = (
        ctx.client.get("/images/json", {"all": opts.all or None, "filters": encode_filters(filters)}) or []
    )
    spec = opts.format
    if opts.quiet and not spec:
        spec = "{{.ID}}"
    if not spec or spec == "table":
        spec = DIGESTS_TABLE if opts.digests else DEFAULT_TABLE
    rows = image_rows(listed, opts.digests or "{{.Digest}}" in spec, not opts.no_trunc, time.time())
    formatter.write(ctx, spec, DEFAULT_TABLE, rows, HEADERS)
    return 0


def tag(ctx: Context, argv: list[str]) -> int:
    cmd = Command(
        ctx,
        "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
        "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
        min_args=2,
        max_args=2,
    )
    _, (source, target) = cmd.parse(argv)
    ref = reference.parse(target)
    if ref.digest:
        raise InvalidArgument("refusing to create a tag with a digest reference")
    params = {"repo": ref.familiar_name, "tag": ref.tag or None}
    ctx.client.call("POST", f"/images/{quote_path(source)}/tag", params)
    return 0


def rmi(ctx: Context, argv: list[str]) -> int:
    cmd = Command(ctx, "[OPTIONS] IMAGE [IMAGE...]", "Remove one or more images", min_args=1)
    cmd.flags.bool("force", "f", "Force removal of the image")
    cmd.flags.bool("no-prune", help="Do not delete untagged parents")
    opts, names = cmd.parse(argv)
    failed = False
    for name in names:
        try:
            result = ctx.client.call(
                "DELETE",
                f"/images/{quote_path(name)}",
                {"force": opts.force or None, "noprune": opts.no_prune or None},
            )
        except DockyardError as exc:
            failed = True
            ctx.flush()
            prefix = "Error response from daemon: " if isinstance(exc, DaemonError) else ""
            ctx.warn(prefix + exc.message)
            continue
        for item in result or []:
            if item.get("Untagged"):
                ctx.print(f"Untagged: {item['Untagged']}")
            if item.get("Deleted"):
                ctx.print(f"Deleted: {item['Deleted']}")
    if failed:
        raise Exit(1)
    return 0


HISTORY_TABLE = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
HISTORY_HEADERS = {
    "ID": "IMAGE",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "CreatedBy": "CREATED BY",
    "Size": "SIZE",
    "Comment": "COMMENT",
}


class HistoryRow:
    def __init__(self, h: dict[str, Any], trunc: bool, human: bool, now: float) -> None:
        self.h = h
        self.trunc = trunc
        self.human = human
        self.now = now

    def ID(self) -> str:
        hid = str(self.h.get("Id") or "<missing>")
        return hid if hid == "<missing>" or not self.trunc else formatter.truncate_id(hid)

    def CreatedSince(self) -> str:
        created = float(self.h.get("Created") or 0)
        if not self.human:
            return self.CreatedAt()
        return humanize.ago(created, self.now)

    def CreatedAt(self) -> str:
        created = float(self.h.get("Created") or 0)
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created)) if created else ""

    def CreatedBy(self) -> str:
        text = str(self.h.get("CreatedBy") or "").replace("\t", " ")
        return formatter.ellipsis(text, 45) if self.trunc else text

    def Size(self) -> str:
        size = int(self.h.get("Size") or 0)
        return humanize.size(size) if self.human else str(size)

    def Comment(self) -> str:
        return str(self.h.get("Comment") or "")

    def Tags(self) -> str:
        return ", ".join(self.h.get("Tags") or [])

    def json_fields(self) -> dict[str, str]:
        return {name: getattr(self, name)() for name in sorted(HISTORY_HEADERS)}


def history(ctx: Context, argv: list[str]) -> int:
    cmd = Command(ctx, "[OPTIONS] IMAGE", "Show the history of an image", min_args=1, max_args=1)
    cmd.flags.string("format", help="Format output using a custom template")
    cmd.flags.bool("human", "H", "Print sizes and dates in human readable format", default=True)
    cmd.flags.bool("no-trunc", help="Don't truncate output")
    cmd.flags.bool("quiet", "q", "Only show image IDs")
    cmd.flags.string("platform", help="Show history for the given platform")
    opts, (name,) = cmd.parse(argv)
    entries = ctx.client.get(f"/images/{quote_path(name)}/history", {"platform": opts.platform or None}) or []
    spec = "{{.ID}}" if opts.quiet and not opts.format else opts.format
    now = time.time()
    rows = [HistoryRow(h, not opts.no_trunc, opts.human, now) for h in entries]
    formatter.write(ctx, spec, HISTORY_TABLE, rows, HISTORY_HEADERS)
    return 0


def bootstrap(ctx: Context, argv: list[str]) -> int:
    """dockyard's own: busybox:latest from the daemon host's busybox-static (no registry needed)."""
    cmd = Command(
        ctx, "", "Make the built-in busybox:latest image from the host's busybox-static", max_args=0
    )
    cmd.parse(argv)
    result = ctx.client.post("/dockyard/images/bootstrap") or {}
    ctx.print(f"busybox:latest {result.get('Id', '')}")
    return 0


def prune(ctx: Context, argv: list[str]) -> int:
    cmd = Command(ctx, "[OPTIONS]", "Remove unused images", max_args=0)
    cmd.flags.bool("all", "a", "Remove all unused images, not just dangling ones")
    cmd.flags.strings("filter", help='Provide filter values (e.g. "until=<timestamp>")', metavar="filter")
    cmd.flags.bool("force", "f", "Do not prompt for confirmation")
    opts, _ = cmd.parse(argv)
    warning = (
        "WARNING! This will remove all images without at least one container associated to them."
        if opts.all
        else "WARNING! This will remove all dangling images."
    )
    if not opts.force and not confirm(ctx, warning):
        return 0
    reclaimed, lines = prune_images(ctx, opts.all, formatter.filters(opts.filter))
    if lines:
        ctx.print("Deleted Images:")
        for line in lines:
            ctx.print(line)
        ctx.print()
    ctx.print(f"Total reclaimed space: {humanize.size(reclaimed)}")
    return 0


def prune_images(ctx: Context, all_images: bool, filters: dict[str, list[str]]) -> tuple[int, list[str]]:
    filters = dict(filters)
    filters["dangling"] = ["false" if all_images else "true"]
    result = ctx.client.call("POST", "/images/prune", {"filters": encode_filters(filters)}) or {}
    lines = []
    for item in result.get("ImagesDeleted") or []:
        if item.get("Untagged"):
            lines.append(f"untagged: {item['Untagged']}")
        if item.get("Deleted"):
            lines.append(f"deleted: {item['Deleted']}")
    return int(result.get("SpaceReclaimed") or 0), lines

"""Pagination of tag lists and the catalog (distribution spec: "Listing Tags", ``n`` and ``last``).

Entries are sorted lexically; ``last`` excludes everything up to and including it; when more
remain, a ``Link: <url?n=N&last=X>; rel="next"`` header points at the next page.
"""

from __future__ import annotations

from urllib.parse import urlencode

from dockyard.registry.errcode import RegistryError

MAX_PAGE = 10000


def page(items: list[str], n: str | None, last: str | None, base: str) -> tuple[list[str], str | None]:
    """The page of sorted ``items`` and the Link header value for the next one (or None)."""
    limit = MAX_PAGE
    if n is not None:
        try:
            limit = int(n)
        except ValueError:
            raise RegistryError(
                "PAGINATION_NUMBER_INVALID",
                f"invalid page size n={n!r}: use a whole number from 0 to {MAX_PAGE}",
                status=400,
            ) from None
        if limit < 0:
            raise RegistryError(
                "PAGINATION_NUMBER_INVALID", f"invalid page size n={n}: use 0 or more", status=400
            )
        limit = min(limit, MAX_PAGE)
    rest = [i for i in items if last is None or i > last]
    chosen = rest[:limit]
    link = None
    if n is not None and len(rest) > limit and chosen:
        link = f'<{base}?{urlencode({"n": limit, "last": chosen[-1]})}>; rel="next"'
    return chosen, link

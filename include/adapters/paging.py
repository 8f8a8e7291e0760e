"""Paginator strategies for REST platforms (the GraphQL cursor one is ``base.paginate_cursor``).

* ``paginate_pages``: page numbers 1, 2, … until the fetcher says there is no next page
  (from a total-pages header, a ``Link: rel="next"``, or a short page).
* ``next_link``: the ``rel="next"`` URL of a response, for ``paginate_cursor`` (RFC 8288).

Both stop with a TransientError instead of looping forever on a misbehaving server.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from typing import Any

import requests

from dropstream.errors import TransientError

__all__ = ["MAX_PAGES", "has_next_page", "next_link", "paginate_pages"]

MAX_PAGES = 10_000


def next_link(response: requests.Response) -> str | None:
    """The ``Link: <…>; rel="next"`` URL, or None on the last page."""
    return (response.links.get("next") or {}).get("url")


def has_next_page(
    response: requests.Response,
    page: int,
    *,
    items: int,
    page_size: int,
    total_pages_header: str = "",
) -> bool:
    """Whether page ``page`` has a successor: total-pages header, else Link, else a full page."""
    total = response.headers.get(total_pages_header) if total_pages_header else None
    if total is not None and total.strip().isdigit():
        return page < int(total)
    if "next" in response.links:
        return True
    return items >= page_size > 0


def paginate_pages(
    fetch_page: Callable[[int], tuple[list[Any], bool]],
    *,
    what: str,
    key: Callable[[Any], Hashable] | None = None,
    first: int = 1,
) -> Iterator[Any]:
    """Yield items of pages ``first``, ``first + 1``, …; ``fetch_page(n)`` -> (items, has next).

    With ``key``, a page whose items were all seen before means the server ignores ``page``.
    """
    seen: set[Hashable] = set()
    for page in range(first, first + MAX_PAGES):
        items, more = fetch_page(page)
        if key is not None and items:
            keys = {key(item) for item in items}
            if keys <= seen:
                raise TransientError(f"{what}: pagination loop detected (page {page} repeats)")
            seen |= keys
        yield from items
        if not more or not items:
            return
    raise TransientError(f"{what}: more than {MAX_PAGES} pages; narrow the window")

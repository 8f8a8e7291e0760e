"""Paginators: how a platform walks a list, as objects an adapter declares (singer-sdk style).

Each takes ``fetch_page(position) -> (items, what the page says about the next one)`` and
yields the items of every page; each stops with a TransientError instead of looping forever on
a server that ignores its paging parameter.

* ``PageNumberPaginator``: pages ``first``, ``first + 1``, …; ``fetch_page(n) -> (items, has
  next)`` (decide "has next" with ``has_next_page``: total-pages header, Link, or a full page).
* ``OffsetPaginator``: offsets 0, ``limit``, …; ``fetch_page(offset) -> (items, total or
  None)``; a short page or ``offset >= total`` ends it, so N items cost ceil(N / limit) calls.
* ``TotalCountPaginator``: pages numbered 1, 2, … ended by the total the pages carry;
  ``fetch_page(n) -> (items, total)``; N items cost ceil(N / page size) calls, at least one. When
  the total moves while paging (the set shifted), it pages again and yields only what is new.
* ``CursorPaginator``: next-token / GraphQL cursor; ``fetch_page(cursor) -> (items, next cursor
  or None)``, starting from None.
* ``LinkHeaderPaginator``: a cursor paginator whose cursor is the ``Link: rel="next"`` URL
  (RFC 8288); ``fetch_page(url or None) -> (items, next_link(response))``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any, TypeVar

import requests

from dropstream.errors import TransientError

__all__ = [
    "MAX_PAGES",
    "CursorPaginator",
    "LinkHeaderPaginator",
    "OffsetPaginator",
    "PageNumberPaginator",
    "TotalCountPaginator",
    "batched",
    "has_next_page",
    "next_link",
]

MAX_PAGES = 10_000
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PageNumberPaginator:
    """Page numbers; with ``key``, a page whose items were all seen before is a loop."""

    what: str
    key: Callable[[Any], Hashable] | None = None
    first: int = 1

    def items(self, fetch_page: Callable[[int], tuple[list[Any], bool]]) -> Iterator[Any]:
        seen: set[Hashable] = set()
        for page in range(self.first, self.first + MAX_PAGES):
            items, more = fetch_page(page)
            if self.key is not None and items:
                keys = {self.key(item) for item in items}
                if keys <= seen:
                    raise TransientError(
                        f"{self.what}: pagination loop detected (page {page} repeats)"
                    )
                seen |= keys
            yield from items
            if not more or not items:
                return
        raise TransientError(f"{self.what}: more than {MAX_PAGES} pages; narrow the window")


@dataclass(frozen=True, slots=True)
class OffsetPaginator:
    """Offsets ``limit`` apart; a page identical to the previous one is a loop."""

    what: str
    limit: int
    key: Callable[[Any], Hashable]

    def items(
        self,
        fetch_page: Callable[[int], tuple[list[Any], int | None]],
        first: tuple[list[Any], int | None] | None = None,
    ) -> Iterator[Any]:
        """``first``: the page at offset 0 when it is in hand already (a status answer that
        holds it), so it is not asked for again."""
        offset = 0
        previous: list[Hashable] | None = None
        while True:
            items, total = first if first is not None and not offset else fetch_page(offset)
            keys = [self.key(item) for item in items]
            if items and keys == previous:
                raise TransientError(
                    f"{self.what}: pagination loop detected (offset {offset} repeated)"
                )
            previous = keys
            yield from items
            offset += self.limit
            if len(items) < self.limit or (total is not None and offset >= total):
                return


@dataclass(frozen=True, slots=True)
class TotalCountPaginator:
    """Page numbers up to a total count; a page past the end is never asked for (Magento answers
    one with its last page again). If the total changes between pages, an item may have moved to
    a page already read: page again from the start, up to ``restarts`` times, skipping seen keys."""

    what: str
    page_size: int
    key: Callable[[Any], Hashable]
    restarts: int = 3

    def items(self, fetch_page: Callable[[int], tuple[list[Any], int]]) -> Iterator[Any]:
        yielded: set[Hashable] = set()
        for _ in range(self.restarts + 1):
            totals: set[int] = set()

            def page(n: int, totals: set[int] = totals) -> tuple[list[Any], bool]:
                items, total = fetch_page(n)
                totals.add(total)
                return items, n * self.page_size < total

            for item in PageNumberPaginator(self.what, key=self.key).items(page):
                if (key := self.key(item)) not in yielded:
                    yielded.add(key)
                    yield item
            if len(totals) <= 1:
                return
        raise TransientError(f"{self.what} kept changing while paging; retry")


@dataclass(frozen=True, slots=True)
class CursorPaginator:
    """Opaque cursors or next tokens; a cursor seen twice is a loop."""

    what: str

    def items(
        self, fetch_page: Callable[[str | None], tuple[list[Any], str | None]]
    ) -> Iterator[Any]:
        seen: set[str] = set()
        cursor: str | None = None
        while True:
            items, cursor = fetch_page(cursor)
            yield from items
            if cursor is None:
                return
            if cursor in seen:
                raise TransientError(
                    f"{self.what}: pagination loop detected (cursor {cursor!r} repeated)"
                )
            seen.add(cursor)


class LinkHeaderPaginator(CursorPaginator):
    """``Link: <url>; rel="next"`` paging: the cursor is the next page's URL."""

    __slots__ = ()


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last shorter), read lazily: a page's worth at a
    time (``itertools.batched`` from Python 3.12)."""
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


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

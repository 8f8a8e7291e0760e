"""Offset pagination with loop detection (next-token paging is ``base.paginate_cursor``)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from typing import TypeVar

from dropstream.errors import TransientError

__all__ = ["paginate_offset"]

T = TypeVar("T")


def paginate_offset(
    fetch_page: Callable[[int], tuple[list[T], int | None]],
    *,
    limit: int,
    what: str,
    key: Callable[[T], Hashable],
) -> Iterator[T]:
    """Yield items from ``fetch_page(offset)`` -> (items, total or None), ``limit`` at a time.

    Stops on a short page or once ``offset`` reaches ``total`` (so N items cost
    ceil(N / limit) requests). A page identical to the previous one means the server ignores
    ``offset``: stop with an error instead of looping forever.
    """
    offset = 0
    previous: list[Hashable] | None = None
    while True:
        items, total = fetch_page(offset)
        keys = [key(item) for item in items]
        if items and keys == previous:
            raise TransientError(f"{what}: pagination loop detected (offset {offset} repeated)")
        previous = keys
        yield from items
        offset += limit
        if len(items) < limit or (total is not None and offset >= total):
            return

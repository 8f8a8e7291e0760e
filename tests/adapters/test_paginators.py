"""The paginators every adapter declares (include/adapters/paginators.py)."""

from __future__ import annotations

import pytest
import requests

from adapters.paginators import (
    CursorPaginator,
    LinkHeaderPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    TotalCountPaginator,
    batched,
    has_next_page,
    next_link,
)
from dropstream.errors import TransientError

ITEMS = list(range(7))


def test_page_numbers_until_the_server_says_last():
    asked = []

    def page(n: int) -> tuple[list[int], bool]:
        asked.append(n)
        chunk = ITEMS[(n - 1) * 3 : n * 3]
        return chunk, n * 3 < len(ITEMS)

    assert list(PageNumberPaginator("things", key=lambda i: i).items(page)) == ITEMS
    assert asked == [1, 2, 3]


def test_a_server_that_ignores_the_page_number_is_a_loop_not_forever():
    def page(n: int) -> tuple[list[int], bool]:
        return [1, 2, 3], True

    with pytest.raises(TransientError, match="things: pagination loop detected .page 2"):
        list(PageNumberPaginator("things", key=lambda i: i).items(page))


def test_offsets_cost_ceil_n_over_limit_requests():
    asked = []

    def page(offset: int) -> tuple[list[int], int | None]:
        asked.append(offset)
        return ITEMS[offset : offset + 3], len(ITEMS)

    assert list(OffsetPaginator("things", 3, key=lambda i: i).items(page)) == ITEMS
    assert asked == [0, 3, 6]

    exact = list(range(6))
    asked.clear()

    def full_pages(offset: int) -> tuple[list[int], int | None]:
        asked.append(offset)
        return exact[offset : offset + 3], len(exact)

    assert list(OffsetPaginator("things", 3, key=lambda i: i).items(full_pages)) == exact
    assert asked == [0, 3]  # the total says page 2 was the last: no empty third page


def test_a_first_page_in_hand_is_not_asked_for_again():
    asked = []

    def page(offset: int) -> tuple[list[int], int | None]:
        asked.append(offset)
        return ITEMS[offset : offset + 3], len(ITEMS)

    first = (ITEMS[:3], len(ITEMS))  # e.g. the last status poll held it
    assert list(OffsetPaginator("things", 3, key=lambda i: i).items(page, first)) == ITEMS
    assert asked == [3, 6]


def test_batched_reads_a_batch_at_a_time():
    read = []

    def items():
        for i in range(5):
            read.append(i)
            yield i

    batches = batched(items(), 2)
    assert next(batches) == [0, 1] and read == [0, 1]  # nothing read ahead
    assert list(batches) == [[2, 3], [4]]


def test_a_server_that_ignores_the_offset_is_a_loop():
    with pytest.raises(TransientError, match="offset 3 repeated"):
        list(OffsetPaginator("things", 3, key=lambda i: i).items(lambda offset: ([1, 2, 3], None)))


def test_cursors_until_none_and_a_repeated_cursor_is_a_loop():
    pages = {None: ([1, 2], "b"), "b": ([3], "c"), "c": ([4], None)}
    assert list(CursorPaginator("things").items(lambda c: pages[c])) == [1, 2, 3, 4]
    looping = {None: ([1], "b"), "b": ([2], "b")}
    with pytest.raises(TransientError, match="cursor 'b' repeated"):
        list(CursorPaginator("things").items(lambda c: looping[c]))


def _response(link: str = "", total_pages: str = "") -> requests.Response:
    response = requests.Response()
    if link:
        response.headers["Link"] = link
    if total_pages:
        response.headers["X-WP-TotalPages"] = total_pages
    return response


def test_link_header_paging_follows_rel_next():
    site = "https://shop.example/api/orders"
    replies = {
        None: ([1, 2], _response(f'<{site}?page=2>; rel="next", <{site}?page=1>; rel="first"')),
        f"{site}?page=2": ([3], _response(f'<{site}?page=1>; rel="prev"')),
    }

    def page(url: str | None) -> tuple[list[int], str | None]:
        items, response = replies[url]
        return items, next_link(response)

    assert list(LinkHeaderPaginator("orders").items(page)) == [1, 2, 3]


def test_has_next_page_prefers_the_total_then_the_link_then_a_full_page():
    header = "X-WP-TotalPages"
    last = _response(total_pages="2")
    assert not has_next_page(last, 2, items=10, page_size=10, total_pages_header=header)
    linked = _response(link='<https://x/?page=3>; rel="next"')
    assert has_next_page(linked, 2, items=1, page_size=10)
    assert has_next_page(_response(), 1, items=10, page_size=10)
    assert not has_next_page(_response(), 1, items=9, page_size=10)


def test_total_count_never_asks_past_the_end():
    """A server that answers any page past the end with its last page (Magento) loops a
    paginator that stops on a short or empty page; the total ends it instead."""
    asked = []

    def page(n: int) -> tuple[list[int], int]:
        asked.append(n)
        last = max((len(ITEMS) + 2) // 3, 1)
        n = min(n, last)
        return ITEMS[(n - 1) * 3 : n * 3], len(ITEMS)

    assert list(TotalCountPaginator("things", 3, key=lambda i: i).items(page)) == ITEMS
    assert asked == [1, 2, 3]
    assert list(TotalCountPaginator("none", 3, key=lambda i: i).items(lambda n: ([], 0))) == []


def test_total_count_rereads_when_the_set_shifts():
    data = list(range(10))
    asked = []

    def page(n: int) -> tuple[list[int], int]:
        asked.append(n)
        chunk = data[(n - 1) * 4 : n * 4]
        if asked == [1]:
            data.remove(0)  # after page 1 an item leaves: page 2 starts one later
        return chunk, len(data) + (1 if asked == [1] else 0)

    got = list(TotalCountPaginator("things", 4, key=lambda i: i).items(page))
    assert sorted(got) == list(range(10)) and len(got) == len(set(got))
    assert asked == [1, 2, 3, 1, 2, 3]


def test_total_count_gives_up_on_a_set_that_keeps_moving():
    calls = iter(range(1, 1000))

    def page(n: int) -> tuple[list[int], int]:
        return [next(calls)], 2 if n == 1 else 3  # the total moves after page 1, every time

    with pytest.raises(TransientError, match="kept changing"):
        list(TotalCountPaginator("things", 1, key=lambda i: i, restarts=2).items(page))

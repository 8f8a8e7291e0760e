"""Per-item push results and resubmitting without blamed items (include/adapters/results.py)."""

from __future__ import annotations

import pytest

from adapters.results import (
    PushResults,
    Refusal,
    Rejected,
    already_pushed,
    last_levels,
    push_batches,
    push_by_group,
    push_each,
    push_groups,
    resubmit_without_blamed,
    take_answer,
)
from dropstream.errors import AuthenticationError, UpstreamRejectedError
from dropstream.models import InventoryLevel


def test_push_each_rejects_one_item_and_goes_on_but_stops_for_bad_credentials():
    def push(item: str) -> str:
        if item == "b":
            raise Rejected("b has no open line")
        if item == "c":
            raise UpstreamRejectedError("422")
        return f"id-{item}"

    result = push_each(["a", "b", "c"], push, key=str, refused=(UpstreamRejectedError,))
    assert result.accepted == ("a",) and result.details == {"a": "id-a"}
    assert result.rejected == (("b", "b has no open line"), ("c", "422"))

    def refused(item: str) -> str:
        raise AuthenticationError("401")

    with pytest.raises(AuthenticationError):
        push_each(["a"], refused, key=str, refused=(AuthenticationError,))


def _store(refusals: list[Refusal | None]):
    sent: list[list[str]] = []

    def submit(batch: list[str]) -> Refusal | None:
        sent.append(list(batch))
        return refusals.pop(0)

    return sent, submit


def test_blamed_items_are_dropped_and_the_rest_resubmitted_once():
    sent, submit = _store([Refusal("not applied", {1: "unknown SKU"}), None])
    accepted, rejected = resubmit_without_blamed(["A", "B", "C"], submit)
    assert sent == [["A", "B", "C"], ["A", "C"]]
    assert accepted == ["A", "C"] and rejected == [("B", "unknown SKU")]


def test_a_refusal_blaming_nothing_rejects_the_batch_without_a_second_call():
    sent, submit = _store([Refusal("store says no")])
    assert resubmit_without_blamed(["A", "B"], submit) == (
        [],
        [("A", "store says no"), ("B", "store says no")],
    )
    assert len(sent) == 1


def test_a_second_refusal_ends_it_with_twice_for_the_items_not_blamed():
    refusals = [Refusal("no", {0: "bad A"}), Refusal("no again", {1: "bad C"})]
    sent, submit = _store(list(refusals))
    accepted, rejected = resubmit_without_blamed(["A", "B", "C"], submit, twice="try later")
    assert accepted == [] and len(sent) == 2
    assert rejected == [("A", "bad A"), ("C", "bad C"), ("B", "try later")]
    sent, submit = _store(list(refusals))
    assert resubmit_without_blamed(["A", "B", "C"], submit)[1] == [
        ("A", "bad A"),
        ("B", "no again"),
        ("C", "bad C"),
    ]


def test_push_groups_gives_every_key_of_a_group_its_outcome():
    def push(listing: int) -> str:
        if listing == 2:
            raise UpstreamRejectedError("One offering must have quantity greater than 0")
        return f"listing {listing}"

    results = PushResults()
    results.reject("GHOST", "unknown")
    push_groups(
        {1: ["A", "B"], 2: ["C"]},
        push,
        results=results,
        refused=(UpstreamRejectedError,),
        what="listing {}".format,
    )
    result = results.result(["A", "GHOST", "B", "C"])
    assert result.accepted == ("A", "B") and result.details == {"A": "listing 1", "B": "listing 1"}
    assert result.rejected == (
        ("GHOST", "unknown"),
        ("C", "listing 2: One offering must have quantity greater than 0"),
    )
    with pytest.raises(AuthenticationError):
        push_groups({1: ["A"]}, lambda g: _raise(AuthenticationError("401")), results=results)


def _raise(exc: Exception) -> str:
    raise exc


def test_push_by_group_loads_each_group_once_and_a_refused_load_rejects_its_group():
    loads: list[str] = []

    def load(first: str) -> str:
        loads.append(first[0])
        if first[0] == "b":
            raise UpstreamRejectedError("order b not found")
        return f"order {first[0]}"

    def push(order: str, item: str) -> str:
        if item == "a2":
            raise Rejected("a2 has no open line")
        return f"{order}/{item}"

    items = ["a1", "b1", "a2", "c1", "b2", "a3"]
    result = push_by_group(
        items, group=lambda i: i[0], load=load, push_one=push, key=str,
        refused=(UpstreamRejectedError,),
    )  # fmt: skip
    assert loads == ["a", "b", "c"]  # one load per group, in first-seen order
    assert result.accepted == ("a1", "c1", "a3")  # in the order of the items
    assert result.details == {"a1": "order a/a1", "c1": "order c/c1", "a3": "order a/a3"}
    assert result.rejected == (
        ("b1", "order b not found"),
        ("a2", "a2 has no open line"),
        ("b2", "order b not found"),
    )

    def expired(first: str) -> str:
        raise AuthenticationError("401")

    with pytest.raises(AuthenticationError):
        push_by_group(["a"], group=str, load=expired, push_one=push, key=str)


def test_each_push_of_a_group_sees_the_state_the_store_answered_with():
    seen: list[int] = []

    def push(order: dict, item: str) -> str:
        seen.append(order["left"])
        take_answer(order, {"left": order["left"] - 1} if item != "a2" else None)
        return item

    push_by_group(["a1", "a2", "a3"], group=lambda i: i[0], load=lambda _: {"left": 3},
                  push_one=push, key=str)  # fmt: skip
    assert seen == [3, 2, 2]  # no answer (None) leaves the state as it was


def test_push_batches_cuts_the_keys_and_joins_the_answers():
    calls: list[list[str]] = []

    def push(batch: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
        calls.append(batch)
        return [k for k in batch if k != "c"], [(k, "unknown SKU") for k in batch if k == "c"]

    result = push_batches(["a", "b", "c", "d", "e"], 2, push)
    assert calls == [["a", "b"], ["c", "d"], ["e"]]
    assert result.accepted == ("a", "b", "d", "e") and result.rejected == (("c", "unknown SKU"),)
    assert push_batches([], 2, push).accepted == () and len(calls) == 3  # no call for nothing


def test_last_levels_keeps_the_last_level_of_a_sku_and_the_floor():
    levels = [InventoryLevel(sku="A", available=5), InventoryLevel(sku="B", available=-2),
              InventoryLevel(sku="A", available=3)]  # fmt: skip
    assert last_levels(levels) == {"A": 3, "B": -2}
    assert last_levels(levels, floor=0) == {"A": 3, "B": 0}


def test_already_pushed_finds_the_record_with_the_tracking_number():
    records = [{"tracking": "1Z1", "id": 7}, {"tracking": "1Z2", "id": 8}]
    assert already_pushed(records, "1Z2", number="tracking", ref="id") == "8"
    assert already_pushed(records, "1Z3", number="tracking", ref="id") is None

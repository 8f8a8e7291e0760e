"""Per-item push results and resubmitting without blamed items (include/adapters/results.py)."""

from __future__ import annotations

import pytest

from adapters.results import (
    PushResults,
    Refusal,
    Rejected,
    push_each,
    push_groups,
    resubmit_without_blamed,
)
from dropstream.errors import AuthenticationError, UpstreamRejectedError


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

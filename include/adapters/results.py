"""Per-item results of a push: one ``Rejected``, one builder, one accept/reject loop.

A push goes on past an item the store refuses (its reason is reported), and stops for what
concerns every item: an ``AuthenticationError`` (wrong or expired credentials) always propagates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from dropstream.errors import AuthenticationError
from dropstream.models import InventoryLevel, PushResult

__all__ = [
    "PushResults",
    "Refusal",
    "Rejected",
    "already_pushed",
    "last_levels",
    "push_batches",
    "push_by_group",
    "push_each",
    "push_groups",
    "resubmit_without_blamed",
    "take_answer",
]

T = TypeVar("T")
G = TypeVar("G")


class Rejected(Exception):
    """This item cannot be pushed; the message says why (the rest of the batch goes on)."""


class PushResults:
    """Collects what happened to each key; ``result()`` is the ``PushResult``."""

    def __init__(self) -> None:
        self._outcome: dict[str, tuple[bool, str]] = {}

    def accept(self, key: str, detail: str) -> None:
        """``key`` went through; ``detail`` is the platform's id for it (e.g. a fulfillment)."""
        self._outcome[key] = (True, detail)

    def reject(self, key: str, reason: str) -> None:
        self._outcome[key] = (False, reason)

    def result(self, order: Sequence[str] | None = None) -> PushResult:
        """The outcome, in ``order`` (default: as recorded)."""
        keys = list(self._outcome) if order is None else order
        outcome = self._outcome
        return PushResult(
            accepted=tuple(k for k in keys if outcome[k][0]),
            rejected=tuple((k, outcome[k][1]) for k in keys if not outcome[k][0]),
            details={k: outcome[k][1] for k in keys if outcome[k][0]},
        )


def push_each(
    items: Iterable[T],
    push_one: Callable[[T], str],
    *,
    key: Callable[[T], str],
    refused: tuple[type[Exception], ...] = (),
) -> PushResult:
    """Push ``items`` one by one; ``Rejected`` and the ``refused`` errors reject that item only."""
    results = PushResults()
    for item in items:
        ok, answer = _attempt(partial(push_one, item), refused)
        (results.accept if ok else results.reject)(key(item), answer)
    return results.result()


def push_groups(
    groups: Mapping[G, Sequence[str]],
    push_one: Callable[[G], str],
    *,
    results: PushResults,
    refused: tuple[type[Exception], ...] = (),
    what: Callable[[G], str] = str,
) -> PushResults:
    """Push each group in one call (a listing, a product: whatever the platform writes whole);
    every key of a group shares its outcome, a refusal prefixed with ``what(group)``. (Unlike
    ``push_by_group``, which reads once per group and writes once per item.)"""
    for group, keys in groups.items():
        ok, answer = _attempt(partial(push_one, group), refused)
        for key in keys:
            if ok:
                results.accept(key, answer)
            else:
                results.reject(key, f"{what(group)}: {answer}")
    return results


def push_by_group(
    items: Sequence[T],
    *,
    group: Callable[[T], str],
    load: Callable[[T], G],
    push_one: Callable[[G, T], str],
    key: Callable[[T], str],
    refused: tuple[type[Exception], ...] = (),
) -> PushResult:
    """``push_each`` with one ``load`` per group (e.g. one read of an order for all its
    packages, given its first item): a refused load rejects every item of its group with its
    reason. The result is in the order of ``items``."""
    groups: dict[str, list[T]] = {}
    for item in items:
        groups.setdefault(group(item), []).append(item)
    results = PushResults()
    for members in groups.values():
        loaded_ok, loaded = _attempt(partial(load, members[0]), refused)
        for member in members:
            if not loaded_ok:
                results.reject(key(member), loaded)
                continue
            ok, answer = _attempt(partial(push_one, loaded, member), refused)
            (results.accept if ok else results.reject)(key(member), answer)
    return results.result(order=[key(item) for item in items])


def take_answer(state: dict[str, Any], answer: dict[str, Any] | None) -> None:
    """``state`` (what ``push_by_group`` loaded for a group) becomes ``answer`` in place, when the
    store answers a write with the whole object: the group's next item sees the store's state."""
    if answer is not None:
        state.clear()
        state.update(answer)


def _attempt(call: Callable[[], Any], refused: tuple[type[Exception], ...]) -> tuple[bool, Any]:
    """(True, what ``call`` answered), or (False, why) when it raised ``Rejected`` or one of
    the ``refused`` errors; an AuthenticationError concerns every item and propagates."""
    caught: tuple[type[Exception], ...] = (Rejected, *refused)
    try:
        return True, call()
    except AuthenticationError:
        raise
    except caught as exc:
        return False, str(exc)


def push_batches(
    keys: Sequence[str],
    size: int,
    push_batch: Callable[[list[str]], tuple[list[str], list[tuple[str, str]]]],
) -> PushResult:
    """Push ``keys`` ``size`` at a time; ``push_batch`` answers (accepted, rejected (key, why))."""
    accepted: list[str] = []
    rejected: list[tuple[str, str]] = []
    for start in range(0, len(keys), size):
        ok, refused = push_batch(list(keys[start : start + size]))
        accepted += ok
        rejected += refused
    return PushResult(accepted=tuple(accepted), rejected=tuple(rejected))


def last_levels(levels: Iterable[InventoryLevel], *, floor: int | None = None) -> dict[str, int]:
    """SKU -> quantity to set, the last level of a SKU winning; raised to ``floor`` if given
    (for platforms that refuse a negative quantity)."""
    if floor is None:
        return {level.sku: level.available for level in levels}
    return {level.sku: max(level.available, floor) for level in levels}


def already_pushed(
    records: Iterable[Mapping[str, Any]], tracking_number: str, *, number: str, ref: str
) -> str | None:
    """The id (field ``ref``) of the record (fulfillment, shipment, package) that already has
    ``tracking_number`` in its field ``number``, else None: a push retried after a crash between
    the store's write and the ledger's counts as done, not sent twice."""
    for record in records:
        if record.get(number) == tracking_number:
            return str(record.get(ref))
    return None


@dataclass(frozen=True, slots=True)
class Refusal:
    """A batch the store applied none of: the items it blamed (index -> why), and why for the
    rest (items it did not blame are not applied either)."""

    reason: str
    blamed: dict[int, str] = field(default_factory=dict)


def resubmit_without_blamed(
    batch: list[str],
    submit: Callable[[list[str]], Refusal | None],
    *,
    twice: str = "",
) -> tuple[list[str], list[tuple[str, str]]]:
    """Submit ``batch``; if the store refuses it blaming some items, reject those and submit
    the rest once more. Returns (accepted keys, rejected (key, reason)).

    A refusal that blames nothing rejects the whole batch with its reason. After a second
    refusal the blamed items get their reasons and the others ``twice`` if given, else the
    refusal's reason.
    """
    rejected: list[tuple[str, str]] = []
    for attempt in range(2):
        refusal = submit(batch)
        if refusal is None:
            return batch, rejected
        why = refusal.blamed
        if attempt and twice and why:
            rest = [(key, twice) for i, key in enumerate(batch) if i not in why]
            return [], rejected + [(batch[i], reason) for i, reason in sorted(why.items())] + rest
        if attempt or not why:
            return [], rejected + [(key, why.get(i, refusal.reason)) for i, key in enumerate(batch)]
        rejected += [(batch[i], why) for i, why in sorted(refusal.blamed.items())]
        batch = [key for i, key in enumerate(batch) if i not in refusal.blamed]
        if not batch:
            return [], rejected
    raise AssertionError("unreachable: the second attempt returns")  # pragma: no cover

"""Per-item results of a push: one ``Rejected``, one builder, one accept/reject loop.

A push goes on past an item the store refuses (its reason is reported), and stops for what
concerns every item: an ``AuthenticationError`` (wrong or expired credentials) always propagates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from dropstream.errors import AuthenticationError
from dropstream.models import PushResult

__all__ = [
    "PushResults",
    "Refusal",
    "Rejected",
    "push_each",
    "push_groups",
    "resubmit_without_blamed",
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
    caught: tuple[type[Exception], ...] = (Rejected, *refused)
    for item in items:
        try:
            detail = push_one(item)
        except AuthenticationError:
            raise
        except caught as exc:
            results.reject(key(item), str(exc))
        else:
            results.accept(key(item), detail)
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
    every key of a group shares its outcome, a refusal prefixed with ``what(group)``."""
    caught: tuple[type[Exception], ...] = (Rejected, *refused)
    for group, keys in groups.items():
        try:
            detail = push_one(group)
        except AuthenticationError:
            raise
        except caught as exc:
            for key in keys:
                results.reject(key, f"{what(group)}: {exc}")
        else:
            for key in keys:
                results.accept(key, detail)
    return results


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

"""Per-item results of a push: one ``Rejected``, one builder, one accept/reject loop.

A push goes on past an item the store refuses (its reason is reported), and stops for what
concerns every item: an ``AuthenticationError`` (wrong or expired credentials) always propagates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from dropstream.errors import AuthenticationError
from dropstream.models import PushResult

__all__ = ["PushResults", "Rejected", "push_each"]

T = TypeVar("T")


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

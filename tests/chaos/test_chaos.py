"""Chaos: real child processes running one connection's orders and tracking runs are killed
(SIGKILL) at random and at each named point of the protocol, and two or three runs of the
connection load at once (a backfill beside the scheduled and a manual run), on PostgreSQL, the
real sshd (a throttled link for the mid-upload kills) and the Shopify emulator, while a
simulated 3PL takes every order file the moment it appears.

Every order reaches the warehouse once and every package reaches the store once: the suite
prints what it did and what it found, and fails on any order lost or duplicated, any ``.part``
left behind, any row stuck short of its final state, any duplicate fulfillment.
``make test`` runs a short version; ``make chaos`` the long one (CHAOS_KILLS, CHAOS_ROUNDS).
"""

from __future__ import annotations

import random
from collections import Counter
from itertools import cycle

import pytest

from tests.chaos.conftest import Rig, report, sizes
from tests.chaos.worker import ORDER_POINTS, TRACKING_POINTS

pytestmark = [pytest.mark.slow, pytest.mark.sshd, pytest.mark.postgres]


def orders_chaos(rig: Rig, kills_wanted: int, rounds_wanted: int) -> int:
    """Kill rounds, then concurrent rounds; returns the last window used."""
    window = 0
    for label in cycle((*ORDER_POINTS, "random")):
        if sum(rig.kills.values()) >= kills_wanted:
            break
        window += 1
        rig.seed_orders(window, 12 if label == "mid_upload" else 3)
        command = rig.command(
            "orders",
            window,
            run=f"scheduled__{window}",
            kill_at=None if label == "random" else label,
        )
        kill_after = random.uniform(0.05, 0.8) if label == "random" else None
        rig.until_done(command, rig.attempt(command, kill_after), label)
    for round_ in range(rounds_wanted):
        window += 1
        rig.seed_orders(window, 4)
        loads = 2 + round_ % 2  # two, then three runs of the connection at once
        runs = ["scheduled", "manual", "backfill"][:loads]
        rig.concurrently(
            [
                rig.command("orders", window - (kind == "backfill"), run=f"{kind}__{window}")
                for kind in runs
            ]
        )
    return window


def test_orders_exactly_once_under_kills_and_concurrent_loads(rig: Rig, capsys) -> None:
    kills_wanted, rounds_wanted = sizes(kills=7, rounds=2)
    window = orders_chaos(rig, kills_wanted, rounds_wanted)
    rig.run_clean(rig.command("orders", window, run="final"))  # a last run, not killed
    rig.third_party.stop()

    received = rig.third_party.received
    expected = set(rig.seeded)
    duplicated = sorted(n for n, times in received.items() if times > 1)
    lost = sorted(expected - set(received))
    stuck = rig.stuck_rows()
    report(
        capsys,
        f"CHAOS orders: kills {sum(rig.kills.values())} ({dict(sorted(rig.kills.items()))}), "
        f"concurrent rounds {rig.concurrent_rounds}, failed attempts retried "
        f"{sum(rig.failed_attempts.values())}; orders expected {len(expected)} found "
        f"{len(set(received) & expected)} duplicated {len(duplicated)} lost {len(lost)}; files "
        f"received {rig.third_party.files}; .part left {rig.parts_left()}; stuck rows "
        f"{sum(stuck.values())} {stuck or ''}",
    )
    assert sum(rig.kills.values()) >= kills_wanted
    assert {p for p in ORDER_POINTS if rig.kills[p]} == set(ORDER_POINTS)
    assert rig.concurrent_rounds >= rounds_wanted
    assert (duplicated, lost) == ([], [])
    assert set(received) == expected
    assert rig.parts_left() == 0 and stuck == {}


def test_tracking_exactly_once_under_kills_and_concurrent_loads(rig: Rig, capsys) -> None:
    kills_wanted, rounds_wanted = sizes(kills=4, rounds=2)
    sent: list[str] = []

    def shipped_next(count: int) -> None:
        """The 3PL ships ``count`` orders it received (more are placed and sent when needed)."""
        if len(sent) < count:
            window = len(rig.seeded)  # a fresh window for each top-up
            rig.seed_orders(window, 20)
            rig.run_clean(rig.command("orders", window, run=f"orders__{window}"))
            rig.third_party.take()
            sent.extend(sorted(set(rig.third_party.received) - set(sent) - shipped))
        batch, sent[:count] = sent[:count], []
        shipped.update(batch)
        rig.write_shipments(batch)

    shipped: set[str] = set()
    for label in cycle((*TRACKING_POINTS, "random")):
        if sum(rig.kills.values()) >= kills_wanted:
            break
        shipped_next(2)
        kill_at = None if label == "random" else label
        command = rig.command("tracking", run=f"tracking__{label}", kill_at=kill_at)
        kill_after = random.uniform(0.05, 0.8) if label == "random" else None
        rig.until_done(command, rig.attempt(command, kill_after), label)
    for round_ in range(rounds_wanted):
        shipped_next(2)
        loads = 2 + round_ % 2
        rig.concurrently(
            [rig.command("tracking", run=f"tracking__{round_}_{i}") for i in range(loads)]
        )
    rig.run_clean(rig.command("tracking", run="final"))

    fulfilled = Counter(f["number"] for f in rig.shop.fulfillments)
    expected = set(rig.shipments_written)
    duplicates = sorted(t for t, n in fulfilled.items() if n > 1)
    lost = sorted(expected - set(fulfilled))
    stuck = rig.stuck_rows()
    report(
        capsys,
        f"CHAOS tracking: kills {sum(rig.kills.values())} ({dict(sorted(rig.kills.items()))}), "
        f"concurrent rounds {rig.concurrent_rounds}, failed attempts retried "
        f"{sum(rig.failed_attempts.values())}; shipments expected {len(expected)} pushed "
        f"{len(set(fulfilled) & expected)} duplicate fulfillments {len(duplicates)} lost "
        f"{len(lost)}; .part left {rig.parts_left()}; stuck rows {sum(stuck.values())} "
        f"{stuck or ''}",
    )
    assert sum(rig.kills.values()) >= kills_wanted
    assert {p for p in TRACKING_POINTS if rig.kills[p]} == set(TRACKING_POINTS)
    assert rig.concurrent_rounds >= rounds_wanted
    assert (duplicates, lost) == ([], [])
    assert set(fulfilled) == expected
    assert rig.parts_left() == 0 and stuck == {}
    assert (rig.sftp.root / "out").exists() and not list((rig.sftp.root / "out").iterdir())

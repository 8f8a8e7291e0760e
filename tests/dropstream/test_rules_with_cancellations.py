"""Rules and cancellations together (SQLite and PostgreSQL): a cancelled order is never decided
or sent, whatever the rules would say; a change after sending is judged in the store's terms
(bundles not expanded, non-shipping lines left out); a cancelled order stops counting as in
flight once its cancel file is published."""

from __future__ import annotations

import logging
from dataclasses import replace

from dropstream.flows import orders
from dropstream.flows.context import RunContext
from dropstream.formats import get_format
from dropstream.ledger import Ledger
from dropstream.models import Cancellation
from dropstream.spec import parse_spec
from tests.dropstream.rules._orders import line, minutes_after, order
from tests.specs import spec_dict

FORMAT = get_format("header_detail_csv")


def step_at(ledger: Ledger, minutes: float, **rules) -> RunContext:
    rules = {"default_ship_method": "UPS_GROUND", **rules}
    spec = parse_spec("c", spec_dict("c", rules=rules))
    return RunContext(
        spec=spec, ledger=ledger, now=minutes_after(minutes), log=logging.getLogger("t")
    )


def cancel(ledger: Ledger, placed, minutes: float) -> dict[str, int]:
    when = minutes_after(minutes)
    return ledger.record_cancellations(
        "c", [Cancellation(order=placed, cancelled_at=when, reason="customer")], when
    )


def publish(ledger: Ledger, step: RunContext, name: str = "ord_1.csv") -> None:
    ready = ledger.orders_in_state("c", "ready")
    ledger.create_order_file("c", "/in", name, b"x", [o.order_id for o in ready], step.now)
    ledger.mark_file_committing("c", name)
    ledger.mark_file_published("c", name, step.now)


def changes(ledger: Ledger, order_id: str) -> list[str]:
    return [
        e.detail for e in ledger.order_timeline("c", order_id) if e.event == "changed_after_send"
    ]


def test_an_order_cancelled_while_waiting_or_held_is_never_decided_again(ledger: Ledger):
    waiting = order(order_id="w", number="1001")
    tagged = order(order_id="t", number="1002", tags=("fraud-check",))
    ledger.record_received("c", [waiting, tagged], minutes_after(1))
    rules = {"hold_minutes": 30, "exclude_tags": ["fraud-check"]}
    # the tag rule comes after the hold period: both wait first
    assert orders.transform(step_at(ledger, 5, **rules), FORMAT)["waiting"] == 2
    assert cancel(ledger, waiting, 6) == {"cancelled": 1, "cancel_after_send": 0, "already": 0}
    # past the hold period: the cancelled one is not decided (it would have been ready)
    counts = orders.transform(step_at(ledger, 31, **rules), FORMAT)
    assert (counts["ready"], counts["held"], counts.get("waiting", 0)) == (0, 1, 0)
    assert ledger.order_row("c", "w")["state"] == "cancelled"
    assert ledger.order_row("c", "t")["state"] == "held"
    assert cancel(ledger, tagged, 32)["cancelled"] == 1
    after = orders.transform(step_at(ledger, 60, **rules), FORMAT)
    assert (after["ready"], after["held"], after.get("waiting", 0)) == (0, 0, 0)
    assert ledger.order_counts("c") == {"cancelled": 2}
    assert [e.event for e in ledger.order_timeline("c", "w")] == ["received", "cancelled"]


def test_a_change_after_sending_is_judged_on_the_stores_lines(ledger: Ledger):
    rules = {"bundles": {"KIT": {"MUG": 1, "SPOON": 2}}, "sku_map": {"MUG": "MUG-001"}}
    gift = line("GIFT-25", 1, n=2, requires_shipping=False)
    placed = order(line("KIT", 2), gift, order_id="k", number="2001")
    ledger.record_received("c", [placed], minutes_after(1))
    step = step_at(ledger, 2, **rules)
    assert orders.transform(step, FORMAT)["ready"] == 1
    (sent,) = ledger.orders_in_state("c", "ready")
    assert [(ln.sku, ln.quantity) for ln in sent.lines] == [("MUG-001", 2), ("SPOON", 4)]
    publish(ledger, step)
    # fetched again as the store shows it (the bundle, the gift card): nothing changed
    ledger.record_received("c", [placed], minutes_after(20))
    # the gift card changes: it was never sent, so nothing the warehouse has changed
    more_gift = replace(placed, lines=(placed.lines[0], replace(gift, quantity=3)))
    ledger.record_received("c", [more_gift], minutes_after(25))
    assert changes(ledger, "k") == []
    # the bundle line changes: named as the store shows it, not as its components
    more_kits = replace(more_gift, lines=(replace(placed.lines[0], quantity=3), more_gift.lines[1]))
    ledger.record_received("c", [more_kits], minutes_after(30))
    assert changes(ledger, "k") == ["not sent again: line KIT x 2 is now KIT x 3"]
    assert ledger.order_row("c", "k")["state"] == "published"  # not re-sent


def test_a_cancelled_order_counts_in_flight_until_its_cancel_file_is_published(ledger: Ledger):
    placed = order(line("MUG", 2), order_id="m", number="3001")
    ledger.record_received("c", [placed], minutes_after(1))
    step = step_at(ledger, 2)
    orders.transform(step, FORMAT)
    publish(ledger, step)
    assert ledger.in_flight_units("c") == {"MUG": 2}
    assert cancel(ledger, placed, 10)["cancel_after_send"] == 1
    assert ledger.in_flight_units("c") == {"MUG": 2}  # requested: the warehouse does not know
    ledger.create_cancel_file("c", "/in", "cxl_1.csv", b"order_number\r\n3001\r\n", ["m"],
                              minutes_after(11))  # fmt: skip
    assert ledger.order_row("c", "m")["state"] == "cancelling"
    assert ledger.in_flight_units("c") == {"MUG": 2}  # the file is not published yet
    ledger.mark_file_committing("c", "cxl_1.csv")
    ledger.mark_file_published("c", "cxl_1.csv", minutes_after(12))
    assert ledger.order_row("c", "m")["state"] == "cancel_sent"
    assert ledger.in_flight_units("c") == {}  # the warehouse keeps those units to sell

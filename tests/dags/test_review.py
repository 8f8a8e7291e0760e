"""A review's answer, applied: real orders runs (dag.test()), the ledger, the real sshd.

The answer is the HITL task's result as Airflow hands it over (``chosen_options``,
``params_input``, ``responded_by_user``); the real scheduler test
(``test_review_real_scheduler.py``) gets it from a person's answer through the REST API.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from dropstream import reviews
from dropstream.errors import ConfigurationError
from tests.dags.test_actions import T0, act, held_and_sent, timeline  # noqa: F401 - a fixture
from tests.dags.test_end_to_end import order_numbers

pytestmark = [pytest.mark.slow, pytest.mark.sshd]

ALICE = {"id": "7", "name": "alice"}


def ask(d) -> str:
    """Put every held order of ``d`` up for review, as an orders run does; the review id."""
    from dropstream.ledger import Ledger

    review_id = uuid.uuid4().hex
    ledger = Ledger()
    try:
        now = datetime.now(UTC)
        items = reviews.held_order_items(ledger.held_before(d.name, now + timedelta(seconds=1)))
        rows = ((i.subject, i.label, i.detail) for i in items)
        assert ledger.ask_review(d.name, "held_orders", review_id, rows, now)
        ledger.set_review_run(review_id, f"review__{review_id[:8]}", now)
        # asked twice (the next orders run): nothing new, no second Required Action
        assert ledger.ask_review(d.name, "held_orders", uuid.uuid4().hex, rows, now) == []
    finally:
        ledger.close()
    return review_id


@pytest.fixture
def held(held_and_sent):  # noqa: F811 - the fixture imported above
    """Orders 6001 (held: Canada), 6002 (held: no ship method), 6003 (published), 6004 (held).

    The orders run does not ask for a review itself (the ``deployment`` fixture leaves the
    Airflow Connection ``dropstream_airflow_api`` out): the tests ask (``ask``)."""
    return held_and_sent


def answer(option: str, apply_to: list[str], who: dict | None = ALICE, why: str | None = None):
    return {
        "chosen_options": [option],
        "params_input": {"apply_to": apply_to, "why": why},
        "responded_at": datetime.now(UTC),
        "responded_by_user": who,
    }


def review_rows(review_id: str) -> dict[str, tuple[str, str | None, str | None]]:
    from dropstream.ledger import Ledger

    ledger = Ledger()
    try:
        return {
            r["label"]: (r["state"], r["answer"], r["actor"])
            for r in ledger.review_items(review_id)
        }
    finally:
        ledger.close()


def spec_of(d):
    from dropstream.registry import load_registry

    return load_registry(only=d.name).specs[d.name]


def test_release_answered_for_the_batch_sends_them_in_the_next_run(held):
    from dropstream.review_tasks import apply_held_orders

    d = held
    review_id = ask(d)
    assert sorted(review_rows(review_id)) == ["#6001", "#6002", "#6004"]
    with pytest.raises(ConfigurationError) as refused:  # 6002's hold is the warehouse's
        apply_held_orders(
            spec_of(d), review_id, answer("Release", ["#6001", "#6002", "#6004"]), run="r1"
        )
    assert "1 order(s) could not be released and stay held: #6002:" in str(refused.value)
    assert "no ship method for store method 'PIGEON'" in str(refused.value)
    assert "order 6001 released" in str(refused.value)  # the others were done
    assert review_rows(review_id) == {
        "#6001": ("answered", "Release", "alice"),
        "#6002": ("answered", "Release (refused)", "alice"),
        "#6004": ("answered", "Release", "alice"),
    }
    assert d.run("orders", T0 + timedelta(minutes=30)).state == "success"
    assert sorted(order_numbers(d.files("in"))) == ["AC-6001", "AC-6003", "AC-6004"]
    steps = timeline(d, "6001")
    assert [e for e, _, _ in steps] == [
        "received",
        "held",
        "review_asked",
        "released",
        "in_file",
        "published",
    ]
    assert steps[3] == ("released", "answered Release in Required Actions (r1)", "alice")
    # answered again (a retried apply): nothing more happens
    assert apply_held_orders(spec_of(d), review_id, answer("Release", ["#6001"]), run="r1") == (
        "Release by alice: "
    )


def test_a_review_nobody_answers_keeps_the_orders_held(held):
    from dropstream.review_tasks import apply_held_orders

    d = held
    review_id = ask(d)
    timed_out = answer("Keep holding", ["#6001", "#6002", "#6004"], who=None)
    outcome = apply_held_orders(spec_of(d), review_id, timed_out, run="r2")
    assert outcome == "review timed out: 3 order(s) of " + d.name + " stay held"
    assert {v for v in review_rows(review_id).values()} == {("timed_out", "Keep holding", None)}
    assert timeline(d, "6004")[-1] == (
        "review_timed_out",
        "still held; listed in the daily held-orders digest",
        None,
    )
    assert d.run("orders", T0 + timedelta(minutes=30)).state == "success"
    assert order_numbers(d.files("in")) == ["AC-6003"]  # nothing else went


def test_one_order_cancelled_the_others_asked_again(held):
    from dropstream.review_tasks import apply_held_orders

    d = held
    review_id = ask(d)
    why = "customer called"
    outcome = apply_held_orders(
        spec_of(d), review_id, answer("Cancel", ["#6004"], why=why), run="r3"
    )
    assert "order 6004 cancelled" in outcome and "2 order(s) left out" in outcome
    assert review_rows(review_id) == {"#6004": ("answered", "Cancel", "alice")}
    assert timeline(d, "6004")[-1] == ("cancelled", why, "alice")
    assert [e for e, _, _ in timeline(d, "6001")][-1] in ("held", "review_asked")
    # cancelled while held: simply never sent, and no cancel file either
    assert d.run("orders", T0 + timedelta(minutes=30)).state == "success"
    assert not [n for n in d.files("in") if n.startswith("cxl_")]
    assert order_numbers(d.files("in")) == ["AC-6003"]


def test_an_answer_about_an_order_sent_meanwhile_is_not_applied(held, capfd):
    """Asked while held; a colleague released 6001 and the next run sent it, 6004 was cancelled
    from its page: a Cancel answer sends no cancel file for 6001 and says so."""
    from dropstream.review_tasks import apply_held_orders

    d = held
    review_id = ask(d)
    state, log = act(d, capfd, action="release", connection=d.name, target="6001", reason="ok")
    assert state == "success", log
    state, log = act(d, capfd, action="cancel", connection=d.name, target="6004", reason="dup")
    assert state == "success", log
    assert d.run("orders", T0 + timedelta(minutes=30)).state == "success"
    sent = dict(d.files("in"))
    assert sorted(order_numbers(sent)) == ["AC-6001", "AC-6003"]
    with pytest.raises(ConfigurationError) as moved:
        apply_held_orders(
            spec_of(d), review_id, answer("Cancel", ["#6001", "#6002", "#6004"]), run="r5"
        )
    message = str(moved.value)
    assert "#6001 is published now, no longer held: Cancel not applied" in message
    assert "use that action on its order page" in message
    assert "order 6002 cancelled: it will never be sent" in message  # still held: done
    problems, done = message.split(". Done: ")
    assert "#6004" not in problems  # already what was asked: done, not a problem
    assert "#6004 is cancelled now, no longer held: Cancel not applied" in done
    assert review_rows(review_id) == {
        "#6001": ("moot", "Cancel (not applied: published)", "alice"),
        "#6002": ("answered", "Cancel", "alice"),
        "#6004": ("moot", "Cancel (not applied: cancelled)", "alice"),
    }
    assert d.files("in") == sent  # no cancel file, nothing sent again
    assert [e for e, _, _ in timeline(d, "6001")][-1] == "published"
    assert timeline(d, "6004")[-1] == ("cancelled", "dup", "dag_test")


def test_keep_holding_is_recorded_with_who_said_so(held):
    from dropstream.review_tasks import apply_held_orders

    d = held
    review_id = ask(d)
    keep = answer("Keep holding", ["#6001", "#6002", "#6004"], why="waiting for the customer")
    assert "#6001 kept held" in apply_held_orders(spec_of(d), review_id, keep, run="r4")
    assert timeline(d, "6001")[-1] == ("kept_held", "waiting for the customer", "alice")
    assert d.run("orders", T0 + timedelta(minutes=30)).state == "success"
    assert order_numbers(d.files("in")) == ["AC-6003"]

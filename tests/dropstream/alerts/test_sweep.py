"""Alerts from the ledger's facts, mailed through the real SMTP server: once per incident."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dropstream.alerts.sweep import Recipients, deliver, sweep
from dropstream.spec import parse_spec
from tests.dropstream.test_ledger import order
from tests.specs import spec_dict

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
HELD = "no ship method for PIGEON: map it in rules.ship_method_map"


def acme(**alerts):
    alerts.setdefault("emails", ["ops@acme.example", "night@acme.example"])
    return parse_spec("acme", spec_dict(alerts=alerts))


def hold(ledger, *numbers, at=NOW):
    ledger.record_received("acme", [order(n) for n in numbers], at)
    changes = [(order(n).order_id, "held", HELD, None) for n in numbers]
    ledger.set_order_states("acme", changes, at)


def test_an_order_held_too_long_is_mailed_once_and_again_only_when_held_anew(ledger, smtp):
    spec = acme()
    hold(ledger, 1)
    assert sweep(spec, ledger, "orders", "transform", NOW + timedelta(hours=3)) == 0
    assert sweep(spec, ledger, "orders", "transform", NOW + timedelta(hours=5)) == 1
    for hours in (6, 7):  # later runs: the same incident, no new mail
        assert sweep(spec, ledger, "orders", "load", NOW + timedelta(hours=hours)) == 0
    [mail] = smtp.received()
    assert mail.recipients == ("ops@acme.example", "night@acme.example")
    assert "acme" in mail.subject and "order #1001" in mail.subject
    assert "order #1001 has been held for 5.0 hours (more than 4 hours)" in mail.body
    assert "no ship method for PIGEON" in mail.body and "What to do" in mail.body
    # Released, then held again later: a new incident, told once more.
    ledger.set_order_states("acme", [(order(1).order_id, "ready", "", None)], NOW)
    assert sweep(spec, ledger, "orders", "transform", NOW + timedelta(hours=8)) == 0
    ledger.set_order_states(
        "acme",
        [(order(1).order_id, "held", HELD, None)],
        NOW + timedelta(hours=8),
        from_states=("ready",),
    )
    assert sweep(spec, ledger, "orders", "transform", NOW + timedelta(hours=13)) == 1
    assert len(smtp.received()) == 2


def test_many_incidents_at_once_make_one_digest(ledger, smtp):
    hold(ledger, *range(1, 6))
    assert sweep(acme(held_hours=1), ledger, "orders", "transform", NOW + timedelta(hours=2)) == 1
    [mail] = smtp.received()
    assert "5 alerts (5 × order held too long)" in mail.subject
    for number in range(1001, 1006):
        assert f"order #{number} has been held" in mail.body


def test_an_alert_that_cannot_be_sent_is_sent_by_the_next_run(ledger, smtp, monkeypatch):
    spec = acme()
    hold(ledger, 1)
    monkeypatch.setenv(
        "AIRFLOW_CONN_DROPSTREAM_SMTP",
        smtp.connection_json().replace(smtp.password, "wrong-password"),
    )
    assert sweep(spec, ledger, "orders", "transform", NOW + timedelta(hours=5)) == 0
    assert smtp.refused_logins >= 1 and smtp.received() == []
    monkeypatch.setenv("AIRFLOW_CONN_DROPSTREAM_SMTP", smtp.connection_json())
    assert sweep(spec, ledger, "orders", "transform", NOW + timedelta(hours=6)) == 1
    assert len(smtp.received()) == 1


def test_two_senders_never_send_one_incident_twice_and_a_dead_senders_claim_expires(ledger, smtp):
    to = Recipients("acme", "acme-goods", ("ops@acme.example",))
    ledger.open_incidents("acme", [("held:x", "held", "Order #9 held.")], NOW)
    claimed = ledger.claim_unsent("acme", NOW)
    assert [c["incident"] for c in claimed] == ["held:x"]
    assert deliver(to, ledger, "acme", NOW) == 0  # claimed by the first sender
    assert deliver(to, ledger, "acme", NOW + timedelta(minutes=9)) == 0
    assert smtp.received() == []
    # The first sender died before sending: after CLAIM_TIMEOUT another takes the claim over.
    assert deliver(to, ledger, "acme", NOW + timedelta(minutes=11)) == 1
    assert deliver(to, ledger, "acme", NOW + timedelta(minutes=30)) == 0  # recorded as sent
    [mail] = smtp.received()
    assert "Order #9 held." in mail.body


def test_without_recipients_nothing_is_recorded_or_sent(ledger, smtp):
    hold(ledger, 1)
    assert sweep(acme(emails=[]), ledger, "orders", "transform", NOW + timedelta(hours=9)) == 0
    assert ledger.incidents("acme") == [] and smtp.received() == []


def test_a_suspect_snapshot_is_mailed_once_and_resolved_when_decided(ledger, smtp):
    spec = acme()
    levels = [("SKU-1", 0, NOW)]
    ledger.keep_suspect_snapshot("acme", "inv_2.csv", levels, "lists none of the 2 SKUs", NOW)
    folder = ("/out", "acme")
    assert sweep(spec, ledger, "inventory", "extract", NOW, folder=folder) == 1
    assert sweep(spec, ledger, "inventory", "load", NOW, folder=folder) == 0  # same incident
    [mail] = smtp.received()
    assert "inventory snapshot held back (suspect) (inv_2.csv)" in mail.subject
    assert (
        "the warehouse file inv_2.csv was not pushed to the store: it lists none of the 2 SKUs"
        in mail.body
    )
    assert "approve_snapshot" in mail.body and "reject_snapshot" in mail.body
    ledger.decide_snapshot("acme", "inv_2.csv", "reject", NOW, actor="ops")
    assert sweep(spec, ledger, "inventory", "load", NOW, folder=folder) == 0
    assert ledger.open_incident_keys("acme", "suspect_snapshot") == []


def test_a_snapshot_nobody_decided_is_in_the_next_days_digest_once(ledger, smtp):
    spec = acme()
    ledger.keep_suspect_snapshot("acme", "inv_2.csv", [("SKU-1", 0, NOW)], "lists none", NOW)
    folder = ("/out", "acme")
    assert sweep(spec, ledger, "inventory", "load", NOW + timedelta(hours=1), folder=folder) == 1
    next_day = NOW + timedelta(days=1)
    assert sweep(spec, ledger, "inventory", "load", next_day, folder=folder) == 1
    for hours in (1, 2):  # later runs that day: the same digest, no new mail
        later = next_day + timedelta(hours=hours)
        assert sweep(spec, ledger, "inventory", "load", later, folder=folder) == 0
    first, digest = smtp.received()
    assert "inventory snapshot held back (suspect) (inv_2.csv)" in first.subject
    assert "suspect inventory snapshots still waiting (daily digest) (2026-11-21)" in digest.subject
    assert "1 suspect snapshot(s) still waiting on 2026-11-21" in digest.body
    assert "- inv_2.csv, kept since 2026-11-20 08:00 UTC: it lists none" in digest.body
    ledger.decide_snapshot("acme", "inv_2.csv", "approve", next_day, actor="ops")
    assert (
        sweep(spec, ledger, "inventory", "load", next_day + timedelta(days=1), folder=folder) == 0
    )
    assert ledger.open_incident_keys("acme", "suspect_daily") == []

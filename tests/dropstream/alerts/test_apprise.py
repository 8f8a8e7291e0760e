"""Alerts through Apprise (the apprise provider) to a webhook receiver on loopback, beside
e-mail: each channel tells each incident once, on its own."""

from __future__ import annotations

from datetime import timedelta

from dropstream.alerts.sweep import sweep
from tests.dropstream.alerts.test_sweep import NOW, acme, hold


def test_a_tagged_service_gets_the_alert_once_beside_the_email(ledger, smtp, apprise_webhook):
    spec = acme(apprise_tags=["ops"])
    hold(ledger, 1)
    assert sweep(spec, ledger, "orders", "transform", NOW + timedelta(hours=5)) == 2
    assert sweep(spec, ledger, "orders", "load", NOW + timedelta(hours=6)) == 0
    [post] = apprise_webhook.received("/hooks/ops")
    assert apprise_webhook.received("/hooks/sales") == []  # another tag: not this connection's
    assert "acme" in post["title"] and "order #1001" in post["title"]
    assert "order #1001 has been held for 5.0 hours" in post["message"]
    assert post["type"] == "failure"
    assert len(smtp.received()) == 1


def test_a_refusing_service_is_retried_without_mailing_twice(ledger, smtp, apprise_webhook):
    spec = acme(apprise_tags=["ops"])
    hold(ledger, 1)
    apprise_webhook.status = 500
    assert sweep(spec, ledger, "orders", "transform", NOW + timedelta(hours=5)) == 1  # the mail
    assert apprise_webhook.received("/hooks/ops") == []
    apprise_webhook.status = 200
    assert sweep(spec, ledger, "orders", "transform", NOW + timedelta(hours=6)) == 1
    assert len(apprise_webhook.received("/hooks/ops")) == 1
    assert len(smtp.received()) == 1


def test_an_unknown_tag_is_not_recorded_as_sent(ledger, smtp, apprise_webhook):
    spec = acme(emails=[], apprise_tags=["nobody"])
    hold(ledger, 1)
    assert sweep(spec, ledger, "orders", "transform", NOW + timedelta(hours=5)) == 0
    [row] = ledger.incidents("acme")
    assert row["channel"] == "apprise" and row["sent_at"] is None

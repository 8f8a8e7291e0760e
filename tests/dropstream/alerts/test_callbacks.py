"""The failure and deadline callbacks, called as Airflow calls them, against the real SMTP server
and a migrated ledger. (Airflow calling them: tests/dags/test_alerts*.py.)"""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from dropstream.alerts.callbacks import on_task_failure, orders_overdue
from dropstream.alerts.sweep import sweep
from dropstream.errors import AuthenticationError
from dropstream.ledger import Ledger
from tests.dropstream.alerts.test_sweep import NOW, acme
from tests.ledgers import sqlite_ledger_url

TOKEN = "shpat_live_5f0c2b9e1d"


@pytest.fixture
def ledger_url(tmp_path, monkeypatch) -> str:
    url = sqlite_ledger_url(tmp_path)
    monkeypatch.setenv("DROPSTREAM_LEDGER_URL", url)
    return url


def failed_try(task_id: str = "extract") -> SimpleNamespace:
    """What the failure callback reads of the task instance (Airflow passes its own)."""
    return SimpleNamespace(
        dag_id="dropstream__acme__orders",
        task_id=task_id,
        run_id="scheduled__2026-11-20T10:00:00+00:00",
        try_number=4,
        log_url="http://airflow.example/dags/dropstream__acme__orders/runs/r/tasks/extract",
    )


def test_a_failure_alert_hides_secrets_and_says_the_first_line(ledger_url, smtp):
    from airflow.sdk.log import mask_secret

    mask_secret(TOKEN)
    error = AuthenticationError(f"Shopify refused the token {TOKEN} (401)\nTraceback noise")
    for _ in range(2):  # the same failing flow twice: one mail
        on_task_failure(acme(), {"ti": failed_try(), "exception": error})
    [mail] = smtp.received()
    assert "Error: AuthenticationError: Shopify refused the token *** (401)" in mail.body
    assert TOKEN not in mail.body and "Traceback noise" not in mail.body
    assert "the step 'extract' failed after 4 attempt(s)" in mail.body
    assert mail.links == [failed_try().log_url]


def test_an_overdue_orders_flow_is_told_once_per_outage(ledger_url, smtp):
    context = {
        "dag_run": {
            "dag_id": "dropstream__acme__orders",
            "dag_run_id": "scheduled__2026-11-20T10:00:00+00:00",
            "logical_date": "2026-11-20T10:00:00Z",
        },
        "deadline": {"id": "d1", "deadline_time": "2026-11-20T10:30:00Z"},
    }
    kwargs = {"connection": "acme", "merchant": "acme-goods", "emails": ["ops@acme.example"],
              "interval_seconds": 900}  # fmt: skip
    for _ in range(3):  # every late run of one outage misses its own deadline
        orders_overdue(**kwargs, context=context)
    [mail] = smtp.received()
    assert "no successful orders run for 30 minutes (twice the 15-minute interval)" in mail.body
    assert "scheduled__2026-11-20T10:00:00+00:00" in mail.body and "10:30:00" in mail.body
    ledger = Ledger(ledger_url)
    try:  # an orders run succeeds: the outage is over; the next one is told again
        sweep(acme(), ledger, "orders", "load", NOW + timedelta(hours=1))
    finally:
        ledger.close()
    orders_overdue(**kwargs, context=context)
    assert len(smtp.received()) == 2

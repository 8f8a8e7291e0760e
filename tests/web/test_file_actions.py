"""Resending a whole order file from the Files page, against the real api-server with the plugin:
as on the order page, the form triggers ``dropstream_actions`` with the person's own token, so
Airflow records them as the run's triggering user, which the action records as *who*."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, quote, urlparse

import pytest

from tests.web.test_order_actions import known_to_airflow, post

pytestmark = [pytest.mark.slow, pytest.mark.sshd]


def files_page(view, username: str, **params) -> str:
    response = view.get("/dropstream/connections/acme_east/files", username, **params)
    assert response.status_code == 200, response.text
    return response.text


def test_the_files_page_offers_a_published_order_file_for_resending(view, story):
    html = files_page(view, "admin")
    row = re.search(rf'<tr data-file="{re.escape(story["order_file"])}">.*?</tr>', html, re.S)
    assert row is not None, html
    action = f"/dropstream/connections/acme_east/files/{quote(story['order_file'])}/actions"
    assert f'action="{action}"' in row.group(0)
    assert 'value="resend_file">Resend a whole order file' in unescape(row.group(0))


def test_resending_a_file_from_the_files_page_runs_as_the_person_who_asked(view, story):
    known_to_airflow(view)
    path = f"/connections/acme_east/files/{quote(story['order_file'])}/actions"
    response = post(view, "admin", path, action="resend_file", reason="3PL lost the batch")
    assert response.status_code == 303, response.text
    query = parse_qs(urlparse(response.headers["location"]).query)
    assert query["asked"] == ["resend_file"] and query["file"] == [story["order_file"]]
    run_id = query["run_id"][0]
    run = view.get(f"/api/v2/dags/dropstream_actions/dagRuns/{run_id}", "admin").json()
    assert run["triggering_user_name"] == "admin"
    assert run["conf"] == {
        "action": "resend_file",
        "connection": "acme_east",
        "target": story["order_file"],
        "reason": "3PL lost the batch",
    }
    back = view.get(response.headers["location"], "admin")
    assert back.status_code == 200
    notice = re.search(r'<p class="notice" id="asked">.*?</p>', back.text, re.S)
    assert notice is not None and story["order_file"] in notice.group(0)
    assert f"/dags/dropstream_actions/runs/{quote(run_id, safe='')}" in notice.group(0)


def test_a_file_resend_needs_a_reason_a_known_file_and_a_login(view, story):
    path = f"/connections/acme_east/files/{quote(story['order_file'])}/actions"
    assert post(view, "admin", path, action="resend_file", reason="").status_code == 422
    refused = post(view, "admin", path, action="cancel", reason="x")  # not a file's action
    assert refused.status_code == 409 and "only a published order file" in unescape(refused.text)
    missing = post(view, "admin", "/connections/acme_east/files/ord_404.csv/actions",
                   action="resend_file", reason="x")  # fmt: skip
    assert missing.status_code == 404 and "sent no file 'ord_404.csv'" in unescape(missing.text)
    assert post(view, None, path, action="resend_file", reason="x").status_code == 401
    # a user limited to globex's DAGs does not see acme_east at all
    assert post(view, "globex-viewer", path, action="resend_file", reason="x").status_code == 404


def test_only_a_published_order_file_is_offered(tmp_path):
    """From real ledger rows: a file still being published, and a cancel file, are not."""
    from datetime import UTC, datetime

    from dropstream.ledger import Ledger
    from dropstream.web.action_routes import offered_for_file
    from tests.dropstream.test_ledger import order
    from tests.ledgers import sqlite_ledger_url

    now = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    ledger = Ledger(sqlite_ledger_url(tmp_path))
    sent, staged, cancelled = order(1), order(2), order(3)
    try:
        ledger.record_received("c", [sent, staged, cancelled], now)
        ids = [o.order_id for o in (sent, staged, cancelled)]
        ledger.set_order_states("c", [(i, "ready", "", None) for i in ids], now)
        ledger.create_order_file("c", "/in", "ord_1.csv", b"x", [sent.order_id], now)
        ledger.mark_file_committing("c", "ord_1.csv")
        ledger.mark_file_published("c", "ord_1.csv", now)
        ledger.create_order_file("c", "/in", "ord_2.csv", b"y", [staged.order_id], now)
        ledger.create_order_file("c", "/in", "ord_3.csv", b"z", [cancelled.order_id], now)
        ledger.mark_file_committing("c", "ord_3.csv")
        ledger.mark_file_published("c", "ord_3.csv", now)
        ledger.cancel_order("c", cancelled.order_id, now, reason="fraud", actor="ops")
        ledger.create_cancel_file("c", "/in", "cxl_1.csv", b"c", [cancelled.order_id], now)
        rows = {n: ledger.order_file("c", n) for n in ("ord_1.csv", "ord_2.csv", "cxl_1.csv")}
        assert ledger.order_file("c", "ord_404.csv") is None
    finally:
        ledger.close()
    assert offered_for_file(rows["ord_1.csv"]) == ("resend_file",)
    assert rows["ord_2.csv"]["state"] == "staged" and offered_for_file(rows["ord_2.csv"]) == ()
    assert rows["cxl_1.csv"]["kind"] == "cancel" and offered_for_file(rows["cxl_1.csv"]) == ()

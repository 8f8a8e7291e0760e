"""Actions from the order page, against the real api-server with the plugin: the form triggers
``dropstream_actions`` through Airflow's REST API with the person's own token, so Airflow records
them (not a service account) as the run's triggering user, which the action records as *who*."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, quote, urlparse

import pytest
import requests

from tests.web.conftest import DAGS


def known_to_airflow(view) -> None:
    """Put ``dropstream_actions`` in the metadata DB as the view server's dag-processor would:
    parsed with its registry (the form's connection choices), not whatever registry earlier
    tests of this process left in the metadata DB."""
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_VAR_DROPSTREAM_CONNECTIONS", json.dumps(view.registry))
        bag = DagBag(dag_folder=str(DAGS / "dropstream_actions.py"))
    assert not bag.import_errors, bag.import_errors
    choices = bag.dags["dropstream_actions"].params.get_param("connection").schema["enum"]
    assert set(view.registry) <= set(choices), choices
    sync_bag_to_db(bag, "dags-folder", None)


def post(view, username: str | None, path: str, **form: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {view.token(username)}"} if username else {}
    return requests.post(
        f"{view.url}/dropstream{path}",
        data=form,
        headers=headers,
        timeout=60,
        allow_redirects=False,
    )


def test_the_order_page_offers_the_actions_of_the_order_state(view, story):
    page = view.get("/dropstream/connections/acme_east/orders", "admin", order_id=story["held"])
    assert page.status_code == 200
    assert 'id="order-actions"' in page.text
    assert 'value="release">Release a held order' in page.text
    assert 'value="cancel">Cancel an order' in page.text
    assert 'value="resend"' not in page.text  # held: nothing to resend
    shipped = view.get(
        "/dropstream/connections/acme_east/orders", "admin", order_id=story["shipped"]
    )
    assert 'value="resend"' in shipped.text and 'value="repush"' in shipped.text


def test_an_action_from_the_order_page_runs_as_the_person_who_asked(view, story):
    known_to_airflow(view)
    path = f"/connections/acme_east/orders/{story['held']}/actions"
    response = post(view, "admin", path, action="cancel", reason="buyer called")
    assert response.status_code == 303, response.text
    query = parse_qs(urlparse(response.headers["location"]).query)
    assert query["asked"] == ["cancel"] and query["order_id"] == [story["held"]]
    run_id = query["run_id"][0]
    run = view.get(f"/api/v2/dags/dropstream_actions/dagRuns/{run_id}", "admin").json()
    assert run["triggering_user_name"] == "admin"
    assert run["conf"] == {
        "action": "cancel",
        "connection": "acme_east",
        "target": story["held"],
        "reason": "buyer called",
    }
    back = view.get(response.headers["location"], "admin")
    assert 'id="asked"' in back.text
    assert f"/dags/dropstream_actions/runs/{quote(run_id, safe='')}" in back.text


def test_an_action_the_order_state_does_not_offer_or_without_a_reason_is_refused(view, story):
    path = f"/connections/acme_east/orders/{story['held']}/actions"
    refused = post(view, "admin", path, action="resend", reason="x")
    assert refused.status_code == 409 and "is held" in refused.text
    assert post(view, "admin", path, action="cancel", reason="").status_code == 422


def test_no_login_or_no_access_no_action(view, story):
    path = f"/connections/acme_east/orders/{story['held']}/actions"
    assert post(view, None, path, action="cancel", reason="x").status_code == 401
    # a user limited to globex's DAGs does not see acme_east at all
    assert post(view, "globex-viewer", path, action="cancel", reason="x").status_code == 404


def test_an_order_cancelled_after_sending_is_not_offered_a_resend(tmp_path):
    """From real ledger rows: once a cancellation was asked (store or person), Resend is gone;
    in a cancel file (or cancelled before sending) nothing is offered."""
    from datetime import UTC, datetime, timedelta

    from dropstream.ledger import Ledger
    from dropstream.web.action_routes import offered
    from tests.dropstream.test_ledger import order
    from tests.ledgers import sqlite_ledger_url

    now = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    ledger = Ledger(sqlite_ledger_url(tmp_path))
    asked, in_cxl, shipped, plain = order(1), order(2), order(3), order(4)
    ids = [o.order_id for o in (asked, in_cxl, shipped, plain)]
    try:
        ledger.record_received("c", [asked, in_cxl, shipped, plain], now)
        ledger.set_order_states("c", [(i, "ready", "", None) for i in ids], now)
        ledger.create_order_file("c", "/in", "ord_1.csv", b"x", ids, now)
        ledger.mark_file_committing("c", "ord_1.csv")
        ledger.mark_file_published("c", "ord_1.csv", now)
        ledger.set_order_states(
            "c", [(shipped.order_id, "shipped", "", None)], now, from_states=("published",)
        )
        later = now + timedelta(minutes=5)
        for o in (asked, in_cxl, shipped):
            ledger.cancel_order("c", o.order_id, later, reason="fraud", actor="ops")
        ledger.create_cancel_file("c", "/in", "cxl_1.csv", b"c", [in_cxl.order_id], later)
        rows = {i: ledger.order_row("c", i) for i in ids}
    finally:
        ledger.close()
    assert offered(rows[plain.order_id]) == ("resend", "cancel")
    # its cancel file not sent yet: asking again sends it
    assert offered(rows[asked.order_id]) == ("cancel",)
    assert rows[in_cxl.order_id]["state"] == "cancelling" and offered(rows[in_cxl.order_id]) == ()
    # the tracking is still true; a return is arranged outside DropStream
    assert offered(rows[shipped.order_id]) == ("repush",)

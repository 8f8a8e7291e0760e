"""Actions from the order page, against the real api-server with the plugin: the form triggers
``dropstream_actions`` through Airflow's REST API with the person's own token, so Airflow records
them (not a service account) as the run's triggering user, which the action records as *who*."""

from __future__ import annotations

from urllib.parse import parse_qs, quote, urlparse

import requests

from tests.web.conftest import DAGS


def known_to_airflow() -> None:
    """Put ``dropstream_actions`` in the metadata DB, as the dag-processor does."""
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    bag = DagBag(dag_folder=str(DAGS / "dropstream_actions.py"))
    assert not bag.import_errors, bag.import_errors
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
    known_to_airflow()
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

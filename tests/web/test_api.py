"""The DropStream JSON API on a real api-server, after real runs of the real DAGs (dag.test()).

The story (``tests/web/conftest.py``): one store's orders go through the product; one is
published then shipped, one is held (its ship method has no mapping), one is cancelled, and a
package for an order nobody sent arrives. The API must tell each order's story, and show a
connection only to those who may read its DAGs.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
import requests

pytestmark = [pytest.mark.slow, pytest.mark.sshd]


def test_no_credentials_no_view(view):
    for path in (
        "/dropstream/api/connections",
        "/dropstream/api/connections/acme_east/orders",
        "/dropstream/api/connections/acme_east/files",
    ):
        assert view.get(path, None).status_code == 401, path
    forged = requests.get(
        f"{view.url}/dropstream/api/connections",
        headers={"Authorization": "Bearer not-a-token"},
        timeout=30,
    )
    assert forged.status_code in (401, 403)
    assert view.get("/dropstream/api/health", None).status_code == 200  # liveness only


def test_connections_show_state_last_runs_and_counts(view, story):
    page = view.api("/connections", "admin")
    assert page["total"] == 2 and page["merchants"] == ["acme", "globex"]
    acme, globex = page["connections"]
    assert (acme["name"], acme["merchant"], globex["name"]) == ("acme_east", "acme", "globex_west")
    assert acme["store"] == {"name": "Acme Shopify", "platform": "shopify"}
    assert acme["warehouse"] == {
        "name": "Acme 3PL",
        "protocol": "sftp",
        "format": "header_detail_csv",
    }
    assert acme["state"] == "Partly enabled"  # orders unpaused; inventory, tracking paused
    assert globex["state"] == "Disabled"
    flows = acme["flows"]
    assert flows["orders"]["paused"] is False and flows["tracking"]["paused"] is True
    assert flows["orders"]["last_run"]["run_id"] == story["second_orders_run"]
    assert flows["orders"]["last_run"]["state"] == "success"
    assert flows["tracking"]["last_run"]["run_id"] == story["tracking_run"]
    assert flows["inventory"]["last_run"] is None  # never ran
    counts = acme["counts"]
    assert {k: counts[k] for k in ("held", "ready", "in_file", "shipped", "cancelled")} == {
        "held": 1,
        "ready": 0,
        "in_file": 0,
        "shipped": 1,
        "cancelled": 1,
    }
    assert counts["unknown_shipments"] == 1
    assert counts["suspect_snapshots"] == 1  # kept by the inventory guard, waiting
    assert globex["counts"]["suspect_snapshots"] == 0

    only = view.api("/connections", "admin", merchant="globex")
    assert [c["name"] for c in only["connections"]] == ["globex_west"] and only["total"] == 1
    first = view.api("/connections", "admin", limit=1)
    second = view.api("/connections", "admin", limit=1, offset=1)
    assert [c["name"] for c in first["connections"] + second["connections"]] == [
        "acme_east",
        "globex_west",
    ]
    assert first["total"] == 2
    assert view.get("/dropstream/api/connections", "admin", limit=0).status_code == 422


@pytest.mark.parametrize("typed", ["5001", "#5001", "AE-5001"])
def test_orders_found_by_number_with_or_without_prefix(view, story, typed):
    found = view.api("/connections/acme_east/orders", "admin", q=typed)
    assert found["total"] == 1
    (order,) = found["orders"]
    assert (order["order_id"], order["number"], order["warehouse_number"]) == (
        story["shipped"],
        "5001",
        "AE-5001",
    )
    assert order["state"] == "shipped"


def test_orders_list_pages_and_filters_by_state(view, story):
    everything = view.api("/connections/acme_east/orders", "admin")
    assert everything["total"] == 3
    assert {o["number"]: o["state"] for o in everything["orders"]} == {
        "5001": "shipped",
        "5002": "held",
        "5003": "cancelled",
    }
    held = view.api("/connections/acme_east/orders", "admin", state="held")
    assert [o["number"] for o in held["orders"]] == ["5002"]
    assert "PIGEON" in held["orders"][0]["reason"]
    paged = view.api("/connections/acme_east/orders", "admin", limit=2, offset=2)
    assert len(paged["orders"]) == 1 and paged["total"] == 3


def test_timeline_tells_each_order_s_story(view, story):
    shipped = view.api(f"/connections/acme_east/orders/{story['shipped']}", "admin")
    steps = [(e["event"], e["detail"]) for e in shipped["timeline"]]
    assert steps == [
        ("received", ""),
        ("ready", ""),
        ("in_file", story["order_file"]),
        ("published", story["order_file"]),
        ("shipment_received", "UPS Ground tracking 1ZVIEW1, 1 unit(s) in shp_1.csv"),
        ("shipped", "UPS Ground tracking 1ZVIEW1, 1 unit(s)"),
    ]
    published = shipped["timeline"][3]
    assert published["run_id"] == story["orders_run"]
    run = quote(story["orders_run"], safe="")
    assert published["run_url"] == f"/dags/dropstream__acme_east__orders/runs/{run}"
    assert shipped["timeline"][-1]["dag_id"] == "dropstream__acme_east__tracking"

    by_number = view.api("/connections/acme_east/orders/AE-5002", "admin")
    assert by_number["order_id"] == story["held"]
    (received, held) = by_number["timeline"]
    assert received["event"] == "received" and held["event"] == "held"
    assert "PIGEON" in held["detail"] and held["run_id"] == story["orders_run"]

    cancelled = view.api(f"/connections/acme_east/orders/{story['cancelled']}", "admin")
    assert [e["event"] for e in cancelled["timeline"]] == ["received", "held", "cancelled"]
    assert cancelled["timeline"][-1]["actor"] == "ops"
    assert cancelled["timeline"][-1]["detail"] == "buyer called"

    missing = view.get("/dropstream/api/connections/acme_east/orders/7777", "admin")
    assert missing.status_code == 404 and "has no order '7777'" in missing.json()["detail"]


def test_files_published_and_read(view, story):
    files = view.api("/connections/acme_east/files", "admin")
    (sent,) = files["order_files"]["items"]
    assert (sent["file_name"], sent["state"], sent["order_count"]) == (
        story["order_file"],
        "published",
        1,
    )
    assert [(f["flow"], f["file_name"], f["state"]) for f in files["warehouse_files"]["items"]] == [
        ("tracking", "shp_1.csv", "archived")
    ]
    assert files["counts"] == {"order_files": {"published": 1}, "tracking_files": {"archived": 1}}
    (kept,) = files["snapshots"]  # the story's suspect snapshot, waiting for a person
    assert (kept["source_file"], kept["state"], kept["reason"], kept["decided_by"]) == (
        "inv_0.csv",
        "suspect",
        "why",
        None,
    )


def test_a_user_limited_to_one_merchant_sees_only_it(view, story):
    page = view.api("/connections", "globex-viewer")
    assert [c["name"] for c in page["connections"]] == ["globex_west"]
    assert page["merchants"] == ["globex"] and page["total"] == 1
    for path in ("", "/orders", f"/orders/{story['shipped']}", "/files"):
        response = view.get(f"/dropstream/api/connections/acme_east{path}", "globex-viewer")
        assert response.status_code == 404, (path, response.text)
        assert "5001" not in response.text
    # The same user is refused the DAG by Airflow's own REST API: one source of truth.
    assert (
        view.get("/api/v2/dags/dropstream__acme_east__orders", "globex-viewer").status_code == 403
    )
    assert view.get("/api/v2/dags/dropstream__globex_west__orders", "globex-viewer").ok

"""The operator actions DAG end to end: real runs (dag.test()) of ``dropstream_actions`` and of
the connection's orders DAG, the ledger, and the real api-server for enable / disable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.dags.test_end_to_end import order_numbers
from tests.servers.airflow_api import AirflowAPIServer

pytestmark = [pytest.mark.slow, pytest.mark.sshd]

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
PIGEON = {"title": "Pigeon", "code": "PIGEON", "carrierIdentifier": None, "source": "shopify"}
CANADA = {
    "name": "Lou Client",
    "firstName": "Lou",
    "lastName": "Client",
    "company": None,
    "address1": "1 rue Principale",
    "address2": None,
    "city": "Montréal",
    "province": "Quebec",
    "provinceCode": "QC",
    "zip": "H2X 1Y4",
    "country": "Canada",
    "countryCodeV2": "CA",
    "phone": None,
}


def act(deployment, capfd, **conf):
    """Trigger ``dropstream_actions`` with ``conf`` (dag.test()); its state and the task's log
    (dag.test() prints it)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(deployment_dags() / "dropstream_actions.py"))
    assert not bag.import_errors, bag.import_errors
    capfd.readouterr()
    run = bag.dags["dropstream_actions"].test(run_conf=conf)
    out, err = capfd.readouterr()
    return run.state, out + err


def deployment_dags():
    from tests.dags.conftest import DAGS

    return DAGS


def timeline(deployment, number: str) -> list[tuple[str, str, str | None]]:
    from dropstream.ledger import Ledger

    ledger = Ledger()
    try:
        (row,), _ = ledger.find_orders(deployment.name, numbers=[number])
        events = ledger.order_timeline(deployment.name, row["order_id"])
    finally:
        ledger.close()
    return [(e.event, e.detail, e.actor) for e in events]


@pytest.fixture
def held_and_sent(deployment):
    """Orders 6001 (held: Canada), 6002 (held: no ship method), 6003 (published), 6004 (held)."""
    deployment.register(
        rules={
            "ship_method_map": {"STANDARD": "UPS_GROUND"},
            "hold_countries": ["CA"],
            "order_number_prefix": "AC-",
        }
    )
    shop = deployment.shop
    shop.add_order(6001, updated_at=T0 + timedelta(minutes=1), address=CANADA)
    shop.add_order(6002, updated_at=T0 + timedelta(minutes=2), shipping_line=PIGEON)
    shop.add_order(6003, updated_at=T0 + timedelta(minutes=3))
    shop.add_order(6004, updated_at=T0 + timedelta(minutes=4), address=CANADA)
    assert deployment.run("orders", T0 + timedelta(minutes=15)).state == "success"
    assert order_numbers(deployment.files("in")) == ["AC-6003"]
    return deployment


def test_release_sends_a_held_order_once(held_and_sent, capfd):
    d = held_and_sent
    state, log = act(
        d, capfd, action="release", connection=d.name, target="#6001", reason="checked the address"
    )
    assert state == "success", log
    assert "order 6001 released" in log
    state, log = act(
        d,
        capfd,
        action="release",
        connection=d.name,
        target="AC-6001",
        reason="checked the address",
    )
    assert state == "success" and "nothing to release" in log  # twice: nothing the second time
    assert d.run("orders", T0 + timedelta(minutes=30)).state == "success"
    assert sorted(order_numbers(d.files("in"))) == ["AC-6001", "AC-6003"]  # 6004 still held
    steps = timeline(d, "6001")
    assert [e for e, _, _ in steps] == ["received", "held", "released", "in_file", "published"]
    assert steps[2] == (
        "released",
        "checked the address",
        "dag_test",
    )  # dag.test()'s triggering user


def test_release_refuses_what_the_warehouse_would_reject(held_and_sent, capfd):
    d = held_and_sent
    state, log = act(d, capfd, action="release", connection=d.name, target="6002", reason="go")
    assert state == "failed"
    assert "order 6002 cannot be released as it is: no ship method for store method 'PIGEON'" in log
    assert [e for e, _, _ in timeline(d, "6002")] == ["received", "held"]


def test_cancel_never_sends_and_a_sent_order_is_recorded(held_and_sent, capfd):
    d = held_and_sent
    for _ in range(2):
        state, log = act(d, capfd, action="cancel", connection=d.name, target="6004", reason="x")
        assert state == "success", log
    assert "already cancelled" in log
    assert [e for e, _, _ in timeline(d, "6004")] == ["received", "held", "cancelled"]
    for _ in range(2):  # sent: the warehouse is told at once, and only once
        state, log = act(
            d, capfd, action="cancel", connection=d.name, target="6003", reason="fraud"
        )
        assert state == "success", log
    assert "already cancel_sent" in log and "nothing to do" in log
    cancels = {n: c for n, c in d.files("in").items() if n.startswith("cxl_")}
    assert list(cancels.values()) == [b"order_number\r\nAC-6003\r\n"]
    assert timeline(d, "6003")[-2:] == [
        ("cancel_after_send", "fraud", "dag_test"),
        ("cancel_sent", next(iter(cancels)), None),
    ]
    assert d.run("orders", T0 + timedelta(minutes=30)).state == "success"
    assert order_numbers(d.files("in")) == ["AC-6003"]  # nothing else went
    assert [n for n in d.files("in") if n.startswith("cxl_")] == list(cancels)


def test_an_unknown_order_or_connection_is_named(held_and_sent, capfd):
    d = held_and_sent
    state, log = act(d, capfd, action="cancel", connection=d.name, target="404", reason="x")
    assert state == "failed" and f"connection '{d.name}': no order '404' in the ledger" in log
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError, match="'nope' is not one of"):  # the form's choice
        act(d, capfd, action="cancel", connection="nope", target="6001", reason="x")
    state, log = act(d, capfd, action="cancel", connection=d.name, reason="x")
    assert state == "failed" and "cancel needs the order" in log


def test_enable_and_disable_flip_all_three_dags_once(
    held_and_sent, capfd, airflow_api_server: AirflowAPIServer
):
    from dropstream.ledger import Ledger

    d = held_and_sent
    dag_ids = [f"dropstream__{d.name}__{flow}" for flow in ("orders", "inventory", "tracking")]

    def paused() -> list[bool]:
        return [airflow_api_server.get(f"/dags/{dag_id}")["is_paused"] for dag_id in dag_ids]

    assert paused() == [True, True, True]
    for _ in range(2):
        state, log = act(d, capfd, action="enable", connection=d.name, reason="go live")
        assert state == "success", log
        assert paused() == [False, False, False]
    assert f"connection {d.name} is already enabled: nothing to do" in log
    state, log = act(d, capfd, action="disable", connection=d.name, reason="3PL outage")
    assert state == "success" and paused() == [True, True, True]
    ledger = Ledger()
    try:
        events = ledger.connection_events(d.name)
    finally:
        ledger.close()
    kept = [(e.event, e.actor) for e in events if e.event in ("enabled", "disabled")]
    assert kept == [("disabled", "dag_test"), ("enabled", "dag_test")]  # newest first
    assert events[0].detail.startswith("3PL outage (")


def test_resend_publishes_a_new_file_once_per_reason(held_and_sent, capfd):
    d = held_and_sent
    (first,) = d.files("in")
    for _ in range(2):
        state, log = act(
            d, capfd, action="resend", connection=d.name, target="6003", reason="3PL lost it"
        )
        assert state == "success", log
    assert "order 6003 was already resent for '3PL lost it': nothing to do" in log, log[-6000:]
    files = d.files("in")
    assert len(files) == 2 and first in files
    (resent,) = [name for name in files if name != first]
    assert "resend" in resent and not resent.startswith(".")
    assert order_numbers({resent: files[resent]}) == ["AC-6003"]
    steps = timeline(d, "6003")
    assert [e for e, _, _ in steps][-1] == "resent"
    assert steps[-1] == ("resent", f"in {resent}: 3PL lost it", "dag_test")
    # a held order is released, not resent
    state, log = act(d, capfd, action="resend", connection=d.name, target="6002", reason="x")
    assert state == "failed" and "order 6002 is held: only a published or shipped order" in log


def test_suspect_snapshot_approved_once_is_pushed_and_a_rejected_one_never(deployment, capfd):
    from dropstream.ledger import Ledger
    from tests.dags.test_end_to_end import inventory_file

    shop = deployment.shop
    for sku in ("SKU-1", "SKU-2"):
        shop.add_variant(sku, available=0)
    deployment.write("out", "inv_1.csv", inventory_file("2026-11-20T09:00:00Z", SKU_1=8, SKU_2=3))
    assert deployment.run("inventory", T0).state == "success"
    assert shop.inventory == {"SKU-1": 8, "SKU-2": 3}
    deployment.write("out", "inv_2.csv", inventory_file("2026-11-20T10:00:00Z", SKU_1=0, SKU_2=0))
    assert deployment.run("inventory", T0 + timedelta(hours=1)).state == "success"
    assert shop.inventory == {"SKU-1": 8, "SKU-2": 3}  # suspect: nothing pushed
    name = deployment.name
    for _ in range(2):
        state, log = act(deployment, capfd, action="approve_snapshot", connection=name,
                         reason="the 3PL confirmed the recall")  # fmt: skip
        assert state == "success", log
    assert "no suspect inventory snapshot waits for" in log and "nothing to do" in log
    state, log = act(deployment, capfd, action="reject_snapshot", connection=name,
                     target="inv_2.csv", reason="x")  # fmt: skip
    assert state == "success" and "snapshot inv_2.csv is already approved" in log
    assert deployment.run("inventory", T0 + timedelta(hours=2)).state == "success"
    assert shop.inventory == {"SKU-1": 0, "SKU-2": 0}  # pushed once approved
    # Another all-zero snapshot is not suspect now (nothing in stock); stock comes back, and a
    # later bad file is rejected: never pushed.
    deployment.write("out", "inv_3.csv", inventory_file("2026-11-20T12:00:00Z", SKU_1=5, SKU_2=5))
    assert deployment.run("inventory", T0 + timedelta(hours=3)).state == "success"
    deployment.write("out", "inv_4.csv", inventory_file("2026-11-20T13:00:00Z", SKU_9=1))
    assert deployment.run("inventory", T0 + timedelta(hours=4)).state == "success"
    state, log = act(deployment, capfd, action="reject_snapshot", connection=name,
                     target="inv_4.csv", reason="wrong account's file")  # fmt: skip
    assert state == "success" and "snapshot inv_4.csv rejected" in log
    state, log = act(deployment, capfd, action="approve_snapshot", connection=name,
                     target="inv_404.csv", reason="x")  # fmt: skip
    assert state == "failed"
    assert f"connection '{name}': no suspect inventory snapshot from 'inv_404.csv'" in log
    assert deployment.run("inventory", T0 + timedelta(hours=5)).state == "success"
    assert shop.inventory == {"SKU-1": 5, "SKU-2": 5}
    ledger = Ledger()
    try:
        events = [(e.event, e.detail, e.actor) for e in ledger.connection_events(name)]
        (applied,) = ledger.suspect_snapshots(name, "applied")
    finally:
        ledger.close()
    assert events == [
        ("snapshot_rejected", "inv_4.csv: wrong account's file", "dag_test"),
        ("snapshot_approved", "inv_2.csv: the 3PL confirmed the recall", "dag_test"),
    ]
    assert applied["source_file"] == "inv_2.csv" and applied["decided_by"] == "dag_test"

"""Alerts end to end: real DAGs under dag.test(), the real sshd, the Shopify emulator and the
real SMTP server. Each trouble is one e-mail naming the connection and the cause."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from tests.servers._http import free_port

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
OPS = "ops@acme.example"
PIGEON = {"title": "Carrier pigeon", "code": "PIGEON", "carrierIdentifier": None, "source": "x"}
SHIPMENTS = (
    "order_number,line_number,sku,quantity_shipped,carrier,service,tracking_number,ship_date\r\n"
    "9999,1,SKU-9,1,UPS,Ground,1ZGHOST,2026-11-20\r\n"
)


def with_alerts(deployment, **alerts):
    alerts.setdefault("emails", [OPS])
    deployment.register(alerts=alerts, rules={"ship_method_map": {"STANDARD": "UPS_GROUND"}})


def without_deadline(deployment, flow: str):
    """The flow's DAG for dag.test(): Airflow 3.3.2's dag.test() cannot finish a successful
    run of a DAG with a DeadlineAlert (it looks the alert up by an id only the dag-processor
    assigns: ``'dict' object has no attribute 'hex'``); the scheduler test covers the deadline."""
    dag = deployment.dag(flow)
    dag.deadline = None
    return dag


def run(deployment, flow: str, logical_date: datetime):
    return without_deadline(deployment, flow).test(logical_date=logical_date)


def retrying(deployment, flow: str, retries: int):
    """The flow's DAG with ``retries`` retries, each at once (the factory waits minutes)."""
    dag = without_deadline(deployment, flow)
    for task in dag.tasks:
        task.retries = retries
        task.retry_delay = timedelta(0)
    return dag


def test_a_task_failing_after_three_retries_sends_one_email(deployment, smtp, monkeypatch):
    with_alerts(deployment)
    closed = free_port()  # nothing listens: every attempt fails the same way
    monkeypatch.setenv(
        f"AIRFLOW_CONN_DROPSTREAM_{deployment.name.upper()}_WAREHOUSE",
        deployment.warehouse.connection_json(port=closed),
    )
    started = time.monotonic()
    outage = retrying(deployment, "tracking", 3).test(logical_date=T0)
    assert outage.state == "failed"
    extract = outage.get_task_instance("extract")
    assert extract.state == "failed" and extract.try_number == 4  # the first try + 3 retries
    [mail] = smtp.received()
    assert mail.recipients == (OPS,)
    assert deployment.name in mail.subject and "a task failed after its retries" in mail.subject
    body = mail.body
    assert f"Connection '{deployment.name}', tracking flow" in body
    assert "the step 'extract' failed after 4 attempt(s)" in body
    assert str(closed) in body  # the error's first line names what could not be reached
    [log_link] = mail.links  # the failed try's log in the Airflow UI
    assert f"/dags/dropstream__{deployment.name}__tracking/runs/" in log_link
    assert "/tasks/extract" in log_link
    assert f"dropstream_{deployment.name}_warehouse" in body
    # Failing again in the next run is the same incident: no second mail until it succeeds.
    retrying(deployment, "tracking", 0).test(logical_date=T0 + timedelta(hours=4))
    assert len(smtp.received()) == 1
    monkeypatch.setenv(
        f"AIRFLOW_CONN_DROPSTREAM_{deployment.name.upper()}_WAREHOUSE",
        deployment.warehouse.connection_json(),
    )
    assert run(deployment, "tracking", T0 + timedelta(hours=8)).state == "success"
    monkeypatch.setenv(
        f"AIRFLOW_CONN_DROPSTREAM_{deployment.name.upper()}_WAREHOUSE",
        deployment.warehouse.connection_json(port=closed),
    )
    retrying(deployment, "tracking", 0).test(logical_date=T0 + timedelta(hours=12))
    assert len(smtp.received()) == 2  # a new outage after a success: a new incident
    print(f"retries test: {time.monotonic() - started:.1f} s")


def test_unknown_shipment_and_error_file_each_send_one_email(deployment, smtp):
    with_alerts(deployment)
    deployment.write("out", "shp_1.csv", SHIPMENTS)
    deployment.write("out", "shp_2.csv", "this,is,not\r\na,shipment,file\r\n")
    assert run(deployment, "tracking", T0).state == "success"
    mails = smtp.received()
    assert len(mails) == 2, [m.subject for m in mails]
    by_kind = {("unknown" if "unknown order" in m.subject else "error"): m for m in mails}
    unknown, error = by_kind["unknown"], by_kind["error"]
    assert f"Connection '{deployment.name}'" in unknown.body
    assert "shipment" in unknown.body and "order 9999" in unknown.body
    assert "shp_1.csv" in unknown.body and "1ZGHOST" in unknown.body
    assert f"Connection '{deployment.name}', tracking flow" in error.body
    assert "shp_2.csv" in error.body and "/archive/error" in error.body
    # The same confirmation sent again, another run: nothing new to tell.
    deployment.write("out", "shp_1.csv", SHIPMENTS)
    assert run(deployment, "tracking", T0 + timedelta(hours=4)).state == "success"
    assert len(smtp.received()) == 2


def test_an_unreadable_inventory_file_sends_one_email(deployment, smtp):
    with_alerts(deployment)
    deployment.write("out", "inv_broken.csv", "this,is,not\r\nan,inventory,file\r\n")
    assert run(deployment, "inventory", T0).state == "success"
    [mail] = smtp.received()
    assert "warehouse file moved to error (inventory:inv_broken.csv)" in mail.subject
    assert f"Connection '{deployment.name}', inventory flow" in mail.body
    assert "inv_broken.csv could not be read and was moved to /archive/error" in mail.body
    assert list(deployment.files("archive/error")) == ["inv_broken.csv"]
    assert run(deployment, "inventory", T0 + timedelta(hours=1)).state == "success"
    assert len(smtp.received()) == 1


def test_an_order_held_too_long_sends_one_email(deployment, smtp):
    with_alerts(deployment, held_hours=0.0005)  # 1.8 s
    deployment.shop.add_order(4242, updated_at=T0 + timedelta(minutes=1), shipping_line=PIGEON)
    assert run(deployment, "orders", T0 + timedelta(minutes=15)).state == "success"
    assert smtp.received() == []  # held just now: not yet too long
    time.sleep(2)
    for minutes in (30, 45):
        assert run(deployment, "orders", T0 + timedelta(minutes=minutes)).state == "success"
    [mail] = smtp.received()
    assert "order #4242" in mail.subject
    assert f"Connection '{deployment.name}': order #4242 has been held" in mail.body
    assert "PIGEON" in mail.body


def test_only_an_orders_dag_with_recipients_carries_the_deadline():
    from dropstream.factory import build_dags
    from dropstream.spec import parse_spec
    from tests.specs import spec_dict

    odd = {"orders": "0,10 * * * *"}  # gaps of 10 and 50 minutes
    dags = build_dags(parse_spec("acme", spec_dict(alerts={"emails": [OPS]}, schedules=odd)))
    [alert] = dags["dropstream__acme__orders"].deadline
    assert alert.interval == timedelta(minutes=100)  # twice the longest gap
    assert alert.callback.path == "dropstream.alerts.callbacks.orders_overdue"
    assert alert.callback.kwargs["emails"] == [OPS]
    assert not dags["dropstream__acme__inventory"].deadline
    assert not dags["dropstream__acme__tracking"].deadline
    quiet = build_dags(parse_spec("acme", spec_dict()))
    assert not quiet["dropstream__acme__orders"].deadline

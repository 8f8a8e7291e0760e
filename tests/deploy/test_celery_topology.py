"""The production topology, natively: api-server, scheduler, dag-processor, triggerer and a
Celery worker as separate processes on PostgreSQL (metadata DB and ledger, each its own
database) and Redis (broker) — docker-compose.yaml's services without containers.

Three connections (three platforms, three protocols) are registered the way an operator does
it, by triggering ``dropstream_setup`` over the REST API with the form's conf; they get minute
schedules and are unpaused; then only the **scheduler** runs orders, inventory and tracking.
The test checks what a merchant would: order files in each warehouse, fulfillments and stock in
each store. Then the worker is SIGKILLed (with its pool and task processes) while a task runs,
and restarted: afterwards every order is in exactly one file and every package fulfilled once.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from bench.stack import ROOT, Stack, running_stack

from dropstream.spec import FLOWS, offset_schedule, schedule_offset
from tests.adapters.harness import PlatformHarness, harness_for
from tests.dags.warehouse_files import inventory_file, order_numbers, shipment_file
from tests.dropstream.transports.conformance_adapters import PROTOCOLS, Protocol

SETUP = "dropstream_setup"
FORMAT = "header_detail_csv"
#: A killed task is noticed when its heartbeats stop: 30 s instead of 5 minutes here.
FAST_RECOVERY = {
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
}
FLOW_TIMEOUT = 420


@dataclass
class Connection:
    """One registered connection: its store (emulator + harness) and its warehouse."""

    name: str
    harness: PlatformHarness
    store: Any
    protocol: Protocol
    warehouse: Any
    orders: dict[str, str]  # platform order id -> order number

    def order_files(self) -> dict[str, list[str]]:
        """Order file name -> the order numbers in it, for every published order file."""
        names = [n for n in self.protocol.names(self.warehouse, "in") if n.startswith("ord_")]
        return {
            name: order_numbers(FORMAT, self.protocol.get(self.warehouse, f"in/{name}") or b"")
            for name in names
        }

    def published(self) -> list[str]:
        return sorted(n for numbers in self.order_files().values() for n in numbers)

    def seed_orders(self, count: int) -> None:
        for _ in range(count):
            number = 5000 + len(self.orders)
            order_id = self.harness.seed_order(self.store, number, datetime.now(UTC))
            self.orders[order_id] = self.harness.order_number(self.store, order_id)


def form(stack: Stack, name: str, **fields: Any) -> dict[str, Any]:
    """The setup form's conf as the UI submits it: every field, defaults where not set."""
    from airflow.dag_processing.dagbag import DagBag

    with pytest.MonkeyPatch.context() as mp:  # a test's DagBag reads no Variable from a DB
        mp.setenv("AIRFLOW_VAR_DROPSTREAM_CONNECTIONS", "{}")
        bag = DagBag(dag_folder=str(ROOT / "dags" / "dropstream_setup.py"))
    assert not bag.import_errors, bag.import_errors
    conf = dict(bag.dags[SETUP].params.dump())
    # A new merchant: `new_merchant` on this branch's form, `merchant` on the reworked one.
    conf["new_merchant" if "new_merchant" in conf else "merchant"] = "acme-goods"
    conf.update(
        connection_name=name,
        warehouse_name=f"3PL of {name}",
        warehouse_format=FORMAT,
        store_name=f"Store of {name}",
        default_ship_method="UPS_GROUND",
        **fields,
    )
    return conf


def warehouse_fields(protocol: Protocol, server: Any) -> dict[str, Any]:
    conn = json.loads(server.connection_json("unused"))
    extra = conn.get("extra") or {}
    if protocol.name == "sftp":
        return {
            "warehouse_protocol": "sftp",
            "warehouse_host": server.host,
            "warehouse_port": server.port,
            "warehouse_login": server.username,
            "warehouse_private_key": server.private_key,
            "warehouse_host_key": server.host_key,
        }
    if protocol.name == "ftp":
        return {
            "warehouse_protocol": "ftp",
            "warehouse_host": conn["host"],
            "warehouse_port": conn["port"],
            "warehouse_login": conn["login"],
            "warehouse_password": conn["password"],
        }
    return {
        "warehouse_protocol": "s3",
        "warehouse_login": conn["login"],
        "warehouse_password": conn["password"],
        "warehouse_bucket": extra["bucket"],
        "warehouse_region": extra["region_name"],
        "warehouse_endpoint_url": extra["endpoint_url"],
    }


def store_fields(harness: PlatformHarness, emulator: Any) -> dict[str, Any]:
    conn = json.loads(harness.connection_json(emulator))
    fields = {"store_platform": harness.platform, "store_url": conn["host"]}
    if harness.platform == "woocommerce":
        fields |= {"store_login": conn["login"], "store_client_secret": conn["password"]}
    else:
        fields["store_access_token"] = conn["password"]
    if "api_version" in (conn.get("extra") or {}):
        fields["store_api_version"] = conn["extra"]["api_version"]
    return fields


def registered(stack: Stack, name: str) -> bool:
    response = stack.call("GET", "/variables/dropstream_connections")
    registry = json.loads(response.json()["value"]) if response.status_code == 200 else {}
    return name in registry and all(
        stack.call("GET", f"/connections/dropstream_{name}_{side}").status_code == 200
        for side in ("store", "warehouse")
    )


def minute_schedules(stack: Stack, names: list[str]) -> dict[str, str]:
    """Give the connections minute schedules, each at its own second; the DAG id -> cron."""
    registry = json.loads(stack.get("/variables/dropstream_connections")["value"])
    wanted = {}
    for name in names:
        registry[name]["schedules"] = {
            flow: offset_schedule(60, schedule_offset(name, flow, 60)) for flow in FLOWS
        }
        wanted |= {f"dropstream__{name}__{f}": registry[name]["schedules"][f] for f in FLOWS}
    stack.set_variable("dropstream_connections", json.dumps(registry))
    return wanted


def running_task(stack: Stack) -> dict[str, Any] | None:
    tis = stack.task_instances(state="running")
    return next((ti for ti in tis if ti["dag_id"].startswith("dropstream__")), None)


def task_state(stack: Stack, ti: dict[str, Any]) -> dict[str, Any]:
    return stack.get(
        f"/dags/{ti['dag_id']}/dagRuns/{ti['dag_run_id']}/taskInstances/{ti['task_id']}"
    )


@pytest.fixture
def stack(tmp_path) -> Any:
    with running_stack(tmp_path / f"ds{uuid.uuid4().hex[:8]}", extra_env=FAST_RECOVERY) as s:
        yield s


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.sshd
@pytest.mark.timeout(1500)  # about 8 minutes here; minute schedules and a retry delay set the pace
def test_scheduler_and_celery_worker_run_every_flow_and_survive_a_worker_kill(
    stack, request, sftp_server, ftp_server, s3_server
):
    protocols = {p.name: p for p in PROTOCOLS}
    connections = []
    for platform, protocol, server in (
        ("shopify", "sftp", sftp_server),
        ("woocommerce", "ftp", ftp_server),
        ("bigcommerce", "s3", s3_server),
    ):
        harness = harness_for(platform)
        emulator = request.getfixturevalue(harness.fixture_name)
        name = f"{platform[:4]}-{protocol}"
        connections.append(
            Connection(name, harness, emulator, protocols[protocol], server, orders={})
        )

    # Register the three through the setup DAG, as the form does (trigger over REST).
    stack.wait_until(lambda: SETUP in stack.dag_ids(SETUP), "the setup DAG parsed", 180)
    stack.unpause(SETUP)
    for c in connections:
        conf = form(
            stack,
            c.name,
            **warehouse_fields(c.protocol, c.warehouse),
            **store_fields(c.harness, c.store),
        )
        response = stack.call(
            "POST", f"/dags/{SETUP}/dagRuns", json={"logical_date": None, "conf": conf}
        )
        assert response.status_code == 200, response.text
    for c in connections:
        stack.wait_until(lambda c=c: registered(stack, c.name), f"{c.name} registered", 600)

    # Minute schedules; stock and a snapshot at each warehouse; two orders at each store.
    schedules = minute_schedules(stack, [c.name for c in connections])
    for c in connections:
        c.harness.seed_sku(c.store, "SKU-1", 0)
        c.protocol.put(c.warehouse, "out/inv_1.csv",
                       inventory_file(FORMAT, [("SKU-1", 7)], as_of=datetime.now(UTC)))  # fmt: skip
        c.seed_orders(2)

    def parsed_with_minute_schedules() -> bool:
        dags = {d["dag_id"]: d for d in stack.get("/dags", params={"limit": 100})["dags"]}
        return all(
            dag_id in dags and dags[dag_id]["timetable_summary"] == cron
            for dag_id, cron in schedules.items()
        )

    stack.wait_until(parsed_with_minute_schedules, "the DAGs with minute schedules", 180)
    for dag_id in schedules:
        stack.unpause(dag_id)

    # Orders: each warehouse receives its store's orders, once.
    for c in connections:
        stack.wait_until(
            lambda c=c: c.published() == sorted(c.orders.values()),
            f"{c.name}: orders {sorted(c.orders.values())} in the warehouse",
            FLOW_TIMEOUT,
        )
    # Inventory: each store's stock follows its warehouse's snapshot.
    for c in connections:
        stack.wait_until(
            lambda c=c: c.harness.quantity(c.store, "SKU-1") == 7,
            f"{c.name}: SKU-1 at 7 in the store",
            FLOW_TIMEOUT,
        )
    # Tracking: the warehouse ships both orders; each store gets one fulfillment per order.
    shipped = {oid for c in connections for oid in c.orders}
    for c in connections:
        for n, number in enumerate(sorted(c.orders.values())):
            package = shipment_file(FORMAT, number, [("SKU-1", 1)], tracking=f"1Z{c.name}{n}",
                                    shipped_on=datetime.now(UTC))  # fmt: skip
            c.protocol.put(c.warehouse, f"out/shp_{number}.csv", package)
    for c in connections:
        stack.wait_until(
            lambda c=c: all(c.harness.fulfillments(c.store, oid) for oid in c.orders),
            f"{c.name}: every order fulfilled in the store",
            FLOW_TIMEOUT,
        )

    # A worker killed mid-task (SIGKILL to its whole process group), then restarted.
    killed = None
    for _attempt in range(5):
        for c in connections:
            c.seed_orders(1)
        ti = stack.wait_until(lambda: running_task(stack), "a DropStream task running", 180)
        stack.kill("worker")
        if task_state(stack, ti)["state"] == "running":  # it was cut off mid-task
            killed = ti
            stack.start("worker")
            break
        stack.start("worker")  # it finished just before the kill: try again
    assert killed is not None, "no task was running when the worker was killed, 5 times"

    for c in connections:
        stack.wait_until(
            lambda c=c: c.published() == sorted(c.orders.values()),
            f"{c.name}: orders {sorted(c.orders.values())} in the warehouse after the kill",
            FLOW_TIMEOUT,
        )
    stack.wait_until(
        lambda: task_state(stack, killed)["state"] == "success",
        f"the killed task {killed['dag_id']}.{killed['task_id']} retried to success",
        FLOW_TIMEOUT,
    )
    after = task_state(stack, killed)
    assert after["try_number"] >= 2, after

    # Nothing lost, nothing twice: each order in exactly one file; one fulfillment per package.
    time.sleep(5)
    for c in connections:
        numbers = [n for ns in c.order_files().values() for n in ns]
        assert sorted(numbers) == sorted(c.orders.values()), (c.name, c.order_files())
        for order_id, number in c.orders.items():
            fulfilled = c.harness.fulfillments(c.store, order_id)
            assert len(fulfilled) == (order_id in shipped), (c.name, number, fulfilled)
        assert c.harness.quantity(c.store, "SKU-1") == 7
    stack.check_alive()
    # Each worker start preloaded DropStream's task modules (dropstream.celery_config).
    worker_log = (stack.base / "worker.log").read_text(errors="replace")
    assert worker_log.count("DropStream preload:") >= 2, worker_log[-3000:]
    assert "(0 failed)" in worker_log and " failed)" not in worker_log.replace("(0 failed)", "")

"""Cancellations end to end: the generated orders DAG (dag.test()), the real sshd, the Shopify
emulator cancelling orders as Shopify does. Cancelled before sending: never sent. Cancelled
after: exactly one cancel file (X12 940 W05 F, or CSV), also when the load step's process is
SIGKILLed between staging the cancel file and committing it, and the run is then retried.
Every other platform's cancellations, through its emulator, are in test_platforms_end_to_end.py."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from dropstream.formats import _csv
from dropstream.formats.x12.envelope import read_segments
from tests.dags.conftest import DAGS
from tests.dags.test_end_to_end import T0, order_numbers, seed
from tests.dags.warehouse_files import format_setting

pytestmark = [pytest.mark.slow, pytest.mark.sshd]

ROOT = Path(__file__).resolve().parents[2]
# Dies the moment the load step would rename a staged cancel file to its final name.
KILLED_BEFORE_COMMIT = textwrap.dedent(
    """
    import os, signal, sys
    from datetime import datetime

    from dropstream.transports.sftp import SFTPTransport

    real_commit = SFTPTransport.commit

    def commit(self, folder, name):
        if name.startswith("cxl_"):
            os.kill(os.getpid(), signal.SIGKILL)
        return real_commit(self, folder, name)

    SFTPTransport.commit = commit
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=sys.argv[1]).dags[sys.argv[2]]
    for task in dag.tasks:
        task.retries = 0
    dag.test(logical_date=datetime.fromisoformat(sys.argv[3]))
    """
)


def sent_numbers(files: dict[str, bytes]) -> list[str]:
    """Order numbers in the order files (CSV PH rows or X12 940 W05 N)."""
    orders = {n: c for n, c in files.items() if n.startswith("ord_")}
    return order_numbers(orders) + [n for data in orders.values() for n in w05(data, "N")]


def w05(data: bytes, purpose: str) -> list[str]:
    if not data.startswith(b"ISA"):
        return []
    segments = read_segments(io.BytesIO(data), "f.edi", _csv.text_encoding("utf-8"))
    found = [s.elements for s in segments if s.elements[0] == "W05"]
    return [s[2] for s in found if s[1] == purpose]


def cancelled_numbers(fmt: str, files: dict[str, bytes]) -> list[list[str]]:
    """Per cancel file, the order numbers it cancels, read as the warehouse reads them."""
    found = []
    for name, data in files.items():
        if not name.startswith("cxl_"):
            continue
        if fmt == "x12":
            assert name.endswith(".edi")
            found.append(w05(data, "F"))
        else:
            lines = data.decode().splitlines()
            assert name.endswith(".csv") and lines[0] == "order_number"
            found.append(lines[1:])
    return found


def ledger_state(deployment, number: str) -> tuple[str, list[str]]:
    from dropstream.ledger import Ledger

    ledger = Ledger()
    try:
        (row,), _ = ledger.find_orders(deployment.name, numbers=[number])
        events = [e.event for e in ledger.order_timeline(deployment.name, row["order_id"])]
        return row["state"], events
    finally:
        ledger.close()


def test_cancelled_before_sending_is_never_sent(deployment):
    shop = deployment.shop
    seed(shop, 4001, T0 + timedelta(minutes=2))
    gone = seed(shop, 4002, T0 + timedelta(minutes=3))
    shop.cancel_order(gone, reason="CUSTOMER", at=T0 + timedelta(minutes=4))
    assert deployment.run("orders", T0 + timedelta(minutes=15)).state == "success"
    assert sent_numbers(deployment.files("in")) == ["4001"]
    # fetched while open, cancelled before the next run: still never sent
    seed(shop, 4003, T0 + timedelta(minutes=20))
    assert deployment.run("orders", T0 + timedelta(minutes=30)).state == "success"
    # (4003 went in that run; 4004 is fetched and cancelled within one window)
    late = seed(shop, 4004, T0 + timedelta(minutes=31))
    shop.cancel_order(late, reason="FRAUD", at=T0 + timedelta(minutes=33))
    assert deployment.run("orders", T0 + timedelta(minutes=45)).state == "success"
    files = deployment.files("in")
    assert sorted(sent_numbers(files)) == ["4001", "4003"]
    assert cancelled_numbers("header_detail_csv", files) == []  # nothing to tell the warehouse
    assert ledger_state(deployment, "4002") == ("cancelled", ["cancelled"])
    assert ledger_state(deployment, "4004")[0] == "cancelled"


@pytest.mark.parametrize("fmt", ["header_detail_csv", "x12"])
@pytest.mark.parametrize("killed", [False, True], ids=["clean", "killed_between_stage_and_commit"])
def test_cancelled_after_sending_goes_to_the_warehouse_exactly_once(
    deployment, monkeypatch, fmt, killed
):
    warehouse = dict(deployment.entries[deployment.name]["warehouse"], format=format_setting(fmt))
    deployment.register(warehouse=warehouse)
    shop = deployment.shop
    first = seed(shop, 5001, T0 + timedelta(minutes=3))
    changed = seed(shop, 5002, T0 + timedelta(minutes=4))
    assert deployment.run("orders", T0 + timedelta(minutes=15)).state == "success"
    assert sorted(sent_numbers(deployment.files("in"))) == ["5001", "5002"]

    shop.cancel_order(first, reason="CUSTOMER", at=T0 + timedelta(minutes=20))
    # the buyer moves 5002's delivery after it was sent: recorded, never sent again
    moved = shop.order(changed)
    moved.address = {**moved.address, "address1": "9 Elm St", "zip": "97478"}
    moved.updated_at = T0 + timedelta(minutes=21)
    second_window = T0 + timedelta(minutes=30)
    if killed:
        monkeypatch.setenv("DROPSTREAM_LEASE_SECONDS", "3")  # the dead holder's lease expires
        paths = [str(ROOT / "plugins"), str(ROOT / "include"), str(ROOT)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
        dag_id = f"dropstream__{deployment.name}__orders"
        child = subprocess.run(
            [sys.executable, "-c", KILLED_BEFORE_COMMIT, str(DAGS), dag_id,
             second_window.isoformat()],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert child.returncode == -9, child.stdout[-3000:] + child.stderr[-3000:]
        staged = [n for n in deployment.files("in") if n.startswith(".dropstream-cxl_")]
        assert len(staged) == 1  # staged under its temporary name, never renamed
        assert cancelled_numbers(fmt, deployment.files("in")) == []
        assert ledger_state(deployment, "5001")[0] == "cancelling"
    # the run (again, when it was killed), a rerun of the same window, and the next window
    for window in (second_window, second_window, T0 + timedelta(minutes=45)):
        assert deployment.run("orders", window).state == "success"

    files = deployment.files("in")
    assert cancelled_numbers(fmt, files) == [["5001"]]  # one cancel file, one order in it
    assert not any(n.startswith(".") for n in files)  # no temporary file left behind
    assert sorted(sent_numbers(files)) == ["5001", "5002"]  # nothing sent again
    state, events = ledger_state(deployment, "5001")
    assert state == "cancel_sent"
    assert events[-2:] == ["cancel_after_send", "cancel_sent"]
    state, events = ledger_state(deployment, "5002")
    assert state == "published" and events.count("changed_after_send") == 1

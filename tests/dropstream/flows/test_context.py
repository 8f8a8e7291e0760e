"""The run context opens only what a step uses and closes all of it, also when the step fails:
every flow's three steps over the real sshd and the Shopify emulator, each in its own context as
the Airflow tasks run them; the sockets this process holds tell what is still open."""

from __future__ import annotations

import gc
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import psutil
import pytest

from dropstream.errors import AuthenticationError
from dropstream.flows import FLOWS, OrdersFlow, RunContext
from dropstream.ledger import Ledger
from dropstream.spec import FLOWS as FLOW_NAMES
from dropstream.spec import parse_spec
from tests.dags.warehouse_files import inventory_file, shipment_file
from tests.ledgers import sqlite_ledger_url
from tests.servers.shopify import shopify_connection_json
from tests.specs import spec_dict

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
PLACED = NOW.replace(hour=11, minute=30)  # in the run's window [11:00, 12:00)

#: What each step opens, in order; anything else stays shut.
OPENS = {
    ("orders", "extract"): ("window", "adapter"),
    ("orders", "transform"): ("file_format",),
    ("orders", "load"): ("transport", "file_format"),
    ("inventory", "extract"): ("shared_folder:inventory", "transport", "file_format"),
    ("inventory", "transform"): (),
    ("inventory", "load"): ("shared_folder:inventory", "adapter", "transport"),
    ("tracking", "extract"): ("shared_folder:shipments", "transport", "file_format"),
    ("tracking", "transform"): ("shared_folder:shipments",),
    ("tracking", "load"): ("shared_folder:shipments", "adapter", "transport"),
}


def links_to(port: int) -> set[Any]:
    """This process's established TCP connections to ``port`` (another test's, if it left one
    open, are the fixture's baseline)."""
    return {
        c
        for c in psutil.Process().net_connections(kind="tcp")
        if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
    }


@pytest.fixture
def acme(monkeypatch, tmp_path, sftp_server, shopify_emulator):
    """Connection ``acme`` registered, its store and warehouse Connections set, a fresh ledger."""
    spec = spec_dict("acme")
    monkeypatch.setenv("AIRFLOW_VAR_DROPSTREAM_CONNECTIONS", json.dumps({"acme": spec}))
    monkeypatch.setenv(
        "AIRFLOW_CONN_DROPSTREAM_ACME_STORE", shopify_connection_json(shopify_emulator)
    )
    monkeypatch.setenv("AIRFLOW_CONN_DROPSTREAM_ACME_WAREHOUSE", sftp_server.connection_json())
    ledger = Ledger(sqlite_ledger_url(tmp_path))
    store_port = urlsplit(shopify_emulator.url).port
    assert store_port is not None
    baseline = links_to(sftp_server.port) | links_to(store_port)
    yield parse_spec("acme", spec), ledger, (sftp_server.port, store_port)
    ledger.close()
    assert links_to(sftp_server.port) | links_to(store_port) <= baseline


def test_every_flow_has_its_class():
    assert sorted(FLOWS) == sorted(FLOW_NAMES)
    assert all(FLOWS[name].name == name for name in FLOWS)


@pytest.mark.parametrize("flow", FLOW_NAMES)
def test_each_step_opens_only_what_it_uses_and_leaves_nothing_open(
    flow, acme, sftp_server, shopify_emulator
):
    spec, ledger, ports = acme
    shopify_emulator.add_order(1001, updated_at=PLACED, created_at=PLACED)
    (sftp_server.root / "out" / "inv_1.csv").write_bytes(
        inventory_file("header_detail_csv", [("SKU-1", 7)], as_of=NOW)
    )
    (sftp_server.root / "out" / "shp_1.csv").write_bytes(
        shipment_file("header_detail_csv", "9999", [("SKU-1", 1)], tracking="1Z1", shipped_on=NOW)
    )
    interval = {"data_interval_start": NOW.replace(hour=11), "data_interval_end": NOW}
    summaries = {}
    before = links_to(ports[0]) | links_to(ports[1])
    for step in ("extract", "transform", "load"):
        with RunContext(spec, ledger, NOW, run="manual__1", airflow=interval) as ctx:
            summaries[step] = getattr(FLOWS[flow](ctx), step)()
            assert ctx.opened == OPENS[flow, step]
            for what, port in zip(("transport", "adapter"), ports, strict=True):
                # (a tracking load with no package to push never calls the store)
                if what in ctx.opened and (flow, step, what) != ("tracking", "load", "adapter"):
                    assert links_to(port) - before, f"{flow} {step}: the {what} did no I/O"
        assert ctx.opened == ()
        for port in ports:
            assert links_to(port) <= before, f"{flow} {step} left a link to :{port} open"
    # The steps did their work: what they found went all the way through.
    if flow == "orders":
        assert summaries["extract"]["new"] == 1
        assert summaries["load"]["orders_published"] == 1
        assert len(list((sftp_server.root / "in").iterdir())) == 1
    elif flow == "inventory":
        assert summaries["extract"]["files"] == ["inv_1.csv"]
        assert summaries["load"]["archived"] == 1
    else:
        assert summaries["extract"]["unknown_order"] == 1  # the shop never had order 9999
        assert summaries["load"]["archived"] == 1


def test_what_was_opened_is_closed_when_the_step_fails(acme, shopify_emulator):
    spec, ledger, (warehouse_port, store_port) = acme
    shopify_emulator.add_order(1001, updated_at=PLACED, created_at=PLACED)
    before = links_to(warehouse_port) | links_to(store_port)
    interval = {"data_interval_start": NOW.replace(hour=11), "data_interval_end": NOW}
    ctx = RunContext(spec, ledger, NOW, run="manual__1", airflow=interval)
    with pytest.raises(AuthenticationError, match="401"), ctx:
        ctx.transport.list_files("/out")
        OrdersFlow(ctx).extract()  # fetches: the store's answers keep the link up
        assert links_to(warehouse_port) - before and links_to(store_port) - before
        shopify_emulator.fail_next(1, status=401)
        OrdersFlow(ctx).extract()  # the store refuses the token now
    assert ctx.opened == ()
    # A live requests Response keeps its socket open whatever its session does; the failed one
    # lived in the exception's traceback until here. The context (still alive) holds no link.
    gc.collect()
    assert links_to(warehouse_port) <= before
    assert links_to(store_port) <= before

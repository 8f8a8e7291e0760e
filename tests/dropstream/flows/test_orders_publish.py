"""The exactly-once publish protocol of the orders flow, crash by crash, on the real sshd."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from dropstream.flows import orders
from dropstream.flows.context import RunContext
from dropstream.formats import get_format
from dropstream.ledger import Ledger
from dropstream.models import Address, Order, OrderLine
from dropstream.spec import parse_spec
from dropstream.transports import get_transport
from dropstream.transports.base import staging_name
from tests.ledgers import sqlite_ledger_url
from tests.specs import spec_dict

NOW = datetime(2026, 11, 20, 10, 15, tzinfo=UTC)


class Crash(Exception):
    """Stands for the worker dying at this point."""


def make_order(n: int) -> Order:
    return Order(
        order_id=f"gid://shopify/Order/{n}",
        number=str(n),
        created_at=NOW,
        updated_at=NOW,
        ship_to=Address(
            name="Ada Buyer",
            address1="1 Main St",
            city="Springfield",
            postal_code="97477",
            country="US",
            state="OR",
        ),
        lines=(OrderLine(line_id=f"L{n}", sku="SKU-1", quantity=1, unit_price=Decimal("10.00")),),
        ship_method="UPS_GROUND",
    )


@pytest.fixture
def setup(monkeypatch, tmp_path, sftp_server):
    monkeypatch.setenv("AIRFLOW_CONN_WH", sftp_server.connection_json())
    spec = parse_spec("acme", spec_dict("acme"))
    ledger = Ledger(sqlite_ledger_url(tmp_path))
    step = RunContext(spec=spec, ledger=ledger, now=NOW, log=logging.getLogger("test"))
    ledger.record_received("acme", [make_order(1001), make_order(1002)], NOW)
    orders.transform(step, get_format("header_detail_csv"))
    yield step, sftp_server
    ledger.close()


def published(server) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (server.root / "in").iterdir()}


def run_load(step, crash_on: str | None = None) -> dict:
    """Run the load step with a transport that dies right before ``crash_on`` (stage/commit)."""
    transport = get_transport("sftp", "wh")
    if crash_on is not None:
        method = "commit" if crash_on == "commit_after" else crash_on
        real = getattr(transport, method)

        def dying(*args, **kwargs):
            if crash_on == "commit_after":
                real(*args, **kwargs)  # the rename happens, then the worker dies
            raise Crash(crash_on)

        setattr(transport, method, dying)
    try:
        return orders.load(step, transport, get_format("header_detail_csv"), NOW)
    finally:
        transport.close()


def test_clean_publish(setup):
    step, server = setup
    summary = run_load(step)
    files = published(server)
    assert list(files) == summary["files"] and len(files) == 1
    assert step.ledger.order_counts("acme") == {"published": 2}
    assert step.ledger.watermark("acme", "orders") == NOW
    assert run_load(step)["files"] == []  # nothing ready: no second (empty) file


def test_crash_mid_upload_then_retry(setup):
    step, server = setup
    with pytest.raises(Crash):
        run_load(step, crash_on="stage")
    assert published(server) == {}
    assert step.ledger.watermark("acme", "orders") is None  # not advanced before the publish
    summary = run_load(step)
    files = published(server)
    assert list(files) == summary["files"] and len(files) == 1
    assert files[summary["files"][0]].count(b"PH,") == 2
    assert step.ledger.order_counts("acme") == {"published": 2}


def test_crash_before_rename_then_retry(setup):
    step, server = setup
    with pytest.raises(Crash):
        run_load(step, crash_on="commit")
    [staged] = published(server)
    assert staged.startswith(".dropstream-")  # only the hidden temporary name exists
    summary = run_load(step)
    assert list(published(server)) == summary["files"]  # renamed once, temporary gone


def test_crash_after_rename_before_record(setup):
    step, server = setup
    with pytest.raises(Crash):
        run_load(step, crash_on="commit_after")
    [final] = published(server)
    assert step.ledger.unfinished_files("acme")[0]["state"] == "committing"
    # The warehouse picks the file up (deletes it) before our retry: still no second copy.
    (server.root / "in" / final).unlink()
    summary = run_load(step)
    assert summary["files"] == [final] and published(server) == {}
    assert step.ledger.order_counts("acme") == {"published": 2}
    assert not (server.root / "in" / staging_name(final)).exists()


def test_order_the_format_cannot_hold_is_held_not_blocking(setup):
    step, server = setup
    bad = replace(make_order(2001), number="2001/A")
    step.ledger.record_received("acme", [bad], NOW)
    counts = orders.transform(step, get_format("header_detail_csv"))
    reason = (
        "the header_detail_csv file cannot hold it: client order number may only hold "
        "letters, digits, '-' and '_'"
    )
    assert counts == {"ready": 0, "held": 1, "skipped": 0, "reasons": {reason: 1}}
    run_load(step)
    [content] = published(server).values()
    assert content.count(b"PH,") == 2 and b"2001/A" not in content
    assert step.ledger.order_counts("acme") == {"published": 2, "held": 1}


def test_stale_part_beside_the_published_final_name_heals(setup):
    """The wedge of issue 9: a file left ``committing`` with its ``.part`` in the folder while
    its final name is already there (a second upload of an earlier, racing run)."""
    step, server = setup
    with pytest.raises(Crash):
        run_load(step, crash_on="commit_after")  # renamed; the worker died before recording it
    [final] = published(server)
    inbound = server.root / "in"
    (inbound / staging_name(final)).write_bytes((inbound / final).read_bytes())  # the leftover
    assert step.ledger.unfinished_files("acme")[0]["state"] == "committing"

    summary = run_load(step)

    assert summary["files"] == [final] and summary["recovered_files"] == 1
    assert list(published(server)) == [final]  # one copy under the final name, no .part
    assert step.ledger.order_counts("acme") == {"published": 2}
    assert run_load(step)["files"] == []  # and the connection carries on


def test_a_different_file_under_the_final_name_is_not_overwritten(setup):
    step, server = setup
    with pytest.raises(Crash):
        run_load(step, crash_on="commit")  # staged and committing; not renamed
    [staged] = published(server)
    final = staged.removeprefix(".dropstream-").removesuffix(".part")
    (server.root / "in" / final).write_bytes(b"someone else's file")
    from dropstream.errors import ConfigurationError

    with pytest.raises(ConfigurationError) as caught:
        run_load(step)
    message = str(caught.value)
    assert f"/in/{final}" in message and "is not the order file" in message
    assert (server.root / "in" / final).read_bytes() == b"someone else's file"

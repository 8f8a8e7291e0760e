"""Cancellations through the orders flow's load step, crash by crash, on the real sshd: one
cancel file, exactly once, in the connection's format."""

from __future__ import annotations

import io
import logging
from datetime import timedelta

import pytest

from dropstream.flows import orders
from dropstream.flows.context import RunContext
from dropstream.formats import _csv, get_format
from dropstream.formats.x12.envelope import read_segments
from dropstream.ledger import Ledger
from dropstream.models import Cancellation
from dropstream.spec import parse_spec
from dropstream.transports import get_transport
from dropstream.transports.base import staging_name
from tests.dropstream.flows.test_orders_publish import NOW, Crash, make_order, published
from tests.ledgers import sqlite_ledger_url
from tests.specs import spec_dict

X12_IDS = {"sender_id": "DROPSTREAM", "receiver_id": "WAREHOUSE1"}
FORMATS = {"header_detail_csv": {}, "x12": X12_IDS}


@pytest.fixture(params=list(FORMATS))
def sent(request, monkeypatch, tmp_path, sftp_server):
    """Orders 1001 and 1002 published in one order file; the step and the format."""
    monkeypatch.setenv("AIRFLOW_CONN_WH", sftp_server.connection_json())
    spec = parse_spec("acme", spec_dict("acme"))
    ledger = Ledger(sqlite_ledger_url(tmp_path))
    step = RunContext(spec=spec, ledger=ledger, now=NOW, log=logging.getLogger("test"))
    fmt = get_format(request.param, FORMATS[request.param]).for_run(
        now=NOW, next_control_number=lambda n: ledger.next_counter("acme", f"x12_{n}")
    )
    ledger.record_received("acme", [make_order(1001), make_order(1002)], NOW)
    orders.transform(step, fmt)
    run_load(step, fmt)
    yield step, fmt, sftp_server
    ledger.close()


def run_load(step, fmt, crash_on: str | None = None) -> dict:
    transport = get_transport("sftp", "wh")
    if crash_on is not None:
        method = "commit" if crash_on == "commit_after" else crash_on
        real = getattr(transport, method)

        def dying(*args, **kwargs):
            if crash_on == "commit_after":
                real(*args, **kwargs)
            raise Crash(crash_on)

        setattr(transport, method, dying)
    try:
        return orders.load(step, transport, fmt, NOW)
    finally:
        transport.close()


def cancel_in_store(step, *numbers: int) -> dict:
    later = NOW + timedelta(minutes=20)
    return step.ledger.record_cancellations(
        "acme",
        [Cancellation(order=make_order(n), cancelled_at=later, reason="customer") for n in numbers],
        later,
    )


def cancelled_numbers(fmt, data: bytes) -> list[str]:
    """The order numbers a cancel file cancels, read as the warehouse would."""
    if fmt.name == "x12":
        found = read_segments(io.BytesIO(data), "cxl.edi", _csv.text_encoding("utf-8"))
        w05 = [s.elements for s in found if s.elements[0] == "W05"]
        assert {s[1] for s in w05} == {"F"}
        return [s[2] for s in w05]
    lines = data.decode().splitlines()
    assert lines[0] == "order_number"
    return lines[1:]


def cancel_files(server) -> dict[str, bytes]:
    return {n: d for n, d in published(server).items() if n.startswith("cxl_")}


@pytest.mark.parametrize("crash_on", [None, "stage", "commit", "commit_after"])
def test_a_cancellation_after_sending_is_published_exactly_once(sent, crash_on):
    step, fmt, server = sent
    assert cancel_in_store(step, 1001) == {"cancelled": 0, "cancel_after_send": 1, "already": 0}
    if crash_on is not None:  # the load step dies around the cancel file's stage / commit
        with pytest.raises(Crash):
            run_load(step, fmt, crash_on=crash_on)
        assert step.ledger.order_counts("acme") == {"cancelling": 1, "published": 1}
        if crash_on == "commit_after":  # renamed, not recorded; the warehouse took it already
            (taken,) = cancel_files(server)
            (server.root / "in" / taken).unlink()
    summary = run_load(step, fmt)
    files = cancel_files(server)
    (name,) = summary["cancel_files"]
    assert summary["cancellations_sent"] == 1
    if crash_on == "commit_after":
        assert files == {}  # published once, and taken: not uploaded again
    else:
        assert list(files) == [name]
        assert cancelled_numbers(fmt, files[name]) == ["1001"]
    assert not any(n.startswith(".dropstream-") for n in published(server))
    assert not (server.root / "in" / staging_name(name)).exists()
    assert step.ledger.order_counts("acme") == {"cancel_sent": 1, "published": 1}
    # seen again and loaded again: nothing more goes to the warehouse
    assert cancel_in_store(step, 1001)["already"] == 1
    assert "cancel_files" not in run_load(step, fmt)
    assert len(cancel_files(server)) == (0 if crash_on == "commit_after" else 1)


def test_cancelled_before_sending_is_never_sent(sent):
    step, fmt, server = sent
    step.ledger.record_received("acme", [make_order(1003)], NOW)
    assert cancel_in_store(step, 1003)["cancelled"] == 1
    orders.transform(step, fmt)
    summary = run_load(step, fmt)
    assert summary["files"] == [] and "cancel_files" not in summary
    assert step.ledger.order_row("acme", make_order(1003).order_id)["state"] == "cancelled"
    assert cancel_files(server) == {}


def test_an_order_file_left_unfinished_is_published_before_its_cancellation(sent):
    step, fmt, server = sent
    step.ledger.record_received("acme", [make_order(1004)], NOW)
    orders.transform(step, fmt)
    with pytest.raises(Crash):
        run_load(step, fmt, crash_on="commit")  # the order file is staged, not renamed
    assert cancel_in_store(step, 1004)["cancel_after_send"] == 1
    summary = run_load(step, fmt)
    assert len(summary["files"]) == 1 and len(summary["cancel_files"]) == 1
    files = cancel_files(server)
    assert [cancelled_numbers(fmt, d) for d in files.values()] == [["1004"]]
    assert step.ledger.order_counts("acme") == {"published": 2, "cancel_sent": 1}

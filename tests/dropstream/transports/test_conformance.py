"""One conformance suite for every warehouse transport, each against its real server.

A protocol joins by adding a ``Protocol`` adapter to ``PROTOCOLS``: which fixture starts its
server, how to seed and inspect files behind the transport's back, how to route the connection
through a ``TCPProxy`` and how to cut an upload mid-way. The cases themselves never branch on
the protocol.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from dropstream.errors import AuthenticationError, NotFoundError, TransientError
from dropstream.transports import get_transport
from dropstream.transports.base import Transport, staging_name
from tests.dropstream.transports.conformance_adapters import PROTOCOLS, Protocol
from tests.servers.tcp_proxy import TCPProxy

CONN_ID = "dropstream_acme_warehouse"
MB = 1024 * 1024


@dataclass
class Warehouse:
    """One protocol's server, with the adapter that knows how to look behind it."""

    protocol: Protocol
    server: Any
    monkeypatch: pytest.MonkeyPatch
    opened: list[Transport]

    def transport(self, conn_id: str = CONN_ID, **overrides: Any) -> Transport:
        """A transport over a fresh ``AIRFLOW_CONN_<CONN_ID>`` (closed after the test)."""
        value = self.protocol.connection_json(self.server, conn_id, **overrides)
        self.monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", value)
        transport = get_transport(self.protocol.name, conn_id)
        self.opened.append(transport)
        return transport

    def put(self, path: str, data: bytes) -> None:
        self.protocol.put(self.server, path, data)

    def get(self, path: str) -> bytes | None:
        return self.protocol.get(self.server, path)

    def names(self, folder: str) -> list[str]:
        return self.protocol.names(self.server, folder)


@pytest.fixture(params=[pytest.param(p, id=p.name, marks=p.marks) for p in PROTOCOLS])
def warehouse(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    protocol: Protocol = request.param
    protocol.check_available()
    server = request.getfixturevalue(protocol.fixture)
    opened: list[Transport] = []
    yield Warehouse(protocol, server, monkeypatch, opened)
    for transport in opened:
        transport.close()


def sha256(data: bytes | None) -> str:
    return hashlib.sha256(data or b"").hexdigest()


def test_publish_list_read_archive_round_trip(warehouse: Warehouse):
    transport = warehouse.transport()
    content = b"PH,1001\r\nPD,1001,SKU-1,2\r\n"

    path = transport.publish("/in", "ord_1001.csv", content)

    assert path == "/in/ord_1001.csv"
    assert warehouse.names("/in") == ["ord_1001.csv"]  # nothing staged is left behind
    assert warehouse.get("/in/ord_1001.csv") == content
    (listed,) = transport.list_files("/in", "ord_*.csv")
    assert (listed.path, listed.name, listed.size) == (path, "ord_1001.csv", len(content))
    assert listed.modified_at is not None and listed.modified_at.utcoffset().total_seconds() == 0
    assert abs(listed.modified_at.timestamp() - time.time()) < 120
    assert transport.read(path) == content
    assert transport.exists(path)

    assert transport.archive(path, "/archive") == "/archive/ord_1001.csv"
    assert warehouse.get("/archive/ord_1001.csv") == content
    assert warehouse.get("/in/ord_1001.csv") is None
    assert not transport.exists(path)
    assert transport.list_files("/in", "ord_*.csv") == []  # the emptied folder still exists


def test_a_staged_upload_can_be_discarded(warehouse: Warehouse):
    transport = warehouse.transport()
    transport.stage("/in", "ord_9.csv", b"half")
    assert warehouse.names("/in") == [staging_name("ord_9.csv")]
    assert transport.discard_staged("/in", "ord_9.csv") is True
    assert warehouse.names("/in") == []
    assert transport.discard_staged("/in", "ord_9.csv") is False  # nothing left: no error
    assert transport.list_files("/in") == []  # the folder is still there


def test_archive_never_overwrites(warehouse: Warehouse):
    warehouse.put("/archive/shp_7.csv", b"old")
    warehouse.put("/out/shp_7.csv", b"new")
    transport = warehouse.transport()

    assert transport.archive("/out/shp_7.csv", "/archive") == "/archive/shp_7-2.csv"
    assert (warehouse.get("/archive/shp_7.csv"), warehouse.get("/archive/shp_7-2.csv")) == (
        b"old",
        b"new",
    )


@pytest.mark.slow
def test_fifty_megabyte_round_trip(warehouse: Warehouse):
    data = os.urandom(50 * MB)
    transport = warehouse.transport()

    path = transport.publish("/in", "ord_big.csv", data)

    assert sha256(warehouse.get("/in/ord_big.csv")) == sha256(data)
    assert sha256(transport.read(path)) == sha256(data)
    assert [f.size for f in transport.list_files("/in", "ord_*.csv")] == [len(data)]


def test_unicode_file_names(warehouse: Warehouse):
    name = "ord_Zürich_東京_ß.csv"
    transport = warehouse.transport()

    path = transport.publish("/in", name, "PH,Ünïcødé\n".encode())

    assert warehouse.get(f"/in/{name}") == "PH,Ünïcødé\n".encode()
    assert [f.name for f in transport.list_files("/in", "ord_*.csv")] == [name]
    assert transport.read(path) == "PH,Ünïcødé\n".encode()
    assert transport.archive(path, "/archive") == f"/archive/{name}"
    assert warehouse.get(f"/archive/{name}") == "PH,Ünïcødé\n".encode()


def test_listing_matches_the_glob_newest_first_and_only_real_files(warehouse: Warehouse):
    warehouse.protocol.seed_in_order(
        warehouse.server, "/out", ["shp_a.csv", "shp_c.csv", "shp_b.csv", "inv_1.csv"]
    )
    for name in [
        ".hidden.csv",
        staging_name("shp_d.csv"),
        "shp_e.csv.tmp",
        "shp_f.csv~",
        "shp_..\\..\\evil.csv",
    ]:
        warehouse.put(f"/out/{name}", b"x")
    warehouse.put("/out/shp_sub.csv/shp_nested.csv", b"x")  # a folder whose name matches
    transport = warehouse.transport()

    listed = transport.list_files("/out", "shp_*.csv")

    assert [f.name for f in listed] == ["shp_b.csv", "shp_c.csv", "shp_a.csv"]
    assert [f.path for f in listed] == ["/out/shp_b.csv", "/out/shp_c.csv", "/out/shp_a.csv"]
    assert [f.name for f in transport.list_files("/out")] == [
        "inv_1.csv",
        "shp_b.csv",
        "shp_c.csv",
        "shp_a.csv",
    ]
    assert transport.list_files("/out", ".*") == []


def test_staged_upload_never_matches_a_warehouse_pattern(warehouse: Warehouse):
    transport = warehouse.transport()

    transport.stage("/in", "ord_1002.csv", b"PH,1002\n")

    assert warehouse.names("/in") == [staging_name("ord_1002.csv")]
    assert transport.list_files("/in", "*") == []
    assert not transport.exists("/in/ord_1002.csv")
    assert transport.commit("/in", "ord_1002.csv") == "/in/ord_1002.csv"
    assert warehouse.names("/in") == ["ord_1002.csv"]


def test_missing_folder_is_a_clear_not_found(warehouse: Warehouse):
    transport = warehouse.transport()

    with pytest.raises(NotFoundError, match="/outbound") as listing:
        transport.list_files("/outbound", "shp_*.csv")
    assert CONN_ID in str(listing.value)

    with pytest.raises(NotFoundError, match="/inbound"):
        transport.publish("/inbound", "ord_1.csv", b"x")
    assert warehouse.names("/inbound") == []  # publishing created nothing


def test_wrong_credentials_fail_fast_with_one_attempt(warehouse: Warehouse):
    protocol, server = warehouse.protocol, warehouse.server
    warehouse.transport().test()  # the right ones work (and the slow first imports are done)
    transport = warehouse.transport("wrong_secret", **protocol.wrong_credentials(server))
    attempts_before = protocol.login_attempts(server)

    started = time.monotonic()
    with pytest.raises(AuthenticationError) as refused:
        transport.test()

    assert time.monotonic() - started < 5
    assert "'wrong_secret'" in str(refused.value)
    if attempts_before is not None:  # servers may record the attempt just after answering
        deadline = time.monotonic() + 2
        while protocol.login_attempts(server) == attempts_before and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # time for a retry storm to show, were there one
        assert protocol.login_attempts(server) - attempts_before == 1


def test_connection_cut_mid_upload_leaves_no_final_file_and_a_retry_publishes_it_whole(
    warehouse: Warehouse, tcp_proxy: Callable[[str, int], TCPProxy]
):
    protocol, server = warehouse.protocol, warehouse.server
    proxy = tcp_proxy(*protocol.address(server))
    data = os.urandom(8 * MB)
    cut_armed = protocol.arm_cut(server, proxy, after=2 * MB)

    with pytest.raises(TransientError):
        warehouse.transport("cut", **protocol.via(server, proxy)).publish("/in", "ord_9.csv", data)

    assert cut_armed.wait(1), "the upload failed before the proxy cut it"
    assert warehouse.get("/in/ord_9.csv") is None
    assert set(warehouse.names("/in")) <= {staging_name("ord_9.csv")}
    partial = warehouse.get(f"/in/{staging_name('ord_9.csv')}")
    assert partial is None or len(partial) < len(data)  # it really died mid-upload
    proxy.restore()
    retry = warehouse.transport("cut_retry", **protocol.via(server, proxy))

    assert retry.publish("/in", "ord_9.csv", data) == "/in/ord_9.csv"

    assert sha256(warehouse.get("/in/ord_9.csv")) == sha256(data)
    assert warehouse.names("/in") == ["ord_9.csv"]

"""The FTP and FTPS transports against real pyftpdlib servers (``tests/servers/ftp.py``)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator

import pytest

from dropstream.errors import (
    AuthenticationError,
    ConfigurationError,
    NotFoundError,
    TargetExistsError,
    TransientError,
)
from dropstream.transports import get_transport
from dropstream.transports.base import Transport, staging_name
from tests.servers.ftp import FTPServer, ftp_transport_factory, make_ca_and_server_cert
from tests.servers.sshd import free_port

OpenTransport = Callable[..., Transport]


@pytest.fixture(params=["ftp", "ftps"])
def server(request: pytest.FixtureRequest) -> FTPServer:
    return request.getfixturevalue(f"{request.param}_server")


def _opener(server: FTPServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenTransport]:
    opened: list[Transport] = []

    def make(conn_id: str = "dropstream_acme_warehouse", **overrides: object) -> Transport:
        transport = ftp_transport_factory(server, monkeypatch, conn_id, **overrides)
        opened.append(transport)
        return transport

    yield make
    for transport in opened:
        transport.close()


@pytest.fixture
def open_transport(server: FTPServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenTransport]:
    yield from _opener(server, monkeypatch)


@pytest.fixture
def open_ftps(ftps_server: FTPServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenTransport]:
    yield from _opener(ftps_server, monkeypatch)


@pytest.fixture
def transport(open_transport: OpenTransport) -> Transport:
    return open_transport()


def test_connection_json_is_an_airflow_connection(server: FTPServer):
    from airflow.models.connection import Connection

    conn = Connection.from_json(server.connection_json("x"), conn_id="x")
    assert (conn.conn_type, conn.host, conn.port) == (server.conn_type, server.host, server.port)
    assert (conn.login, conn.password) == (server.username, server.password)
    assert conn.extra_dejson["passive"] is True
    assert ("ca_cert" in conn.extra_dejson) == server.tls


def test_publish_list_read_archive_round_trip(transport: Transport, server: FTPServer):
    root = server.root
    path = transport.publish("/in", "ord_1001_240501120000.csv", b"PH,1001\nPD,1001,1\n")

    assert path == "/in/ord_1001_240501120000.csv"
    assert (root / "in" / "ord_1001_240501120000.csv").read_bytes() == b"PH,1001\nPD,1001,1\n"
    assert sorted(p.name for p in (root / "in").iterdir()) == ["ord_1001_240501120000.csv"]

    (listed,) = transport.list_files("/in", "ord_*.csv")
    assert (listed.path, listed.name, listed.size) == (path, "ord_1001_240501120000.csv", 18)
    assert listed.modified_at is not None and listed.modified_at.utcoffset().total_seconds() == 0
    assert abs(listed.modified_at.timestamp() - time.time()) < 60
    assert transport.read(path) == b"PH,1001\nPD,1001,1\n"
    assert transport.exists(path)

    archived = transport.archive(path, "/archive/2024/05")
    assert archived == "/archive/2024/05/ord_1001_240501120000.csv"
    assert (root / "archive" / "2024" / "05" / "ord_1001_240501120000.csv").exists()
    assert list((root / "in").iterdir()) == []
    assert not transport.exists(path)


def test_archive_keeps_both_files_when_the_name_is_taken(transport: Transport, server: FTPServer):
    (server.root / "archive" / "shp_7.csv").write_bytes(b"old")
    (server.root / "out" / "shp_7.csv").write_bytes(b"new")

    assert transport.archive("/out/shp_7.csv", "/archive") == "/archive/shp_7-2.csv"
    (server.root / "out" / "shp_7.csv").write_bytes(b"newer")
    assert transport.archive("/out/shp_7.csv", "/archive") == "/archive/shp_7-3.csv"

    archive = server.root / "archive"
    assert (archive / "shp_7.csv").read_bytes() == b"old"
    assert (archive / "shp_7-2.csv").read_bytes() == b"new"
    assert (archive / "shp_7-3.csv").read_bytes() == b"newer"


def test_archive_of_a_missing_file_names_it(transport: Transport):
    with pytest.raises(NotFoundError, match="/out/shp_404.csv"):
        transport.archive("/out/shp_404.csv", "/archive")


def test_staged_upload_is_invisible_to_listing(transport: Transport, server: FTPServer):
    staged = transport.stage("/in", "ord_1002.csv", b"PH,1002\n")

    assert staged == f"/in/{staging_name('ord_1002.csv')}"
    assert (server.root / "in" / staging_name("ord_1002.csv")).read_bytes() == b"PH,1002\n"
    assert transport.list_files("/in", "ord_*.csv") == []
    assert transport.list_files("/in", "*") == []
    assert not transport.exists("/in/ord_1002.csv")


def test_stage_without_commit_leaves_no_final_file_and_publish_repairs_it(
    open_transport: OpenTransport, server: FTPServer
):
    inbound = server.root / "in"
    crashed = open_transport()
    crashed.stage("/in", "ord_1003.csv", b"PH,10")  # the worker dies here: no commit
    crashed.close()

    retry = open_transport()
    assert not retry.exists("/in/ord_1003.csv")
    assert not (inbound / "ord_1003.csv").exists()
    assert retry.exists(f"/in/{staging_name('ord_1003.csv')}")  # the flow's "not renamed" signal

    retry.publish("/in", "ord_1003.csv", b"PH,1003\n")  # overwrites the leftover, then renames

    assert sorted(p.name for p in inbound.iterdir()) == ["ord_1003.csv"]
    assert (inbound / "ord_1003.csv").read_bytes() == b"PH,1003\n"


def test_commit_is_idempotent_and_never_replaces_a_file(transport: Transport, server: FTPServer):
    transport.stage("/in", "ord_1004.csv", b"PH,1004\n")
    assert transport.commit("/in", "ord_1004.csv") == "/in/ord_1004.csv"
    assert transport.commit("/in", "ord_1004.csv") == "/in/ord_1004.csv"  # lost answer, retried
    with pytest.raises(NotFoundError, match="nothing staged"):
        transport.commit("/in", "ord_1005.csv")

    transport.stage("/in", "ord_1004.csv", b"second")
    with pytest.raises(TargetExistsError, match="already exists"):
        transport.commit("/in", "ord_1004.csv")
    assert (server.root / "in" / "ord_1004.csv").read_bytes() == b"PH,1004\n"


@pytest.mark.parametrize("mlsd", [True, False], ids=["mlsd", "nlst-mdtm"])
def test_list_files_is_newest_first_and_skips_folders_and_temporaries(
    transport: Transport, server: FTPServer, mlsd: bool
):
    server.mlsd = mlsd
    out = server.root / "out"
    base = int(time.time()) - 3600
    for name, age in [("shp_a.csv", 30), ("shp_b.csv", 10), ("shp_c.csv", 20), ("inv_1.csv", 0)]:
        (out / name).write_bytes(name.encode())
        os.utime(out / name, (base - age, base - age))
    for name in [".hidden.csv", staging_name("shp_1.csv"), "shp_2.csv.tmp", "shp_3.csv~"]:
        (out / name).write_bytes(b"x")
    (out / "shp_dir.csv").mkdir()

    listed = transport.list_files("/out", "shp_*.csv")

    assert [f.name for f in listed] == ["shp_b.csv", "shp_c.csv", "shp_a.csv"]
    assert [f.modified_at.timestamp() for f in listed] == [base - 10, base - 20, base - 30]
    assert [f.size for f in listed] == [9, 9, 9]
    assert [f.name for f in transport.list_files("/out")][0] == "inv_1.csv"
    assert transport.list_files("/out", ".*") == []


def test_unicode_file_name(transport: Transport, server: FTPServer):
    name = "ord_Zürich_東京_ß.csv"

    path = transport.publish("/in", name, "PH,ü\n".encode())

    assert (server.root / "in" / name).read_bytes() == "PH,ü\n".encode()
    assert [f.name for f in transport.list_files("/in", "ord_*.csv")] == [name]
    assert transport.read(path) == "PH,ü\n".encode()
    assert transport.archive(path, "/archive") == f"/archive/{name}"


def test_five_megabyte_round_trip(transport: Transport, server: FTPServer):
    data = os.urandom(5 * 1024 * 1024)

    path = transport.publish("/in", "ord_big.csv", data)

    assert (server.root / "in" / "ord_big.csv").stat().st_size == len(data)
    assert transport.read(path) == data


def test_unsafe_names_are_refused(transport: Transport):
    for name in ["../etc/passwd", "a/b.csv", "..", ""]:
        with pytest.raises(ConfigurationError, match="unsafe file name"):
            transport.publish("/in", name, b"x")


def test_missing_folder_is_not_found_and_named(transport: Transport, server: FTPServer):
    with pytest.raises(NotFoundError, match="/outbound") as listing:
        transport.list_files("/outbound", "shp_*.csv")
    assert "dropstream_acme_warehouse" in str(listing.value)

    with pytest.raises(NotFoundError, match="/inbound"):
        transport.publish("/inbound", "ord_1.csv", b"x")
    assert not (server.root / "inbound").exists()
    with pytest.raises(NotFoundError, match="/out/shp_missing.csv"):
        transport.read("/out/shp_missing.csv")


def test_one_login_serves_many_calls(transport: Transport, server: FTPServer):
    transport.test()
    transport.publish("/in", "ord_1.csv", b"x")
    transport.list_files("/in", "ord_*.csv")
    transport.read("/in/ord_1.csv")
    assert server.logins == 1


def test_reconnects_once_after_the_link_dropped(transport: Transport, server: FTPServer):
    transport.publish("/in", "ord_1.csv", b"x")
    server.drop_connections()

    assert [f.name for f in transport.list_files("/in", "ord_*.csv")] == ["ord_1.csv"]
    assert transport.read("/in/ord_1.csv") == b"x"
    assert server.logins == 2


def test_wrong_password_is_refused_fast_and_once(open_transport: OpenTransport, server: FTPServer):
    transport = open_transport("wrong_password", password="not-the-password")

    started = time.monotonic()
    with pytest.raises(AuthenticationError) as refused:
        transport.list_files("/in")

    assert time.monotonic() - started < 5
    time.sleep(0.5)  # the server thread records the refusal just after answering 530
    assert (server.failed_logins, server.logins) == (1, 0)  # one attempt: no retry storm
    message = str(refused.value)
    assert f"login refused for user {server.username}" in message
    assert f"{server.host}:{server.port}" in message
    assert "Airflow Connection 'wrong_password'" in message


def test_connection_refused_is_transient(open_transport: OpenTransport):
    transport = open_transport("refused", port=free_port())

    started = time.monotonic()
    with pytest.raises(TransientError, match="retry later"):
        transport.list_files("/in")
    assert time.monotonic() - started < 5


def test_missing_airflow_connection_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("AIRFLOW_CONN_NOT_DEFINED_ANYWHERE", raising=False)
    transport = get_transport("ftp", "not_defined_anywhere")  # constructing does no I/O

    with pytest.raises(ConfigurationError, match="'not_defined_anywhere' does not exist"):
        transport.test()


# -- FTPS ---------------------------------------------------------------------------------


def test_ftps_data_channel_is_encrypted_and_resumes_the_tls_session(
    open_ftps: OpenTransport, ftps_server: FTPServer
):
    transport = open_ftps()
    transport.publish("/in", "ord_1.csv", b"secret order")
    assert transport.read("/in/ord_1.csv") == b"secret order"
    transport.list_files("/in")

    assert len(ftps_server.data_channels) >= 3
    assert all(c.tls and c.session_reused for c in ftps_server.data_channels)


def test_ftps_untrusted_certificate_is_refused_with_advice(
    open_ftps: OpenTransport, ftps_server: FTPServer
):
    transport = open_ftps("no_ca", ca_cert=None)  # only the system CA store

    with pytest.raises(AuthenticationError, match="could not be verified") as refused:
        transport.test()

    message = str(refused.value)
    assert "ca_cert" in message and "cert_fingerprint" in message
    assert "sha256:" in message  # what the server presents, to confirm with the warehouse
    assert ftps_server.logins == ftps_server.failed_logins == 0  # no password sent


def test_ftps_certificate_from_another_ca_is_refused(
    open_ftps: OpenTransport, ftps_server: FTPServer, tmp_path
):
    other_ca, _, _ = make_ca_and_server_cert(tmp_path)
    with pytest.raises(AuthenticationError, match="could not be verified"):
        open_ftps("other_ca", ca_cert=other_ca).test()


def test_ftps_pinned_certificate_fingerprint(open_ftps: OpenTransport, ftps_server: FTPServer):
    with pytest.raises(AuthenticationError, match="could not be verified") as refused:
        open_ftps("discover", ca_cert=None).test()
    presented = str(refused.value).rsplit("it presents ", 1)[1]

    pinned = open_ftps("pinned", ca_cert=None, cert_fingerprint=presented)
    pinned.publish("/in", "ord_1.csv", b"x")
    assert (ftps_server.root / "in" / "ord_1.csv").read_bytes() == b"x"

    wrong = open_ftps("wrong_pin", ca_cert=None, cert_fingerprint="sha256:" + "AB" * 32)
    with pytest.raises(AuthenticationError, match="not the pinned one"):
        wrong.test()


def test_ftps_ca_from_a_file_path(open_ftps: OpenTransport, ftps_server: FTPServer, tmp_path):
    ca_file = tmp_path / "warehouse-ca.pem"
    ca_file.write_text(ftps_server.ca_cert_pem or "")

    transport = open_ftps("ca_path", ca_cert=None, ca_cert_path=str(ca_file))
    transport.test()


def test_ftps_server_refuses_a_plain_ftp_login(
    ftps_server: FTPServer, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("AIRFLOW_CONN_PLAIN", ftps_server.connection_json(conn_type="ftp"))
    transport = get_transport("ftp", "plain")

    with pytest.raises(ConfigurationError, match="check the connection type"):
        transport.test()
    transport.close()


def test_ftps_invalid_ca_extra_is_a_configuration_error(open_ftps: OpenTransport):
    with pytest.raises(ConfigurationError, match="not a readable PEM"):
        open_ftps("bad_ca", ca_cert="not a certificate").test()

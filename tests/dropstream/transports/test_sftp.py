"""The SFTP transport against a real OpenSSH server (``tests/servers/sshd.py``)."""

from __future__ import annotations

import fnmatch
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
from tests.servers.sshd import SFTPServer, free_port, new_ed25519_key

pytestmark = pytest.mark.sshd

OpenTransport = Callable[..., Transport]


@pytest.fixture
def open_transport(
    sftp_server: SFTPServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[OpenTransport]:
    """Make transports over a fresh Airflow Connection (env var) per call; close them after."""
    opened: list[Transport] = []

    def make(conn_id: str = "dropstream_acme_warehouse", **overrides: object) -> Transport:
        value = sftp_server.connection_json(conn_id, **overrides)
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", value)
        transport = get_transport("sftp", conn_id)
        opened.append(transport)
        return transport

    yield make
    for transport in opened:
        transport.close()


@pytest.fixture
def transport(open_transport: OpenTransport) -> Transport:
    return open_transport()


def test_publish_list_read_archive_round_trip(transport: Transport, sftp_server: SFTPServer):
    root = sftp_server.root
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


def test_archive_keeps_both_files_when_the_name_is_taken(
    transport: Transport, sftp_server: SFTPServer
):
    (sftp_server.root / "archive" / "shp_7.csv").write_bytes(b"old")
    (sftp_server.root / "out" / "shp_7.csv").write_bytes(b"new")

    assert transport.archive("/out/shp_7.csv", "/archive") == "/archive/shp_7-2.csv"
    (sftp_server.root / "out" / "shp_7.csv").write_bytes(b"newer")
    assert transport.archive("/out/shp_7.csv", "/archive") == "/archive/shp_7-3.csv"

    archive = sftp_server.root / "archive"
    assert (archive / "shp_7.csv").read_bytes() == b"old"
    assert (archive / "shp_7-2.csv").read_bytes() == b"new"
    assert (archive / "shp_7-3.csv").read_bytes() == b"newer"


def test_archive_of_a_missing_file_names_it(transport: Transport):
    with pytest.raises(NotFoundError, match="/out/shp_404.csv"):
        transport.archive("/out/shp_404.csv", "/archive")


def test_staged_upload_is_invisible_to_listing_and_warehouse_patterns(
    transport: Transport, sftp_server: SFTPServer
):
    staged = transport.stage("/in", "ord_1002.csv", b"PH,1002\n")

    assert staged == f"/in/{staging_name('ord_1002.csv')}"
    assert (sftp_server.root / "in" / staging_name("ord_1002.csv")).read_bytes() == b"PH,1002\n"
    assert not fnmatch.fnmatchcase(staging_name("ord_1002.csv"), "ord_*.csv")
    assert transport.list_files("/in", "ord_*.csv") == []
    assert transport.list_files("/in", "*") == []
    assert not transport.exists("/in/ord_1002.csv")


def test_stage_without_commit_leaves_no_final_file_and_publish_repairs_it(
    open_transport: OpenTransport, sftp_server: SFTPServer
):
    inbound = sftp_server.root / "in"
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


def test_commit_after_the_rename_already_happened_is_a_no_op(
    transport: Transport, sftp_server: SFTPServer
):
    transport.stage("/in", "ord_1004.csv", b"PH,1004\n")
    assert transport.commit("/in", "ord_1004.csv") == "/in/ord_1004.csv"
    # a retry that lost the answer of the first commit: staged gone, final there => done
    assert transport.commit("/in", "ord_1004.csv") == "/in/ord_1004.csv"
    assert (sftp_server.root / "in" / "ord_1004.csv").read_bytes() == b"PH,1004\n"


def test_commit_without_a_staged_file_fails(transport: Transport):
    with pytest.raises(NotFoundError, match="nothing staged"):
        transport.commit("/in", "ord_1005.csv")


def test_commit_never_replaces_an_existing_file(transport: Transport, sftp_server: SFTPServer):
    (sftp_server.root / "in" / "ord_1006.csv").write_bytes(b"first")
    transport.stage("/in", "ord_1006.csv", b"second")

    with pytest.raises(TargetExistsError, match="already exists"):
        transport.commit("/in", "ord_1006.csv")
    assert (sftp_server.root / "in" / "ord_1006.csv").read_bytes() == b"first"


def test_list_files_is_newest_first(transport: Transport, sftp_server: SFTPServer):
    out = sftp_server.root / "out"
    base = int(time.time()) - 3600  # SFTP v3 times are whole seconds
    for name, age in [("shp_a.csv", 30), ("shp_b.csv", 10), ("shp_c.csv", 20), ("inv_1.csv", 0)]:
        (out / name).write_bytes(name.encode())
        os.utime(out / name, (base - age, base - age))

    listed = transport.list_files("/out", "shp_*.csv")

    assert [f.name for f in listed] == ["shp_b.csv", "shp_c.csv", "shp_a.csv"]
    assert [f.modified_at.timestamp() for f in listed] == [base - 10, base - 20, base - 30]
    assert [f.name for f in transport.list_files("/out")][0] == "inv_1.csv"


def test_hidden_temporary_and_directory_entries_are_never_listed(
    transport: Transport, sftp_server: SFTPServer
):
    out = sftp_server.root / "out"
    for name in [".hidden.csv", staging_name("shp_1.csv"), "shp_2.csv.tmp", "shp_3.csv~"]:
        (out / name).write_bytes(b"x")
    (out / "shp_dir.csv").mkdir()
    (out / "shp_real.csv").write_bytes(b"x")

    assert [f.name for f in transport.list_files("/out", "*")] == ["shp_real.csv"]
    assert [f.name for f in transport.list_files("/out", ".*")] == []
    assert [f.name for f in transport.list_files("/out", "*.*")] == ["shp_real.csv"]


def test_five_megabyte_round_trip(transport: Transport, sftp_server: SFTPServer):
    data = os.urandom(5 * 1024 * 1024)

    path = transport.publish("/in", "ord_big.csv", data)

    assert (sftp_server.root / "in" / "ord_big.csv").stat().st_size == len(data)
    assert transport.read(path) == data


def test_unicode_file_name(transport: Transport, sftp_server: SFTPServer):
    name = "ord_Zürich_東京_ß.csv"

    path = transport.publish("/in", name, "PH,ü\n".encode())

    assert (sftp_server.root / "in" / name).read_bytes() == "PH,ü\n".encode()
    assert [f.name for f in transport.list_files("/in", "ord_*.csv")] == [name]
    assert transport.read(path) == "PH,ü\n".encode()
    assert transport.archive(path, "/archive") == f"/archive/{name}"


def test_unsafe_names_are_refused(transport: Transport):
    for name in ["../etc/passwd", "a/b.csv", "..", ""]:
        with pytest.raises(ConfigurationError, match="unsafe file name"):
            transport.publish("/in", name, b"x")


def test_missing_folder_is_not_found_and_named(transport: Transport, sftp_server: SFTPServer):
    with pytest.raises(NotFoundError, match="/outbound") as listing:
        transport.list_files("/outbound", "shp_*.csv")
    assert "dropstream_acme_warehouse" in str(listing.value)

    with pytest.raises(NotFoundError, match="/inbound"):
        transport.publish("/inbound", "ord_1.csv", b"x")
    assert not (sftp_server.root / "inbound").exists()  # stage creates nothing else


def test_read_of_a_missing_file_is_not_found(transport: Transport):
    with pytest.raises(NotFoundError, match="/out/shp_missing.csv"):
        transport.read("/out/shp_missing.csv")


def test_connection_test_logs_in(transport: Transport):
    transport.test()


def test_one_login_serves_many_calls(transport: Transport, sftp_server: SFTPServer):
    before = sftp_server.log().count("Accepted publickey")
    transport.test()
    transport.publish("/in", "ord_1.csv", b"x")
    transport.list_files("/in", "ord_*.csv")
    transport.read("/in/ord_1.csv")
    assert sftp_server.log().count("Accepted publickey") - before == 1


def test_reconnects_once_after_the_link_dropped(transport: Transport, sftp_server: SFTPServer):
    transport.publish("/in", "ord_1.csv", b"x")
    sftp_server.drop_connections()

    assert [f.name for f in transport.list_files("/in", "ord_*.csv")] == ["ord_1.csv"]
    assert transport.read("/in/ord_1.csv") == b"x"


def test_wrong_private_key_is_refused_fast(open_transport: OpenTransport, sftp_server: SFTPServer):
    other_key, _ = new_ed25519_key()
    transport = open_transport("wrong_key", private_key=other_key)

    started = time.monotonic()
    with pytest.raises(AuthenticationError) as refused:
        transport.test()

    assert time.monotonic() - started < 5
    message = str(refused.value)
    assert f"login refused for user {sftp_server.username}" in message
    assert f"{sftp_server.host}:{sftp_server.port}" in message
    assert "Airflow Connection 'wrong_key'" in message


def test_wrong_password_is_refused(open_transport: OpenTransport):
    transport = open_transport("wrong_password", private_key=None, password="not-the-password")

    with pytest.raises(AuthenticationError, match="check the password/private key"):
        transport.test()


def test_wrong_pinned_host_key_is_refused(open_transport: OpenTransport, sftp_server: SFTPServer):
    _, impostor = new_ed25519_key()
    transport = open_transport("wrong_host_key", host_key=impostor)

    with pytest.raises(AuthenticationError, match="host key mismatch") as refused:
        transport.test()

    message = str(refused.value)
    assert "SHA256:" in message
    assert sftp_server.host_key in message  # the line to re-pin, once the warehouse confirms it


def test_unpinned_host_key_is_refused_and_shows_the_presented_key(
    open_transport: OpenTransport,
    sftp_server: SFTPServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path,
):
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ssh/known_hosts to fall back on
    transport = open_transport("unpinned", host_key=None)

    with pytest.raises(AuthenticationError, match="not pinned") as refused:
        transport.test()
    assert sftp_server.host_key in str(refused.value)


def test_turning_host_key_checking_off_is_refused(open_transport: OpenTransport):
    transport = open_transport("unchecked", host_key=None, no_host_key_check="true")

    with pytest.raises(ConfigurationError, match="host key checking off"):
        transport.test()


def test_connection_refused_is_transient(open_transport: OpenTransport):
    transport = open_transport("refused", port=free_port())

    started = time.monotonic()
    with pytest.raises(TransientError, match="retry later"):
        transport.list_files("/in")
    assert time.monotonic() - started < 5


def test_missing_airflow_connection_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("AIRFLOW_CONN_NOT_DEFINED_ANYWHERE", raising=False)
    transport = get_transport("sftp", "not_defined_anywhere")  # constructing does no I/O

    with pytest.raises(ConfigurationError, match="'not_defined_anywhere' does not exist"):
        transport.test()

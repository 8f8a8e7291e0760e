"""S3-specific behaviour of the S3 transport against a real S3-compatible server process.

What every transport must do is in ``test_conformance.py``; this file covers what only S3 has:
key prefixes as folders, server-side encryption, a custom endpoint URL, the copy-based commit.
"""

from __future__ import annotations

import fnmatch
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
from tests.servers.s3 import S3Server
from tests.servers.sshd import free_port

OpenTransport = Callable[..., Transport]


@pytest.fixture
def open_transport(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenTransport]:
    """Make transports over a fresh Airflow Connection (env var) per call; close them after."""
    opened: list[Transport] = []

    def make(conn_id: str = "dropstream_acme_warehouse", **overrides: object) -> Transport:
        monkeypatch.setenv(
            f"AIRFLOW_CONN_{conn_id.upper()}", s3_server.connection_json(conn_id, **overrides)
        )
        transport = get_transport("s3", conn_id)
        opened.append(transport)
        return transport

    yield make
    for transport in opened:
        transport.close()


@pytest.fixture
def transport(open_transport: OpenTransport) -> Transport:
    return open_transport()


def head(s3_server: S3Server, key: str) -> dict:
    return s3_server.client().head_object(Bucket=s3_server.bucket, Key=key)


def test_folders_are_key_prefixes(transport: Transport, s3_server: S3Server):
    transport.publish("/in", "ord_1.csv", b"PH,1\n")
    s3_server.put("in/2024/ord_old.csv", b"x")

    assert transport.archive("/in/ord_1.csv", "/archive/2024/05") == "/archive/2024/05/ord_1.csv"

    assert s3_server.keys() == [
        "archive/",
        "archive/2024/05/ord_1.csv",
        "in/",
        "in/2024/ord_old.csv",
        "out/",
    ]
    assert [f.path for f in transport.list_files("/in/2024/")] == ["/in/2024/ord_old.csv"]


def test_only_direct_children_of_the_prefix_are_listed(transport: Transport, s3_server: S3Server):
    for key in ["out/shp_1.csv", "out/sub/shp_2.csv", "outbox/shp_3.csv", "shp_4.csv"]:
        s3_server.put(key, b"x")

    assert [f.name for f in transport.list_files("/out", "shp_*.csv")] == ["shp_1.csv"]
    assert [f.name for f in transport.list_files("/", "shp_*.csv")] == ["shp_4.csv"]


def test_no_staged_object_ever_matches_a_warehouse_pattern(
    transport: Transport, s3_server: S3Server
):
    staged = transport.stage("/in", "ord_1002.csv", b"PH,1002\n")

    assert staged == f"/in/{staging_name('ord_1002.csv')}"
    assert s3_server.keys("in/") == ["in/", f"in/{staging_name('ord_1002.csv')}"]
    every_key = s3_server.keys()
    assert not any(fnmatch.fnmatchcase(k.split("/")[-1], "ord_*.csv") for k in every_key)
    assert transport.exists(staged) and not transport.exists("/in/ord_1002.csv")

    transport.commit("/in", "ord_1002.csv")  # copy to the final key, then delete the staged one

    assert s3_server.keys("in/") == ["in/", "in/ord_1002.csv"]
    assert s3_server.get("in/ord_1002.csv") == b"PH,1002\n"


def test_commit_finishes_when_only_the_staged_delete_was_lost(
    transport: Transport, s3_server: S3Server
):
    transport.stage("/in", "ord_7.csv", b"PH,7\n")
    transport.commit("/in", "ord_7.csv")
    s3_server.put(f"in/{staging_name('ord_7.csv')}", b"PH,7\n")  # as if the delete never ran

    assert transport.commit("/in", "ord_7.csv") == "/in/ord_7.csv"  # what a retry does

    assert s3_server.keys("in/") == ["in/", "in/ord_7.csv"]
    assert s3_server.get("in/ord_7.csv") == b"PH,7\n"


def test_commit_and_publish_never_replace_another_file(transport: Transport, s3_server: S3Server):
    s3_server.put("in/ord_8.csv", b"first")
    transport.stage("/in", "ord_8.csv", b"second")

    with pytest.raises(TargetExistsError, match="already exists"):
        transport.commit("/in", "ord_8.csv")
    with pytest.raises(ConfigurationError, match="already exists"):
        transport.publish("/in", "ord_8.csv", b"third")
    assert s3_server.get("in/ord_8.csv") == b"first"
    # the same content again is a retry whose first answer was lost: nothing to do
    assert transport.publish("/in", "ord_8.csv", b"first") == "/in/ord_8.csv"


@pytest.mark.parametrize(
    ("extras", "expected"),
    [
        ({"server_side_encryption": "AES256"}, {"ServerSideEncryption": "AES256"}),
        (
            {"server_side_encryption": "aws:kms", "sse_kms_key_id": "alias/acme-3pl"},
            {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/acme-3pl"},
        ),
    ],
)
def test_server_side_encryption_on_every_object_written(
    open_transport: OpenTransport, s3_server: S3Server, extras: dict, expected: dict
):
    transport = open_transport("encrypted", **extras)

    transport.publish("/in", "ord_1.csv", b"a")
    transport.stage("/in", "ord_2.csv", b"b")
    transport.commit("/in", "ord_2.csv")
    s3_server.put("drop/shp_1.csv", b"c")  # no folder marker: archive writes one
    transport.archive("/drop/shp_1.csv", "/archive")

    for key in ["in/ord_1.csv", "in/ord_2.csv", "archive/shp_1.csv", "drop/"]:
        found = head(s3_server, key)
        assert {k: found.get(k) for k in expected} == expected, key


@pytest.mark.parametrize(
    ("extras", "message"),
    [
        ({"bucket": None}, "names no bucket"),
        ({"server_side_encryption": "DES"}, "is not one of AES256, aws:kms"),
        ({"sse_kms_key_id": "alias/k"}, "needs server_side_encryption 'aws:kms'"),
    ],
)
def test_invalid_extras_are_configuration_errors(
    open_transport: OpenTransport, extras: dict, message: str
):
    with pytest.raises(ConfigurationError, match=message):
        open_transport("bad_extras", **extras).test()


def test_requests_go_to_the_endpoint_url(open_transport: OpenTransport, s3_server: S3Server):
    served = len(s3_server.request_log())
    open_transport().test()
    assert len(s3_server.request_log()) == served + 1

    unreachable = open_transport("unreachable", endpoint_url=f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    with pytest.raises(TransientError, match="retry later") as failed:
        unreachable.list_files("/in")
    assert time.monotonic() - started < 10  # three attempts with short backoff, no storm
    assert "Airflow Connection 'unreachable'" in str(failed.value)


def test_unknown_access_key_is_refused_once(open_transport: OpenTransport, s3_server: S3Server):
    transport = open_transport("unknown_key", login="AKIAUNKNOWNKEY000000")
    refused = sum('" 403 ' in line for line in s3_server.request_log())

    with pytest.raises(AuthenticationError, match="InvalidAccessKeyId") as error:
        transport.list_files("/in")

    message = str(error.value)
    assert "Airflow Connection 'unknown_key'" in message and f"'{s3_server.bucket}'" in message
    assert sum('" 403 ' in line for line in s3_server.request_log()) == refused + 1


def test_missing_bucket_is_not_found(open_transport: OpenTransport):
    with pytest.raises(NotFoundError, match="bucket 'no-such-bucket' does not exist"):
        open_transport("no_bucket", bucket="no-such-bucket").list_files("/in")


def test_missing_key_is_not_found_and_named(transport: Transport):
    with pytest.raises(NotFoundError, match="out/shp_404.csv"):
        transport.read("/out/shp_404.csv")
    with pytest.raises(NotFoundError, match="/out/shp_404.csv"):
        transport.archive("/out/shp_404.csv", "/archive")


def test_archiving_the_last_file_keeps_its_folder(transport: Transport, s3_server: S3Server):
    s3_server.put("drop/shp_1.csv", b"x")  # a folder without a marker, as many tools write

    transport.archive("/drop/shp_1.csv", "/archive")

    assert transport.list_files("/drop") == []
    assert s3_server.keys("drop/") == ["drop/"]


def test_missing_airflow_connection_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("AIRFLOW_CONN_NOT_DEFINED_ANYWHERE", raising=False)
    transport = get_transport("s3", "not_defined_anywhere")  # constructing does no I/O

    with pytest.raises(ConfigurationError, match="'not_defined_anywhere' does not exist"):
        transport.test()

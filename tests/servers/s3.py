"""An S3-compatible server process (moto's standalone server) on a loopback port.

One ``python -m moto.server`` process per test session; every test gets the bucket emptied and
the warehouse folders ``in/``, ``out/`` and ``archive/`` back as zero-byte folder markers (what
the S3 console's "Create folder" writes), so a prefix with no key at all is a missing folder.

The server checks credentials like S3 does: after the set-up requests (an IAM user with an
access key and an ``s3:*`` policy, the bucket) the fixture switches moto's IAM enforcement on
(``/moto-api/reset-auth`` with ``0`` free actions, the server-side twin of
``INITIAL_NO_AUTH_ACTION_COUNT``), so a request signed with an unknown key is refused with 403
``InvalidAccessKeyId`` and a wrong secret with 403 ``SignatureDoesNotMatch``. Every request the
server answered is in ``request_log()`` (werkzeug's access log), for counting attempts.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.servers._http import free_port

BUCKET = "acme-3pl-exchange"
REGION = "us-east-1"
FOLDERS = ("in", "out", "archive")
_TOP_LEVEL = {"conn_type", "host", "port", "login", "password", "schema", "description"}
_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}


@dataclass
class S3Server:
    """What a test needs to reach the server and look behind it."""

    endpoint_url: str
    bucket: str
    access_key: str
    secret_key: str
    process: subprocess.Popen[bytes] = field(repr=False)
    log_path: Path = field(repr=False)
    region: str = REGION

    @property
    def port(self) -> int:
        return int(self.endpoint_url.rsplit(":", 1)[1])

    def connection_json(self, conn_id: str | None = None, **overrides: Any) -> str:
        """JSON for ``AIRFLOW_CONN_<ID>``; overrides set fields or extras, None drops one."""
        conn: dict[str, Any] = {
            "conn_type": "aws",
            "login": self.access_key,
            "password": self.secret_key,
        }
        if conn_id:
            conn["description"] = f"DropStream test warehouse {conn_id}"
        extra: dict[str, Any] = {
            "endpoint_url": self.endpoint_url,
            "region_name": self.region,
            "bucket": self.bucket,
        }
        for key, value in overrides.items():
            target = conn if key in _TOP_LEVEL else extra
            if value is None:
                target.pop(key, None)
            else:
                target[key] = value
        conn["extra"] = extra
        return json.dumps(conn)

    def client(self, endpoint_url: str | None = None) -> Any:
        """A boto3 S3 client with the valid credentials, for seeding and inspecting."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=endpoint_url or self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
        )

    def put(self, key: str, data: bytes) -> None:
        self.client().put_object(Bucket=self.bucket, Key=key.lstrip("/"), Body=data)

    def get(self, key: str) -> bytes:
        body = self.client().get_object(Bucket=self.bucket, Key=key.lstrip("/"))["Body"]
        return body.read()

    def keys(self, prefix: str = "") -> list[str]:
        """Every key under ``prefix`` (folder markers included), sorted."""
        pages = (
            self.client()
            .get_paginator("list_objects_v2")
            .paginate(Bucket=self.bucket, Prefix=prefix)
        )
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))

    def reset_bucket(self) -> None:
        """Delete every object, then recreate the warehouse folder markers."""
        client = self.client()
        for key in self.keys():
            client.delete_object(Bucket=self.bucket, Key=key)
        for name in FOLDERS:
            client.put_object(Bucket=self.bucket, Key=f"{name}/", Body=b"")

    def request_log(self) -> list[str]:
        """The access-log lines of every request the server answered so far."""
        text = self.log_path.read_text(errors="replace")
        return [line for line in text.splitlines() if '"' in line and " HTTP/1.1" in line]


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + 120  # moto imports boto: slow on a loaded machine
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"moto.server exited with {proc.returncode}:\n{log_path.read_text()}"
            )
        try:
            with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"moto.server did not answer at {url}:\n{log_path.read_text()}")


def _set_up(endpoint_url: str) -> tuple[str, str]:
    """Create the IAM user, its key and the bucket; then make the server enforce auth."""
    import boto3

    anyone = {"aws_access_key_id": "setup", "aws_secret_access_key": "setup"}
    iam = boto3.client("iam", endpoint_url=endpoint_url, region_name=REGION, **anyone)
    iam.create_user(UserName="warehouse")
    iam.put_user_policy(
        UserName="warehouse", PolicyName="exchange", PolicyDocument=json.dumps(_POLICY)
    )
    key = iam.create_access_key(UserName="warehouse")["AccessKey"]
    s3 = boto3.client("s3", endpoint_url=endpoint_url, region_name=REGION, **anyone)
    s3.create_bucket(Bucket=BUCKET)
    request = urllib.request.Request(
        f"{endpoint_url}/moto-api/reset-auth", data=b"0", headers={"Content-Type": "text/plain"}
    )
    with urllib.request.urlopen(request, timeout=10):
        pass
    return key["AccessKeyId"], key["SecretAccessKey"]


@pytest.fixture(scope="session")
def s3_server_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """Start moto's S3 server once per session; see the module docstring."""
    log_path = tmp_path_factory.mktemp("moto") / "moto.log"
    proc: subprocess.Popen[bytes] | None = None
    for _attempt in range(3):  # the free port can be taken between probing and binding
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:
            _wait_ready(proc, url, log_path)
            break
        except RuntimeError:
            proc.kill()
            proc.wait()
            proc = None
    if proc is None:
        pytest.fail(f"could not start moto.server:\n{log_path.read_text()}")
    try:
        access_key, secret_key = _set_up(url)
        yield S3Server(url, BUCKET, access_key, secret_key, proc, log_path)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def s3_server(s3_server_session: S3Server) -> S3Server:
    """The session's S3 server with an emptied bucket holding ``in/``, ``out/``, ``archive/``."""
    s3_server_session.reset_bucket()
    return s3_server_session

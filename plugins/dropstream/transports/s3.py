"""S3 warehouse transport over the Airflow Amazon provider's ``S3Hook``.

The Airflow Connection (type ``aws``) holds the access key id as login and the secret key as
password; its extras give ``region_name``, ``endpoint_url`` (an S3-compatible store), the
provider's own ``config_kwargs``/``verify``, and ours: ``bucket`` (required) and optionally
``server_side_encryption`` (``AES256`` or ``aws:kms``, then with ``sse_kms_key_id``), applied to
every object written.

Folders are key prefixes (``/in`` is ``in/``); a folder exists when some key starts with its
prefix, e.g. the zero-byte ``in/`` marker the S3 console's "Create folder" writes. S3 has no
rename, but every PUT and COPY is atomic for readers, so ``publish`` is one PUT of the final
key, and ``stage``/``commit`` keep the contract's recovery signal: ``stage`` PUTs the hidden
staging key, ``commit`` COPYs it to the final key and only then deletes it (staged key present
=> not committed yet, or committed with the delete lost: ``commit`` recognises the copy it made).
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Callable
from datetime import UTC
from typing import TYPE_CHECKING, Any, TypeVar

from dropstream.errors import (
    AuthenticationError,
    ConfigurationError,
    DropStreamError,
    NotFoundError,
    RateLimitedError,
    TargetExistsError,
    TransientError,
)
from dropstream.transports._common import archive_targets, get_airflow_connection, newest_first
from dropstream.transports.base import (
    RemoteFile,
    Transport,
    is_candidate,
    join,
    safe_name,
    staging_name,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

T = TypeVar("T")

CONNECT_TIMEOUT = 15  # seconds
READ_TIMEOUT = 120  # seconds one request may wait for the server
MAX_ATTEMPTS = 3  # botocore "standard" retries: transient errors only, never a refused login
_STAGED_FROM = "dropstream-staged-etag"  # metadata on a committed object: the staged ETag
_SSE_MODES = ("AES256", "aws:kms")
_AUTH_CODES = {
    "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken",
    "ExpiredToken", "InvalidClientTokenId", "AllAccessDisabled", "403",
}  # fmt: skip
_MISSING_CODES = {"NoSuchKey", "NotFound", "404"}
_THROTTLE_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded"}


class S3Transport(Transport):
    """Files to and from a warehouse's S3 bucket (Airflow Connection type ``aws``)."""

    protocol = "s3"

    def __init__(self, conn_id: str) -> None:
        super().__init__(conn_id)
        self._client: S3Client | None = None
        self._bucket = ""
        self._sse: dict[str, str] = {}
        self._where = f"Airflow Connection '{conn_id}'"

    # -- Transport API ---------------------------------------------------------------------

    def test(self) -> None:
        self._run("list bucket", "", lambda c: c.list_objects_v2(Bucket=self._bucket, MaxKeys=1))

    def list_files(self, folder: str, pattern: str = "*") -> list[RemoteFile]:
        prefix = _prefix(folder)

        def listing(client: S3Client) -> list[RemoteFile]:
            pages = client.get_paginator("list_objects_v2").paginate(
                Bucket=self._bucket, Prefix=prefix, Delimiter="/"
            )
            found, folder_seen = [], not prefix
            for page in pages:
                folder_seen = folder_seen or bool(
                    page.get("Contents") or page.get("CommonPrefixes")
                )
                for obj in page.get("Contents", []):
                    name = obj["Key"][len(prefix) :]  # Delimiter: direct children only
                    if name and is_candidate(name, pattern):
                        modified = obj["LastModified"].astimezone(UTC)
                        found.append(RemoteFile(join(folder, name), name, obj["Size"], modified))
            if not folder_seen:
                raise self._missing_folder(folder)
            return newest_first(found)

        return self._run("list folder", folder, listing)

    def read(self, path: str) -> bytes:
        key = _key(path)
        get = lambda c: c.get_object(Bucket=self._bucket, Key=key)["Body"].read()  # noqa: E731
        return self._run("read file", path, get)

    def exists(self, path: str) -> bool:
        return self._run("look for file", path, lambda c: self._head(c, _key(path)) is not None)

    def stage(self, folder: str, name: str, data: bytes) -> str:
        safe_name(name, where=f"for folder {folder!r} on {self._where}")
        path = join(folder, staging_name(name))
        self._run("upload to folder", folder, lambda c: self._put(c, folder, path, data))
        return path

    def commit(self, folder: str, name: str) -> str:
        safe_name(name, where=f"for folder {folder!r} on {self._where}")
        staged, final = join(folder, staging_name(name)), join(folder, name)

        def copy(client: S3Client) -> str:
            staged_head = self._head(client, _key(staged))
            final_head = self._head(client, _key(final))
            if staged_head is None:
                if final_head is not None:
                    return final  # an earlier commit copied it and removed the staged key
                raise NotFoundError(
                    f"nothing staged to commit: {staged} is missing and {final} does not exist "
                    f"in {self._where}; stage the file again"
                )
            etag = staged_head["ETag"]
            if final_head is not None:
                if final_head.get("Metadata", {}).get(_STAGED_FROM) != etag:
                    raise TargetExistsError(
                        f"{final} already exists in {self._where}; the staged upload was left "
                        f"at {staged}: the next attempt compares them"
                    )
            else:
                client.copy_object(
                    Bucket=self._bucket,
                    Key=_key(final),
                    CopySource={"Bucket": self._bucket, "Key": _key(staged)},
                    CopySourceIfMatch=etag,
                    MetadataDirective="REPLACE",
                    Metadata={**staged_head.get("Metadata", {}), _STAGED_FROM: etag},
                    ContentType=staged_head.get("ContentType", "binary/octet-stream"),
                    **self._sse,
                )
            client.delete_object(Bucket=self._bucket, Key=_key(staged))  # only after the copy
            return final

        return self._run("publish file", final, copy)

    def publish(self, folder: str, name: str, data: bytes) -> str:
        """One complete PUT of the final key: it appears only once the whole body arrived."""
        safe_name(name, where=f"for folder {folder!r} on {self._where}")
        final = join(folder, name)

        def put(client: S3Client) -> str:
            head = self._head(client, _key(final))
            if head is None:
                self._put(client, folder, final, data)
            elif head["ETag"].strip('"') != hashlib.md5(data, usedforsecurity=False).hexdigest():
                raise ConfigurationError(
                    f"{final} already exists in {self._where}; file names must be unique"
                )
            # else: an earlier attempt landed this very content and only its answer was lost.
            # A leftover of an earlier stage() must not say "not committed" any more.
            client.delete_object(Bucket=self._bucket, Key=_key(join(folder, staging_name(name))))
            return final

        return self._run("publish file", final, put)

    def discard_staged(self, folder: str, name: str) -> bool:
        safe_name(name, where=f"for folder {folder!r} on {self._where}")
        key = _key(join(folder, staging_name(name)))

        def remove(client: S3Client) -> bool:
            if self._head(client, key) is None:
                return False
            self._keep_folder(client, folder, key)
            client.delete_object(Bucket=self._bucket, Key=key)
            return True

        return self._run("remove staged upload", folder, remove)

    def archive(self, path: str, folder: str) -> str:
        name = safe_name(posixpath.basename(path), where=f"to archive on {self._where}")
        source = _key(path)

        def move(client: S3Client) -> str:
            if self._head(client, source) is None:
                raise NotFoundError(f"cannot archive {path}: no such file in {self._where}")
            targets = (t for t in archive_targets(folder, name) if not self._head(client, _key(t)))
            target = next(targets, None)
            if target is None:
                raise ConfigurationError(f"{folder} in {self._where} holds {name} too often")
            client.copy_object(
                Bucket=self._bucket,
                Key=_key(target),
                CopySource={"Bucket": self._bucket, "Key": source},
                **self._sse,
            )
            self._keep_folder(client, posixpath.dirname(path), source)
            client.delete_object(Bucket=self._bucket, Key=source)
            return target

        return self._run("archive into folder", folder, move)

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    # -- S3 helpers ------------------------------------------------------------------------

    def _put(self, client: S3Client, folder: str, path: str, data: bytes) -> None:
        if not self._has_keys(client, _prefix(folder)):
            raise self._missing_folder(folder)  # a PUT would silently create the folder
        client.put_object(Bucket=self._bucket, Key=_key(path), Body=data, **self._sse)

    def _has_keys(self, client: S3Client, prefix: str) -> bool:
        """Whether the folder ``prefix`` exists: the bucket's top level always does."""
        if not prefix:
            return True
        listed = client.list_objects_v2(Bucket=self._bucket, Prefix=prefix, MaxKeys=1)
        return bool(listed.get("KeyCount"))

    def _head(self, client: S3Client, key: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            return dict(client.head_object(Bucket=self._bucket, Key=key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING_CODES:
                return None
            raise

    def _keep_folder(self, client: S3Client, folder: str, leaving: str) -> None:
        """Write a folder marker when moving ``leaving`` out would make its folder vanish."""
        prefix = _prefix(folder)
        listed = client.list_objects_v2(Bucket=self._bucket, Prefix=prefix, MaxKeys=2)
        if prefix and [o["Key"] for o in listed.get("Contents", [])] == [leaving]:
            client.put_object(Bucket=self._bucket, Key=prefix, Body=b"", **self._sse)

    def _missing_folder(self, folder: str) -> NotFoundError:
        return NotFoundError(
            f"folder {folder} does not exist in {self._where}: no key starts with "
            f"'{_prefix(folder)}'; check the connection's warehouse paths, or create the "
            "folder (a zero-byte key ending in '/', as the S3 console's Create folder does)"
        )

    # -- connection and error handling ---------------------------------------------------

    def _run(self, action: str, path: str, operation: Callable[[S3Client], T]) -> T:
        client = self._connect()
        try:
            return operation(client)
        except DropStreamError:
            raise
        except Exception as exc:
            raise self._translate(exc, action, path) from exc

    def _connect(self) -> S3Client:
        if self._client is not None:
            return self._client
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook
        from botocore.config import Config

        # Looked up first: a missing connection makes the hook fall back to boto's defaults.
        extra = get_airflow_connection(self.conn_id, "aws").extra_dejson
        hook = S3Hook(aws_conn_id=self.conn_id)
        self._bucket = self._read_extras(extra)
        endpoint = extra.get("endpoint_url") or "AWS S3"
        self._where = f"bucket '{self._bucket}' at {endpoint} (Airflow Connection '{self.conn_id}')"
        ours = Config(
            retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
            connect_timeout=CONNECT_TIMEOUT,
            read_timeout=READ_TIMEOUT,
        )
        try:
            # The connection's own config_kwargs extra, when given, wins over our defaults.
            self._client = hook.get_client_type(
                region_name=hook.region_name, config=ours.merge(hook.config)
            )
        except Exception as exc:
            raise self._translate(exc, "open", "") from exc
        return self._client

    def _read_extras(self, extra: dict[str, Any]) -> str:
        bucket = str(extra.get("bucket") or "").strip()
        if not bucket:
            raise ConfigurationError(
                f"Airflow Connection '{self.conn_id}' names no bucket: set the 'bucket' extra"
            )
        mode, kms_key = extra.get("server_side_encryption"), extra.get("sse_kms_key_id")
        if mode and mode not in _SSE_MODES:
            raise ConfigurationError(
                f"Airflow Connection '{self.conn_id}': server_side_encryption {mode!r} is not "
                f"one of {', '.join(_SSE_MODES)}"
            )
        if kms_key and mode != "aws:kms":
            raise ConfigurationError(
                f"Airflow Connection '{self.conn_id}': sse_kms_key_id needs "
                "server_side_encryption 'aws:kms'"
            )
        self._sse = {"ServerSideEncryption": mode} if mode else {}
        if kms_key:
            self._sse["SSEKMSKeyId"] = str(kms_key)
        return bucket

    def _translate(self, exc: BaseException, action: str, path: str) -> DropStreamError:
        from botocore import exceptions as boto

        where = self._where
        what = f"cannot {action} {path} in {where}" if path else f"cannot {action} {where}"
        if isinstance(exc, boto.ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            detail = f"{code}: {error.get('Message', '')}".rstrip(": ")
            if code in _AUTH_CODES or status == 403:
                return AuthenticationError(
                    f"{what}: S3 refused the request ({detail}); check the access key id "
                    f"(login) and secret key (password) of Airflow Connection '{self.conn_id}' "
                    f"and that they may use bucket '{self._bucket}'"
                )
            if code == "NoSuchBucket" or (not path and status == 404):
                return NotFoundError(
                    f"{what}: bucket '{self._bucket}' does not exist; fix the 'bucket' extra of "
                    f"Airflow Connection '{self.conn_id}'"
                )
            if code in _MISSING_CODES or status == 404:
                return NotFoundError(f"{what}: no such key '{_key(path)}'")
            if code in _THROTTLE_CODES or status in (429, 503):
                return RateLimitedError(f"{what}: S3 is throttling ({detail}); retry later")
            if status >= 500 or code in {"RequestTimeout", "InternalError"}:
                return TransientError(f"{what}: the server failed ({detail}); retry later")
            return ConfigurationError(f"{what}: {detail or exc}")
        if isinstance(exc, boto.NoCredentialsError | boto.PartialCredentialsError):
            return ConfigurationError(
                f"{what}: no credentials; set login and password of Airflow Connection "
                f"'{self.conn_id}'"
            )
        if isinstance(exc, boto.SSLError) and "CERTIFICATE_VERIFY_FAILED" in str(exc):
            return ConfigurationError(
                f"{what}: the endpoint's TLS certificate is not trusted ({exc}); give a CA "
                "bundle path in the connection's 'verify' extra"
            )
        if isinstance(exc, boto.HTTPClientError | boto.ConnectionError | OSError):
            return TransientError(f"{what}: server unreachable or link lost ({exc}); retry later")
        return ConfigurationError(f"{what}: {exc!r}")


def _clean(path: str) -> str:
    parts = [p for p in path.split("/") if p not in {"", "."}]
    if ".." in parts:
        raise ConfigurationError(f"unsafe S3 path {path!r}: '..' is not allowed")
    return "/".join(parts)


def _prefix(folder: str) -> str:
    """Key prefix of a folder: ``/in`` -> ``in/``; the bucket's top level -> ``""``."""
    cleaned = _clean(folder)
    return f"{cleaned}/" if cleaned else ""


def _key(path: str) -> str:
    """Object key of a path: ``/in/ord_1.csv`` -> ``in/ord_1.csv``."""
    return _clean(path)

"""Airflow Connection bodies (REST API shape) for a connection's warehouse and store."""

from __future__ import annotations

import json
from typing import Any

from dropstream.setup.validate import Plan

_CONN_TYPES = {"sftp": "sftp", "ftp": "ftp", "ftps": "ftp", "s3": "aws"}


def existing_body(conn_id: str) -> dict[str, Any] | None:
    """The current Connection ``conn_id`` with its secrets (Task SDK), or None."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None
    extra = conn.extra_dejson if conn.extra else {}
    return {
        "connection_id": conn_id,
        "conn_type": conn.conn_type,
        "host": conn.host,
        "port": conn.port,
        "login": conn.login,
        "password": conn.password,
        "schema": conn.schema,
        "description": conn.description,
        "extra": dict(extra),
    }


def warehouse_body(
    plan: Plan, secrets: dict[str, str], base: dict[str, Any] | None, host_key: str | None = None
) -> dict[str, Any]:
    """The warehouse Connection: ``base`` (update) with what the form gave laid over it."""
    given = plan.warehouse
    protocol = given.get("protocol") or "sftp"
    body = dict(base or {"conn_type": _CONN_TYPES[protocol], "extra": {}})
    body["connection_id"] = plan.warehouse_conn_id
    body["description"] = f"DropStream warehouse of connection {plan.name} (dropstream_setup)"
    extra = dict(body.get("extra") or {})
    for key in ("host", "login", "port"):
        if key in given:
            body[key] = given[key]
    if "warehouse_password" in secrets:
        body["password"] = secrets["warehouse_password"]
    if protocol == "sftp":
        if "warehouse_private_key" in secrets:
            extra["private_key"] = secrets["warehouse_private_key"]
        if "warehouse_private_key_passphrase" in secrets:
            extra["private_key_passphrase"] = secrets["warehouse_private_key_passphrase"]
        if "host_key" in given:
            extra["host_key"] = given["host_key"]
        if host_key:
            extra["host_key"] = host_key
        extra["look_for_keys"] = "false"  # only the key given here, never the worker's ~/.ssh
    elif protocol == "s3" and "region" in given:
        extra["region_name"] = given["region"]
    body["extra"] = extra
    return body


def store_body(plan: Plan, secrets: dict[str, str], base: dict[str, Any] | None) -> dict[str, Any]:
    """The store Connection (type http): host = store URL, password = API token."""
    given = plan.store
    body = dict(base or {"conn_type": "http", "extra": {}})
    body["connection_id"] = plan.store_conn_id
    body["description"] = f"DropStream store of connection {plan.name} (dropstream_setup)"
    extra = dict(body.get("extra") or {})
    if "url" in given:
        body["host"] = given["url"]
    if "login" in given:
        body["login"] = given["login"]
    if "store_access_token" in secrets:
        body["password"] = secrets["store_access_token"]
    for key in ("api_version", "location_id"):
        if key in given:
            extra[key] = given[key]
    body["extra"] = extra
    return body


def api_body(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` as ``POST /api/v2/connections`` takes it (extra as a JSON string)."""
    fields = (
        "connection_id",
        "conn_type",
        "host",
        "port",
        "login",
        "password",
        "schema",
        "description",
    )
    out = {k: body.get(k) for k in fields if body.get(k) not in (None, "")}
    out["extra"] = json.dumps(body.get("extra") or {})
    return out

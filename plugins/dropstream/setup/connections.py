"""Airflow Connection bodies (REST API shape) for a connection's warehouse and store, built
from the per-platform / per-protocol tables in ``dropstream.setup.targets``."""

from __future__ import annotations

import json
from typing import Any

from dropstream.setup.targets import STORES, WAREHOUSES, Target
from dropstream.setup.validate import Plan


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


def build_body(
    target: Target,
    conn_id: str,
    description: str,
    side: dict[str, Any],
    secrets: dict[str, str],
    base: dict[str, Any] | None,
) -> dict[str, Any]:
    """The Connection of ``target`` from its table: ``base`` (update) with what was given laid
    over it. A fresh side (add, or a changed protocol/platform) ignores ``base``."""
    if side.get("fresh") or (base and base.get("conn_type") != target.conn_type):
        base = None
    body = dict(base or {"conn_type": target.conn_type, "extra": {}})
    body["connection_id"] = conn_id
    body["description"] = description
    extra = dict(body.get("extra") or {})
    given = side.get("fields") or {}
    for form_field, where in target.field_mapping.items():
        if form_field in target.secret_fields:
            if not secrets.get(form_field):
                continue
            value: Any = secrets[form_field]
        elif form_field in given:
            value = given[form_field]
        else:
            continue
        if where.startswith("extra."):
            extra[where.removeprefix("extra.")] = value
        else:
            body[where] = value
    extra.update(side.get("options") or {})
    extra.update(target.fixed_extra)
    body["extra"] = extra
    return body


def warehouse_body(
    plan: Plan, secrets: dict[str, str], base: dict[str, Any] | None, host_key: str | None = None
) -> dict[str, Any]:
    """The warehouse Connection (type per ``targets.WAREHOUSES``)."""
    target = WAREHOUSES[plan.warehouse.get("target") or "sftp"]
    body = build_body(
        target,
        plan.warehouse_conn_id,
        f"DropStream warehouse of connection {plan.name} (dropstream_setup)",
        plan.warehouse,
        secrets,
        base,
    )
    if host_key:  # the key test_warehouse decided to pin
        body["extra"]["host_key"] = host_key
    return body


def store_body(plan: Plan, secrets: dict[str, str], base: dict[str, Any] | None) -> dict[str, Any]:
    """The store Connection (type http; fields per ``targets.STORES``)."""
    target = STORES[plan.store["target"]]
    return build_body(
        target,
        plan.store_conn_id,
        f"DropStream store of connection {plan.name} (dropstream_setup)",
        plan.store,
        secrets,
        base,
    )


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

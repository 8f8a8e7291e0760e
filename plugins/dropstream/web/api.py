"""The DropStream JSON API, mounted at ``/dropstream/api`` (documented in docs/operations.md).

Every route needs Airflow's own authentication (bearer token or the UI's session cookie): none
is answered 401. A connection is shown only to a user who may read all three of its DAGs, as
the auth manager decides; to anyone else it does not exist (404, never 403, so names do not
leak). Lists are paginated with ``limit`` (1-500, default 50) and ``offset``, and say ``total``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, status

from dropstream.actions import DAG_ID as ACTIONS_DAG_ID
from dropstream.errors import RegistryReadError
from dropstream.ledger import Ledger
from dropstream.ledger.snapshots import SNAPSHOT_STATES
from dropstream.reviews import DAG_ID as REVIEW_DAG_ID
from dropstream.reviews import RUN_PREFIX as REVIEW_RUN_PREFIX
from dropstream.spec import ConnectionSpec
from dropstream.web import airflow_state
from dropstream.web.summary import counts, describe, enablement, search_numbers


def _user() -> Any:
    from airflow.api_fastapi.core_api.security import get_user

    return get_user


User = Annotated[Any, Depends(_user())]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0)]

router = APIRouter()


@contextmanager
def _ledger() -> Iterator[Ledger]:
    ledger = Ledger()
    try:
        yield ledger
    finally:
        ledger.close()


def _visible(user: Any) -> list[ConnectionSpec]:
    """The registry's valid connections whose three DAGs this user may read, by name."""
    try:
        specs = airflow_state.registry().specs
    except RegistryReadError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
    wanted = {spec.dag_id(flow) for spec in specs.values() for flow in airflow_state.FLOWS}
    readable = airflow_state.readable_dag_ids(user, wanted)
    return [
        spec
        for _, spec in sorted(specs.items())
        if all(spec.dag_id(flow) in readable for flow in airflow_state.FLOWS)
    ]


def connection_spec(user: Any, name: str) -> ConnectionSpec:
    """The connection ``name`` if this user may see it; 404 otherwise (it may not exist)."""
    for spec in _visible(user):
        if spec.name == name:
            return spec
    raise HTTPException(
        status.HTTP_404_NOT_FOUND,
        f"no connection {name!r} that you may see: check the name on the Connections page, or "
        "ask an admin for read access to its DAGs (dropstream__<name>__orders/inventory/tracking)",
    )


def _connection(spec: ConnectionSpec, ledger: Ledger, dags: dict[str, Any]) -> dict[str, Any]:
    facts = describe(spec)
    flows = airflow_state.flows_of(facts["dag_ids"], dags)
    shipments = ledger.shipment_counts(spec.name)
    # A folder shared by several connections keeps its unknown packages under the folder's key
    # (dropstream.sharing): those are not counted here.
    unknown = shipments.get("unknown_order", 0)
    return {
        **facts,
        "state": enablement({flow: flows[flow]["paused"] for flow in flows}),
        "flows": flows,
        "counts": counts(
            ledger.order_counts(spec.name),
            shipments,
            unknown,
            changed_after_send=ledger.changed_after_send_count(spec.name),
            suspect=len(ledger.suspect_snapshots(spec.name)),
        ),
    }


@router.get("/connections")
def list_connections(
    user: User, merchant: str | None = None, limit: Limit = 50, offset: Offset = 0
) -> dict[str, Any]:
    """Connections you may see, by merchant then name; ``merchant`` filters to one."""
    specs = _visible(user)
    merchants = sorted({s.merchant for s in specs})
    if merchant:
        specs = [s for s in specs if s.merchant == merchant]
    specs.sort(key=lambda s: (s.merchant, s.name))
    page = specs[offset : offset + limit]
    dags = airflow_state.dag_states(s.dag_id(f) for s in page for f in airflow_state.FLOWS)
    with _ledger() as ledger:
        items = [_connection(spec, ledger, dags) for spec in page]
    return {
        "connections": items,
        "merchants": merchants,
        "total": len(specs),
        "limit": limit,
        "offset": offset,
    }


@router.get("/connections/{name}")
def get_connection(user: User, name: str) -> dict[str, Any]:
    spec = connection_spec(user, name)
    dags = airflow_state.dag_states(spec.dag_id(f) for f in airflow_state.FLOWS)
    with _ledger() as ledger:
        return _connection(spec, ledger, dags)


@router.get("/connections/{name}/orders")
def list_orders(
    user: User,
    name: str,
    q: str | None = None,
    state: str | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Orders newest first; ``q`` is an order number, with or without ``#`` or the prefix."""
    spec = connection_spec(user, name)
    numbers = search_numbers(q or "", spec.rules.order_number_prefix)
    with _ledger() as ledger:
        rows, total = ledger.find_orders(
            spec.name, numbers=numbers, state=state, limit=limit, offset=offset
        )
    return {"orders": rows, "total": total, "limit": limit, "offset": offset, "searched": numbers}


@router.get("/connections/{name}/orders/{order_id:path}")
def get_order(user: User, name: str, order_id: str) -> dict[str, Any]:
    """One order (by the store's order id, or its number) with its timeline, oldest first.

    Each step names the Airflow run that did it and links to it in the UI.
    """
    spec = connection_spec(user, name)
    with _ledger() as ledger:
        row = ledger.order_row(spec.name, order_id)
        if row is None:
            found, _ = ledger.find_orders(
                spec.name, numbers=search_numbers(order_id, spec.rules.order_number_prefix), limit=2
            )
            if len(found) == 1:
                row = found[0]
        if row is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND,
                f"connection {name!r} has no order {order_id!r} in its ledger: search by number "
                f"on /dropstream/api/connections/{name}/orders?q=…; an order the store has but "
                "the ledger does not was not fetched yet (see the orders DAG's last run)",
            )
        events = ledger.order_timeline(spec.name, row["order_id"])
    return {**row, "timeline": [_with_run_link(spec, e.as_dict()) for e in events]}


# Always an operator's action; a cancel is one when a person (actor) asked, else the orders run.
_ACTION_EVENTS = {"released", "resent", "enabled", "disabled", "repush_requested"}
_SHIPMENT_EVENTS = {"shipment_received", "unknown_shipment", "shipped", "shipment_rejected"}


def _with_run_link(spec: ConnectionSpec, event: dict[str, Any]) -> dict[str, Any]:
    run_id = event["run_id"]
    if not run_id:
        return {**event, "dag_id": None, "run_url": None}
    if run_id.startswith(REVIEW_RUN_PREFIX):  # answered in a review (Required Actions)
        dag_id = REVIEW_DAG_ID
    elif event["event"] in _ACTION_EVENTS or event["actor"]:  # a person's action
        dag_id = ACTIONS_DAG_ID
    else:
        dag_id = spec.dag_id("tracking" if event["event"] in _SHIPMENT_EVENTS else "orders")
    return {**event, "dag_id": dag_id, "run_url": f"/dags/{dag_id}/runs/{quote(run_id, safe='')}"}


@router.get("/connections/{name}/files")
def list_files(user: User, name: str, limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    """Order files published (or on their way), warehouse files read, archived or errored, and
    the inventory snapshots the zero-out guard kept back (newest first) with their decisions."""
    spec = connection_spec(user, name)
    keys = [spec.name]
    with _ledger() as ledger:
        sent, sent_total = ledger.order_files(spec.name, limit=limit, offset=offset)
        read, read_total = ledger.warehouse_files(keys, limit=limit, offset=offset)
        totals = ledger.file_counts(spec.name, keys)
        kept = kept_snapshots(ledger, spec.name)
    return {
        "order_files": {"items": sent, "total": sent_total},
        "warehouse_files": {"items": read, "total": read_total},
        "snapshots": kept,
        "counts": totals,
        "limit": limit,
        "offset": offset,
    }


_SNAPSHOT_KEYS = ("source_file", "state", "reason", "as_of", "kept_at", "kept_run", "decided_at",
                  "decided_by", "decision_note", "applied_at")  # fmt: skip


def kept_snapshots(ledger: Ledger, connection: str) -> list[dict[str, Any]]:
    """Inventory snapshots the zero-out guard kept back, newest first, in every state (waiting,
    approved, applied, rejected, superseded) with who decided and why; times as ISO text."""
    rows = reversed(ledger.suspect_snapshots(connection, *SNAPSHOT_STATES))
    return [
        {k: r[k].isoformat() if hasattr(r[k], "isoformat") else r[k] for k in _SNAPSHOT_KEYS}
        for r in rows
    ]


def get_order_file(user: Any, name: str, file_name: str) -> dict[str, Any]:
    """One order or cancel file of the connection (no content); 404 unless this user may see
    the connection and it recorded the file."""
    spec = connection_spec(user, name)
    with _ledger() as ledger:
        row = ledger.order_file(spec.name, file_name)
    if row is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"connection {name!r} sent no file {file_name!r}: see its Files page for the names",
        )
    return row

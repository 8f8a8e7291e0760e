"""What the DropStream view says about a connection: pure functions over what was read.

No Airflow and no database here: ``web/airflow_state.py`` reads the DAGs' pause flags and last
runs, the ledger the counts; these functions turn them into what a person reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dropstream.spec import ConnectionSpec

FLOWS = ("orders", "inventory", "tracking")
ENABLED, PARTLY, DISABLED, NOT_DEPLOYED = "Enabled", "Partly enabled", "Disabled", "Not deployed"


def enablement(paused: Mapping[str, bool | None]) -> str:
    """*Enabled* when all three DAGs run, *Disabled* when none does, else *Partly enabled*.

    ``None`` means the DAG is not in Airflow yet (not parsed): *Not deployed* when no DAG is.
    """
    known = [p for p in (paused.get(flow) for flow in FLOWS) if p is not None]
    if not known:
        return NOT_DEPLOYED
    if len(known) == len(FLOWS) and not any(known):
        return ENABLED
    if all(known):
        return DISABLED
    return PARTLY


def search_numbers(query: str, prefix: str) -> list[str]:
    """The order numbers a search may mean: as typed, without ``#``, with and without the
    connection's ``rules.order_number_prefix`` (the warehouse's and the store's number)."""
    typed = query.strip()
    bare = typed.lstrip("#").strip()
    if not bare:
        return []
    found = [typed, bare]
    if prefix and bare.startswith(prefix):
        found.append(bare[len(prefix) :])
    elif prefix:
        found.append(prefix + bare)
    return sorted({n for n in found if n})


def describe(spec: ConnectionSpec) -> dict[str, Any]:
    """The registry's facts about a connection (no secrets: the spec holds none)."""
    return {
        "name": spec.name,
        "merchant": spec.merchant,
        "store": {"name": spec.store.name, "platform": spec.store.platform},
        "warehouse": {
            "name": spec.warehouse.name,
            "protocol": spec.warehouse.protocol,
            "format": spec.warehouse.format.name,
        },
        "order_number_prefix": spec.rules.order_number_prefix,
        "dag_ids": {flow: spec.dag_id(flow) for flow in FLOWS},
    }


def counts(
    orders: Mapping[str, int],
    shipments: Mapping[str, int],
    unknown: int,
    changed_after_send: int = 0,
    suspect: int = 0,
) -> dict[str, int]:
    """The dashboard's counts; ``suspect``: inventory snapshots waiting for a person."""
    return {
        "held": orders.get("held", 0),
        "ready": orders.get("ready", 0),
        "in_file": orders.get("in_file", 0),
        "published": orders.get("published", 0),
        "shipped": orders.get("shipped", 0),
        "cancelled": orders.get("cancelled", 0),
        "cancelling": orders.get("cancelling", 0),
        "cancel_sent": orders.get("cancel_sent", 0),
        "changed_after_send": changed_after_send,
        "skipped": orders.get("skipped", 0),
        "unknown_shipments": unknown,
        "shipments_refused": shipments.get("rejected", 0),
        "suspect_snapshots": suspect,
    }

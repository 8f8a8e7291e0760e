"""The ``dropstream_actions`` DAG's form and its one task (the logic is ``dropstream.actions``)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from dropstream import actions
from dropstream.errors import ConfigurationError

log = logging.getLogger("dropstream.actions")


def action_params(connections: list[str]) -> dict[str, Any]:
    """The trigger form: action, connection, target, reason."""
    from airflow.sdk import Param

    # A choice list once connections exist; a free field on a new install (none to choose).
    choices: dict[str, Any] = {"enum": [None, *connections]} if connections else {}
    return {
        "action": Param(
            "release",
            type="string",
            enum=list(actions.ACTIONS),
            values_display=actions.ACTIONS,
            title="Action",
        ),
        "connection": Param(
            connections[0] if connections else None,
            type=["null", "string"],
            **choices,
            title="Connection",
            description="The DropStream connection (see DropStream → Connections).",
        ),
        "target": Param(
            None,
            type=["null", "string"],
            title="Order, file or shipment",
            description_md="For release, cancel and resend: the order number as the store shows "
            "it (`1042` or `#1042`), as the warehouse sees it (with the prefix), or its id. "
            "For resend_file: the order file's name (DropStream → Files). For repush: "
            "`<order number>|<tracking number>`, or the order (all its shipments). "
            "For a suspect snapshot: its file name (empty when only one waits). "
            "Leave empty to enable or disable the connection.",
        ),
        "reason": Param(
            None,
            type=["null", "string"],
            title="Why",
            description="Recorded in the order's timeline with your name.",
        ),
    }


def perform_action(**context: Any) -> str:
    """Do the asked action once; return (and log) what happened."""
    request = actions.parse_request(dict(context["params"]))
    dag_run = context["dag_run"]
    actor = getattr(dag_run, "triggering_user_name", None) or "unknown user"
    run = str(context.get("run_id") or dag_run.run_id)
    return run_action(request, actor=actor, run=run).message


def run_action(
    request: actions.ActionRequest, *, actor: str, run: str, now: datetime | None = None
) -> actions.Outcome:
    """Do one action as ``actor`` (who is recorded), from the ``dropstream_actions`` form or a
    review's answer (``dropstream.review_tasks``): one code path for both."""
    from dropstream.formats import get_format
    from dropstream.ledger import Ledger
    from dropstream.registry import load_registry
    from dropstream.setup.api import AirflowAPI
    from dropstream.transports import get_transport

    spec = load_registry(only=request.connection).specs.get(request.connection)
    if spec is None:
        raise ConfigurationError(
            f"{actions.DAG_ID}: no valid connection {request.connection!r} in the registry "
            "(see DropStream → Connections for the names)"
        )
    now = now or datetime.now(UTC)
    ledger = Ledger()
    try:
        if request.action in actions.SNAPSHOT_ACTIONS:
            outcome = actions.decide_snapshot(
                ledger,
                spec,
                request.target,
                request.action == "approve_snapshot",
                reason=request.reason,
                actor=actor,
                now=now,
                run=run,
            )
        elif request.action in ("enable", "disable"):
            outcome = actions.set_enabled(
                ledger,
                AirflowAPI.from_connection(),
                spec,
                request.action == "enable",
                reason=request.reason,
                actor=actor,
                now=now,
                run=run,
            )
        else:
            assert request.target is not None  # the request's validator checked it
            order_id = (
                actions.find_order(ledger, spec, request.target)
                if request.action in actions.ORDER_ACTIONS
                else ""
            )
            fmt = spec.warehouse.format
            file_format = get_format(fmt.name, fmt.options).for_run(
                now=now,
                next_control_number=lambda n: ledger.next_counter(spec.name, f"{fmt.name}_{n}"),
            )
            if request.action == "release":
                outcome = actions.release(
                    ledger,
                    spec,
                    file_format,
                    order_id,
                    reason=request.reason,
                    actor=actor,
                    now=now,
                    run=run,
                )
            elif request.action == "resend_file":
                outcome = actions.resend_file(
                    ledger,
                    spec,
                    file_format,
                    lambda: get_transport(spec.warehouse.protocol, spec.warehouse.conn_id),
                    request.target,
                    reason=request.reason,
                    actor=actor,
                    now=now,
                    run=run,
                )
            elif request.action == "repush":
                outcome = actions.repush(
                    ledger,
                    spec,
                    request.target,
                    reason=request.reason,
                    actor=actor,
                    now=now,
                    run=run,
                )
            elif request.action == "resend":
                outcome = actions.resend(
                    ledger,
                    spec,
                    file_format,
                    lambda: get_transport(spec.warehouse.protocol, spec.warehouse.conn_id),
                    order_id,
                    reason=request.reason,
                    actor=actor,
                    now=now,
                    run=run,
                )
            else:
                outcome = actions.cancel(
                    ledger,
                    spec,
                    file_format,
                    lambda: get_transport(spec.warehouse.protocol, spec.warehouse.conn_id),
                    order_id,
                    reason=request.reason,
                    actor=actor,
                    now=now,
                    run=run,
                )
    finally:
        ledger.close()
    log.info("%s %s by %s: %s", request.action, request.connection, actor, outcome.message)
    return outcome

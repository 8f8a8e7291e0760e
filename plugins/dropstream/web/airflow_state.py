"""What the api-server knows that the ledger does not: the registry, who may read which DAGs,
the DAGs' pause flags and their last runs. Runs inside the api-server (it has the metadata DB).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dropstream.errors import RegistryReadError
from dropstream.registry import VARIABLE_KEY, Registry, parse_registry
from dropstream.web.summary import FLOWS


def registry() -> Registry:
    """The registry as the api-server reads Variables (environment, then the metadata DB).

    Fails closed like the generator: an unreadable or malformed Variable raises
    RegistryReadError, never an empty list of connections.
    """
    from airflow.models.variable import Variable

    try:
        raw = Variable.get(VARIABLE_KEY, default_var=None)
    except Exception as exc:  # a backend failure is an answer, not "no connections"
        raise RegistryReadError(
            f"could not read Variable '{VARIABLE_KEY}' ({type(exc).__name__}: {exc})"
        ) from exc
    return parse_registry(raw)


def readable_dag_ids(user: Any, wanted: Iterable[str]) -> set[str]:
    """Which of ``wanted`` the user may read, as Airflow's auth manager decides.

    DAGs Airflow knows go through ``get_authorized_dag_ids`` (team-aware); DAG ids not parsed
    yet (a connection just added) are asked one by one with ``filter_authorized_dag_ids``.
    """
    from airflow.api_fastapi.app import get_auth_manager

    wanted = set(wanted)
    manager = get_auth_manager()
    known = _known_dag_ids(wanted)
    allowed = manager.get_authorized_dag_ids(user=user, method="GET") & known
    if wanted - known:
        allowed |= manager.filter_authorized_dag_ids(
            dag_ids=wanted - known, user=user, method="GET"
        )
    return allowed


def _known_dag_ids(dag_ids: set[str]) -> set[str]:
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return set(session.scalars(select(DagModel.dag_id).where(DagModel.dag_id.in_(dag_ids))))


def dag_states(dag_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``{dag_id: {"paused": bool, "last_run": {...} | None}}`` for the DAGs Airflow knows."""
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    ids = sorted(set(dag_ids))
    if not ids:
        return {}
    with create_session() as session:
        paused = dict(
            session.execute(
                select(DagModel.dag_id, DagModel.is_paused).where(DagModel.dag_id.in_(ids))
            ).all()
        )
        newest = (
            select(
                DagRun.dag_id,
                DagRun.run_id,
                DagRun.state,
                DagRun.run_type,
                DagRun.run_after,
                DagRun.start_date,
                DagRun.end_date,
                func.row_number()
                .over(
                    partition_by=DagRun.dag_id, order_by=(DagRun.run_after.desc(), DagRun.id.desc())
                )
                .label("rank"),
            )
            .where(DagRun.dag_id.in_(ids))
            .subquery()
        )
        runs = session.execute(select(newest).where(newest.c.rank == 1)).mappings().all()
    last = {
        r["dag_id"]: {
            "run_id": r["run_id"],
            "state": str(r["state"]) if r["state"] is not None else None,
            "run_type": str(r["run_type"]),
            "run_after": _iso(r["run_after"]),
            "start_date": _iso(r["start_date"]),
            "end_date": _iso(r["end_date"]),
        }
        for r in runs
    }
    return {
        dag_id: {"paused": bool(is_paused), "last_run": last.get(dag_id)}
        for dag_id, is_paused in paused.items()
    }


def flows_of(dag_ids: dict[str, str], states: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per flow: its DAG id, pause flag (None: not in Airflow yet) and last run."""
    out = {}
    for flow in FLOWS:
        dag_id = dag_ids[flow]
        state = states.get(dag_id)
        out[flow] = {
            "dag_id": dag_id,
            "paused": None if state is None else state["paused"],
            "last_run": None if state is None else state["last_run"],
        }
    return out


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None

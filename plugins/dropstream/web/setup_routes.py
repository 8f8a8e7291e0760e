"""The setup DAG's one privileged helper: blank the secrets in a setup run's conf.

Airflow 3.3 stores a run's ``conf`` in plain text and its public API cannot change it
(``DAGRunPatchBody`` takes only ``state`` and ``note``). The setup DAG's first task moves the
secrets typed in the form into an encrypted staging Connection, then calls this route, which
runs inside the api-server (it has the metadata DB) and sets exactly those fields of exactly
that ``dropstream_setup`` run to ``null``. The run the person landed on after *Trigger* stays
where it is and ends with the outcome in its note, and its conf no longer holds a secret.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, Field

from dropstream.setup.targets import SECRET_FIELDS

SETUP_DAG_ID = "dropstream_setup"

router = APIRouter()


class ScrubRequest(BaseModel):
    fields: list[str] = Field(min_length=1)


def _may_edit_setup_runs() -> Any:
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
    from airflow.api_fastapi.core_api.security import requires_access_dag

    return requires_access_dag("PUT", DagAccessEntity.RUN, param_dag_id=SETUP_DAG_ID)


@router.post("/runs/{run_id}/scrub", dependencies=[Depends(_may_edit_setup_runs())])
def scrub_setup_run(run_id: str, body: ScrubRequest) -> dict[str, Any]:
    """Set the named secret fields of setup run ``run_id``'s conf to null; say which changed."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    unknown = sorted(set(body.fields) - set(SECRET_FIELDS))
    if unknown:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            f"only the setup form's secret fields can be blanked, not {', '.join(unknown)}",
        )
    with create_session() as session:
        run = session.scalar(
            select(DagRun).where(DagRun.dag_id == SETUP_DAG_ID, DagRun.run_id == run_id)
        )
        if run is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no {SETUP_DAG_ID} run {run_id!r}")
        conf = dict(run.conf or {})
        blanked = sorted(k for k in body.fields if conf.get(k) not in (None, ""))
        if blanked:  # a new dict, so SQLAlchemy sees the change; committed on leaving the block
            run.conf = {**conf, **dict.fromkeys(blanked)}
    return {"run_id": run_id, "blanked": blanked}

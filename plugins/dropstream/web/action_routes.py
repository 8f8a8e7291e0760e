"""Operator actions from the DropStream pages: a form on the order page (and, to resend a whole
order file, on the Files page) triggers the ``dropstream_actions`` DAG through Airflow's REST
API *as the logged-in user*.

The page's request carries the person's Airflow token (the UI's session cookie, or a bearer
token); this route hands that same token to ``POST /api/v2/dags/dropstream_actions/dagRuns`` on
the api-server it runs in. Airflow checks that the person may trigger the DAG and records them as
the run's triggering user, which is what the action records as *who* (never a service account).
The action itself runs as a task, through the same code as the DAG's trigger form.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

import requests
from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from dropstream.actions import ACTIONS, DAG_ID, ActionRequest
from dropstream.web import api

#: What the order page offers, by the order's state.
OFFERED: dict[str, tuple[str, ...]] = {
    "held": ("release", "cancel"),
    "received": ("cancel",),
    "ready": ("cancel",),
    "skipped": ("cancel",),
    "in_file": ("cancel",),
    "published": ("resend", "cancel"),
    "shipped": ("resend", "repush", "cancel"),
}
#: Not offered once a cancellation was asked (by the store or a person): it is never sent again.
NOT_AFTER_CANCEL = ("resend",)
TIMEOUT = 30


def offered_for_file(row: dict[str, Any]) -> tuple[str, ...]:
    """What the Files page offers for a file (a ledger row): a published order file can be
    resent whole (a cancel file is the orders flow's, never resent by hand)."""
    return ("resend_file",) if row["kind"] == "orders" and row["state"] == "published" else ()


def offered(order: dict[str, Any]) -> tuple[str, ...]:
    """The actions the order page offers for ``order`` (a ledger row) as it is now."""
    actions = OFFERED.get(order["state"], ())
    if order.get("cancel_requested_at"):
        gone = NOT_AFTER_CANCEL + (("cancel",) if order["state"] == "shipped" else ())
        actions = tuple(a for a in actions if a not in gone)
    return actions


router = APIRouter()


def person_token(request: Request) -> str:
    """The caller's own Airflow token: the bearer token, else the UI's session cookie."""
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN

    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    token = request.cookies.get(COOKIE_NAME_JWT_TOKEN)
    if not token:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "log in to Airflow first")
    return token


def trigger_action(request: Request, conf: dict[str, Any]) -> dict[str, Any]:
    """Trigger ``dropstream_actions`` with ``conf`` as the person making ``request``."""
    url = f"{str(request.base_url).rstrip('/')}/api/v2/dags/{DAG_ID}/dagRuns"
    try:
        response = requests.post(
            url,
            json={"logical_date": None, "conf": conf},
            headers={"Authorization": f"Bearer {person_token(request)}"},
            timeout=TIMEOUT,
        )
    except requests.RequestException as exc:
        raise HTTPException(
            status.HTTP_502_BAD_GATEWAY, f"the Airflow API did not answer ({exc}); try again"
        ) from exc
    if response.status_code in (401, 403):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"Airflow does not let you trigger {DAG_ID} (HTTP {response.status_code}): ask an "
            "admin for permission to run it",
        )
    if response.status_code >= 400:
        raise HTTPException(
            status.HTTP_502_BAD_GATEWAY,
            f"Airflow refused to trigger {DAG_ID} (HTTP {response.status_code}): "
            f"{response.text[:300]}",
        )
    return dict(response.json())


@router.post("/connections/{name}/orders/{order_id:path}/actions")
def order_action(
    request: Request,
    user: api.User,
    name: str,
    order_id: str,
    action: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
    target: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Ask for one action on one order; back to the order's page, which links to the run."""
    order = api.get_order(user, name, order_id)  # 404 unless this person may see it
    if action not in offered(order):
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"order {order['number']} is {order['state']}: {ACTIONS.get(action, action)!r} is "
            "not offered for it (reload the page: it may have moved on)",
        )
    conf = {"action": action, "connection": name, "target": target or order_id, "reason": reason}
    run = trigger_action(request, _checked(conf))
    return _back(request, name, "orders", order_id=order_id, asked=action, run_id=run["dag_run_id"])


@router.post("/connections/{name}/files/{file_name:path}/actions")
def file_action(
    request: Request,
    user: api.User,
    name: str,
    file_name: str,
    action: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Ask to resend a whole order file; back to the Files page, which links to the run."""
    row = api.get_order_file(user, name, file_name)  # 404 unless this person may see it
    if action not in offered_for_file(row):
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"{row['kind']} file {file_name} is {row['state']}: {ACTIONS.get(action, action)!r} "
            "is not offered for it (only a published order file is resent whole)",
        )
    conf = {"action": action, "connection": name, "target": file_name, "reason": reason}
    run = trigger_action(request, _checked(conf))
    return _back(request, name, "files", file=file_name, asked=action, run_id=run["dag_run_id"])


def _checked(conf: dict[str, Any]) -> dict[str, Any]:
    """``conf`` as the actions DAG will validate it; 422 with the problems (an empty reason)."""
    try:
        ActionRequest.model_validate(conf)
    except ValidationError as exc:
        problems = "; ".join(e["msg"] for e in exc.errors())
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, problems) from None
    return conf


def _back(request: Request, name: str, page: str, **query: str) -> RedirectResponse:
    """303 to the connection's ``page`` with ``query`` (the page then links to the run)."""
    root = str(request.scope.get("root_path") or "")
    return RedirectResponse(
        f"{root}/connections/{quote(name)}/{page}?{urlencode(query)}",
        status_code=status.HTTP_303_SEE_OTHER,
    )

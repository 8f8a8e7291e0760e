"""The DropStream pages: Connections, Orders of a connection (search and timeline), Files.

Server-rendered HTML (Jinja2, autoescaped) over the same functions as the JSON API, so a page
shows exactly what the API says and is protected the same way: Airflow's session cookie (the
page opens inside the Airflow UI through the plugin's ``external_views`` entry) or a token.
"""

from __future__ import annotations

from itertools import groupby
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException

from dropstream.actions import ACTIONS
from dropstream.actions import DAG_ID as ACTIONS_DAG_ID
from dropstream.web import api
from dropstream.web.action_routes import offered, offered_for_file
from dropstream.web.summary import describe

BASE = "/dropstream"
#: Order states, in the order of an order's life (the Orders page's state filter).
STATES = (
    "received", "held", "skipped", "ready", "in_file", "published", "shipped", "cancelled",
    "cancelling", "cancel_sent",
)  # fmt: skip

templates = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(default=True, default_for_string=True),
)
router = APIRouter()


def render(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = templates.get_template(name).render(base=BASE, **context)
    return HTMLResponse(html, status_code=status_code)


def _queries(request: Request) -> dict[str, Any]:
    """``query(**changes)`` and ``pager_query(offset)``: this page's URL query, changed."""
    current = {k: v for k, v in request.query_params.items() if v}

    def query(**changes: Any) -> str:
        return urlencode({**current, **{k: v for k, v in changes.items() if v is not None}})

    def pager_query(offset: int) -> str:
        return query(offset=max(offset, 0))

    return {"query": query, "pager_query": pager_query}


@router.get("/connections", response_class=HTMLResponse)
def connections_page(
    request: Request,
    user: api.User,
    merchant: str | None = None,
    limit: api.Limit = 200,
    offset: api.Offset = 0,
) -> HTMLResponse:
    page = api.list_connections(user, merchant=merchant, limit=limit, offset=offset)
    groups = [
        (name, list(items))
        for name, items in groupby(page["connections"], key=lambda c: c["merchant"])
    ]
    return render(
        "connections.html", page=page, groups=groups, merchant=merchant, **_queries(request)
    )


@router.get("/connections/{name}/orders", response_class=HTMLResponse)
def orders_page(
    request: Request,
    user: api.User,
    name: str,
    q: str | None = None,
    state: str | None = None,
    order_id: str | None = None,
    asked: str | None = None,
    run_id: str | None = None,
    limit: api.Limit = 50,
    offset: api.Offset = 0,
) -> HTMLResponse:
    """Search by number; one match (or the order picked) shows its timeline above the list."""
    spec = api.connection_spec(user, name)
    page = api.list_orders(user, name, q=q, state=state or None, limit=limit, offset=offset)
    order = timeline = None
    pick = order_id or (page["orders"][0]["order_id"] if q and page["total"] == 1 else None)
    if pick:
        order = api.get_order(user, name, pick)
        timeline = order.pop("timeline")
    return render(
        "orders.html",
        connection=describe(spec),
        page=page,
        q=q,
        state=state,
        states=STATES,
        order=order,
        timeline=timeline,
        offered=[(a, ACTIONS[a]) for a in offered(order)] if order else [],
        asked=ACTIONS.get(asked or "") if run_id else None,
        asked_run_url=_run_url(run_id),
        **_queries(request),
    )


@router.get("/connections/{name}/files", response_class=HTMLResponse)
def files_page(
    user: api.User,
    name: str,
    file: str | None = None,
    asked: str | None = None,
    run_id: str | None = None,
    limit: api.Limit = 100,
    offset: api.Offset = 0,
) -> HTMLResponse:
    """Files sent and read; a published order file can be resent whole from here."""
    spec = api.connection_spec(user, name)
    files = api.list_files(user, name, limit=limit, offset=offset)
    for row in files["order_files"]["items"]:
        row["offered"] = [(a, ACTIONS[a]) for a in offered_for_file(row)]
    return render(
        "files.html",
        connection=describe(spec),
        files=files,
        asked_file=file if run_id else None,
        asked=ACTIONS.get(asked or "") if run_id else None,
        asked_run_url=_run_url(run_id),
    )


def _run_url(run_id: str | None) -> str:
    """The Airflow UI's page of a ``dropstream_actions`` run."""
    return f"/dags/{ACTIONS_DAG_ID}/runs/{quote(run_id, safe='')}" if run_id else ""


def error_page(request: Request, exc: HTTPException) -> HTMLResponse:
    """Errors of the pages as pages; 401 with a link to Airflow's login."""
    login_url = None
    if exc.status_code == 401:
        from airflow.api_fastapi.app import get_auth_manager

        login_url = get_auth_manager().get_url_login(next_url=str(request.url))
    titles = {401: "Not logged in", 403: "Not allowed", 404: "Not found"}
    return render(
        "error.html",
        status_code=exc.status_code,
        status=exc.status_code,
        title=titles.get(exc.status_code, "DropStream could not answer"),
        message=exc.detail if exc.status_code != 401 else "Log in to Airflow to see DropStream.",
        login_url=login_url,
    )

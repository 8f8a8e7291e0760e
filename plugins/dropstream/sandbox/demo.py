"""Register the sandbox as the connection ``demo`` and switch it on, the way a person would.

It triggers the ``dropstream_setup`` DAG with the form filled in (so the same code tests the
warehouse and the store, creates the Airflow Connections and writes the registry entry), waits
for that run's outcome, then unpauses the connection's three DAGs through the REST API.
Schedules are every minute, so the demo shows results within minutes.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from dropstream.setup.api import AirflowAPI
from dropstream.spec import FLOWS, dag_id

log = logging.getLogger("dropstream.sandbox.demo")

NAME = "demo"
SETUP_DAG = "dropstream_setup"
EVERY_MINUTE = "* * * * *"


def demo_form(shop_url: str, token: str, ftp_port: int, login: str, password: str) -> dict:
    """The setup form as a person would fill it in for the sandbox."""
    return {
        "action": "add",
        "connection_name": NAME,
        "merchant": "demo-merchant",
        "warehouse_name": "Sandbox 3PL (simulated)",
        "warehouse_protocol": "ftp",
        "warehouse_host": "127.0.0.1",
        "warehouse_port": ftp_port,
        "warehouse_login": login,
        "warehouse_password": password,
        "warehouse_format": "header_detail_csv",
        "store_name": "Sandbox store (Shopify emulator)",
        "store_platform": "shopify",
        "store_url": shop_url,
        "store_access_token": token,
        "store_api_version": "2026-10",
        "ship_method_map": {"STANDARD": "UPS_GROUND", "EXPRESS": "UPS_2DAY"},
        "hold_countries": ["CA"],  # held for a person: Required Actions (dropstream_review)
        "extra_tags": ["sandbox"],
        **{f"{flow}_schedule": EVERY_MINUTE for flow in FLOWS},
    }


def _wait(what: str, check: Any, timeout: float, every: float = 2.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        error: Exception | None = None
        try:
            result = check()
        except Exception as exc:  # noqa: BLE001 - the API may still be starting
            result, error = None, exc
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what} after {timeout:.0f}s ({error})")
        time.sleep(every)


def register_demo(api: AirflowAPI, form: dict[str, Any], timeout: float = 600) -> str:
    """Register (or keep) the demo connection and unpause its DAGs; return what happened."""
    _wait("the API server", lambda: api.request("GET", "/monitor/health"), timeout)
    registry = api.request("GET", "/variables/dropstream_connections", ok=(404,))
    registered = NAME in json.loads((registry or {}).get("value") or "{}")
    outcome = "already registered"
    if not registered:
        _wait(f"the DAG {SETUP_DAG}", lambda: _dag(api, SETUP_DAG), timeout)
        now = datetime.now(UTC)
        body = {
            "dag_run_id": f"demo__{now:%Y%m%dT%H%M%S}",
            "logical_date": now.isoformat(),
            "conf": form,
            "note": "Registers the sandbox as the connection demo (started by make run).",
        }
        run = api.trigger_run(SETUP_DAG, body)
        run_id = run["dag_run_id"]
        log.info("triggered %s run %s to register the sandbox as %r", SETUP_DAG, run_id, NAME)
        ended = _wait(f"setup run {run_id}", lambda: _ended(api, run_id), timeout)
        if ended["state"] != "success":
            raise RuntimeError(f"setup run {run_id} failed: {ended.get('note')}")
        outcome = f"registered by setup run {run_id}"
    for flow in FLOWS:
        dag = dag_id(NAME, flow)
        _wait(f"the DAG {dag}", lambda dag=dag: _dag(api, dag), timeout)
        api.request("PATCH", f"/dags/{dag}", json={"is_paused": False})
    log.info("the demo connection is %s; its DAGs are switched on", outcome)
    return outcome


def _dag(api: AirflowAPI, dag: str) -> Any:
    return api.request("GET", f"/dags/{dag}", ok=(404,))


def _ended(api: AirflowAPI, run_id: str) -> dict[str, Any] | None:
    run = api.get_run(SETUP_DAG, run_id)
    return run if run and run["state"] in ("success", "failed") else None

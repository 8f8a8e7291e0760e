"""The setup DAG's tasks: receive the form → validate → test warehouse → test store →
register the Connections → update the registry → report (log + run note).

Secrets: ``receive_form`` masks them, moves them into one encrypted staging Connection and
hands over to a continuation run whose conf holds none; the continuation deletes the form run
(conf, task instances, XCom, rendered fields) once it has ended. See ``docs/setup.md``.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from airflow.sdk.exceptions import AirflowSkipException
from airflow.sdk.log import mask_secret

from dropstream.registry import VARIABLE_KEY, parse_document, read_registry_document, write_entry
from dropstream.setup import connections as conns
from dropstream.setup.api import AirflowAPI
from dropstream.setup.form import SECRET_FIELDS
from dropstream.setup.remote import check_store, check_warehouse, decide_host_key
from dropstream.setup.validate import Plan, plan_setup, secret_values
from dropstream.spec import FLOWS, dag_id
from dropstream.transports import AccountResolver

log = logging.getLogger("dropstream.setup")

DAG_ID = "dropstream_setup"
HANDOVER_KEY = "dropstream_handover"
ENDED = {"success", "failed"}
FORM_RUN_WAIT = 300  # seconds the continuation waits for the form run to end


def _secrets(context: dict[str, Any]) -> dict[str, str]:
    """The secrets of this setup (from the staging Connection or the form), masked."""
    handover = (context["dag_run"].conf or {}).get(HANDOVER_KEY)
    if handover:
        staged = conns.existing_body(handover["staged_conn_id"])
        values = dict((staged or {}).get("extra") or {})
    else:
        values = secret_values(context["params"])
    for value in values.values():
        _mask(value)
    return {k: v for k, v in values.items() if k in SECRET_FIELDS and v}


def _mask(value: str) -> None:
    mask_secret(value)
    for line in value.splitlines():  # a private key logged line by line is masked too
        if len(line.strip()) > 8:
            mask_secret(line.strip())


def _scrub(text: str, secrets: dict[str, str]) -> str:
    for value in sorted(secrets.values(), key=len, reverse=True):
        text = text.replace(value, "***")
    return text


def step(func: Callable[..., Any]) -> Callable[..., Any]:
    """Skip on the form run; record a failure's reason (scrubbed) for the report, re-raise."""

    def run(**context: Any) -> Any:  # no functools.wraps: PythonOperator reads the signature
        mode = context["ti"].xcom_pull(task_ids="receive_form") or {}
        if mode.get("mode") == "handed_over":
            raise AirflowSkipException("handed over to the continuation run")
        secrets = _secrets(context)
        try:
            return func(context, secrets)
        except AirflowSkipException:
            raise
        except Exception as exc:
            context["ti"].xcom_push(key="failure", value=_scrub(str(exc), secrets))
            raise

    run.__name__, run.__doc__ = func.__name__, func.__doc__
    return run


def _plan(context: dict[str, Any]) -> Plan:
    return Plan.from_dict(context["ti"].xcom_pull(task_ids="validate"))


def _registry() -> dict[str, Any]:
    """The registry document; RegistryReadError (never an empty registry) if it cannot be read."""
    return parse_document(read_registry_document())


# --- receive_form ---------------------------------------------------------------------------
def receive_form(**context: Any) -> dict[str, Any]:
    """Mask the secrets; on the form run move them out and hand over; else forget form runs."""
    dag_run = context["dag_run"]
    conf = dict(dag_run.conf or {})
    secrets = secret_values(context["params"])
    for value in secrets.values():
        _mask(value)
    api = AirflowAPI.from_connection()
    handover = conf.get(HANDOVER_KEY)
    if secrets and not handover:
        staged_id = (
            "dropstream_setup_staged_" + hashlib.sha256(dag_run.run_id.encode()).hexdigest()[:16]
        )
        api.upsert_connection(
            conns.api_body(
                {
                    "connection_id": staged_id,
                    "conn_type": "generic",
                    "extra": secrets,
                    "description": f"secrets of setup run {dag_run.run_id}; deleted when it ends",
                }
            )
        )
        clean = {k: v for k, v in conf.items() if k not in SECRET_FIELDS}
        clean[HANDOVER_KEY] = {"form_run_id": dag_run.run_id, "staged_conn_id": staged_id}
        now = datetime.now(UTC)
        run = api.trigger_run(
            DAG_ID,
            {
                "dag_run_id": f"setup__{now:%Y%m%dT%H%M%S%f}",
                "logical_date": now.isoformat(),
                "conf": clean,
                "note": f"Continues setup form run `{dag_run.run_id}`.",
            },
        )
        log.info(
            "secrets moved into the encrypted Connection %s; the setup continues in run "
            "%s, which deletes this run (its conf held the secrets)",
            staged_id,
            run["dag_run_id"],
        )
        return {"mode": "handed_over", "next_run": run["dag_run_id"]}
    if handover:
        _forget_form_run(api, handover["form_run_id"])
    _sweep(api, dag_run.run_id)
    return {"mode": "continuation" if handover else "direct"}


def _forget_form_run(api: AirflowAPI, run_id: str) -> None:
    deadline = time.monotonic() + FORM_RUN_WAIT
    while (run := api.get_run(DAG_ID, run_id)) is not None and run["state"] not in ENDED:
        if time.monotonic() > deadline:
            raise RuntimeError(f"form run {run_id} has not ended; cannot delete its conf")
        time.sleep(2)
    if run is not None:
        api.delete_run(DAG_ID, run_id)
        log.info("deleted form run %s: its conf, XCom and rendered fields are gone", run_id)


def _sweep(api: AirflowAPI, current: str) -> None:
    """Delete any ended setup run whose conf still holds a secret (e.g. never handed over)."""
    for run in api.list_runs(DAG_ID):
        conf = run.get("conf") or {}
        if run["dag_run_id"] != current and run["state"] in ENDED and secret_values(conf):
            api.delete_run(DAG_ID, run["dag_run_id"])
            log.warning(
                "deleted ended setup run %s: its conf still held secrets", run["dag_run_id"]
            )


# --- validate, tests ------------------------------------------------------------------------
@step
def validate(context: dict[str, Any], secrets: dict[str, str]) -> dict[str, Any]:
    """Every problem of the form at once, each naming its field."""
    plan = plan_setup(
        context["params"],
        _registry(),
        set(secrets),
        datetime.now(UTC),
        account_of=AccountResolver(),
    )
    log.info("form is valid: %s connection %r", plan.action, plan.name)
    return plan.to_dict()


@step
def test_warehouse(context: dict[str, Any], secrets: dict[str, str]) -> dict[str, Any]:
    """Log in; each folder exists and is writable; for SFTP decide the host key to pin."""
    plan = _plan(context)
    if plan.action == "remove":
        raise AirflowSkipException("nothing to test when removing")
    base = conns.existing_body(plan.warehouse_conn_id) if plan.action != "add" else None
    body = conns.warehouse_body(plan, secrets, base)
    protocol = plan.spec["warehouse"]["protocol"] if plan.spec else "sftp"
    host_key = None
    if protocol == "sftp":
        host_key = decide_host_key(body, plan.pin_presented_key)
        body = conns.warehouse_body(plan, secrets, base, host_key=host_key)
    paths = plan.spec["warehouse"]["paths"] if plan.spec else {}
    check_warehouse(
        body,
        protocol,
        [paths[k] for k in ("orders", "shipments", "inventory", "archive") if k in paths],
    )
    return {"host_key": host_key}


@step
def test_store(context: dict[str, Any], secrets: dict[str, str]) -> None:
    """Credentials accepted and the scopes the three flows need granted."""
    plan = _plan(context)
    if plan.action == "remove":
        raise AirflowSkipException("nothing to test when removing")
    base = conns.existing_body(plan.store_conn_id) if plan.action != "add" else None
    check_store(conns.store_body(plan, secrets, base), plan.spec["store"]["platform"], plan.name)


# --- registration ---------------------------------------------------------------------------
@step
def register_connections(context: dict[str, Any], secrets: dict[str, str]) -> dict[str, str]:
    """Upsert (or, for remove, delete) the two Airflow Connections through the REST API."""
    plan = _plan(context)
    if plan.action == "test":
        raise AirflowSkipException("test only: nothing registered")
    api = AirflowAPI.from_connection()
    if plan.action == "remove":
        return {
            c: "deleted"
            for c in (plan.store_conn_id, plan.warehouse_conn_id)
            if api.delete_connection(c)
        }
    host_key = (context["ti"].xcom_pull(task_ids="test_warehouse") or {}).get("host_key")
    bases = {c: conns.existing_body(c) for c in (plan.warehouse_conn_id, plan.store_conn_id)}
    bodies = [
        conns.warehouse_body(plan, secrets, bases[plan.warehouse_conn_id], host_key),
        conns.store_body(plan, secrets, bases[plan.store_conn_id]),
    ]
    done: dict[str, str] = {}
    try:
        for body in bodies:
            done[body["connection_id"]] = api.upsert_connection(conns.api_body(body))
    except Exception:
        _restore(api, done, bases)
        raise
    log.info("Airflow Connections: %s", ", ".join(f"{k} {v}" for k, v in done.items()))
    return done


def _restore(api: AirflowAPI, done: dict[str, str], bases: dict[str, Any]) -> None:
    """Undo this run's upserts: delete what it created, put back what it changed."""
    for conn_id, what in done.items():
        if what == "created":
            api.delete_connection(conn_id)
        elif bases.get(conn_id):
            api.upsert_connection(conns.api_body(bases[conn_id]))


@step
def update_registry(context: dict[str, Any], secrets: dict[str, str]) -> None:
    """Write the entry (no secrets) into the registry Variable, or drop it for remove."""
    plan = _plan(context)
    if plan.action == "test":
        raise AirflowSkipException("test only: nothing registered")
    try:  # re-reads the registry and changes only this entry; refuses if it cannot be read
        write_entry(plan.name, None if plan.action == "remove" else plan.spec)
    except Exception:
        if plan.action == "add":  # nothing half-done: the Connections go too
            api = AirflowAPI.from_connection()
            for conn_id in (plan.store_conn_id, plan.warehouse_conn_id):
                api.delete_connection(conn_id)
        raise
    log.info("registry Variable %s updated for %r", VARIABLE_KEY, plan.name)


# --- report -----------------------------------------------------------------------------------
STEPS = ("validate", "test_warehouse", "test_store", "register_connections", "update_registry")


def report(**context: Any) -> None:
    """Drop the staging Connection; summary in the log and as the run's note; fail if failed."""
    ti, dag_run = context["ti"], context["dag_run"]
    received = ti.xcom_pull(task_ids="receive_form") or {}
    if received.get("mode") == "handed_over":
        raise AirflowSkipException(f"continued in run {received.get('next_run')}")
    api = AirflowAPI.from_connection()
    handover = (dag_run.conf or {}).get(HANDOVER_KEY)
    if handover:
        api.delete_connection(handover["staged_conn_id"])
    failures = {t: ti.xcom_pull(task_ids=t, key="failure") for t in STEPS}
    failures = {t: f for t, f in failures.items() if f}
    plan_data = ti.xcom_pull(task_ids="validate")
    summary = _summary(Plan.from_dict(plan_data) if plan_data else None, failures, received)
    for line in summary.splitlines():
        log.info("%s", line)
    api.set_note(DAG_ID, dag_run.run_id, summary)
    if failures or not received:
        raise RuntimeError("setup failed: " + "; ".join(failures.values()) or "see the log")


def _summary(plan: Plan | None, failures: dict[str, str], received: dict[str, Any]) -> str:
    if not received:
        return (
            "**Setup failed before it started**: the form could not be received (see the "
            "`receive_form` log). Nothing was registered."
        )
    if failures:
        name = f" `{plan.name}`" if plan else ""
        lines = [f"**Setup of connection{name} failed — nothing was registered.**"]
        lines += [f"- `{t}`: {f}" for t, f in failures.items()]
        return "\n".join(lines)
    assert plan is not None
    ids = [dag_id(plan.name, flow) for flow in FLOWS]
    listed = ", ".join(f"`{i}`" for i in ids)
    if plan.action == "test":
        return (
            f"**Connection `{plan.name}` tested OK** (warehouse and store); nothing was "
            "registered. Run again with action *add* or *update* to save it."
        )
    if plan.action == "remove":
        return (
            f"**Connection `{plan.name}` removed**: registry entry and Airflow Connections "
            f"`{plan.store_conn_id}`, `{plan.warehouse_conn_id}` deleted. Its DAGs ({listed}) "
            "disappear at the next parse; their run history stays."
        )
    merchant = plan.spec["merchant"] if plan.spec else "?"
    return (
        f"**Connection `{plan.name}` {'added' if plan.action == 'add' else 'updated'}** "
        f"(merchant `{merchant}`): warehouse and store checked; Airflow Connections "
        f"`{plan.store_conn_id}` and `{plan.warehouse_conn_id}` saved.\n\n"
        f"Its DAGs {listed} appear within ~30 s, **paused**. Enable them with the pause toggle "
        f"(filter by tag `connection:{plan.name}`) or `airflow dags unpause <dag id>` for each; "
        "backfill with Trigger → Backfill or `airflow backfill create --dag-id <dag id> "
        "--from-date … --to-date …`."
    )

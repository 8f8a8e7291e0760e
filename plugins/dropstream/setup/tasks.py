"""The setup DAG's tasks: receive the form → validate → test warehouse ∥ test store →
register the Connections → update the registry → report (log + run note).

Everything happens in the run the person triggered, so the page the UI opens after *Trigger*
ends with the outcome in its note. Secrets: ``receive_form`` masks them, moves them into one
encrypted staging Connection and has the DropStream plugin (inside the api-server) blank them in
this run's conf; later tasks read them from the staging Connection, which ``report`` deletes.
See ``docs/setup.md``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from airflow.sdk.exceptions import AirflowSkipException
from airflow.sdk.log import mask_secret

from dropstream.registry import VARIABLE_KEY, parse_document, read_registry_document, write_entry
from dropstream.setup import connections as conns
from dropstream.setup.api import AirflowAPI
from dropstream.setup.form import SECRET_FIELDS, field_label
from dropstream.setup.notes import Outcome, summary
from dropstream.setup.remote import CheckFailed, check_store, check_warehouse, decide_host_key
from dropstream.setup.validate import FormError, Plan, plan_setup, secret_values
from dropstream.transports import AccountResolver

log = logging.getLogger("dropstream.setup")

DAG_ID = "dropstream_setup"
ENDED = {"success", "failed"}
#: Airflow's own secrets masker leaves shorter values alone ([logging] min_length_masked_secret):
#: masking "x" would turn every "existing" into "e***isting".
MIN_MASKED = 5


def _mask(value: str) -> None:
    if len(value) >= MIN_MASKED:
        mask_secret(value)
    for line in value.splitlines():  # a private key logged line by line is masked too
        if len(line.strip()) > 8:
            mask_secret(line.strip())


def scrub(text: str, secrets: dict[str, str]) -> str:
    """``text`` with every secret value (long enough to be one) replaced by ``***``."""
    for value in sorted(secrets.values(), key=len, reverse=True):
        if len(value) >= MIN_MASKED:
            text = text.replace(value, "***")
    return text


def _staged_id(run_id: str) -> str:
    return "dropstream_setup_staged_" + hashlib.sha256(run_id.encode()).hexdigest()[:16]


def _secrets(context: dict[str, Any]) -> dict[str, str]:
    """The secrets of this setup, from the staging Connection, masked."""
    received = context["ti"].xcom_pull(task_ids="receive_form") or {}
    staged = received.get("staged_conn_id")
    values = dict(((conns.existing_body(staged) or {}).get("extra") or {}) if staged else {})
    for value in values.values():
        _mask(value)
    return {k: v for k, v in values.items() if k in SECRET_FIELDS and v}


def step(func: Callable[..., Any]) -> Callable[..., Any]:
    """Record a failure's reason and fields (scrubbed) for the report, then re-raise."""

    def run(**context: Any) -> Any:  # no functools.wraps: PythonOperator reads the signature
        secrets = _secrets(context)
        try:
            return func(context, secrets)
        except AirflowSkipException:
            raise
        except Exception as exc:
            failure: dict[str, Any]
            if isinstance(exc, FormError):
                failure = {"problems": [scrub(p, secrets) for p in exc.problems]}
            elif isinstance(exc, CheckFailed):
                failure = {"reason": scrub(exc.reason, secrets), "fields": list(exc.fields)}
            else:
                failure = {"reason": scrub(f"{type(exc).__name__}: {exc}", secrets)}
            context["ti"].xcom_push(key="failure", value=failure)
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
    """Move the secrets out of this run's conf (into an encrypted Connection); sweep leftovers."""
    dag_run = context["dag_run"]
    secrets = secret_values(context["params"])
    for value in secrets.values():
        _mask(value)
    api = AirflowAPI.from_connection()
    staged = None
    if secrets:
        staged = _staged_id(dag_run.run_id)
        api.upsert_connection(
            conns.api_body(
                {
                    "connection_id": staged,
                    "conn_type": "generic",
                    "extra": secrets,
                    "description": f"secrets of setup run {dag_run.run_id}; deleted when it ends",
                }
            )
        )
        blanked = api.scrub_setup_run(dag_run.run_id, sorted(secrets))
        log.info(
            "the secrets typed in the form (%s) are in the encrypted Connection %s; this run's "
            "conf no longer holds them (blanked: %s)",
            ", ".join(field_label(k) for k in sorted(secrets)),
            staged,
            ", ".join(blanked) or "none",
        )
    _sweep(api, dag_run.run_id)
    return {"staged_conn_id": staged, "secret_fields": sorted(secrets)}


def _sweep(api: AirflowAPI, current: str) -> None:
    """Blank the secrets of any ended setup run whose conf still holds one (e.g. it failed
    before it could move them); delete it if blanking is not possible."""
    for run in api.list_runs(DAG_ID):
        conf = run.get("conf") or {}
        leftover = secret_values(conf)
        if run["dag_run_id"] == current or run["state"] not in ENDED or not leftover:
            continue
        try:
            api.scrub_setup_run(run["dag_run_id"], sorted(leftover))
            log.warning("blanked secrets left in the conf of setup run %s", run["dag_run_id"])
        except Exception:  # noqa: BLE001 - deleting the run removes its conf as a whole
            api.delete_run(DAG_ID, run["dag_run_id"])
            log.warning("deleted setup run %s: its conf still held secrets", run["dag_run_id"])


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
    proven = []
    if protocol == "sftp":
        host_key = decide_host_key(body, plan.pin_presented_key)
        body = conns.warehouse_body(plan, secrets, base, host_key=host_key)
        proven.append(f"host key {host_key.split()[0]} pinned")
    paths = plan.spec["warehouse"]["paths"] if plan.spec else {}
    folders = {f"{k}_folder": paths[k] for k in ("orders", "shipments", "inventory", "archive")}
    proven += check_warehouse(body, protocol, folders)
    return {"host_key": host_key, "proven": proven}


@step
def test_store(context: dict[str, Any], secrets: dict[str, str]) -> dict[str, Any]:
    """Credentials accepted and the scopes the three flows need granted."""
    plan = _plan(context)
    if plan.action == "remove":
        raise AirflowSkipException("nothing to test when removing")
    base = conns.existing_body(plan.store_conn_id) if plan.action != "add" else None
    body = conns.store_body(plan, secrets, base)
    platform = plan.store["target"]
    return {"proven": check_store(body, platform, plan.name)}


# --- registration ---------------------------------------------------------------------------
@step
def register_connections(context: dict[str, Any], secrets: dict[str, str]) -> dict[str, str]:
    """Upsert (or, for remove, delete) the two Airflow Connections through the REST API."""
    plan = _plan(context)
    if plan.action == "test":
        raise AirflowSkipException("test only: nothing registered")
    api = AirflowAPI.from_connection()
    if plan.action == "remove":
        _sync_webhooks(api, plan, enabled=False)  # while the store's credentials still exist
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
        webhooks = bool(((plan.spec or {}).get("webhooks") or {}).get("enabled"))
        _sync_webhooks(api, plan, enabled=webhooks)
    except Exception:
        _restore(api, done, bases)
        raise
    log.info("Airflow Connections: %s", ", ".join(f"{k} {v}" for k, v in done.items()))
    return done


def _sync_webhooks(api: AirflowAPI, plan: Plan, *, enabled: bool) -> None:
    """Subscribe (or unsubscribe) the store's order webhooks; keep ids and secret in the store
    Connection's extra (docs/webhooks.md). The URL is ``[api] base_url``, the api-server's public
    address, else the address of ``dropstream_airflow_api``."""
    from airflow.configuration import conf

    from dropstream.setup import webhooks

    store = conns.existing_body(plan.store_conn_id)
    if store is None:
        return
    platform = plan.store.get("target") or ((plan.spec or {}).get("store") or {}).get("platform")
    if not platform or (not enabled and not webhooks.supported(str(platform))):
        return
    public = conf.get("api", "base_url", fallback=None) or api.base_url
    extra, line = webhooks.sync(plan.name, str(platform), store, enabled, public)
    if extra is not None:
        api.upsert_connection(conns.api_body({**store, "extra": extra}))
    log.info("connection %s: %s", plan.name, line)


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
    """Drop the staging Connection; the outcome in the log and as the run's note."""
    ti, dag_run = context["ti"], context["dag_run"]
    received = ti.xcom_pull(task_ids="receive_form")
    api = AirflowAPI.from_connection()
    if received and received.get("staged_conn_id"):
        api.delete_connection(received["staged_conn_id"])
    plan_data = ti.xcom_pull(task_ids="validate")
    outcome = Outcome(
        plan=Plan.from_dict(plan_data) if plan_data else None,
        received=received is not None,
        name=str(context["params"].get("connection_name") or "").strip(),
        action=str(context["params"].get("action") or ""),
        failures={t: f for t in STEPS if (f := ti.xcom_pull(task_ids=t, key="failure"))},
        proven={
            side: list((ti.xcom_pull(task_ids=f"test_{side}") or {}).get("proven") or [])
            for side in ("warehouse", "store")
        },
    )
    note = summary(outcome)
    for line in note.splitlines():
        log.info("%s", line)
    api.set_note(DAG_ID, dag_run.run_id, note)
    if not outcome.ok:
        raise RuntimeError("setup did not complete: " + outcome.first_problem())

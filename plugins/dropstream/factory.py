"""Build the three DAGs of one connection from its validated ConnectionSpec."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, Asset, AssetOrTimeSchedule, CronDataIntervalTimetable
from airflow.sdk.definitions.callback import SyncCallback
from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

from dropstream.alerts.callbacks import on_task_failure
from dropstream.spec import FLOWS, ConnectionSpec
from dropstream.tasks import run_step
from dropstream.webhooks import asset_uri

STEPS: tuple[str, ...] = ("extract", "transform", "load")

DEFAULT_ARGS = {
    "owner": "dropstream",
    "retries": 3,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=30),
}

_WHAT = {
    "orders": (
        "new paid, unfulfilled orders from the **{platform}** store *{store}*",
        "order files in `{orders}` on the warehouse *{warehouse}* ({protocol}, {format})",
        "Every run owns its schedule window: orders updated in the window are fetched, the "
        "connection's rules decide which are ready, and all ready orders go into one uniquely "
        "named file, published atomically. Each order reaches the warehouse exactly once.",
    ),
    "inventory": (
        "available quantities from inventory files in `{inventory}` on the warehouse *{warehouse}*",
        "the **{platform}** store *{store}*",
        "The newest snapshot wins; only quantities that changed since the last push are sent "
        "(after safety stock); files read are moved to `{archive}`.",
    ),
    "tracking": (
        "shipment confirmations from `{shipments}` on the warehouse *{warehouse}*",
        "the **{platform}** store *{store}*, as fulfillments with tracking numbers",
        "Each package is pushed once; confirmations for orders this connection never sent are "
        "logged and kept as `unknown_order`; files read are moved to `{archive}`.",
    ),
}


def doc_md(spec: ConnectionSpec, flow: str) -> str:
    """What the DAG moves from where to where, for the operator reading it in the UI."""
    paths = spec.warehouse.paths
    words = {
        "platform": spec.store.platform,
        "store": spec.store.name,
        "warehouse": spec.warehouse.name,
        "protocol": spec.warehouse.protocol.upper(),
        "format": spec.warehouse.format.name,
        "orders": paths.orders,
        "inventory": paths.inventory,
        "shipments": paths.shipments,
        "archive": paths.archive,
    }
    source, target, how = (part.format(**words) for part in _WHAT[flow])
    if flow == "orders" and spec.webhooks.enabled:
        how += (
            f" The store's webhooks also start a run at once (asset `{asset_uri(spec.name)}`): "
            "it fetches from the last window's end to now; the scheduled runs stay the safety "
            "net (docs/webhooks.md)."
        )
    banner = (
        "**Sandbox connection: demo data from `make run`, nothing real is sent.**\n\n"
        if "sandbox" in spec.tags
        else ""
    )
    return banner + (
        f"### {flow.capitalize()} for connection `{spec.name}` (merchant *{spec.merchant}*)\n\n"
        f"Moves {source} to {target}, on `{spec.schedule(flow)}` (UTC).\n\n{how}\n\n"
        "Enable with the pause toggle (or `airflow dags unpause {dag_id}`); "
        "catch up missed windows "
        "with Trigger → Backfill (or `airflow backfill create --dag-id {dag_id} --from-date … "
        "--to-date …`). Credentials: Airflow Connections `{store_conn}` and `{wh_conn}`."
    ).format(
        dag_id=spec.dag_id(flow), store_conn=spec.store.conn_id, wh_conn=spec.warehouse.conn_id
    )


def overdue_alert(spec: ConnectionSpec) -> DeadlineAlert:
    """Alert when an orders run has not succeeded twice the interval after its logical date.

    Airflow keeps a run's deadline until the run succeeds, so a failed or stuck run misses it;
    the callback runs on a worker (``SyncCallback``) and tells ``alerts.emails`` once per
    outage (``dropstream.alerts.callbacks.orders_overdue``).
    """
    interval = spec.interval("orders")
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
        interval=2 * interval,
        callback=SyncCallback(
            "dropstream.alerts.callbacks.orders_overdue",
            kwargs={
                "connection": spec.name,
                "merchant": spec.merchant,
                "emails": list(spec.alerts.emails),
                "apprise_tags": list(spec.alerts.apprise_tags),
                "interval_seconds": int(interval.total_seconds()),
            },
        ),
        name=f"{spec.name}: no successful orders run",
    )


def schedule(spec: ConnectionSpec, flow: str) -> CronDataIntervalTimetable | AssetOrTimeSchedule:
    """The flow's cron windows; for orders with webhooks enabled, also the connection's orders
    asset: a webhook's asset event starts a run at once (one run for a burst of events; it has
    no data interval and fetches from the watermark to now), while the cron runs keep their
    windows as the safety net and backfill keeps working on them."""
    timetable = CronDataIntervalTimetable(spec.schedule(flow), timezone="UTC")
    if flow == "orders" and spec.webhooks.enabled:
        return AssetOrTimeSchedule(timetable=timetable, assets=[Asset(asset_uri(spec.name))])
    return timetable


def build_dag(spec: ConnectionSpec, flow: str) -> DAG:
    """One flow of one connection as a DAG: extract >> transform >> load."""
    with DAG(
        dag_id=spec.dag_id(flow),
        schedule=schedule(spec, flow),
        start_date=spec.start_date,
        catchup=False,
        max_active_runs=1,
        is_paused_upon_creation=True,
        # Called once, after a task's last retry: one alert per failing flow (dropstream.alerts).
        default_args={**DEFAULT_ARGS, "on_failure_callback": partial(on_task_failure, spec)},
        deadline=overdue_alert(spec) if flow == "orders" and spec.alerts.wanted else None,
        tags=[
            "dropstream",
            f"merchant:{spec.merchant}",
            f"platform:{spec.store.platform}",
            f"connection:{spec.name}",
            *spec.tags,
        ],
        doc_md=doc_md(spec, flow),
    ) as dag:
        previous = None
        for step in STEPS:
            task = PythonOperator(task_id=step, python_callable=partial(run_step, flow, step, spec))
            if previous is not None:
                previous >> task
            previous = task
    return dag


def build_dags(spec: ConnectionSpec, flows: tuple[str, ...] = FLOWS) -> dict[str, DAG]:
    """The connection's DAGs by id (only ``flows``, when a task run needs just one)."""
    return {spec.dag_id(flow): build_dag(spec, flow) for flow in flows}

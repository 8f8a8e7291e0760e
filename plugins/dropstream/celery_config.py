"""Celery configuration for DropStream's workers: Airflow's defaults plus the preload.

Set ``AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS=dropstream.celery_config.CELERY_CONFIG`` (the
compose file and the native topology do) so each worker imports DropStream's task modules once
(``dropstream.worker_preload``) instead of once per task.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

CELERY_CONFIG: dict[str, Any] = {
    **DEFAULT_CELERY_CONFIG,
    "imports": (*DEFAULT_CELERY_CONFIG.get("imports", ()), "dropstream.worker_preload"),
}

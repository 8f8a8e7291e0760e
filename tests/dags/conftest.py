"""Fixtures for running DropStream's real DAGs with ``dag.test()`` against real servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from adapters import PLATFORMS
from tests.adapters.harness import PlatformHarness, harness_for, speed_up
from tests.ledgers import sqlite_ledger_url
from tests.servers.shopify import ShopifyEmulator, shopify_connection_json
from tests.servers.sshd import SFTPServer
from tests.specs import ON_THE_HOUR, spec_dict

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """An initialised Airflow metadata DB (this test process's PostgreSQL database), as
    dag.test() needs."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        env=os.environ.copy(),
        capture_output=True,
    )
    from airflow import settings

    if settings.Session is None:
        settings.configure_orm()


@dataclass
class Deployment:
    """One registered connection wired to the real sshd and the Shopify emulator."""

    name: str
    shop: ShopifyEmulator
    warehouse: SFTPServer
    monkeypatch: pytest.MonkeyPatch
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)

    def register(self, **overrides: Any) -> None:
        overrides.setdefault("schedules", ON_THE_HOUR)  # runs at the round times the tests use
        self.entries[self.name] = spec_dict(self.name, **overrides)
        self.monkeypatch.setenv("AIRFLOW_VAR_DROPSTREAM_CONNECTIONS", json.dumps(self.entries))

    def dag(self, flow: str):
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=str(DAGS / "dropstream_connections.py"))
        assert not bag.import_errors, bag.import_errors
        dag = bag.dags[f"dropstream__{self.name}__{flow}"]
        for task in dag.tasks:  # a failure should fail the test now, not wait out retry delays
            task.retries = 0
        return dag

    def run(self, flow: str, logical_date: datetime) -> Any:
        """Run the flow's DAG once for the data interval that ends at ``logical_date``."""
        run = self.dag(flow).test(logical_date=logical_date)
        return run

    def files(self, folder: str) -> dict[str, bytes]:
        base = self.warehouse.root / folder
        return {p.name: p.read_bytes() for p in sorted(base.iterdir()) if p.is_file()}

    def write(self, folder: str, name: str, text: str) -> None:
        (self.warehouse.root / folder / name).write_text(text, encoding="utf-8")


@pytest.fixture
def deployment(
    request, monkeypatch, tmp_path, airflow_db, shopify_emulator, sftp_server
) -> Deployment:
    name = "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:40].strip("_")
    if "airflow_api_server" not in request.fixturenames:
        # Once a test has started the session's api-server, its Connection stays set: runs that
        # hold orders or keep a suspect snapshot would trigger dropstream_review runs that wait,
        # queued, for a later test's scheduler. Only a test that asks for the server uses it.
        monkeypatch.delenv("AIRFLOW_CONN_DROPSTREAM_AIRFLOW_API", raising=False)
    monkeypatch.setenv("DROPSTREAM_LEDGER_URL", sqlite_ledger_url(tmp_path))
    monkeypatch.setenv(
        f"AIRFLOW_CONN_DROPSTREAM_{name.upper()}_STORE", shopify_connection_json(shopify_emulator)
    )
    monkeypatch.setenv(
        f"AIRFLOW_CONN_DROPSTREAM_{name.upper()}_WAREHOUSE", sftp_server.connection_json()
    )
    deployment = Deployment(name, shopify_emulator, sftp_server, monkeypatch)
    deployment.register()
    return deployment


@pytest.fixture(params=PLATFORMS)
def platform_deployment(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
    airflow_db: None,
    sftp_server: Any,
) -> tuple[PlatformHarness, Deployment]:
    """A registered connection on ``platform`` wired to its emulator and the real sshd."""
    platform = str(request.param)
    harness = harness_for(platform)
    emulator = request.getfixturevalue(harness.fixture_name)
    speed_up(harness, monkeypatch)
    name = f"e2e_{platform}"
    monkeypatch.setenv("DROPSTREAM_LEDGER_URL", sqlite_ledger_url(tmp_path))
    monkeypatch.setenv(
        f"AIRFLOW_CONN_DROPSTREAM_{name.upper()}_STORE", harness.connection_json(emulator)
    )
    monkeypatch.setenv(
        f"AIRFLOW_CONN_DROPSTREAM_{name.upper()}_WAREHOUSE", sftp_server.connection_json()
    )
    deployment = Deployment(name, emulator, sftp_server, monkeypatch)
    store = {
        "name": f"Acme on {platform}",
        "platform": platform,
        "conn_id": f"dropstream_{name}_store",
        "options": {},
    }
    deployment.register(store=store)
    return harness, deployment

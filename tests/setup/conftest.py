"""Drive the real setup DAG: trigger through the real api-server, run runs with dag.test()."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.servers.airflow_api import AirflowAPIServer
from tests.servers.shopify import ShopifyEmulator
from tests.servers.sshd import SFTPServer

DAGS = Path(__file__).resolve().parents[2] / "dags"
SETUP = "dropstream_setup"


@pytest.fixture(scope="session")
def serialized_dags(airflow_api_server: AirflowAPIServer) -> None:
    """The DAGs written to the metadata DB, so the REST API accepts a trigger."""
    root = DAGS.parent
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root / "plugins"), str(root / "include")]),
    }
    done = subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "reserialize"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@dataclass
class Wizard:
    api: AirflowAPIServer
    sftp: SFTPServer
    shop: ShopifyEmulator

    def form(self, name: str, merchant: str = "acme-goods", **overrides: Any) -> dict[str, Any]:
        """A complete form as the UI submits it: every field, defaults where not set."""
        conf = dict(self.dag().params.dump())
        conf.update(
            connection_name=name,
            merchant=merchant,
            warehouse_name="Acme 3PL",
            warehouse_host=self.sftp.host,
            warehouse_port=self.sftp.port,
            warehouse_login=self.sftp.username,
            warehouse_private_key=self.sftp.private_key,
            warehouse_host_key=self.sftp.host_key,
            store_name="Acme Shopify",
            store_platform="shopify",
            store_url=self.shop.url,
            store_access_token=self.shop.token,
            store_api_version="2026-10",
            default_ship_method="UPS_GROUND",
            # Every test store uses the one sshd login and folders: each needs its own prefix.
            order_number_prefix="W" + hashlib.sha256(name.encode()).hexdigest()[:6],
        )
        conf.update(overrides)
        return conf

    def reparse(self) -> None:
        """Re-serialize the DAGs with the registry as it is now (the form lists its merchants)."""
        root = DAGS.parent
        env = {
            **os.environ,
            "AIRFLOW_VAR_DROPSTREAM_CONNECTIONS": json.dumps(self.registry()),
            "PYTHONPATH": os.pathsep.join([str(root / "plugins"), str(root / "include")]),
        }
        done = subprocess.run(
            [sys.executable, "-m", "airflow", "dags", "reserialize"],
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def dag(self):
        from airflow.dag_processing.dagbag import DagBag

        # A DagBag built by a test does not read Variables from the DB: feed the registry.
        os.environ["AIRFLOW_VAR_DROPSTREAM_CONNECTIONS"] = json.dumps(self.registry())
        try:
            bag = DagBag(dag_folder=str(DAGS / "dropstream_setup.py"))
        finally:
            del os.environ["AIRFLOW_VAR_DROPSTREAM_CONNECTIONS"]
        assert not bag.import_errors, bag.import_errors
        return bag.dags[SETUP]

    def trigger(self, conf: dict[str, Any], dag: Any = None) -> list[str]:
        """Trigger like the UI does, then run every queued setup run (scheduler stand-in).

        Returns the run ids that ran, in order. ``dag.test()`` replaces a queued run by an
        identical one (same logical date and conf) and runs it in this process; ``dag`` is
        the DAG as parsed earlier (default: parsed now).
        """
        now = datetime.now(UTC)
        response = self.api.call(
            "POST", f"/dags/{SETUP}/dagRuns", json={"logical_date": now.isoformat(), "conf": conf}
        )
        assert response.status_code == 200, response.text
        ran = []
        dag = dag or self.dag()
        while queued := self.api.get(
            f"/dags/{SETUP}/dagRuns", params={"state": "queued", "order_by": "run_after"}
        )["dag_runs"]:
            run = queued[0]
            result = dag.test(
                logical_date=datetime.fromisoformat(run["logical_date"]),
                run_after=datetime.fromisoformat(run["run_after"]),
                run_conf=run["conf"],
            )
            ran.append(result.run_id)
        return ran

    def last_run(self) -> dict[str, Any]:
        runs = self.api.get(f"/dags/{SETUP}/dagRuns", params={"order_by": "-run_after"})
        return runs["dag_runs"][0]

    def connection(self, conn_id: str) -> dict[str, Any] | None:
        response = self.api.call("GET", f"/connections/{conn_id}")
        return response.json() if response.status_code == 200 else None

    def registry(self) -> dict[str, Any]:
        response = self.api.call("GET", "/variables/dropstream_connections")
        return json.loads(response.json()["value"]) if response.status_code == 200 else {}

    def generated_dags(self, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
        """The generator's DAGs for the registry as it is now."""
        from airflow.dag_processing.dagbag import DagBag

        with monkeypatch.context() as m:
            m.setenv("AIRFLOW_VAR_DROPSTREAM_CONNECTIONS", json.dumps(self.registry()))
            bag = DagBag(dag_folder=str(DAGS / "dropstream_connections.py"))
        assert not bag.import_errors, bag.import_errors
        return bag.dags

    def task_logs(self, run_id: str) -> str:
        """Every task log of ``run_id`` as the REST API serves it."""
        text = []
        tis = self.api.get(f"/dags/{SETUP}/dagRuns/{run_id}/taskInstances")["task_instances"]
        for ti in tis:
            for attempt in range(1, (ti["try_number"] or 0) + 1):
                response = self.api.call(
                    "GET",
                    f"/dags/{SETUP}/dagRuns/{run_id}/taskInstances/{ti['task_id']}/logs/{attempt}",
                    params={"full_content": "true"},
                )
                text.append(response.text)
        return "\n".join(text)


@pytest.fixture
def wizard(airflow_api_server, serialized_dags, sftp_server, shopify_emulator) -> Wizard:
    return Wizard(airflow_api_server, sftp_server, shopify_emulator)

"""A real api-server serving the DropStream plugin, with an admin and a user limited to some DAGs,
and a story for it to tell: real runs of the real DAGs (dag.test()) on the real sshd and the
Shopify emulator, once for the package.

The server reads the same metadata DB as the tests' ``dag.test()`` runs, and the ledger and
registry the ``view`` fixture decides before starting it (a server's environment is fixed).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.ledgers import sqlite_ledger_url
from tests.servers._http import free_port
from tests.servers.airflow_api import _migrate
from tests.servers.shopify import ShopifyEmulator, shopify_connection_json
from tests.specs import ON_THE_HOUR, spec_dict

ROOT = Path(__file__).resolve().parents[2]
AUTH_MANAGER = "tests.web.auth_manager.DagPatternAuthManager"


@dataclass
class ViewServer:
    """``airflow api-server`` with the plugin; ``passwords`` by username."""

    url: str
    passwords: dict[str, str]
    ledger_url: str
    registry: dict[str, dict[str, Any]]
    process: subprocess.Popen[bytes] = field(repr=False)
    log_path: Path = field(repr=False)
    _tokens: dict[str, str] = field(default_factory=dict, repr=False)

    def token(self, username: str) -> str:
        if username not in self._tokens:
            response = requests.post(
                f"{self.url}/auth/token",
                json={"username": username, "password": self.passwords[username]},
                timeout=30,
            )
            response.raise_for_status()
            self._tokens[username] = response.json()["access_token"]
        return self._tokens[username]

    def get(self, path: str, username: str | None, **params: Any) -> requests.Response:
        """``GET {url}{path}`` as ``username`` (None: with no credentials at all)."""
        headers = {"Authorization": f"Bearer {self.token(username)}"} if username else {}
        return requests.get(f"{self.url}{path}", headers=headers, params=params, timeout=30)

    def api(self, path: str, username: str, **params: Any) -> Any:
        """``GET /dropstream/api{path}`` as ``username``: the JSON, asserting a 200."""
        response = self.get(f"/dropstream/api{path}", username, **params)
        assert response.status_code == 200, (response.status_code, response.text)
        return response.json()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_view_server(
    base: Path,
    users: dict[str, str],
    dag_access: dict[str, list[str]],
    registry: dict[str, dict[str, Any]],
) -> ViewServer:
    """Start the api-server: ``users`` maps username -> SimpleAuthManager role."""
    _migrate()
    passwords = {user: secrets.token_urlsafe(12) for user in users}
    password_file = base / "passwords.json"
    password_file.write_text(json.dumps(passwords))
    ledger_url = sqlite_ledger_url(base)
    port = free_port()
    env = {
        **os.environ,
        "AIRFLOW__CORE__AUTH_MANAGER": AUTH_MANAGER,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in users.items()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(password_file),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW_VAR_DROPSTREAM_CONNECTIONS": json.dumps(registry),
        "DROPSTREAM_LEDGER_URL": ledger_url,
        "DROPSTREAM_TEST_DAG_ACCESS": json.dumps(dag_access),
        "PYTHONPATH": os.pathsep.join(str(p) for p in (ROOT / "plugins", ROOT / "include", ROOT)),
    }
    log_path = base / "api-server.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "airflow", "api-server", "-H", "127.0.0.1", "-p", str(port)]
            + ["-w", "1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    server = ViewServer(
        f"http://127.0.0.1:{port}", passwords, ledger_url, registry, process, log_path
    )
    deadline = time.monotonic() + 300  # Airflow starting: minutes on a loaded machine
    while True:
        if process.poll() is not None:
            pytest.fail(f"api-server exited with {process.returncode}:\n{server.log()[-3000:]}")
        try:
            if requests.get(f"{server.url}/dropstream/api/health", timeout=2).ok:
                return server
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"api-server did not answer on {server.url}:\n{server.log()[-3000:]}")
        time.sleep(0.5)


def stop(server: ViewServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


# -- the story the view's tests read back ----------------------------------------------

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
DAGS = Path(__file__).resolve().parents[2] / "dags"
PIGEON = {
    "title": "Carrier pigeon",
    "code": "PIGEON",
    "carrierIdentifier": None,
    "source": "shopify",
}

ACME = spec_dict(
    "acme_east",
    merchant="acme",
    schedules=ON_THE_HOUR,
    rules={"ship_method_map": {"STANDARD": "UPS_GROUND"}, "order_number_prefix": "AE-"},
)
GLOBEX = spec_dict("globex_west", merchant="globex", schedules=ON_THE_HOUR)
GLOBEX["warehouse"]["protocol"] = "ftp"  # its own warehouse: shares no folder with acme_east


@pytest.fixture(scope="package")
def view(tmp_path_factory) -> ViewServer:
    server = start_view_server(
        tmp_path_factory.mktemp("view"),
        users={"admin": "admin", "globex-viewer": "viewer"},
        dag_access={"globex-viewer": ["dropstream__globex_west__*"]},
        registry={"acme_east": ACME, "globex_west": GLOBEX},
    )
    yield server
    stop(server)


def run(flow: str, logical_date: datetime):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS / "dropstream_connections.py"))
    assert not bag.import_errors, bag.import_errors
    dag = bag.dags[f"dropstream__acme_east__{flow}"]
    for task in dag.tasks:
        task.retries = 0
    dag_run = dag.test(logical_date=logical_date)
    assert dag_run.state == "success", dag_run
    return dag_run


@pytest.fixture(scope="package")
def story(view, sftp_server_session):
    """The runs, once for the module; the tests below read them back through the API."""
    from dropstream.ledger import Ledger

    warehouse = sftp_server_session
    warehouse.reset_folders()
    shop = ShopifyEmulator().start()
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("DROPSTREAM_LEDGER_URL", view.ledger_url)
            mp.setenv("AIRFLOW_VAR_DROPSTREAM_CONNECTIONS", json.dumps(view.registry))
            mp.setenv("AIRFLOW_CONN_DROPSTREAM_ACME_EAST_STORE", shopify_connection_json(shop))
            mp.setenv("AIRFLOW_CONN_DROPSTREAM_ACME_EAST_WAREHOUSE", warehouse.connection_json())
            shipped = shop.add_order(5001, updated_at=T0 + timedelta(minutes=2))
            held = shop.add_order(5002, updated_at=T0 + timedelta(minutes=3), shipping_line=PIGEON)
            first = run("orders", T0 + timedelta(minutes=15))
            (order_file,) = sorted(p.name for p in (warehouse.root / "in").iterdir())
            (warehouse.root / "out" / "shp_1.csv").write_text(
                "order_number,line_number,sku,quantity_shipped,carrier,service,tracking_number,"
                "ship_date\r\n"
                "AE-5001,1,SKU-1,1,UPS,Ground,1ZVIEW1,2026-11-20\r\n"
                "AE-9999,1,SKU-9,1,UPS,Ground,1ZGHOST,2026-11-20\r\n"
            )
            tracking = run("tracking", T0 + timedelta(hours=4))
            cancelled = shop.add_order(
                5003, updated_at=T0 + timedelta(minutes=20), shipping_line=PIGEON
            )
            second = run("orders", T0 + timedelta(minutes=30))
    finally:
        shop.stop()
    # The ledger's cancel, as an operator's action will call it (the runs above used the clock).
    ledger = Ledger(view.ledger_url)
    try:
        assert ledger.cancel_order(
            "acme_east", cancelled, datetime.now(UTC), reason="buyer called", actor="ops"
        ) == ("held", True)
        # The inventory guard kept a snapshot that would have zeroed the store.
        zeros = [("SKU-1", 0, T0)]
        assert ledger.keep_suspect_snapshot("acme_east", "inv_0.csv", zeros, "why", T0)
    finally:
        ledger.close()
    # An admin enables the orders DAG only, through Airflow's REST API.
    response = requests.patch(
        f"{view.url}/api/v2/dags/dropstream__acme_east__orders",
        json={"is_paused": False},
        headers={"Authorization": f"Bearer {view.token('admin')}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return {
        "orders_run": first.run_id,
        "second_orders_run": second.run_id,
        "tracking_run": tracking.run_id,
        "order_file": order_file,
        "shipped": shipped,
        "held": held,
        "cancelled": cancelled,
    }

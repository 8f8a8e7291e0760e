"""The product as a newcomer runs it, and a real browser to use it.

``make_run`` starts ``scripts/run.sh`` (what ``make run`` runs) in a fresh AIRFLOW_HOME on a
non-default port: Airflow standalone (scheduler, dag-processor, triggerer, api-server with the
DropStream plugin), and the sandbox registered as the connection ``demo``. ``chromium`` is
Debian's Chromium (installed by ``make test``) driven by Playwright. Both live while this folder's
tests run (package scope: stopped when they end, not left idling under the other tests of a
``make test`` worker): the tests in this folder are one person's visit, in order.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from dropstream.sandbox.http import free_port
from tests.browser.ui import AirflowUI, launch_args
from tests.servers.airflow_api import RestClient

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("DROPSTREAM_CHROMIUM", "/usr/bin/chromium"))
START_TIMEOUT = 420


@dataclass
class RunningProduct(RestClient):
    """``make run`` as a person started it: where it listens and how to log in."""

    url: str
    username: str
    password: str
    home: Path
    shop_url: str
    process: subprocess.Popen[bytes] = field(repr=False)
    output_path: Path = field(repr=False)
    _token: str | None = field(default=None, repr=False)

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def logs(self) -> str:
        """Everything the product's processes printed."""
        parts = [self.output()]
        for name in ("standalone.log", "sandbox.log"):
            path = self.home / name
            if path.exists():
                parts.append(path.read_text(errors="replace"))
        return "\n".join(parts)

    def log(self) -> str:
        return self.logs()

    def sandbox(self) -> dict[str, Any]:
        return requests.get(f"{self.shop_url}/sandbox/state.json", timeout=10).json()


def _clean_env(home: Path, port: int, shop_port: int, ftp_port: int) -> dict[str, str]:
    """The test process's environment minus what would bend the product (test connections,
    Variables, another api-server's settings, the tests' PostgreSQL metadata DB: `make run`
    keeps its embedded SQLite default), plus the make-run settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("AIRFLOW_CONN_", "AIRFLOW_VAR_", "AIRFLOW__API", "AIRFLOW__DATABASE__", "PYTEST")
        )
        and k not in {"AIRFLOW__CORE__EXECUTION_API_SERVER_URL", "AIRFLOW__CORE__EXECUTOR"}
    }
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__API__PORT=str(port),
        DROPSTREAM_SANDBOX_SHOP_PORT=str(shop_port),
        DROPSTREAM_SANDBOX_FTP_PORT=str(ftp_port),
        PYTHONUNBUFFERED="1",
    )
    return env


def _attach(spec: str) -> RunningProduct:
    """An instance started by hand (``DROPSTREAM_TEST_MAKE_RUN=<output file>:<home>``), to
    iterate on the browser tests without waiting for a fresh start each time."""
    output, home = (Path(part) for part in spec.split(":", 1))
    text = output.read_text()
    url = re.search(r"DropStream is running:\s+(\S+)", text).group(1)  # type: ignore[union-attr]
    login = re.search(r"Login:\s+(\S+) / (\S+)", text)
    shop = re.search(r"Sandbox \(demo data\):\s+(http://\S+?)/?\s", text)
    assert login and shop, text
    process = subprocess.Popen(["true"])
    return RunningProduct(url, login[1], login[2], home, shop[1], process, output)


@pytest.fixture(scope="package")
def make_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProduct]:
    """``make run`` on a free, non-default port, in a fresh AIRFLOW_HOME; stopped at the end."""
    if os.environ.get("DROPSTREAM_TEST_MAKE_RUN"):
        yield _attach(os.environ["DROPSTREAM_TEST_MAKE_RUN"])
        return
    home = tmp_path_factory.mktemp("make-run-home")
    port, shop_port, ftp_port = free_port(), free_port(), free_port()
    assert port != 8080
    output_path = home.parent / f"{home.name}.out"
    with output_path.open("wb") as out:
        process = subprocess.Popen(
            ["bash", str(ROOT / "scripts" / "run.sh")],
            cwd=ROOT,
            env=_clean_env(home, port, shop_port, ftp_port),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    product = None
    try:
        deadline = time.monotonic() + START_TIMEOUT
        # The "Logs:" line is the last of the start-up banner: wait for all of it.
        while "\nLogs:" not in output_path.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"make run did not start:\n{output_path.read_text()[-4000:]}")
            time.sleep(1)
        text = output_path.read_text()
        url = re.search(r"DropStream is running:\s+(\S+)", text).group(1)  # type: ignore[union-attr]
        login = re.search(r"Login:\s+(\S+) / (\S+)", text)
        assert login, text
        product = RunningProduct(
            url,
            login.group(1),
            login.group(2),
            home,
            f"http://127.0.0.1:{shop_port}",
            process,
            output_path,
        )
        yield product
    finally:
        _stop(process, home)


def _stop(process: subprocess.Popen[bytes], home: Path) -> None:
    """Stop run.sh like Ctrl-C would; then make sure nothing it started is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    pid_file = home / "standalone.pid"
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.killpg(int(pid_file.read_text().strip()), signal.SIGKILL)


@pytest.fixture(scope="package")
def chromium() -> Iterator[Any]:
    """Debian's Chromium under Playwright (its own browser download is not reachable here)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=launch_args())
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="package")
def person(
    make_run: RunningProduct, chromium: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AirflowUI]:
    """The operator, logged in to the Airflow UI in Chromium."""
    ui = AirflowUI(chromium, make_run.url, tmp_path_factory.mktemp("screenshots"))
    ui.login(make_run.username, make_run.password)
    try:
        yield ui
    finally:
        ui.close()


def runs(product: RunningProduct, dag_id: str, **params: Any) -> list[dict[str, Any]]:
    body = product.get(f"/dags/{dag_id}/dagRuns", params={"limit": 100, **params})
    return list(body["dag_runs"])


def registry(product: RunningProduct) -> dict[str, Any]:
    response = product.call("GET", "/variables/dropstream_connections")
    return json.loads(response.json()["value"]) if response.status_code == 200 else {}

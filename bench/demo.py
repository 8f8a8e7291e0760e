"""How long a newcomer waits: `make run` from a fresh AIRFLOW_HOME until the demo shows each result.

Starts ``scripts/run.sh`` (what ``make run`` runs) in a temporary AIRFLOW_HOME on free ports,
then polls the sandbox's state and the REST API. Prints, in seconds after the URL was printed:
the first successful run of each demo DAG, the first order file the warehouse took, the first
fulfillment with tracking in the store, and the first stock change. Target: all within 300 s.

    .venv/bin/python bench/demo.py [--timeout 600]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins")]

from dropstream.sandbox.http import free_port  # noqa: E402

TARGET = 300.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="ds-demo-bench-"))
    port, shop_port, ftp_port = free_port(), free_port(), free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_"))
    }
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__API__PORT=str(port),
        DROPSTREAM_SANDBOX_SHOP_PORT=str(shop_port),
        DROPSTREAM_SANDBOX_FTP_PORT=str(ftp_port),
    )
    out = home / "run.out"
    started = time.monotonic()
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            ["bash", str(ROOT / "scripts" / "run.sh")],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    seen: dict[str, float] = {}
    try:
        while "DropStream is running:" not in out.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() - started > args.timeout:
                print(out.read_text()[-3000:])
                return 1
            time.sleep(0.5)
        printed = time.monotonic()
        seen["url printed (after start)"] = printed - started
        text = out.read_text()
        url = re.search(r"DropStream is running:\s+(\S+)", text)[1]  # type: ignore[index]
        user, password = re.search(r"Login:\s+(\S+) / (\S+)", text).groups()  # type: ignore[union-attr]
        shop = f"http://127.0.0.1:{shop_port}"
        token = None
        while len(seen) < 7 and time.monotonic() - printed < args.timeout:
            now = time.monotonic() - printed
            with contextlib.suppress(requests.RequestException, KeyError, ValueError):
                state = requests.get(f"{shop}/sandbox/state.json", timeout=10).json()
                if state["warehouse"]["received_files"]:
                    seen.setdefault("order file taken by the warehouse", now)
                if any(o["fulfillments"] for o in state["store"]["orders"]):
                    seen.setdefault("fulfillment with tracking in the store", now)
                if any(state["store"]["stock"].values()):
                    seen.setdefault("stock changed in the store", now)
                if token is None:
                    token = requests.post(
                        f"{url}/auth/token",
                        json={"username": user, "password": password},
                        timeout=10,
                    ).json()["access_token"]
                for flow in ("orders", "inventory", "tracking"):
                    runs = requests.get(
                        f"{url}/api/v2/dags/dropstream__demo__{flow}/dagRuns",
                        params={"state": "success", "limit": 1},
                        headers={"Authorization": f"Bearer {token}"},
                        timeout=10,
                    ).json()["dag_runs"]
                    if runs:
                        seen.setdefault(f"first successful {flow} run", now)
            time.sleep(2)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=60)
        with contextlib.suppress(ProcessLookupError, ValueError, FileNotFoundError):
            os.killpg(int((home / "standalone.pid").read_text()), signal.SIGKILL)
    print(f"make run demo, fresh AIRFLOW_HOME ({home}), port {port}")
    print(f"{'event':56} {'seconds':>8}")
    for what, when in sorted(seen.items(), key=lambda kv: kv[1]):
        base = "" if what.startswith("url") else " after the URL"
        print(f"{what + base:56} {when:8.1f}")
    results = [v for k, v in seen.items() if not k.startswith("url")]
    worst = max(results) if len(results) == 6 else float("inf")
    verdict = "met" if worst <= TARGET else "MISSED"
    print(f"all six seen within {worst:.1f} s of the URL (target {TARGET:.0f} s): {verdict}")
    print(json.dumps({k: round(v, 1) for k, v in seen.items()}))
    return 0 if len(results) == 6 else 1


if __name__ == "__main__":
    sys.exit(main())

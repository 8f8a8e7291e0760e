"""The chaos rig: one connection on the real sshd, the Shopify emulator and PostgreSQL, child
processes forked from a fork server (``worker.py``), a simulated 3PL that takes order files
the moment they appear, and the figures the suite prints.

Sizes: ``CHAOS_KILLS`` kills and ``CHAOS_ROUNDS`` concurrent-load rounds per flow (short
defaults for ``make test``; ``make chaos`` asks for the long run).
"""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.ledgers import migrated
from tests.servers.shopify import ShopifyEmulator, shopify_connection_json
from tests.servers.sshd import SFTPServer
from tests.servers.tcp_proxy import TCPProxy
from tests.specs import spec_dict

T0 = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)
ATTEMPT_TIMEOUT = 120  # seconds one child may take before the rig calls it stuck
LEASE_SECONDS = "2"  # a killed child's lease frees after 2 s (production: 120 s)

_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(["tests.chaos.worker"])


def sizes(kills: int, rounds: int) -> tuple[int, int]:
    return int(os.environ.get("CHAOS_KILLS") or kills), int(
        os.environ.get("CHAOS_ROUNDS") or rounds
    )


class ThirdParty(threading.Thread):
    """The 3PL: takes each order file as soon as its final name appears, and remembers which
    order numbers it received how often."""

    def __init__(self, inbound: Path) -> None:
        super().__init__(name="3pl", daemon=True)
        self.inbound = inbound
        self.received: Counter[str] = Counter()
        self.files = 0
        self._done = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> None:
        while not self._done.wait(0.02):
            self.take()

    def take(self) -> None:
        with self._lock:
            for path in sorted(self.inbound.iterdir()):
                if path.name.startswith("."):
                    continue  # a staged upload: never picked up
                data = path.read_bytes()
                path.unlink()
                self.files += 1
                rows = csv.reader(io.StringIO(data.decode()))
                self.received.update(row[1] for row in rows if row and row[0] == "PH")

    def stop(self) -> None:
        self._done.set()
        self.join(timeout=5)
        self.take()


@dataclass
class Child:
    process: Any
    result: Path
    started: float = field(default_factory=time.monotonic)

    def wait(self) -> str:
        """ok | killed | failed (exit code n)."""
        self.process.join(ATTEMPT_TIMEOUT)
        if self.process.exitcode is None:
            self.process.kill()
            self.process.join()
            raise AssertionError(f"a chaos child ran over {ATTEMPT_TIMEOUT} s: stuck")
        if self.process.exitcode == -9:
            return "killed"
        if self.process.exitcode == 0 and self.result.exists():
            return "ok"
        return f"failed (exit code {self.process.exitcode})"


@dataclass
class Rig:
    name: str
    shop: ShopifyEmulator
    sftp: SFTPServer
    ledger_url: str
    slow_link: TCPProxy
    results: Path
    third_party: ThirdParty
    env: dict[str, str]
    spec: dict[str, Any]
    seeded: list[str] = field(default_factory=list)
    kills: Counter[str] = field(default_factory=Counter)
    failed_attempts: Counter[str] = field(default_factory=Counter)
    concurrent_rounds: int = 0
    shipments_written: list[str] = field(default_factory=list)

    # -- the store and the warehouse ---------------------------------------------------------
    def seed_orders(self, window: int, count: int) -> None:
        start = T0 + window * WINDOW
        for i in range(count):
            at = start + timedelta(seconds=30 + i)
            number = 100_000 + len(self.seeded)
            self.shop.add_order(number, updated_at=at, created_at=at)
            self.seeded.append(str(number))

    def write_shipments(self, numbers: list[str]) -> None:
        """The 3PL confirms these orders as shipped, in one new file in /out."""
        lines = "".join(f"{n},1,SKU-1,1,UPS,Ground,T{n},2026-11-20\r\n" for n in numbers)
        header = (
            "order_number,line_number,sku,quantity_shipped,carrier,service,tracking_number,"
            "ship_date\r\n"
        )
        path = self.sftp.root / "out" / f"shp_{uuid.uuid4().hex[:8]}.csv"
        partial = path.with_name("." + path.name)
        partial.write_text(header + lines)
        partial.rename(path)
        self.shipments_written += [f"T{n}" for n in numbers]

    # -- running children ----------------------------------------------------------------------
    def command(self, flow: str, window: int = 0, *, run: str, kill_at: str | None = None) -> dict:
        slow = kill_at == "mid_upload"
        return {
            "flow": flow,
            "since": (T0 + window * WINDOW).isoformat(),
            "until": (T0 + (window + 1) * WINDOW).isoformat(),
            "run": run,
            "kill_at": kill_at,
            "spec": self.spec,
            "env": self.env,
            "warehouse_conn_id": "chaos_slow_warehouse" if slow else "chaos_warehouse",
        }

    def start(self, command: dict[str, Any]) -> Child:
        result = self.results / f"{uuid.uuid4().hex}.json"
        from tests.chaos import worker

        process = _context.Process(target=worker.run, args=(command, str(result)), daemon=True)
        process.start()
        return Child(process, result)

    def attempt(self, command: dict[str, Any], kill_after: float | None = None) -> str:
        child = self.start(command)
        if kill_after is not None:
            child.process.join(kill_after)
            if child.process.exitcode is None:
                child.process.kill()  # SIGKILL
        return child.wait()

    def until_done(self, command: dict[str, Any], outcome: str, label: str) -> None:
        """Retry a run until it succeeds, as Airflow's retries would; count what happened."""
        retries = 0
        while outcome != "ok":
            if outcome == "killed":
                self.kills[label] += 1
            else:
                self.failed_attempts[outcome] += 1
            retries += 1
            assert retries <= 10, f"{command['flow']} run {command['run']} never succeeded"
            command = {**command, "kill_at": None, "run": f"{command['run']}.retry{retries}"}
            outcome = self.attempt(command)
            label = "second kill"

    def run_clean(self, command: dict[str, Any]) -> None:
        """One run nobody kills (retried if it fails for another reason)."""
        self.until_done(command, self.attempt(command), "unplanned")

    def concurrently(self, commands: list[dict[str, Any]]) -> None:
        children = [self.start(c) for c in commands]
        for command, child in zip(commands, children, strict=True):
            self.until_done(command, child.wait(), "concurrent")
        self.concurrent_rounds += 1

    # -- what is left at the end -----------------------------------------------------------------
    def parts_left(self) -> int:
        return sum(1 for folder in ("in", "out") for p in (self.sftp.root / folder).iterdir()
                   if p.name.endswith(".part"))  # fmt: skip

    def stuck_rows(self) -> dict[str, int]:
        from dropstream.ledger import Ledger

        ledger = Ledger(self.ledger_url)
        try:
            stuck = {f"file {f['state']}": 1 for f in ledger.unfinished_files(self.name)}
            for state, n in ledger.order_counts(self.name).items():
                if state not in ("published", "shipped"):
                    stuck[f"order {state}"] = n
            for state, n in ledger.shipment_counts(self.name).items():
                if state != "pushed":
                    stuck[f"shipment {state}"] = n
            for flow in ("orders", "tracking"):
                if ledger.lease_holder(self.name, flow):
                    stuck[f"{flow} lease"] = 1
            return stuck
        finally:
            ledger.close()


@pytest.fixture
def rig(
    sftp_server: SFTPServer, shopify_emulator: ShopifyEmulator, postgres_url: str, tmp_path: Path
) -> Iterator[Rig]:
    name = f"chaos_{uuid.uuid4().hex[:6]}"
    shopify_emulator.set_restore_rate(100_000)
    slow_link = TCPProxy(sftp_server.host, sftp_server.port)
    slow_link.throttle(2048)  # bytes per second towards the warehouse
    env = {
        "DROPSTREAM_LEDGER_URL": migrated(postgres_url),  # a fresh database has no tables
        "DROPSTREAM_LEASE_SECONDS": LEASE_SECONDS,
        "DROPSTREAM_LEASE_WAIT_SECONDS": "120",
        "AIRFLOW_CONN_CHAOS_WAREHOUSE": sftp_server.connection_json("chaos_warehouse"),
        "AIRFLOW_CONN_CHAOS_SLOW_WAREHOUSE": json.dumps(
            json.loads(sftp_server.connection_json("chaos_slow_warehouse"))
            | {"host": slow_link.host, "port": slow_link.port}
        ),
        f"AIRFLOW_CONN_DROPSTREAM_{name.upper()}_STORE": shopify_connection_json(shopify_emulator),
    }
    spec = spec_dict(name, start_date=T0.isoformat(), rules={"default_ship_method": "UPS"})
    third_party = ThirdParty(sftp_server.root / "in")
    third_party.start()
    results = tmp_path / "results"
    results.mkdir()
    rig = Rig(name, shopify_emulator, sftp_server, postgres_url, slow_link, results,
              third_party, env, spec)  # fmt: skip
    try:
        yield rig
    finally:
        third_party.stop()
        slow_link.close()


def report(capsys: pytest.CaptureFixture[str], line: str) -> None:
    """Print a figure line to the terminal even while pytest captures output."""
    with capsys.disabled():
        print(f"\n{line}", flush=True)

"""The simulated 3PL: an embedded FTP server and a warehouse worker behind it.

The FTP server (pyftpdlib; no root, no sshd) serves ``root`` with the folders a 3PL's onboarding
sheet names: ``/in`` (orders in), ``/out`` (shipments and inventory out), ``/archive``. The
worker, every few seconds:

- takes every complete order file (``ord_*.csv``, never a ``.part`` still being uploaded) out of
  ``/in``, as a 3PL's import job does, and books its lines to be shipped ``ship_after`` later;
- takes every cancel file (``cxl_*.csv``, an ``order_number`` column) and drops those orders
  from the ones waiting to ship (an order already shipped has left: the cancel comes too late);
- writes one ``shp_*.csv`` with the orders now due, with carrier and tracking number; every
  ``split_every``-th order leaves in two packages;
- every ``inventory_every`` writes an ``inv_*.csv`` snapshot of available stock, which goes down
  with what shipped and is replenished when a SKU runs low (a receipt), so the store's stock moves.

State (stock, orders waiting) is kept in ``warehouse.json`` beside the files, so a restart of
``make run`` carries on where it stopped.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dropstream.sandbox import threepl_files as files

log = logging.getLogger("dropstream.sandbox.warehouse")

FOLDERS = ("in", "out", "archive")
CARRIERS = (("UPS", "Ground", "1Z"), ("USPS", "Priority", "9400"), ("FedEx", "2Day", "7489"))
RESTOCK_BELOW = 5
RESTOCK_TO = 60


@dataclass
class WarehouseSettings:
    root: Path
    port: int = 0
    username: str = "demo-3pl"
    password: str = "demo-3pl-password"
    ship_after: timedelta = timedelta(seconds=20)
    inventory_every: timedelta = timedelta(seconds=60)
    split_every: int = 4
    facility: str = "DEMO-1"
    stock: dict[str, int] = field(default_factory=dict)


class SimulatedWarehouse:
    """Start with ``start()``; ``tick(now)`` is one pass of the worker (the thread calls it)."""

    def __init__(self, settings: WarehouseSettings, clock: Callable[[], datetime] | None = None):
        self.settings = settings
        self.clock = clock or (lambda: datetime.now(UTC))
        self.root = settings.root
        for name in FOLDERS:
            (self.root / name).mkdir(parents=True, exist_ok=True)
        self._state_path = self.root.parent / "warehouse.json"
        self.state: dict[str, Any] = {
            "stock": dict(settings.stock),
            "waiting": [],  # {"order": number, "due": iso, "lines": [[line, sku, qty], …]}
            "received_files": [],
            "cancelled": [],  # {"order", "at", "file", "in_time"}
            "shipped": [],  # {"order", "tracking", "carrier", "at", "units"}
            "snapshots": [],  # {"file", "at"}
            "orders_seen": 0,
            "packages": 0,
            "last_inventory": None,
        }
        if self._state_path.exists():
            self.state.update(json.loads(self._state_path.read_text()))
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._acceptor: Any = None
        self.port = settings.port

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> SimulatedWarehouse:
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.handlers import FTPHandler
        from pyftpdlib.ioloop import IOLoop
        from pyftpdlib.servers import FTPServer

        logging.getLogger("pyftpdlib").setLevel(logging.WARNING)
        authorizer = DummyAuthorizer()
        authorizer.add_user(
            self.settings.username, self.settings.password, str(self.root), perm="elradfmwMT"
        )

        class Handler(FTPHandler):
            pass

        Handler.authorizer = authorizer
        Handler.passive_ports = None
        self._acceptor = FTPServer(("127.0.0.1", self.settings.port), Handler, ioloop=IOLoop())
        self.port = self._acceptor.address[1]
        self._threads = [
            threading.Thread(target=self._serve, name="sandbox-ftp", daemon=True),
            threading.Thread(target=self._work, name="sandbox-3pl", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._save()

    def _serve(self) -> None:
        try:
            while not self._stop.is_set():
                self._acceptor.serve_forever(timeout=0.1, blocking=False, handle_exit=False)
        finally:
            self._acceptor.close_all()

    def _work(self) -> None:
        while not self._stop.wait(2.0):
            try:
                self.tick(self.clock())
            except Exception:  # noqa: BLE001 - the demo keeps running; the log says why
                log.exception("the simulated warehouse failed a pass; it tries again")

    # --- the worker ------------------------------------------------------------------------
    def tick(self, now: datetime) -> None:
        with self._lock:
            self._take_orders(now)
            self._take_cancellations(now)
            self._ship_due(now)
            last = self.state["last_inventory"]
            every = self.settings.inventory_every
            if last is None or now - datetime.fromisoformat(last) >= every:
                self._write_inventory(now)
            self._save()

    def _take_orders(self, now: datetime) -> None:
        inbound = self.root / "in"
        for path in sorted(inbound.glob("ord_*.csv")):
            orders = files.read_order_lines(path.read_bytes())
            path.unlink()  # the 3PL's import job takes the file
            self.state["received_files"].append({"file": path.name, "at": now.isoformat()})
            due = (now + self.settings.ship_after).isoformat()
            for number, lines in orders.items():
                self.state["waiting"].append(
                    {
                        "order": number,
                        "due": due,
                        "lines": [[ln.line_number, ln.sku, ln.quantity] for ln in lines],
                    }
                )
            log.info("took %s from /in: %d order(s)", path.name, len(orders))

    def _take_cancellations(self, now: datetime) -> None:
        inbound = self.root / "in"
        for path in sorted(inbound.glob("cxl_*.csv")):
            lines = path.read_text(encoding="utf-8").splitlines()
            numbers = [n.strip() for n in lines[1:] if n.strip()] if lines else []
            path.unlink()
            waiting = {w["order"] for w in self.state["waiting"]}
            self.state["waiting"] = [w for w in self.state["waiting"] if w["order"] not in numbers]
            for number in numbers:
                self.state["cancelled"].append(
                    {"order": number, "at": now.isoformat(), "file": path.name,
                     "in_time": number in waiting}
                )  # fmt: skip
            log.info("took %s from /in: %d cancellation(s)", path.name, len(numbers))

    def _ship_due(self, now: datetime) -> None:
        due = [w for w in self.state["waiting"] if datetime.fromisoformat(w["due"]) <= now]
        if not due:
            return
        packages: list[files.Package] = []
        for waiting in due:
            self.state["orders_seen"] += 1
            lines = [files.OrderLine(waiting["order"], n, sku, q) for n, sku, q in waiting["lines"]]
            if not lines:
                continue
            split = self.state["orders_seen"] % self.settings.split_every == 0
            groups = files.split_in_two(lines) if split else (lines, [])
            for group in groups:
                if group:
                    packages.append(self._package(waiting["order"], group))
        self.state["waiting"] = [w for w in self.state["waiting"] if w not in due]
        if not packages:
            return
        stamp = now.strftime("%y%m%d%H%M%S")
        name = f"shp_{stamp}_{self.state['packages']}.csv"
        self._publish("out", name, files.shipment_file(packages, now))
        for package in packages:
            units = sum(line.quantity for line in package.lines)
            for line in package.lines:
                stock = self.state["stock"]
                stock[line.sku] = stock.get(line.sku, 0) - line.quantity
            self.state["shipped"].append(
                {
                    "order": package.order_number,
                    "tracking": package.tracking_number,
                    "carrier": package.carrier,
                    "at": now.isoformat(),
                    "units": units,
                }
            )
        log.info("shipped %d package(s) of %d order(s) in %s", len(packages), len(due), name)

    def _package(self, order: str, lines: list[files.OrderLine]) -> files.Package:
        self.state["packages"] += 1
        n = self.state["packages"]
        carrier, service, prefix = CARRIERS[n % len(CARRIERS)]
        tracking = f"{prefix}DEMO{n:08d}"
        return files.Package(order, tracking, carrier, service, tuple(lines))

    def _write_inventory(self, now: datetime) -> None:
        stock = self.state["stock"]
        for sku, quantity in stock.items():
            if quantity < RESTOCK_BELOW:  # a receipt arrived
                stock[sku] = RESTOCK_TO
        name = f"inv_{now:%y%m%d%H%M%S}.csv"
        self._publish("out", name, files.inventory_file(stock, now, self.settings.facility))
        self.state["snapshots"].append({"file": name, "at": now.isoformat()})
        self.state["last_inventory"] = now.isoformat()

    def _publish(self, folder: str, name: str, data: bytes) -> None:
        """Write under a hidden name, then rename: DropStream never reads half a file."""
        hidden = self.root / folder / f".{name}.tmp"
        hidden.write_bytes(data)
        hidden.rename(self.root / folder / name)

    def _save(self) -> None:
        self.state.setdefault("cancelled", [])  # a state file from before cancel files
        for key in ("received_files", "cancelled", "shipped", "snapshots"):
            self.state[key] = self.state[key][-200:]
        tmp = self._state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=1))
        tmp.replace(self._state_path)

    # --- what the sandbox page shows -------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            out = self.root / "out"
            return {
                "stock": dict(sorted(self.state["stock"].items())),
                "waiting": list(self.state["waiting"]),
                "received_files": list(self.state["received_files"][-20:]),
                "cancelled": list(self.state.get("cancelled", [])[-20:]),
                "shipped": list(self.state["shipped"][-20:]),
                "snapshots": list(self.state["snapshots"][-5:]),
                "outbox": sorted(p.name for p in out.iterdir() if p.is_file()),
            }

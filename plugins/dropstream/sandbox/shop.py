"""The sandbox store: the strict Shopify emulator with a catalogue, shoppers and a page.

It speaks the Shopify Admin GraphQL API exactly as the tests' Shopify does (same emulator), so
the demo connection uses the real Shopify adapter. On top of that it:

- places a few realistic orders a minute (one to three lines, US addresses, mostly mapped ship
  methods, now and then ``PIGEON`` — a method the demo's rules do not map, so the order is held
  with its reason), and now and then a shopper cancels a fresh order;
- shows its orders, fulfillments and stock on a small page (``/``) and as JSON
  (``/sandbox/state.json``), beside the simulated warehouse's state;
- keeps its state in ``shop.pickle``, so a restart of ``make run`` carries on (order numbers
  never repeat, which the ledger and the warehouse rely on).
"""

from __future__ import annotations

import json
import logging
import pickle
import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dropstream.sandbox.http import Reply
from dropstream.sandbox.page import render_page
from dropstream.sandbox.shopify import ShopifyEmulator

log = logging.getLogger("dropstream.sandbox.shop")

#: SKU → (title, price, stock the store shows before the warehouse's first snapshot).
CATALOGUE: dict[str, tuple[str, str, int]] = {
    "MUG-BLU": ("Blue enamel mug", "12.50", 0),
    "MUG-RED": ("Red enamel mug", "12.50", 0),
    "TEE-M": ("Logo tee, M", "19.00", 0),
    "TEE-L": ("Logo tee, L", "19.00", 0),
    "CAP-01": ("Canvas cap", "15.00", 0),
    "SOCK-3P": ("Wool socks, 3 pairs", "24.00", 0),
    "TOTE-01": ("Tote bag", "9.90", 0),
    "PIN-SET": ("Enamel pin set", "7.25", 0),
}
#: What the simulated warehouse holds at the start.
WAREHOUSE_STOCK: dict[str, int] = {
    "MUG-BLU": 40,
    "MUG-RED": 35,
    "TEE-M": 60,
    "TEE-L": 55,
    "CAP-01": 30,
    "SOCK-3P": 45,
    "TOTE-01": 80,
    "PIN-SET": 25,
}
SHIP_METHODS = (
    ("Standard", "STANDARD", 7),
    ("Express", "EXPRESS", 2),
    ("Carrier pigeon", "PIGEON", 1),
)
SHOPPERS = (
    ("Ada Lovelace", "12 Analytical Way", "Portland", "OR", "97205"),
    ("Grace Hopper", "1 Compiler Ct", "Arlington", "VA", "22201"),
    ("Alan Turing", "42 Enigma St", "Boston", "MA", "02110"),
    ("Katherine Johnson", "7 Orbit Ave", "Hampton", "VA", "23669"),
    ("Edsger Dijkstra", "3 Shortest Path", "Austin", "TX", "78701"),
    ("Barbara Liskov", "5 Substitution Rd", "Cambridge", "MA", "02139"),
)


class SandboxShop(ShopifyEmulator):
    """A running sandbox store; ``start()`` also starts the shoppers."""

    TOKEN = "shpat_sandbox_demo_token"

    def __init__(
        self,
        state_dir: Path,
        *,
        port: int = 0,
        orders_per_minute: float = 3.0,
        cancel_share: float = 0.08,
        seed: int | None = None,
        warehouse_state: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(token=self.TOKEN, port=port, restore_rate=100.0)
        self.state_path = state_dir / "shop.pickle"
        self.orders_per_minute = orders_per_minute
        self.cancel_share = cancel_share
        self.random = random.Random(seed)
        self.warehouse_state = warehouse_state or (lambda: {})
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if self.state_path.exists():
            self.store = pickle.loads(self.state_path.read_bytes())
        else:
            for sku, (_title, _price, shown) in CATALOGUE.items():
                self.add_variant(sku, shown)

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> SandboxShop:
        super().start()
        if self.orders_per_minute > 0:
            self._thread = threading.Thread(target=self._shoppers, name="sandbox-shop", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        super().stop()
        self.save()

    def save(self) -> None:
        with self._lock:
            data = pickle.dumps(self.store)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(self.state_path)

    def _shoppers(self) -> None:
        mean_wait = 60.0 / self.orders_per_minute
        while not self._stop.wait(self.random.uniform(0.5, 1.5) * mean_wait):
            try:
                self.place_order(datetime.now(UTC))
                if self.random.random() < self.cancel_share:
                    self.cancel_a_fresh_order(datetime.now(UTC))
                self.save()
            except Exception:  # noqa: BLE001 - the demo keeps running; the log says why
                log.exception("the sandbox shop failed to place an order; it tries again")

    # --- shoppers --------------------------------------------------------------------------
    def place_order(self, now: datetime) -> str:
        """One shopper's order; returns its order number."""
        skus = self.random.sample(sorted(CATALOGUE), self.random.randint(1, 3))
        lines = [(sku, self.random.randint(1, 3), CATALOGUE[sku][1]) for sku in skus]
        title, code, _ = self.random.choices(SHIP_METHODS, [w for *_, w in SHIP_METHODS])[0]
        name, street, city, state, postal = self.random.choice(SHOPPERS)
        first, last = name.split(" ", 1)
        with self._lock:
            order_id = self.add_order(
                created_at=now,
                updated_at=now,
                lines=lines,
                email=f"{first.lower()}@example.com",
                address={
                    "name": name,
                    "firstName": first,
                    "lastName": last,
                    "company": None,
                    "address1": street,
                    "address2": None,
                    "city": city,
                    "province": state,
                    "provinceCode": state,
                    "zip": postal,
                    "country": "United States",
                    "countryCodeV2": "US",
                    "phone": None,
                },
                shipping_line={
                    "title": title,
                    "code": code,
                    "carrierIdentifier": None,
                    "source": "shopify",
                },
            )
            number = self.store.orders[order_id].number
        log.info("sandbox shop: order #%s placed (%s)", number, code)
        return str(number)

    def cancel_a_fresh_order(self, now: datetime) -> str | None:
        """A shopper changes their mind about an order placed in the last 40 seconds.

        As Shopify's ``orderCancel`` does, the order's fulfillment orders close, so the store
        refuses a fulfillment for it; whether it was sent to the warehouse first depends on when
        the next orders run came: before, it is never sent; after, the warehouse gets a cancel file.
        """
        with self._lock:
            fresh = [
                o
                for o in self.store.orders.values()
                if o.cancelled_at is None
                and o.fulfillment_status == "UNFULFILLED"
                and now - o.created_at < timedelta(seconds=40)
            ]
            if not fresh:
                return None
            order = self.random.choice(fresh)
            self.cancel_order(order.id, reason="CUSTOMER", at=now)  # as orderCancel does
        log.info("sandbox shop: order #%s cancelled by the shopper", order.number)
        return str(order.number)

    # --- the page ----------------------------------------------------------------------------
    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Reply:
        route = path.split("?", 1)[0]
        if method == "GET" and route in ("/", "/sandbox", "/sandbox/"):
            html = render_page(self.state(), self.warehouse_state())
            return 200, html.encode(), {"Content-Type": "text/html; charset=utf-8"}
        if method == "GET" and route == "/sandbox/state.json":
            state = {"store": self.state(), "warehouse": self.warehouse_state()}
            return (
                200,
                json.dumps(state, default=str).encode(),
                {"Content-Type": "application/json"},
            )
        return super().handle(method, path, headers, body)

    def state(self) -> dict[str, Any]:
        """Orders (newest first), fulfillments and stock, as the page shows them."""
        with self._lock:
            orders = sorted(self.store.orders.values(), key=lambda o: o.number, reverse=True)
            return {
                "orders": [
                    {
                        "number": o.number,
                        "created_at": o.created_at.isoformat(),
                        "status": "cancelled" if o.cancelled_at else o.fulfillment_status.lower(),
                        "ship_method": (o.shipping_line or {}).get("code"),
                        "lines": [[line.sku, line.quantity] for line in o.lines],
                        "fulfillments": [
                            {"company": f["company"], "number": f["number"], "at": f["createdAt"]}
                            for f in o.fulfillments
                        ],
                    }
                    for o in orders
                ],
                "stock": {v.sku: v.available for v in self.store.variants},
                "fulfillments": len(self.store.fulfillments),
            }

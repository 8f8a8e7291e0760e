"""Platform harnesses: one small class per store platform hiding its emulator's differences.

The conformance suite, the per-platform end-to-end test and ``bench/api_calls.py`` talk to
every emulator through the same API: seed an order or a SKU, break or throttle the next
requests, and read back what the store was told (fulfillments, quantities, request counts).
Orders are seeded with a neutral address (``Address`` field names) and ``(sku, qty, price)``
lines; each harness translates them into its platform's shape.

Each harness can also cancel an order the platform's way (``cancel``) and, where the platform
marks lines that need no shipping, seed an order with one (``seed_non_shipping``).

Request kinds counted by ``requests(emulator, kind)``:
``orders`` (order list pages), ``details`` (per-order detail reads while fetching),
``inventory_push`` (batch writes), ``inventory_lookup`` (SKU resolution and other inventory
reads), ``fulfillment`` (tracking writes), ``token`` (OAuth token exchanges), ``all``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, ClassVar

from dropstream.sandbox.platforms.amazon import AmazonEmulator, amazon_connection_json
from dropstream.sandbox.platforms.bigcommerce import (
    BigCommerceEmulator,
    bigcommerce_connection_json,
)
from dropstream.sandbox.platforms.ebay import EbayEmulator, ebay_connection_json
from dropstream.sandbox.platforms.etsy import EtsyEmulator, etsy_connection_json
from dropstream.sandbox.platforms.magento import MagentoEmulator, magento_connection_json
from dropstream.sandbox.platforms.walmart import WalmartEmulator, walmart_connection_json
from dropstream.sandbox.platforms.woocommerce import (
    WooCommerceEmulator,
    woocommerce_connection_json,
)
from dropstream.sandbox.shopify import ShopifyEmulator, shopify_connection_json

Line = tuple[str, int, str]  # (sku, quantity, unit price)
Fulfillment = tuple[str, dict[str, int]]  # (tracking number, {line id: quantity})
DEFAULT_LINES: tuple[Line, ...] = (("SKU-1", 1, "10.00"),)
DEFAULT_ADDRESS: dict[str, str] = {
    "name": "Ada Buyer",
    "address1": "1 Main St",
    "address2": "",
    "city": "Springfield",
    "state": "OR",
    "postal_code": "97477",
    "country": "US",
    "phone": "",
}


def _count(log: Iterable[dict[str, Any]], method: str, pattern: str) -> int:
    return sum(1 for r in log if r["method"] == method and re.fullmatch(pattern, r["path"]))


@dataclass(frozen=True)
class Shape:
    """What an adapter may cost: the caps it uses and the calls the platform forces on it."""

    page_max: int  # orders per list page the adapter asks for (the platform's cap it uses)
    inventory_cap: int  # SKUs per inventory write
    details_per_order: int = 0  # per-order detail reads the platform requires while fetching


class PlatformHarness:
    """The uniform test-facing API over one platform's emulator."""

    platform: ClassVar[str]
    fixture_name: ClassVar[str]
    shape: ClassVar[Shape]
    oauth: ClassVar[bool] = False
    #: adapter class attributes that make its polls test-fast (the tests set them, with fast
    #: retries; see tests/adapters/harness.py)
    fast_overrides: ClassVar[dict[str, Any]] = {}

    @property
    def page_max(self) -> int:
        return self.shape.page_max

    @property
    def inventory_cap(self) -> int:
        return self.shape.inventory_cap

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> Any:
        """A running emulator outside pytest (for the bench)."""
        raise NotImplementedError

    def prepare(self, emulator: Any) -> None:
        """Tune a fresh emulator for the conformance suite (default: as it comes)."""

    # --- connection ------------------------------------------------------------------------
    def connection_json(self, emulator: Any) -> str:
        raise NotImplementedError

    def break_credentials(self, emulator: Any) -> tuple[str, str]:
        """A connection JSON with a wrong secret, and the secret (which must not leak)."""
        conn = json.loads(self.connection_json(emulator))
        wrong = "wrong-secret-0000"
        return json.dumps(conn | {"password": wrong}), wrong

    # --- seeding ---------------------------------------------------------------------------
    def seed_order(
        self,
        emulator: Any,
        number: int,
        updated_at: datetime,
        lines: Iterable[Line] = DEFAULT_LINES,
        address: dict[str, str] | None = None,
        created_at: datetime | None = None,
    ) -> str:
        """Seed an open, paid, unshipped order; returns the platform order id (``Order.order_id``).

        ``number`` is honoured where the platform lets the merchant's number differ from the
        id (Shopify); elsewhere the platform assigns it (see ``order_number``). ``created_at``
        defaults to ``updated_at``.
        """
        raise NotImplementedError

    def seed_not_open(self, emulator: Any, created_at: datetime) -> dict[str, str]:
        """Seed orders a backlog import must skip (unpaid, shipped, cancelled: what the platform
        can express), created at ``created_at``; returns {what: order id}."""
        raise NotImplementedError

    #: whether the platform marks a line of a physical order as needing no shipping (digital,
    #: virtual, gift card: docs/platforms.md, "Order tags and lines that need no shipping")
    non_shipping_lines: ClassVar[bool] = False

    def seed_non_shipping(
        self, emulator: Any, number: int, updated_at: datetime, lines: Iterable[Line],
        non_shipping: Collection[str],
    ) -> str:  # fmt: skip
        """Seed an open order whose lines of the SKUs ``non_shipping`` need no shipping."""
        raise NotImplementedError(f"{self.platform} has no line that needs no shipping")

    def cancel(self, emulator: Any, order_id: str, at: datetime) -> None:
        """Cancel an open order in the store at ``at``, as the merchant does on the platform."""
        raise NotImplementedError(f"the {self.platform} emulator cannot cancel an order")

    def order_number(self, emulator: Any, order_id: str) -> str:
        """The number the merchant and the warehouse see (``Order.number``)."""
        return order_id

    def seed_sku(self, emulator: Any, sku: str, qty: int) -> None:
        raise NotImplementedError

    # --- inspection ------------------------------------------------------------------------
    def quantity(self, emulator: Any, sku: str) -> int | None:
        raise NotImplementedError

    def fulfillments(self, emulator: Any, order_id: str) -> list[Fulfillment]:
        raise NotImplementedError

    def requests(self, emulator: Any, kind: str) -> int:
        raise NotImplementedError

    def statuses(self, emulator: Any) -> list[int]:
        """HTTP status of every request the emulator answered, in order."""
        return [int(r.get("status", 0)) for r in emulator.requests]

    # --- faults ----------------------------------------------------------------------------
    def fail_next(self, emulator: Any, n: int, status: int = 503) -> None:
        emulator.fail_next(n, status=status)

    def throttle_storm(self, emulator: Any, n: int) -> None:
        """The next ``n`` requests are refused as rate limited (429 / THROTTLED)."""
        emulator.fail_next(n, status=429)

    def expire_token(self, emulator: Any) -> Callable[[], None] | None:
        """OAuth platforms: a callable that expires every access token; None otherwise."""
        return None

    # --- floors ----------------------------------------------------------------------------
    def fetch_floor(self, n: int) -> int:
        """List pages (at least one, to learn there is nothing) plus required detail reads."""
        return max(1, math.ceil(n / self.page_max)) + n * self.shape.details_per_order

    def inventory_floor(self, n: int) -> int:
        """Writes plus the documented SKU-resolution calls to push ``n`` changed SKUs."""
        return math.ceil(n / self.inventory_cap)


# --- Shopify ---------------------------------------------------------------------------------
class ShopifyHarness(PlatformHarness):
    platform = "shopify"
    fixture_name = "shopify_emulator"
    # ORDERS_PAGE = 25: Shopify allows 250, but 25 orders with 10 lines each is what fits a
    # 1000-point query; SET_QUANTITIES_BATCH = 250 (input array cap).
    shape = Shape(page_max=25, inventory_cap=250)
    skus_per_lookup = 100  # productVariants(query: "sku:a OR sku:b ...") per read

    def start(self) -> ShopifyEmulator:
        return ShopifyEmulator().start()

    def prepare(self, emulator: ShopifyEmulator) -> None:
        # A generous restore rate keeps request counts about pagination, not the clock:
        # cost pacing at 100 points/s is measured by bench/api_calls.py.
        emulator.set_restore_rate(10_000)

    def connection_json(self, emulator: ShopifyEmulator) -> str:
        return shopify_connection_json(emulator)

    def seed_order(
        self, emulator, number, updated_at, lines=DEFAULT_LINES, address=None, created_at=None
    ) -> str:
        shaped = None
        if address is not None:
            shaped = {
                "name": address["name"],
                "company": None,
                "address1": address["address1"],
                "address2": address.get("address2") or None,
                "city": address["city"],
                "provinceCode": address.get("state") or None,
                "zip": address["postal_code"],
                "countryCodeV2": address["country"],
                "phone": address.get("phone") or None,
            }
        return emulator.add_order(
            number,
            updated_at=updated_at,
            created_at=created_at or updated_at,
            lines=list(lines),
            address=shaped,
        )

    def seed_not_open(self, emulator: ShopifyEmulator, created_at: datetime) -> dict[str, str]:
        at = partial(emulator.add_order, updated_at=created_at, created_at=created_at)
        seeded = {
            "unpaid": at(9101, financial_status="PENDING"),
            "closed": at(9102, closed=True),
            "shipped": at(9103),
        }
        for item in emulator.order(seeded["shipped"]).fulfillment_orders[0].items:
            item.remaining = 0
        return seeded

    def order_number(self, emulator: ShopifyEmulator, order_id: str) -> str:
        return str(emulator.order(order_id).number)

    non_shipping_lines = True

    def seed_non_shipping(self, emulator, number, updated_at, lines, non_shipping) -> str:
        return emulator.add_order(number, updated_at=updated_at, created_at=updated_at,
                                  lines=list(lines), digital_skus=non_shipping)  # fmt: skip

    def cancel(self, emulator: ShopifyEmulator, order_id: str, at: datetime) -> None:
        emulator.cancel_order(order_id, reason="CUSTOMER", at=at)

    def seed_sku(self, emulator: ShopifyEmulator, sku: str, qty: int) -> None:
        emulator.add_variant(sku, available=qty)

    def quantity(self, emulator: ShopifyEmulator, sku: str) -> int | None:
        return emulator.inventory.get(sku)

    def fulfillments(self, emulator: ShopifyEmulator, order_id: str) -> list[Fulfillment]:
        return [
            (f["number"], f["lines"]) for f in emulator.fulfillments if f["order_id"] == order_id
        ]

    def requests(self, emulator: ShopifyEmulator, kind: str) -> int:
        fields = {
            "orders": ("orders",),
            "details": ("order",),
            "inventory_push": ("inventorySetQuantities",),
            "inventory_lookup": ("productVariants", "locations", "location"),
            "fulfillment": ("fulfillmentCreate",),
            "token": (),
        }
        if kind == "all":
            return len(emulator.requests)
        wanted = set(fields[kind])
        return sum(1 for r in emulator.requests if wanted & set(r["fields"]))

    def throttle_storm(self, emulator: ShopifyEmulator, n: int) -> None:
        # The emulator can only inject HTTP failures (fail_next), not n THROTTLED GraphQL
        # answers in a row (its bucket throttles at most once per paced request): a 429 storm.
        emulator.fail_next(n, status=429)

    def inventory_floor(self, n: int) -> int:
        # + SKU -> inventory item reads (100 SKUs each) + the location, read once per adapter.
        return super().inventory_floor(n) + math.ceil(n / self.skus_per_lookup) + (1 if n else 0)


# --- WooCommerce -----------------------------------------------------------------------------
class WooCommerceHarness(PlatformHarness):
    platform = "woocommerce"
    fixture_name = "woocommerce_emulator"
    shape = Shape(page_max=100, inventory_cap=100)
    skus_per_lookup = 100  # GET /products?sku=a,b,...&per_page=100

    def start(self) -> WooCommerceEmulator:
        return WooCommerceEmulator().start()

    def connection_json(self, emulator: WooCommerceEmulator) -> str:
        return woocommerce_connection_json(emulator)

    def seed_order(
        self, emulator, number, updated_at, lines=DEFAULT_LINES, address=None, created_at=None
    ) -> str:
        shipping = None
        if address is not None:
            first, _, last = address["name"].partition(" ")
            shipping = {
                "first_name": first,
                "last_name": last,
                "company": "",
                "address_1": address["address1"],
                "address_2": address.get("address2", ""),
                "city": address["city"],
                "state": address.get("state", ""),
                "postcode": address["postal_code"],
                "country": address["country"],
                "phone": address.get("phone", ""),
            }
        return str(
            emulator.add_order(
                modified_at=updated_at, created_at=created_at, lines=list(lines), shipping=shipping
            )
        )

    def seed_not_open(self, emulator: WooCommerceEmulator, created_at: datetime) -> dict[str, str]:
        return {
            status: str(emulator.add_order(modified_at=created_at, status=status))
            for status in ("pending", "on-hold", "completed", "cancelled")
        }

    def order_number(self, emulator: WooCommerceEmulator, order_id: str) -> str:
        return str(emulator.orders[int(order_id)]["number"])

    def cancel(self, emulator: WooCommerceEmulator, order_id: str, at: datetime) -> None:
        emulator.cancel_order(int(order_id), at=at)

    def seed_sku(self, emulator: WooCommerceEmulator, sku: str, qty: int) -> None:
        emulator.add_product(sku, stock=qty)

    def quantity(self, emulator: WooCommerceEmulator, sku: str) -> int | None:
        return emulator.stock.get(sku)

    def fulfillments(self, emulator: WooCommerceEmulator, order_id: str) -> list[Fulfillment]:
        # Trackings carry no lines; which units went in which package is what the adapter
        # recorded on the order (meta ``dropstream_shipments``), visible in the store admin.
        order = emulator.orders[int(order_id)]
        meta = next((m for m in order["meta_data"] if m["key"] == "dropstream_shipments"), None)
        record = json.loads(meta["value"]) if meta else {}
        return [
            (t["tracking_number"], dict(record.get(t["tracking_number"], {}).get("lines", {})))
            for t in emulator.trackings.get(int(order_id), [])
        ]

    def requests(self, emulator: WooCommerceEmulator, kind: str) -> int:
        log = emulator.requests
        api = "/wp-json/wc/v3"
        return {
            "orders": lambda: _count(log, "GET", f"{api}/orders"),
            "details": lambda: _count(log, "GET", rf"{api}/orders/\d+"),
            "inventory_push": lambda: _count(log, "POST", r".*/batch"),
            "inventory_lookup": lambda: _count(log, "GET", f"{api}/products"),
            "fulfillment": lambda: _count(log, "POST", r".*/(shipment-trackings|notes)"),
            "token": lambda: 0,
            "all": lambda: len(log),
        }[kind]()

    def throttle_storm(self, emulator: WooCommerceEmulator, n: int) -> None:
        emulator.throttle_next(n, retry_after="0")

    def inventory_floor(self, n: int) -> int:
        return super().inventory_floor(n) + math.ceil(n / self.skus_per_lookup)


# --- BigCommerce -----------------------------------------------------------------------------
class BigCommerceHarness(PlatformHarness):
    platform = "bigcommerce"
    fixture_name = "bigcommerce_emulator"
    # v2 orders carry neither lines nor addresses: products + shipping_addresses per order.
    shape = Shape(page_max=250, inventory_cap=2000, details_per_order=2)

    def start(self) -> BigCommerceEmulator:
        return BigCommerceEmulator().start()

    def connection_json(self, emulator: BigCommerceEmulator) -> str:
        return bigcommerce_connection_json(emulator)

    def seed_order(
        self, emulator, number, updated_at, lines=DEFAULT_LINES, address=None, created_at=None
    ) -> str:
        shaped = None
        if address is not None:
            first, _, last = address["name"].partition(" ")
            shaped = {
                "first_name": first,
                "last_name": last,
                "company": "",
                "street_1": address["address1"],
                "street_2": address.get("address2", ""),
                "city": address["city"],
                "state": address.get("state", ""),
                "zip": address["postal_code"],
                "country": address["country"],
                "country_iso2": address["country"],
                "phone": address.get("phone", ""),
                "email": "buyer@example.com",
                "shipping_method": "Flat Rate",
            }
        return str(
            emulator.add_order(
                modified_at=updated_at, created_at=created_at, lines=list(lines), address=shaped
            )
        )

    def seed_not_open(self, emulator: BigCommerceEmulator, created_at: datetime) -> dict[str, str]:
        statuses = {"pending": 1, "shipped": 2, "cancelled": 5, "completed": 10}
        return {
            what: str(emulator.add_order(modified_at=created_at, status_id=status_id))
            for what, status_id in statuses.items()
        }

    non_shipping_lines = True

    def seed_non_shipping(self, emulator, number, updated_at, lines, non_shipping) -> str:
        return str(emulator.add_order(modified_at=updated_at, lines=list(lines),
                                      digital_skus=non_shipping))  # fmt: skip

    def cancel(self, emulator: BigCommerceEmulator, order_id: str, at: datetime) -> None:
        emulator.cancel_order(int(order_id), at=at)

    def fetch_floor(self, n: int) -> int:
        # v2 lists say nothing about what is left: after a full last page, only the next
        # page's 204 tells that it was the last (``/v2/orders/count`` would cost as much).
        return n // self.page_max + 1 + n * self.shape.details_per_order

    def seed_sku(self, emulator: BigCommerceEmulator, sku: str, qty: int) -> None:
        emulator.add_product(sku, stock=qty)

    def quantity(self, emulator: BigCommerceEmulator, sku: str) -> int | None:
        return emulator.stock.get(sku)

    def fulfillments(self, emulator: BigCommerceEmulator, order_id: str) -> list[Fulfillment]:
        return [
            (s["tracking_number"], {str(i["order_product_id"]): i["quantity"] for i in s["items"]})
            for s in emulator.shipments.get(int(order_id), [])
        ]

    def requests(self, emulator: BigCommerceEmulator, kind: str) -> int:
        log = emulator.requests
        base = f"/stores/{emulator.store_hash}"
        return {
            "orders": lambda: _count(log, "GET", f"{base}/v2/orders"),
            "details": lambda: _count(
                log, "GET", rf"{base}/v2/orders/\d+/(products|shipping_addresses)"
            ),
            "inventory_push": lambda: _count(log, "PUT", f"{base}/v3/inventory/.*"),
            "inventory_lookup": lambda: 0,
            "fulfillment": lambda: _count(log, "POST", rf"{base}/v2/orders/\d+/shipments"),
            "token": lambda: 0,
            "all": lambda: len(log),
        }[kind]()

    def throttle_storm(self, emulator: BigCommerceEmulator, n: int) -> None:
        emulator.throttle_next(n, reset_ms=10)


# --- Amazon ----------------------------------------------------------------------------------
class AmazonHarness(PlatformHarness):
    platform = "amazon"
    fixture_name = "amazon_emulator"
    # searchOrders maxResultsPerPage 100; a JSON_LISTINGS_FEED holds up to 25,000 messages.
    shape = Shape(page_max=100, inventory_cap=25_000)
    oauth = True
    # A feed costs createFeedDocument + upload + createFeed + polls until DONE (the emulator
    # answers IN_QUEUE, IN_PROGRESS, DONE) + getFeedDocument + report download.
    feed_overhead = 2 + 3 + 2

    def start(self) -> AmazonEmulator:
        return AmazonEmulator().start()

    fast_overrides: ClassVar[dict[str, Any]] = {"feed_poll_seconds": 0.0}

    def connection_json(self, emulator: AmazonEmulator) -> str:
        return amazon_connection_json(emulator)

    def seed_order(
        self, emulator, number, updated_at, lines=DEFAULT_LINES, address=None, created_at=None
    ) -> str:
        shaped = None
        if address is not None:
            shaped = {
                "name": address["name"],
                "addressLine1": address["address1"],
                "addressLine2": address.get("address2", ""),
                "city": address["city"],
                "stateOrRegion": address.get("state", ""),
                "postalCode": address["postal_code"],
                "countryCode": address["country"],
                "phone": address.get("phone", ""),
            }
        return emulator.add_order(
            updated_at=updated_at, created_at=created_at, lines=list(lines), address=shaped
        )

    def seed_not_open(self, emulator: AmazonEmulator, created_at: datetime) -> dict[str, str]:
        return {
            status.lower(): emulator.add_order(updated_at=created_at, status=status)
            for status in ("PENDING", "SHIPPED", "CANCELLED")
        }

    def cancel(self, emulator: AmazonEmulator, order_id: str, at: datetime) -> None:
        emulator.cancel_order(order_id, at=at)

    def seed_sku(self, emulator: AmazonEmulator, sku: str, qty: int) -> None:
        emulator.add_listing(sku, qty)

    def quantity(self, emulator: AmazonEmulator, sku: str) -> int | None:
        return emulator.quantities.get(sku)

    def fulfillments(self, emulator: AmazonEmulator, order_id: str) -> list[Fulfillment]:
        return [
            (f["trackingNumber"], {i["orderItemId"]: i["quantity"] for i in f["packageItems"]})
            for f in emulator.fulfillments
            if f["orderId"] == order_id
        ]

    def requests(self, emulator: AmazonEmulator, kind: str) -> int:
        log = emulator.requests
        orders = "/orders/2026-01-01/orders"
        pushes = _count(log, "POST", "/feeds/2021-06-30/feeds") + _count(
            log, "PATCH", "/listings/.*"
        )
        feed_reads = (
            _count(log, "POST", "/feeds/2021-06-30/documents")
            + _count(log, "GET", "/feeds/2021-06-30/(feeds|documents)/.*")
            + sum(1 for r in log if r["path"].startswith("/feed-documents/"))
        )
        return {
            "orders": _count(log, "GET", orders),
            "details": _count(log, "GET", f"{orders}/.*"),
            "inventory_push": pushes,
            "inventory_lookup": feed_reads,
            "fulfillment": _count(log, "POST", r"/orders/v0/orders/.*/shipmentConfirmation"),
            "token": _count(log, "POST", "/auth/o2/token"),
            "all": len(log),
        }[kind]

    def expire_token(self, emulator: AmazonEmulator) -> Callable[[], None]:
        return emulator.expire_tokens

    def inventory_floor(self, n: int) -> int:
        feeds = math.ceil(n / self.inventory_cap)
        if n <= 5:  # patch_max_skus: a handful of SKUs are patched one by one
            return n
        return feeds * (1 + self.feed_overhead)


# --- eBay ------------------------------------------------------------------------------------
class EbayHarness(PlatformHarness):
    platform = "ebay"
    fixture_name = "ebay_emulator"
    # getOrders limit 200 (eBay's documented maximum is unconfirmed; the emulator's default);
    # bulk_update_price_quantity takes 25 requests per call.
    shape = Shape(page_max=200, inventory_cap=25)
    oauth = True

    def start(self) -> EbayEmulator:
        return EbayEmulator().start()

    def connection_json(self, emulator: EbayEmulator) -> str:
        return ebay_connection_json(emulator)

    def seed_order(
        self, emulator, number, updated_at, lines=DEFAULT_LINES, address=None, created_at=None
    ) -> str:
        shaped = None
        if address is not None:
            shaped = {
                "fullName": address["name"],
                "contactAddress": {
                    "addressLine1": address["address1"],
                    "addressLine2": address.get("address2", ""),
                    "city": address["city"],
                    "stateOrProvince": address.get("state", ""),
                    "postalCode": address["postal_code"],
                    "countryCode": address["country"],
                },
                "primaryPhone": {"phoneNumber": address.get("phone", "")},
                "email": "buyer@example.com",
            }
        return emulator.add_order(
            updated_at=updated_at, created_at=created_at, lines=list(lines), ship_to=shaped
        )

    def seed_not_open(self, emulator: EbayEmulator, created_at: datetime) -> dict[str, str]:
        seeded = {
            "unpaid": emulator.add_order(updated_at=created_at, payment_status="PENDING"),
            "shipped": emulator.add_order(updated_at=created_at),
            "cancelled": emulator.add_order(updated_at=created_at),
        }
        emulator.orders[seeded["shipped"]]["orderFulfillmentStatus"] = "FULFILLED"
        emulator.orders[seeded["cancelled"]]["cancelStatus"]["cancelState"] = "CANCELED"
        return seeded

    def cancel(self, emulator: EbayEmulator, order_id: str, at: datetime) -> None:
        emulator.cancel_order(order_id, at=at)

    def seed_sku(self, emulator: EbayEmulator, sku: str, qty: int) -> None:
        emulator.add_listing(sku, qty)

    def quantity(self, emulator: EbayEmulator, sku: str) -> int | None:
        return emulator.quantities.get(sku)

    def fulfillments(self, emulator: EbayEmulator, order_id: str) -> list[Fulfillment]:
        return [
            (f["shipmentTrackingNumber"], {i["lineItemId"]: i["quantity"] for i in f["lineItems"]})
            for f in emulator.fulfillments
            if f["orderId"] == order_id
        ]

    def requests(self, emulator: EbayEmulator, kind: str) -> int:
        log = emulator.requests
        orders = "/sell/fulfillment/v1/order"
        return {
            "orders": _count(log, "GET", orders),
            "details": _count(log, "GET", f"{orders}/[^/]+"),
            "inventory_push": _count(log, "POST", "/sell/inventory/v1/bulk_update_price_quantity"),
            "inventory_lookup": _count(log, "GET", "/sell/inventory/.*"),
            "fulfillment": _count(log, "POST", f"{orders}/[^/]+/shipping_fulfillment"),
            "token": _count(log, "POST", "/identity/v1/oauth2/token"),
            "all": len(log),
        }[kind]

    def expire_token(self, emulator: EbayEmulator) -> Callable[[], None]:
        return emulator.expire_tokens


# --- Etsy ------------------------------------------------------------------------------------
class EtsyHarness(PlatformHarness):
    platform = "etsy"
    fixture_name = "etsy_emulator"
    # getShopReceipts limit 100 (receipts carry their transactions and address); an inventory
    # write is one listing's whole inventory, and each seeded SKU is a listing of its own.
    shape = Shape(page_max=100, inventory_cap=1)
    oauth = True
    listings_per_read = 100  # getListingsByShop limit

    def start(self) -> EtsyEmulator:
        return EtsyEmulator().start()

    def connection_json(self, emulator: EtsyEmulator) -> str:
        return etsy_connection_json(emulator)

    def seed_order(
        self, emulator, number, updated_at, lines=DEFAULT_LINES, address=None, created_at=None
    ) -> str:
        shaped = None
        if address is not None:
            shaped = {
                "name": address["name"],
                "first_line": address["address1"],
                "second_line": address.get("address2") or None,
                "city": address["city"],
                "state": address.get("state") or None,
                "zip": address["postal_code"],
                "country_iso": address["country"],
            }
        receipt_id = emulator.add_receipt(
            updated_at=updated_at, created_at=created_at, lines=list(lines), address=shaped
        )
        return str(receipt_id)

    def seed_not_open(self, emulator: EtsyEmulator, created_at: datetime) -> dict[str, str]:
        at = partial(emulator.add_receipt, updated_at=created_at)
        return {
            "unpaid": str(at(paid=False)),
            "shipped": str(at(shipped=True)),
            "cancelled": str(at(canceled=True)),
        }

    non_shipping_lines = True

    def seed_non_shipping(self, emulator, number, updated_at, lines, non_shipping) -> str:
        return str(emulator.add_receipt(updated_at=updated_at, lines=list(lines),
                                        digital_skus=non_shipping))  # fmt: skip

    def cancel(self, emulator: EtsyEmulator, order_id: str, at: datetime) -> None:
        emulator.cancel_order(int(order_id), at=at, reason="Buyer requested cancellation")

    def seed_sku(self, emulator: EtsyEmulator, sku: str, qty: int) -> None:
        emulator.add_listing([(sku, qty)])

    def quantity(self, emulator: EtsyEmulator, sku: str) -> int | None:
        return emulator.quantity(sku)

    def fulfillments(self, emulator: EtsyEmulator, order_id: str) -> list[Fulfillment]:
        """Etsy records a tracking code per receipt, not lines: a package that is not the whole
        receipt says what it holds in the note to the buyer (``2 × Item A; 1 × Item B``), a
        package without a note holds every line."""
        receipt = emulator.receipts[int(order_id)]
        lines = {t["title"]: str(t["transaction_id"]) for t in receipt["transactions"]}
        everything = {str(t["transaction_id"]): t["quantity"] for t in receipt["transactions"]}
        shipped = []
        for shipment in receipt["shipments"]:
            note = emulator.notes.get(shipment["tracking_code"])
            if note is None:
                shipped.append((shipment["tracking_code"], dict(everything)))
                continue
            items = note.split(": ", 1)[1].rsplit(". The rest", 1)[0].split("; ")
            held = {}
            for item in items:
                quantity, _, title = item.partition(" × ")
                held[lines[title]] = int(quantity)
            shipped.append((shipment["tracking_code"], held))
        return shipped

    def requests(self, emulator: EtsyEmulator, kind: str) -> int:
        log = emulator.requests
        shop = rf"/v3/application/shops/{emulator.shop_id}"
        return {
            "orders": _count(log, "GET", f"{shop}/receipts"),
            "details": _count(log, "GET", rf"{shop}/receipts/\d+"),
            "inventory_push": _count(log, "PUT", r"/v3/application/listings/\d+/inventory"),
            "inventory_lookup": _count(log, "GET", f"{shop}/listings"),
            "fulfillment": _count(log, "POST", rf"{shop}/receipts/\d+/tracking"),
            "token": _count(log, "POST", "/v3/public/oauth/token"),
            "all": len(log),
        }[kind]

    def expire_token(self, emulator: EtsyEmulator) -> Callable[[], None]:
        return emulator.expire_tokens

    def inventory_floor(self, n: int) -> int:
        # + the SKU -> listing lookup: the shop's active listings (here the n seeded ones,
        # 100 a read) and its sold-out listings (one read, empty here); Etsy has no SKU search.
        if not n:
            return 0
        return super().inventory_floor(n) + math.ceil(n / self.listings_per_read) + 1


# --- Magento 2 / Adobe Commerce -------------------------------------------------------------
class MagentoHarness(PlatformHarness):
    platform = "magento"
    fixture_name = "magento_emulator"
    # Adobe's documented input limits: searchCriteria pageSize <= 300, 20 entities per list.
    shape = Shape(page_max=300, inventory_cap=20)

    def start(self) -> MagentoEmulator:
        return MagentoEmulator().start()

    def connection_json(self, emulator: MagentoEmulator) -> str:
        return magento_connection_json(emulator)

    def seed_order(
        self, emulator, number, updated_at, lines=DEFAULT_LINES, address=None, created_at=None
    ) -> str:
        shaped = None
        if address is not None:
            first, _, last = address["name"].partition(" ")
            shaped = {
                "firstname": first,
                "lastname": last,
                "company": "",
                "street": [p for p in (address["address1"], address.get("address2")) if p],
                "city": address["city"],
                "region": address.get("state", ""),
                "region_code": address.get("state", ""),
                "postcode": address["postal_code"],
                "country_id": address["country"],
                "telephone": address.get("phone", ""),
            }
        return str(
            emulator.add_order(
                updated_at=updated_at, created_at=created_at, lines=list(lines), address=shaped
            )
        )

    def seed_not_open(self, emulator: MagentoEmulator, created_at: datetime) -> dict[str, str]:
        at = partial(emulator.add_order, updated_at=created_at)
        seeded = {
            "pending": at(state="new"),
            "unpaid": at(total_due="10.00"),
            "complete": at(state="complete"),
            "canceled": at(state="canceled"),
            "partly shipped": at(lines=[("A", 2, "1.00")]),
        }
        emulator.orders[seeded["partly shipped"]]["items"][0]["qty_shipped"] += 1
        return {what: str(order_id) for what, order_id in seeded.items()}

    def order_number(self, emulator: MagentoEmulator, order_id: str) -> str:
        return str(emulator.orders[int(order_id)]["increment_id"])

    non_shipping_lines = True

    def seed_non_shipping(self, emulator, number, updated_at, lines, non_shipping) -> str:
        return str(emulator.add_order(updated_at=updated_at, lines=list(lines),
                                      virtual_skus=non_shipping))  # fmt: skip

    def cancel(self, emulator: MagentoEmulator, order_id: str, at: datetime) -> None:
        emulator.cancel_order(int(order_id), at=at)

    def seed_sku(self, emulator: MagentoEmulator, sku: str, qty: int) -> None:
        emulator.add_product(sku, qty)

    def quantity(self, emulator: MagentoEmulator, sku: str) -> int | None:
        return emulator.quantity(sku)

    def fulfillments(self, emulator: MagentoEmulator, order_id: str) -> list[Fulfillment]:
        return [
            (
                s["tracks"][0]["track_number"],
                {str(i["order_item_id"]): int(i["qty"]) for i in s["items"]},
            )
            for s in emulator.shipments
            if s["order_id"] == int(order_id)
        ]

    def requests(self, emulator: MagentoEmulator, kind: str) -> int:
        log = emulator.requests
        return {
            "orders": lambda: _count(log, "GET", "/rest/V1/orders"),
            "details": lambda: _count(log, "GET", r"/rest/V1/orders/\d+"),
            "inventory_push": lambda: _count(log, "POST", "/rest/V1/inventory/source-items"),
            "inventory_lookup": lambda: 0,
            "fulfillment": lambda: _count(log, "POST", r"/rest/V1/order/\d+/ship"),
            "token": lambda: 0,
            "all": lambda: len(log),
        }[kind]()

    def throttle_storm(self, emulator: MagentoEmulator, n: int) -> None:
        emulator.throttle_next(n, retry_after="0")


# --- Walmart ---------------------------------------------------------------------------------
class WalmartHarness(PlatformHarness):
    platform = "walmart"
    fixture_name = "walmart_emulator"
    # GET /v3/orders limit 200; an inventory feed takes the adapter's feed_max_skus (10,000);
    # every Created order is acknowledged as it is fetched (one POST each: "details").
    shape = Shape(page_max=200, inventory_cap=10_000, details_per_order=1)
    oauth = True
    feed_threshold = 10  # up to this many SKUs go one PUT each
    feed_detail_page = 1000  # feed item details per status read
    fast_overrides: ClassVar[dict[str, Any]] = {"feed_poll_seconds": 0.0}

    def start(self) -> WalmartEmulator:
        return WalmartEmulator().start()

    def connection_json(self, emulator: WalmartEmulator) -> str:
        return walmart_connection_json(emulator)

    def seed_order(
        self, emulator, number, updated_at, lines=DEFAULT_LINES, address=None, created_at=None
    ) -> str:
        shaped = None
        if address is not None:
            shaped = {
                "name": address["name"],
                "address1": address["address1"],
                "address2": address.get("address2") or None,
                "city": address["city"],
                "state": address.get("state", ""),
                "postalCode": address["postal_code"],
                "country": address["country"],
                "addressType": "RESIDENTIAL",
            }
        return emulator.add_order(
            updated_at=updated_at, created_at=created_at, lines=list(lines), address=shaped
        )

    def seed_not_open(self, emulator: WalmartEmulator, created_at: datetime) -> dict[str, str]:
        # Walmart releases only paid orders: nothing is "unpaid".
        return {
            status.lower(): emulator.add_order(updated_at=created_at, status=status)
            for status in ("Shipped", "Delivered", "Cancelled")
        }

    def seed_sku(self, emulator: WalmartEmulator, sku: str, qty: int) -> None:
        emulator.add_item(sku, qty)

    def quantity(self, emulator: WalmartEmulator, sku: str) -> int | None:
        return emulator.quantities.get(sku)

    def fulfillments(self, emulator: WalmartEmulator, order_id: str) -> list[Fulfillment]:
        return [(t, dict(lines)) for po, t, lines in emulator.shipments if po == order_id]

    def requests(self, emulator: WalmartEmulator, kind: str) -> int:
        log = emulator.requests
        return {
            "orders": _count(log, "GET", "/v3/orders"),
            "details": _count(log, "POST", "/v3/orders/[^/]+/acknowledge"),
            "inventory_push": _count(log, "PUT", "/v3/inventory")
            + _count(log, "POST", "/v3/feeds"),
            "inventory_lookup": _count(log, "GET", "/v3/feeds/.*"),
            "fulfillment": _count(log, "POST", "/v3/orders/[^/]+/shipping"),
            "token": _count(log, "POST", "/v3/token"),
            "all": len(log),
        }[kind]

    def expire_token(self, emulator: WalmartEmulator) -> Callable[[], None]:
        return emulator.expire_tokens

    def inventory_floor(self, n: int) -> int:
        if n <= self.feed_threshold:
            return n  # one PUT /v3/inventory each
        feeds = [min(self.inventory_cap, n - s) for s in range(0, n, self.inventory_cap)]
        # per feed: the upload, one INPROGRESS poll (the emulator's), then the item details
        return sum(1 + 1 + math.ceil(k / self.feed_detail_page) for k in feeds)


HARNESSES: dict[str, PlatformHarness] = {
    h.platform: h
    for h in (
        ShopifyHarness(),
        WooCommerceHarness(),
        BigCommerceHarness(),
        AmazonHarness(),
        EbayHarness(),
        EtsyHarness(),
        MagentoHarness(),
        WalmartHarness(),
    )
}


def harness_for(platform: str) -> PlatformHarness:
    """The harness of ``platform``; a platform without one fails loudly, not silently."""
    try:
        return HARNESSES[platform]
    except KeyError:
        raise AssertionError(
            f"platform {platform!r} is in adapters.PLATFORMS but has no harness in "
            "dropstream/sandbox/platforms/harness.py: add one (and its emulator beside it, "
            "with its fixture in tests/servers/)"
        ) from None

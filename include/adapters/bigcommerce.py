"""BigCommerce store adapter (v2 orders and shipments, v3 inventory): ``BigCommerceAdapter``.

Airflow Connection: ``host`` = ``https://api.bigcommerce.com/stores/{store_hash}``,
``password`` = API account access token (``X-Auth-Token``); extra ``location_id`` (default 1).
Requests are paced from ``X-Rate-Limit-Requests-Left`` / ``X-Rate-Limit-Time-Reset-Ms``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any, ClassVar

import requests

from adapters.allocation import OpenLine, allocate
from adapters.auth import HeaderToken
from adapters.base import ConnectionInfo, HttpClient, HttpStoreAdapter
from adapters.pacing import WindowPacer
from adapters.paginators import PageNumberPaginator
from adapters.permissions import missing_permissions
from adapters.results import Refusal, push_each, resubmit_without_blamed
from adapters.times import ISO_OFFSET, created_at_or_after, in_window, query_time
from dropstream.errors import (
    AuthenticationError,
    ConfigurationError,
    DataError,
    NotFoundError,
    UpstreamRejectedError,
)
from dropstream.models import Address, InventoryLevel, Order, OrderLine, PushResult, Shipment

log = logging.getLogger(__name__)

AWAITING_FULFILLMENT = 11
PAGE_MAX = 250  # v2 ``limit`` maximum
ADJUST_MAX = 2000  # items per absolute inventory adjustment
# tracking_carrier values BigCommerce knows (others go into shipping_method, tracking_link).
CARRIERS = {
    "ups",
    "usps",
    "fedex",
    "dhl",
    "royal-mail",
    "canada-post",
    "australia-post",
    "auspost",
    "dpd",
    "gls",
    "tnt",
    "purolator",
    "ontrac",
}


# (scope as the control panel shows it, method, path, a body the API refuses after the scope check)
WRITE_PROBES: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    ("Orders: modify (store_v2_orders)", "POST", "v2/orders/0/shipments", {}),
    (
        "Store Inventory: modify (store_inventory)",
        "PUT",
        "v3/inventory/adjustments/absolute",
        {"reason": "DropStream connection test", "items": []},
    ),
)


class BigCommerceClient(HttpClient):
    """JSON with exact money; 204 is an empty answer; 422 bodies kept for per-item errors."""

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        return response.json(parse_float=Decimal)

    def raise_for_status(self, response: requests.Response) -> None:
        if response.status_code == 422:
            if self.pacer is not None:
                self.pacer.observe(response)
            raise Rejected422(
                f"{self.where} rejected the request (422): {response.text[:300]}", _json(response)
            )
        if response.status_code == 403:
            raise ScopeDenied(
                f"{self.where} denied {response.request.method} {response.url.split('?')[0]} "
                f"(403): the API account behind the access token in Airflow Connection "
                f"{self.conn_id!r} lacks the OAuth scope for it ({response.text[:200]})"
            )
        super().raise_for_status(response)


class ScopeDenied(AuthenticationError):
    """403: the token's API account lacks the OAuth scope the endpoint needs."""


class Rejected422(UpstreamRejectedError):
    def __init__(self, message: str, body: Any) -> None:
        super().__init__(message)
        self.body = body


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def parse_time(value: str) -> datetime:
    """BigCommerce v2 dates are RFC 2822 (``Sun, 01 Mar 2026 12:00:00 +0000``)."""
    return parsedate_to_datetime(value).astimezone(UTC)


def to_order(raw: dict[str, Any]) -> Order:
    """One v2 order with its ``products`` and ``shipping_addresses`` lists merged in."""
    try:
        addresses = raw.get("shipping_addresses") or []
        if len(addresses) != 1:
            raise DataError(
                f"BigCommerce order {raw.get('id')} ships to {len(addresses)} "
                "addresses; only single-address orders are supported"
            )
        ship = addresses[0]
        billing = raw.get("billing_address") or {}
        lines = raw.get("products") or []
        return Order(
            order_id=str(raw["id"]),
            number=str(raw["id"]),
            created_at=parse_time(raw["date_created"]),
            updated_at=parse_time(raw["date_modified"]),
            ship_to=_address(ship),
            bill_to=_address(billing),
            lines=tuple(
                OrderLine(
                    line_id=str(ln["id"]),
                    sku=ln.get("sku") or "",
                    quantity=int(ln["quantity"]),
                    unit_price=Decimal(str(ln["price_inc_tax"])),
                    line_number=n,
                    # "digital" (and gift certificates) are not shipped
                    requires_shipping=(ln.get("type") or "physical") == "physical",
                )
                for n, ln in enumerate(lines, start=1)
            ),
            email=ship.get("email") or billing.get("email") or "",
            ship_method=ship.get("shipping_method") or "",
            currency=raw.get("currency_code") or "USD",
            notes=raw.get("customer_message") or "",
            financial_status=raw.get("payment_status") or "",
            fulfillment_status=raw.get("status") or "",
            channel="bigcommerce",
        )
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise DataError(f"BigCommerce order {raw.get('id')!r} is malformed: {exc!r}") from exc


def _address(raw: dict[str, Any]) -> Address:
    return Address(
        name=" ".join(p for p in (raw.get("first_name"), raw.get("last_name")) if p),
        company=raw.get("company") or "",
        address1=raw.get("street_1") or "",
        address2=raw.get("street_2") or "",
        city=raw.get("city") or "",
        state=raw.get("state") or "",
        postal_code=raw.get("zip") or "",
        country=raw.get("country_iso2") or "",
        phone=raw.get("phone") or "",
    )


class BigCommerceAdapter(HttpStoreAdapter[BigCommerceClient]):
    """A BigCommerce store."""

    platform: ClassVar[str] = "bigcommerce"

    def build_client(self, conn: ConnectionInfo) -> BigCommerceClient:
        if not conn.password:
            raise ConfigurationError(
                f"Airflow Connection {conn.conn_id!r} has no password: put the BigCommerce API "
                "account access token (X-Auth-Token) there"
            )
        client = BigCommerceClient(
            conn.base_url(),
            platform=self.platform,
            connection_name=self.connection_name,
            conn_id=conn.conn_id,
            headers={"Content-Type": "application/json"},
            credential_hint="access token (X-Auth-Token)",
            retry=self.retry_policy,
            pacer=WindowPacer(
                left_header="X-Rate-Limit-Requests-Left", reset_header="X-Rate-Limit-Time-Reset-Ms"
            ),
        )
        HeaderToken("X-Auth-Token", conn.password).apply(client.session)
        return client

    def test_connection(self) -> None:
        """Read the store and orders, then try each write the flows make with a body that writes
        nothing.

        BigCommerce has no endpoint that lists a token's scopes; it refuses a route the token has
        no scope for with 403 before validating the request. So a shipment for order 0 (404) and
        an adjustment of no items (422) pass the scope check and change nothing; 403 names the
        scope to grant.
        """
        self.client.call("GET", "v2/store")
        self.client.call("GET", "v2/orders", params={"limit": 1})
        probes = [
            (scope, partial(self._probe, m, path, body)) for scope, m, path, body in WRITE_PROBES
        ]
        missing = missing_permissions(probes, ScopeDenied)
        if missing:
            raise AuthenticationError(
                f"BigCommerce store for connection {self.connection_name!r}: the access token in "
                f"Airflow Connection {self.conn_id!r} is missing OAuth scopes: "
                f"{', '.join(missing)}. Set them on the API account (Settings > Store-level API "
                "accounts), then put the new access token in the connection"
            )

    def _probe(self, method: str, path: str, body: dict[str, Any]) -> None:
        # 404/422: past the scope check, nothing written
        with suppress(NotFoundError, UpstreamRejectedError):
            self.client.call(method, path, json=body)

    # --- orders -----------------------------------------------------------------------------
    def fetch_orders(self, since: datetime, until: datetime) -> Iterator[Order]:
        """Awaiting-fulfillment orders modified in [since, until).

        ceil(N / 250) list calls (one more, answered 204, when N is a multiple of 250), plus
        the two detail calls per order v2 requires (products, shipping addresses).
        """
        params = {
            "min_date_modified": query_time(since, ISO_OFFSET),
            "max_date_modified": query_time(until, ISO_OFFSET, round_up=True),
            "sort": "date_modified:asc",
        }
        return self._orders(params, in_window(since, until, "date_modified", parse_time))

    def fetch_open_orders(self, created_since: datetime) -> Iterator[Order]:
        """Awaiting-fulfillment orders created at or after ``created_since``."""
        params = {
            "min_date_created": query_time(created_since, ISO_OFFSET),
            "sort": "date_created:asc",
        }
        return self._orders(params, created_at_or_after(created_since, "date_created", parse_time))

    def _orders(
        self, dates: dict[str, str], wanted: Callable[[dict[str, Any]], bool]
    ) -> Iterator[Order]:
        params = {"status_id": AWAITING_FULFILLMENT, **dates, "limit": PAGE_MAX}

        def page(n: int) -> tuple[list[Any], bool]:
            orders = self.client.call("GET", "v2/orders", params=params | {"page": n}) or []
            return orders, len(orders) >= PAGE_MAX

        what = f"BigCommerce orders of {self.connection_name!r}"
        for raw in PageNumberPaginator(what, key=lambda o: o["id"]).items(page):
            if not wanted(raw):
                continue
            order_id = raw["id"]
            full = raw | {
                "products": self._all(f"v2/orders/{order_id}/products"),
                "shipping_addresses": self._all(f"v2/orders/{order_id}/shipping_addresses"),
            }
            try:
                yield self.to_order(full)
            except DataError as exc:  # skip and report; the rest of the window goes on
                log.error("%s; skipped", exc)

    def _all(self, path: str) -> list[Any]:
        def page(n: int) -> tuple[list[Any], bool]:
            items = self.client.call("GET", path, params={"page": n, "limit": PAGE_MAX}) or []
            return items, len(items) >= PAGE_MAX

        return list(PageNumberPaginator(path, key=lambda item: item["id"]).items(page))

    def to_order(self, raw: dict[str, Any]) -> Order:
        return to_order(raw)

    # --- shipments --------------------------------------------------------------------------
    def push_shipments(self, shipments: Sequence[Shipment]) -> PushResult:
        """One v2 shipment per package; a tracking number already on the order counts as done."""
        return push_each(
            shipments,
            self._push_shipment,
            key=lambda s: s.key,
            refused=(DataError, UpstreamRejectedError),
        )

    def _push_shipment(self, shipment: Shipment) -> str:
        order = f"order {shipment.order_number}"
        if not shipment.order_id:
            raise DataError(f"{order}: BigCommerce order id unknown")
        base = f"v2/orders/{shipment.order_id}"
        try:
            existing_shipments = self.client.call("GET", f"{base}/shipments") or []
        except NotFoundError as exc:
            raise DataError(f"{order} ({shipment.order_id}) not found in store") from exc
        for existing in existing_shipments:
            if existing.get("tracking_number") == shipment.tracking_number:
                return str(existing["id"])
        products = self._all(f"{base}/products")
        open_lines = [
            OpenLine(str(p["id"]), str(p["id"]), p.get("sku"),
                     int(p["quantity"]) - int(p.get("quantity_shipped") or 0), p)
            for p in products
        ]  # fmt: skip
        takes = allocate(
            shipment,
            open_lines,
            unmatched=lambda line: f"{order}: no line {line.line_id or 'with SKU ' + line.sku}",
        )
        items: dict[int, int] = {}
        for take in takes:
            product_id = take.line.ref["id"]
            items[product_id] = items.get(product_id, 0) + take.quantity
        addresses = {int(take.line.ref["order_address_id"]) for take in takes}
        if not items:
            raise DataError(f"{order}: nothing left to ship (already shipped?)")
        if len(addresses) > 1:
            raise DataError(f"{order}: the package holds lines for {len(addresses)} addresses")
        body: dict[str, Any] = {
            "order_address_id": addresses.pop(),
            "tracking_number": shipment.tracking_number,
            "items": [{"order_product_id": pid, "quantity": qty} for pid, qty in items.items()],
        }
        carrier = shipment.carrier.strip().lower().replace(" ", "-")
        if carrier in CARRIERS:
            body["tracking_carrier"] = carrier
        body["shipping_method"] = " ".join(p for p in (shipment.carrier, shipment.service) if p)
        if shipment.tracking_url:
            body["tracking_link"] = shipment.tracking_url
        created = self.client.call("POST", f"{base}/shipments", json=body)
        return str(created["id"])

    # --- inventory --------------------------------------------------------------------------
    def push_inventory(self, levels: Sequence[InventoryLevel]) -> PushResult:
        """Absolute adjustments, ≤ 2000 per call; SKUs the store refuses are resubmitted once
        without (so a batch with unknown SKUs costs one extra call)."""
        wanted = {level.sku: level.available for level in levels}  # last level of a SKU wins
        location = int(self.options.get("location_id") or self.conn.extra.get("location_id") or 1)
        skus = list(wanted)
        accepted: list[str] = []
        rejected: list[tuple[str, str]] = []

        def submit(batch: list[str]) -> Refusal | None:
            items = [{"location_id": location, "sku": s, "quantity": wanted[s]} for s in batch]
            try:
                self.client.call(
                    "PUT",
                    "v3/inventory/adjustments/absolute",
                    json={"reason": "DropStream warehouse sync", "items": items},
                )
            except Rejected422 as exc:
                return Refusal(f"not applied: {exc}", _blamed_items(exc.body, len(batch)))
            return None

        for start in range(0, len(skus), ADJUST_MAX):
            ok, refused = resubmit_without_blamed(skus[start : start + ADJUST_MAX], submit)
            accepted += ok
            rejected += refused
        return PushResult(accepted=tuple(accepted), rejected=tuple(rejected))


def _blamed_items(body: Any, size: int) -> dict[int, str]:
    """Item index -> reason from a v3 422 body (``errors: {"items.3.sku": "…"}``)."""
    errors = body.get("errors") if isinstance(body, dict) else None
    blamed: dict[int, str] = {}
    for field, message in (errors or {}).items() if isinstance(errors, dict) else ():
        parts = str(field).split(".")
        if len(parts) >= 2 and parts[0] == "items" and parts[1].isdigit() and int(parts[1]) < size:
            blamed[int(parts[1])] = str(message)
    return blamed

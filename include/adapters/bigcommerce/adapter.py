"""BigCommerceAdapter: the Airflow Connection, orders (v2), shipments (v2), inventory (v3).

Airflow Connection: ``host`` = ``https://api.bigcommerce.com/stores/{store_hash}``,
``password`` = API account access token (``X-Auth-Token``); extra ``location_id`` (default 1).
Requests are paced from ``X-Rate-Limit-Requests-Left`` / ``X-Rate-Limit-Time-Reset-Ms``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from datetime import datetime
from functools import partial
from typing import Any, ClassVar

from adapters.allocation import OpenLine, allocate
from adapters.auth import HeaderToken
from adapters.base import ConnectionInfo, HttpStoreAdapter
from adapters.bigcommerce.client import BigCommerceClient, Rejected422, ScopeDenied, blamed_items
from adapters.bigcommerce.mapping import parse_time, shipment_body, to_order
from adapters.pacing import WindowPacer
from adapters.paginators import PageNumberPaginator
from adapters.permissions import missing_permissions
from adapters.results import (
    Refusal,
    already_pushed,
    last_levels,
    push_batches,
    push_each,
    resubmit_without_blamed,
)
from adapters.times import ISO_OFFSET, created_at_or_after, in_window, query_time
from dropstream.errors import (
    AuthenticationError,
    ConfigurationError,
    DataError,
    NotFoundError,
    UpstreamRejectedError,
)
from dropstream.models import Cancellation, InventoryLevel, Order, PushResult, Shipment

log = logging.getLogger(__name__)

AWAITING_FULFILLMENT = 11
CANCELLED = 5
PAGE_MAX = 250  # v2 ``limit`` maximum
ADJUST_MAX = 2000  # items per absolute inventory adjustment
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


class BigCommerceAdapter(HttpStoreAdapter[BigCommerceClient]):
    """A BigCommerce store."""

    platform: ClassVar[str] = "bigcommerce"
    reports_cancellations: ClassVar[bool] = True

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
        return self._orders(*_modified(since, until))

    def fetch_open_orders(self, created_since: datetime) -> Iterator[Order]:
        """Awaiting-fulfillment orders created at or after ``created_since``."""
        params = {
            "min_date_created": query_time(created_since, ISO_OFFSET),
            "sort": "date_created:asc",
        }
        return self._orders(params, created_at_or_after(created_since, "date_created", parse_time))

    def fetch_cancellations(self, since: datetime, until: datetime) -> Iterator[Cancellation]:
        """Orders in status 5 (Cancelled) modified in [since, until): one listing, plus the two
        detail calls per cancelled order. BigCommerce keeps no cancel time or reason."""
        for order in self._orders(*_modified(since, until), status_id=CANCELLED):
            reason = "cancelled in BigCommerce (status Cancelled)"
            yield Cancellation(order=order, cancelled_at=order.updated_at, reason=reason)

    def _orders(
        self,
        dates: dict[str, str],
        wanted: Callable[[dict[str, Any]], bool],
        *,
        status_id: int = AWAITING_FULFILLMENT,
    ) -> Iterator[Order]:
        params = {"status_id": status_id, **dates, "limit": PAGE_MAX}

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
            existing = self.client.call("GET", f"{base}/shipments") or []
        except NotFoundError as exc:
            raise DataError(f"{order} ({shipment.order_id}) not found in store") from exc
        done = already_pushed(
            existing, shipment.tracking_number, number="tracking_number", ref="id"
        )
        if done is not None:
            return done
        open_lines = [
            OpenLine(str(p["id"]), str(p["id"]), p.get("sku"),
                     int(p["quantity"]) - int(p.get("quantity_shipped") or 0), p)
            for p in self._all(f"{base}/products")
        ]  # fmt: skip
        takes = allocate(
            shipment,
            open_lines,
            unmatched=lambda line: f"{order}: no line {line.line_id or 'with SKU ' + line.sku}",
        )
        created = self.client.call("POST", f"{base}/shipments", json=shipment_body(shipment, takes))
        return str(created["id"])

    # --- inventory --------------------------------------------------------------------------
    def push_inventory(self, levels: Sequence[InventoryLevel]) -> PushResult:
        """Absolute adjustments, ≤ 2000 per call; SKUs the store refuses are resubmitted once
        without (so a batch with unknown SKUs costs one extra call)."""
        wanted = last_levels(levels)
        location = int(self.options.get("location_id") or self.conn.extra.get("location_id") or 1)

        def submit(batch: list[str]) -> Refusal | None:
            items = [{"location_id": location, "sku": s, "quantity": wanted[s]} for s in batch]
            try:
                self.client.call(
                    "PUT",
                    "v3/inventory/adjustments/absolute",
                    json={"reason": "DropStream warehouse sync", "items": items},
                )
            except Rejected422 as exc:
                return Refusal(f"not applied: {exc}", blamed_items(exc.body, len(batch)))
            return None

        return push_batches(
            list(wanted), ADJUST_MAX, partial(resubmit_without_blamed, submit=submit)
        )


def _modified(
    since: datetime, until: datetime
) -> tuple[dict[str, str], Callable[[dict[str, Any]], bool]]:
    """The v2 listing's parameters for orders modified in [since, until), and its filter."""
    params = {
        "min_date_modified": query_time(since, ISO_OFFSET),
        "max_date_modified": query_time(until, ISO_OFFSET, round_up=True),
        "sort": "date_modified:asc",
    }
    return params, in_window(since, until, "date_modified", parse_time)

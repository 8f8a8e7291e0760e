"""MagentoAdapter: the Airflow Connection, orders, shipments and MSI source items.

Connection: ``host`` = store base URL, ``password`` = integration access token (Bearer); options
or extra ``source_code`` (MSI source, default ``default``), ``requests_per_second`` (pacing).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from datetime import datetime
from functools import partial
from typing import Any, ClassVar, TypeVar

from adapters.allocation import OpenLine, allocate, totals
from adapters.auth import HeaderToken
from adapters.base import ConnectionInfo, HttpStoreAdapter
from adapters.magento.client import PAGE_MAX, AclDenied, MagentoClient, MagentoRejected, search
from adapters.magento.mapping import (
    CANCELLED,
    TIME,
    is_open,
    open_quantities,
    ship_body,
    source_items,
    to_cancellation,
    to_order,
    updated_between,
)
from adapters.pacing import FixedRatePacer
from adapters.paginators import TotalCountPaginator
from adapters.permissions import missing_permissions
from adapters.results import (
    Refusal,
    Rejected,
    already_pushed,
    last_levels,
    push_batches,
    push_each,
    resubmit_without_blamed,
)
from adapters.times import created_at_or_after, in_window, query_time
from dropstream import errors
from dropstream.models import Cancellation, InventoryLevel, Order, PushResult, Shipment

log = logging.getLogger(__name__)
T = TypeVar("T")

LIST_MAX = 20  # entities per request list: the documented input limit
# The ACL resources of the routes the writes use (webapi.xml of Magento_Sales, Magento_InventoryApi)
SHIP, SHIPMENTS = "Magento_Sales::ship", "Magento_Sales::shipment"
SOURCE_ITEMS = "Magento_InventoryApi::stock_source_item_assign"


class MagentoAdapter(HttpStoreAdapter[MagentoClient]):
    """A Magento 2 / Adobe Commerce store."""

    platform: ClassVar[str] = "magento"
    reports_cancellations: ClassVar[bool] = True

    def build_client(self, conn: ConnectionInfo) -> MagentoClient:
        if not conn.password:
            raise errors.ConfigurationError(
                f"Airflow Connection {conn.conn_id!r} has no password: put the access token of "
                "the store's integration there (System > Extensions > Integrations)"
            )
        rate = self.options.get("requests_per_second") or conn.extra.get("requests_per_second")
        if rate and not str(rate).replace(".", "", 1).isdigit():
            raise errors.ConfigurationError(
                f"requests_per_second {rate!r} of Airflow Connection {conn.conn_id!r} is not a "
                "positive number (requests a second the store's front end allows)"
            )
        client = MagentoClient(
            f"{conn.base_url()}/rest/V1", platform=self.platform,
            connection_name=self.connection_name, conn_id=conn.conn_id,
            headers={"Content-Type": "application/json"}, credential_hint="access token",
            retry=self.retry_policy, pacer=FixedRatePacer(float(rate)) if rate else None,
        )  # fmt: skip
        HeaderToken("Authorization", f"Bearer {conn.password}").apply(client.session)
        return client

    def test_connection(self) -> None:
        """Read orders, then prove each other API resource with a call that writes nothing: a
        shipment for order 0 (404 after the ACL check), a shipment read, an empty stock save."""
        self.client.call("GET", "orders", params=search(size=1))
        probes = [
            (SHIP, partial(self._probe, "POST", "order/0/ship", {"items": []})),
            (SHIPMENTS, partial(self._probe, "GET", "shipments", None, search(size=1))),
            (
                SOURCE_ITEMS,
                partial(self._probe, "POST", "inventory/source-items", source_items([], {}, "")),
            ),
        ]
        if missing := missing_permissions(probes, AclDenied):
            raise errors.AuthenticationError(
                f"Magento store for connection {self.connection_name!r}: the integration of the "
                f"access token in Airflow Connection {self.conn_id!r} lacks the API resources "
                f"{', '.join(missing)}: grant them (System > Extensions > Integrations > the "
                "integration > API), reauthorize it and put its new access token in the connection"
            )

    def _probe(self, method: str, path: str, body: Any, params: Any = None) -> None:
        with suppress(errors.NotFoundError, errors.UpstreamRejectedError):
            self.client.call(method, path, json=body, params=params)

    # --- orders -----------------------------------------------------------------------------
    def fetch_orders(self, since: datetime, until: datetime) -> Iterator[Order]:
        """Processing orders updated in [since, until): ceil(N / 300) requests, at least one."""
        wanted = in_window(since, until, "updated_at")
        return self._orders(
            updated_between(since, until), lambda r: wanted(r) and is_open(r), to_order
        )

    def fetch_open_orders(self, created_since: datetime) -> Iterator[Order]:
        bounds = [("created_at", query_time(created_since, TIME), "from")]
        wanted = created_at_or_after(created_since, "created_at")
        return self._orders(bounds, lambda r: wanted(r) and is_open(r), to_order)

    def fetch_cancellations(self, since: datetime, until: datetime) -> Iterator[Cancellation]:
        """Orders cancelled (state ``canceled``) or refunded in full (``closed``: Magento cancels
        no invoiced order) updated in [since, until): one listing of both states."""
        wanted = in_window(since, until, "updated_at")
        return self._orders(updated_between(since, until), wanted, to_cancellation, CANCELLED)

    def _orders(
        self, bounds: list, wanted: Callable[[Any], bool], mapped: Callable[[Any], T],
        state: tuple[str, str] = ("processing", "eq"),
    ) -> Iterator[T]:  # fmt: skip
        def page(n: int) -> tuple[list[Any], int]:
            filters = search(*bounds, ("state", *state), page=n)
            body = self.client.call("GET", "orders", params=filters)
            return body.get("items") or [], int(body["total_count"])

        what = f"Magento orders of {self.connection_name!r}"
        for raw in TotalCountPaginator(what, PAGE_MAX, key=lambda o: o["entity_id"]).items(page):
            try:
                if wanted(raw):
                    yield mapped(raw)
            except (errors.DataError, KeyError, TypeError, ValueError, ArithmeticError) as exc:
                number = raw.get("increment_id")
                log.error("Magento order %r is malformed, skipped: %s", number, exc)

    def to_order(self, raw: dict[str, Any]) -> Order:
        return to_order(raw)

    # --- shipments --------------------------------------------------------------------------
    def push_shipments(self, shipments: Sequence[Shipment]) -> PushResult:
        """Per package: the order's shipments (a track with this number: done), its items,
        then one ship call with the items allocated and the track."""
        refused = (errors.DataError, errors.UpstreamRejectedError)
        return push_each(shipments, self._ship, key=lambda s: s.key, refused=refused)

    def _ship(self, shipment: Shipment) -> str:
        order, order_id = f"order {shipment.order_number}", shipment.order_id
        if not order_id:
            raise Rejected(f"{order}: Magento order id unknown")
        found = self.client.call("GET", "shipments", params=search(("order_id", order_id, "eq")))
        tracks = [
            {"number": t.get("track_number"), "shipment": old["entity_id"]}
            for old in found.get("items") or []
            for t in old.get("tracks") or []
        ]
        done = already_pushed(tracks, shipment.tracking_number, number="number", ref="shipment")
        if done is not None:  # pushed before (a retry after a crash between write and ledger)
            return done
        try:
            items = self.client.call("GET", f"orders/{order_id}")["items"]
        except errors.NotFoundError as exc:
            raise Rejected(f"{order} ({order_id}) not found in store") from exc
        open_lines = open_quantities(items).items()
        lines = [OpenLine(k, k, i.get("sku") or "", n, i) for k, (i, n) in open_lines]
        takes = allocate(
            shipment, lines, unmatched=lambda ln: f"{order}: no line {ln.line_id or ln.sku}"
        )
        taken = totals(takes)
        if not taken:
            raise Rejected(f"{order}: nothing left to ship (already shipped?)")
        created = self.client.call(
            "POST", f"order/{order_id}/ship", json=ship_body(shipment, taken)
        )
        return str(created)

    # --- inventory --------------------------------------------------------------------------
    def push_inventory(self, levels: Sequence[InventoryLevel]) -> PushResult:
        """Source items, 20 per call; a batch refused naming SKUs is sent again without them."""
        wanted = last_levels(levels)
        source = self.options.get("source_code") or self.conn.extra.get("source_code") or "default"

        def submit(batch: list[str]) -> Refusal | None:
            try:
                body = source_items(batch, wanted, str(source))
                self.client.call("POST", "inventory/source-items", json=body)
            except MagentoRejected as exc:
                at = {sku: n for n, sku in enumerate(batch)}
                return Refusal(f"not applied: {exc}", {at[p]: e for e, p in exc.blamed if p in at})
            return None

        return push_batches(list(wanted), LIST_MAX, partial(resubmit_without_blamed, submit=submit))

"""Walmart Marketplace store adapter (US Marketplace API v3).

Airflow Connection: ``host`` = ``https://marketplace.walmartapis.com``, ``login`` = client id,
``password`` = client secret; extra ``channel_type`` (``WM_CONSUMER.CHANNEL.TYPE``, given at
onboarding; sent when set). Options: ``WalmartOptions`` in the catalogue (``feed_threshold``:
more changed SKUs than this go as bulk inventory feeds; default 10).

Orders are acknowledged as they are fetched, before the ledger records them: shipping needs it,
and the acknowledgement moves the order's status date on, so an order whose ledger write was
lost is fetched again by a later window (docs/platforms.md, "Walmart").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import quote

from adapters.base import ConnectionInfo, HttpStoreAdapter
from adapters.paginators import CursorPaginator, OffsetPaginator
from adapters.results import last_levels, push_batches, push_by_group, push_each, take_answer
from adapters.times import ISO_Z, query_time
from adapters.walmart import feeds, mapping
from adapters.walmart.client import NothingFound, WalmartClient
from adapters.walmart.mapping import Raw
from dropstream.errors import AuthenticationError, UpstreamRejectedError
from dropstream.models import Cancellation, InventoryLevel, Order, PushResult, Shipment

log = logging.getLogger(__name__)
ORDERS, TOKEN_DETAIL, INVENTORY, FEEDS = "v3/orders", "v3/token/detail", "v3/inventory", "v3/feeds"
PAGE_MAX = 200  # GET /v3/orders: "Cannot be larger than 200"
#: Token detail scopes the flows need: orders read/acknowledge/ship, inventory updates (single
#: and feed), feed status reads.
NEEDED = {"orders": "full_access", "inventory": "full_access", "feeds": "view_only"}
REFUSED = (UpstreamRejectedError,)


class WalmartAdapter(HttpStoreAdapter[WalmartClient]):
    """A Walmart Marketplace seller over API v3 with a client-credentials token."""

    platform: ClassVar[str] = "walmart"
    reports_cancellations: ClassVar[bool] = True
    feed_poll_seconds: ClassVar[float] = 15.0
    feed_poll_attempts: ClassVar[int] = 40  # 10 minutes
    feed_max_skus: ClassVar[int] = 10_000
    feed_detail_page: ClassVar[int] = 1000

    def build_client(self, conn: ConnectionInfo) -> WalmartClient:
        conn.require(
            bool(conn.login and conn.password),
            "login = Walmart client id and password = client secret (Seller Center → "
            "Settings → API Key Management)",
        )
        return WalmartClient(
            conn.base_url(),
            client_id=conn.login,
            client_secret=conn.password,
            channel_type=str(conn.extra.get("channel_type") or ""),
            **self.client_args(conn, credential_hint="client id/secret"),
        )

    def test_connection(self) -> None:
        """The key's access per API area (``GET /v3/token/detail``), against ``NEEDED``."""
        scopes = self.http.request("GET", TOKEN_DETAIL).json().get("scopes") or {}
        if problem := feeds.access_problem(scopes, NEEDED):
            raise AuthenticationError(
                f"Walmart store for connection {self.connection_name!r}: the API key in Airflow "
                f"Connection {self.conn_id!r} {problem}; grant that access to the key (or the "
                "solution provider) in Seller Center"
            )

    # --- orders -----------------------------------------------------------------------------
    def fetch_orders(self, since: datetime, until: datetime) -> Iterator[Order]:
        return self._orders(mapping.window(since, until), mapping.modified_in(since, until))

    def fetch_cancellations(self, since: datetime, until: datetime) -> Iterator[Cancellation]:
        """Orders whose every line Walmart reports ``Cancelled`` (by the customer's request
        or the seller), that status dated in [since, until): one listing, ``status=Cancelled``
        (filtered here too: users report the filter not filtering)."""
        wanted = mapping.modified_in(since, until)
        for raw in self._listing(mapping.window(since, until) | {"status": mapping.CANCELLED}):
            if mapping.cancelled(raw) and wanted(raw):
                yield mapping.to_cancellation(raw)

    def fetch_open_orders(self, created_since: datetime) -> Iterator[Order]:
        created = {"createdStartDate": query_time(created_since, ISO_Z)}
        return self._orders(created, lambda raw: mapping.ms(raw["orderDate"]) >= created_since)

    def _orders(self, query: dict[str, Any], wanted: Callable[[Raw], bool]) -> Iterator[Order]:
        """Every status (``status`` takes one value), kept if a line is still open; a Created
        order is acknowledged before it is yielded."""
        for raw in self._listing(query):
            if mapping.open_lines(raw) and wanted(raw):
                if mapping.needs_acknowledging(raw):
                    self._acknowledge(str(raw["purchaseOrderId"]), refused_ok=True)
                yield self.to_order(raw)

    def _listing(self, query: dict[str, Any]) -> list[Raw]:
        """Every page of ``GET /v3/orders`` first: an acknowledgement moves the order on in
        Walmart's index-based cursor, so acknowledging while paging would skip orders."""
        query["limit"] = min(int(self.options.get("page_size") or PAGE_MAX), PAGE_MAX)

        def page(cursor: str | None) -> tuple[list[Raw], str | None]:
            # nextCursor is the next page's whole query string ("?limit=…&soIndex=…").
            path, params = (ORDERS + cursor, None) if cursor else (ORDERS, query)
            try:
                return mapping.orders_page(
                    self.http.request("GET", path, params=params).json(parse_float=Decimal)
                )
            except NothingFound:  # Walmart's "no orders": 404, not an empty list
                return [], None

        return list(CursorPaginator(f"Walmart orders of {self.connection_name!r}").items(page))

    def _acknowledge(self, po: str, *, refused_ok: bool = False) -> Raw | None:
        """Acknowledge ``po``: the order as Walmart answers it. On fetch, a refusal is logged
        and the order still goes to the warehouse (shipping it acknowledges again, and says
        why if Walmart still refuses)."""
        try:
            return self.http.order("POST", po, "acknowledge")
        except UpstreamRejectedError as exc:
            if not refused_ok:
                raise
            log.warning("%s; acknowledge order %s in Seller Center if it is to be shipped", exc, po)
            return None

    def to_order(self, raw: Raw) -> Order:
        return mapping.to_order(raw)

    # --- shipments --------------------------------------------------------------------------
    def push_shipments(self, shipments: Sequence[Shipment]) -> PushResult:
        """One order read per order, then one shipping call per package: Walmart answers each
        acknowledgement and shipment with the order, which is the next package's state."""
        return push_by_group(
            shipments,
            group=lambda s: s.order_id or s.order_number,
            load=lambda first: self.http.order("GET", first.order_id or first.order_number),
            push_one=self._ship,
            key=lambda s: s.key,
            refused=REFUSED,
        )

    def _ship(self, raw: Raw, shipment: Shipment) -> str:
        """Its tracking number on the order means done (a retry after a crash before the
        ledger's record); else acknowledge if needed and ship the allocated units. ``raw``
        becomes the order Walmart answers with."""
        if done := mapping.shipped_before(raw, shipment.tracking_number):
            return done
        po, shipped = str(raw["purchaseOrderId"]), mapping.units_to_ship(raw, shipment)
        if mapping.needs_acknowledging(raw):
            take_answer(raw, self._acknowledge(po))  # shipping needs it
        body = mapping.shipping_body(shipment, shipped)
        take_answer(raw, self.http.order("POST", po, "shipping", json=body))
        return f"{po}/{','.join(shipped)}"

    # --- inventory --------------------------------------------------------------------------
    def push_inventory(self, levels: Sequence[InventoryLevel]) -> PushResult:
        """``PUT /v3/inventory`` per SKU up to ``feed_threshold`` SKUs, else inventory feeds."""
        wanted = last_levels(levels, floor=0)
        if len(wanted) <= int(self.options.get("feed_threshold") or 10):
            return push_each(wanted.items(), self._put, key=lambda kv: kv[0], refused=REFUSED)
        return push_batches(
            list(wanted), self.feed_max_skus, lambda skus: self._feed({s: wanted[s] for s in skus})
        )

    def _put(self, item: tuple[str, int]) -> str:
        self.http.request("PUT", INVENTORY, params={"sku": item[0]}, json=feeds.quantity(*item))
        return item[0]

    def _feed(self, batch: dict[str, int]) -> tuple[list[str], list[tuple[str, str]]]:
        """One ``feedType=inventory`` feed, polled until processed, read item by item:
        (accepted SKUs, rejected (SKU, why))."""
        upload = {"file": ("inventory.json", feeds.feed_file(batch), "application/json")}
        posted = self.http.request("POST", FEEDS, params={"feedType": "inventory"}, files=upload)
        feed_id = str(posted.json()["feedId"])
        path, limit = f"{FEEDS}/{quote(feed_id, safe='')}", self.feed_detail_page
        details = {"includeDetails": "true", "limit": limit, "offset": 0}
        status, _ = self.http.poll(
            path,
            params=details,
            done=lambda answer: answer.get("feedStatus") in ("PROCESSED", "ERROR"),
            attempts=int(self.options.get("feed_poll_attempts", self.feed_poll_attempts)),
            pause=float(self.options.get("feed_poll_seconds", self.feed_poll_seconds)),
        )
        received = int(status.get("itemsReceived") or 0)

        def page(offset: int) -> tuple[list[Raw], int]:
            more = self.http.request("GET", path, params=details | {"offset": offset}).json()
            return feeds.ingestion(more), received

        items = OffsetPaginator(f"Walmart feed {feed_id}", limit, key=lambda i: i.get("sku"))
        first = (feeds.ingestion(status), received)  # the last poll holds the first page
        return feeds.feed_outcome(feed_id, status, list(items.items(page, first)), batch)

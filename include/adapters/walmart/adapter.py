"""Walmart Marketplace store adapter (US Marketplace API v3).

Airflow Connection: ``host`` = ``https://marketplace.walmartapis.com``, ``login`` = client id,
``password`` = client secret; extra ``channel_type`` (``WM_CONSUMER.CHANNEL.TYPE``, given at
onboarding; sent when set). Options: ``page_size`` (orders ``limit``, at most 200) and
``feed_threshold`` (more changed SKUs than this go as one bulk inventory feed; default 10),
``feed_poll_seconds`` and ``feed_poll_attempts`` (how the feed's status is awaited).

Orders are acknowledged as they are fetched, before the ledger records them: shipping needs it,
and the acknowledgement moves the order's status date on, so an order whose ledger write was
lost is fetched again by a later window (docs/platforms.md, "Walmart").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import quote

from adapters.allocation import OpenLine, allocate, totals
from adapters.base import ConnectionInfo, HttpStoreAdapter
from adapters.paginators import CursorPaginator
from adapters.results import Rejected, last_levels, push_batches, push_by_group, push_each
from adapters.times import ISO_Z, query_time
from adapters.walmart import mapping
from adapters.walmart.client import NothingFound, WalmartClient
from adapters.walmart.mapping import Raw, ms
from dropstream.errors import AuthenticationError, UpstreamRejectedError
from dropstream.errors import ConfigurationError as Misconfigured
from dropstream.models import InventoryLevel, Order, PushResult, Shipment

log = logging.getLogger(__name__)
ORDERS, TOKEN_DETAIL, INVENTORY, FEEDS = "v3/orders", "v3/token/detail", "v3/inventory", "v3/feeds"
PAGE_MAX = 200  # GET /v3/orders: "Cannot be larger than 200"
#: How far before a window an order may have been created and still be modified in it (the
#: window's own createdStartDate; Walmart's default is 7 days, and keeps 180).
CREATED_BACK = timedelta(days=30)
#: Token detail scopes the flows need: orders read/acknowledge/ship, inventory updates (single
#: and feed), feed status reads.
NEEDED = {"orders": "full_access", "inventory": "full_access", "feeds": "view_only"}
REFUSED = (UpstreamRejectedError,)


class WalmartAdapter(HttpStoreAdapter[WalmartClient]):
    """A Walmart Marketplace seller over API v3 with a client-credentials token."""

    platform: ClassVar[str] = "walmart"
    feed_poll_seconds: ClassVar[float] = 15.0
    feed_poll_attempts: ClassVar[int] = 40  # 10 minutes
    feed_max_skus: ClassVar[int] = 10_000
    feed_detail_page: ClassVar[int] = 1000

    def build_client(self, conn: ConnectionInfo) -> WalmartClient:
        if not (conn.login and conn.password):
            raise Misconfigured(
                f"Airflow Connection {conn.conn_id!r} needs login = Walmart client id and "
                "password = client secret (Seller Center → Settings → API Key Management)"
            )
        return WalmartClient(
            conn.base_url(),
            client_id=conn.login,
            client_secret=conn.password,
            channel_type=str(conn.extra.get("channel_type") or ""),
            platform=self.platform,
            connection_name=self.connection_name,
            conn_id=conn.conn_id,
            credential_hint="client id/secret",
            retry=self.retry_policy,
        )

    def test_connection(self) -> None:
        """The key's access per API area (``GET /v3/token/detail``), against ``NEEDED``."""
        scopes = self.http.request("GET", TOKEN_DETAIL).json().get("scopes") or {}
        if missing := mapping.missing_access(scopes, NEEDED):
            held = ", ".join(f"{a}: {level}" for a, level in sorted(scopes.items())) or "none"
            raise AuthenticationError(
                f"Walmart store for connection {self.connection_name!r}: the API key in Airflow "
                f"Connection {self.conn_id!r} lacks {', '.join(missing)} (it has {held}); "
                "grant that access to the key (or the solution provider) in Seller Center"
            )

    # --- orders -----------------------------------------------------------------------------
    def fetch_orders(self, since: datetime, until: datetime) -> Iterator[Order]:
        window = {  # createdStartDate defaults to 7 days ago: widen it (see CREATED_BACK)
            "createdStartDate": query_time(since - CREATED_BACK, ISO_Z),
            "lastModifiedStartDate": query_time(since, ISO_Z),
            "lastModifiedEndDate": query_time(until, ISO_Z, round_up=True),
        }
        return self._orders(window, lambda raw: since <= mapping.modified_at(raw) < until)

    def fetch_open_orders(self, created_since: datetime) -> Iterator[Order]:
        created = {"createdStartDate": query_time(created_since, ISO_Z)}
        return self._orders(created, lambda raw: ms(raw["orderDate"]) >= created_since)

    def _orders(self, query: dict[str, Any], wanted: Callable[[Raw], bool]) -> Iterator[Order]:
        """Every status (``status`` takes one value), kept if a line is still open; a Created
        order is acknowledged before it is yielded."""
        query["limit"] = min(int(self.options.get("page_size") or PAGE_MAX), PAGE_MAX)

        def page(cursor: str | None) -> tuple[list[Raw], str | None]:
            # nextCursor is the next page's whole query string ("?limit=…&soIndex=…").
            path, params = (ORDERS + cursor, None) if cursor else (ORDERS, query)
            try:
                body = self.http.request("GET", path, params=params).json(parse_float=Decimal)
            except NothingFound:  # Walmart's "no orders": 404, not an empty list
                return [], None
            listed = body["list"]
            orders = (listed.get("elements") or {}).get("order") or []
            return orders, (listed.get("meta") or {}).get("nextCursor") or None

        # Every page first: an acknowledgement moves the order on in Walmart's index-based
        # cursor, so acknowledging while paging would skip orders.
        paginator = CursorPaginator(f"Walmart orders of {self.connection_name!r}")
        for raw in list(paginator.items(page)):
            if mapping.open_lines(raw) and wanted(raw):
                if mapping.needs_acknowledging(raw):
                    self._acknowledge(str(raw["purchaseOrderId"]), refused_ok=True)
                yield self.to_order(raw)

    def _acknowledge(self, po: str, *, refused_ok: bool = False) -> Raw | None:
        """Acknowledge ``po``: the order as Walmart answers it. On fetch, a refusal is logged
        and the order still goes to the warehouse (shipping it acknowledges again, and says
        why if Walmart still refuses)."""
        try:
            answer = self.http.request("POST", f"{ORDERS}/{quote(po, safe='')}/acknowledge")
        except UpstreamRejectedError as exc:
            if not refused_ok:
                raise
            log.warning("%s; acknowledge order %s in Seller Center if it is to be shipped", exc, po)
            return None
        order: Raw = answer.json(parse_float=Decimal)["order"]
        return order

    def to_order(self, raw: Raw) -> Order:
        return mapping.to_order(raw)

    # --- shipments --------------------------------------------------------------------------
    def push_shipments(self, shipments: Sequence[Shipment]) -> PushResult:
        """One order read per order, then one shipping call per package: Walmart answers each
        acknowledgement and shipment with the order, which is the next package's state."""
        return push_by_group(
            shipments,
            group=lambda s: s.order_id or s.order_number,
            load=self._read_order,
            push_one=self._ship,
            key=lambda s: s.key,
            refused=REFUSED,
        )

    def _read_order(self, first: Shipment) -> Raw:
        path = f"{ORDERS}/{quote(first.order_id or first.order_number, safe='')}"
        order: Raw = self.http.request("GET", path).json(parse_float=Decimal)["order"]
        return order

    def _ship(self, raw: Raw, shipment: Shipment) -> str:
        """Its tracking number on the order means done (a retry after a crash before the
        ledger's record); else acknowledge if needed and ship the allocated units. ``raw``
        becomes the order Walmart answers with."""
        po = str(raw["purchaseOrderId"])
        done = sorted({n for n, _, t in mapping.statuses(raw) if t == shipment.tracking_number})
        if done:
            return f"{po}/{','.join(done)}"
        what = f"Walmart order {shipment.order_number}"
        lines = [OpenLine(n, n, sku, left) for n, sku, left in mapping.open_lines(raw)]
        takes = allocate(shipment, lines, unmatched=lambda ln: f"{what}: no line for {ln.sku!r}")
        if not (shipped := totals(takes)):
            raise Rejected(f"{what}: nothing left to ship")
        if mapping.needs_acknowledging(raw):
            _replace(raw, self._acknowledge(po))  # shipping needs it
        path = f"{ORDERS}/{quote(po, safe='')}/shipping"
        answer = self.http.request("POST", path, json=mapping.shipping_body(shipment, shipped))
        _replace(raw, answer.json(parse_float=Decimal)["order"])
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
        self.http.request("PUT", INVENTORY, params={"sku": item[0]}, json=mapping.quantity(*item))
        return item[0]

    def _feed(self, batch: dict[str, int]) -> tuple[list[str], list[tuple[str, str]]]:
        """One ``feedType=inventory`` feed, polled until processed, read item by item:
        (accepted SKUs, rejected (SKU, why))."""
        upload = {"file": ("inventory.json", mapping.feed_file(batch), "application/json")}
        posted = self.http.request("POST", FEEDS, params={"feedType": "inventory"}, files=upload)
        feed_id = str(posted.json()["feedId"])
        path, status = f"{FEEDS}/{quote(feed_id, safe='')}", {}
        details = {"includeDetails": "true", "limit": self.feed_detail_page, "offset": 0}
        pause = float(self.options.get("feed_poll_seconds", self.feed_poll_seconds))
        for attempt in range(int(self.options.get("feed_poll_attempts", self.feed_poll_attempts))):
            if attempt:
                self.http.sleep(pause)
            status = self.http.request("GET", path, params=details).json()
            if status.get("feedStatus") in ("PROCESSED", "ERROR"):
                break
        items: list[Raw] = mapping.ingestion(status)
        while items and len(items) < int(status.get("itemsReceived") or 0):
            more = mapping.ingestion(
                self.http.request("GET", path, params=details | {"offset": len(items)}).json()
            )
            if not more:
                break
            items += more
        return mapping.feed_outcome(feed_id, status, items, batch)


def _replace(raw: Raw, order: Raw | None) -> None:
    """``raw`` becomes ``order`` (in place: ``push_by_group`` hands the same one on)."""
    if order is not None:
        raw.clear()
        raw.update(order)

"""ShopifyAdapter: the Airflow Connection, orders, and the two pushes (in their own modules)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, ClassVar

from adapters.base import ConnectionInfo, HttpStoreAdapter
from adapters.paginators import CursorPaginator
from adapters.shopify import queries as q
from adapters.shopify.client import ShopifyClient
from adapters.shopify.fulfillments import push_shipments
from adapters.shopify.inventory import lookup, push_inventory
from adapters.shopify.mapping import to_order
from adapters.times import ISO_Z, created_at_or_after, in_window, parse_iso, query_time
from dropstream.errors import AuthenticationError, ConfigurationError, NotFoundError
from dropstream.models import Cancellation, InventoryLevel, Order, PushResult, Shipment

DEFAULT_API_VERSION = "2026-10"
OPEN_ORDERS = "financial_status:paid fulfillment_status:unshipped status:open"
#: What each OrderCancelReason means, for the order's timeline.
CANCEL_REASONS = {
    "CUSTOMER": "the customer cancelled",
    "DECLINED": "payment declined",
    "FRAUD": "fraudulent order",
    "INVENTORY": "not enough inventory",
    "OTHER": "other reason",
    "STAFF": "staff error",
}
# What the three flows need; any one handle of a tuple is enough (write_X implies read_X).
REQUIRED_SCOPES: tuple[tuple[str, ...], ...] = (
    ("read_orders", "write_orders"),
    (
        "read_merchant_managed_fulfillment_orders",
        "read_assigned_fulfillment_orders",
        "write_merchant_managed_fulfillment_orders",
        "write_assigned_fulfillment_orders",
    ),
    ("write_merchant_managed_fulfillment_orders",),
    ("read_inventory", "write_inventory"),
    ("write_inventory",),
    ("read_products", "write_products"),
)


class ShopifyAdapter(HttpStoreAdapter[ShopifyClient]):
    """A Shopify store over the Admin GraphQL API.

    Airflow Connection: ``host`` = shop URL, ``password`` = Admin API access token,
    extra ``api_version`` (default 2026-10) and ``location_id`` (default: the first location).
    """

    platform: ClassVar[str] = "shopify"
    reports_cancellations: ClassVar[bool] = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._location_id: str | None = None

    def build_client(self, conn: ConnectionInfo) -> ShopifyClient:
        if not conn.password:
            raise ConfigurationError(
                f"Airflow Connection {conn.conn_id!r} has no password: put the Shopify Admin API "
                "access token there"
            )
        return ShopifyClient(
            conn.base_url(),
            platform=self.platform,
            connection_name=self.connection_name,
            conn_id=conn.conn_id,
            headers={"X-Shopify-Access-Token": conn.password},
            credential_hint="Admin API access token",
            retry=self.retry_policy,
            api_version=str(conn.extra.get("api_version") or DEFAULT_API_VERSION),
        )

    # --- connection check -------------------------------------------------------------------
    def test_connection(self) -> None:
        data = self.client.graphql(q.SHOP)
        granted = {s["handle"] for s in data["currentAppInstallation"]["accessScopes"]}
        missing = [group[0] for group in REQUIRED_SCOPES if not granted & set(group)]
        if missing:
            raise AuthenticationError(
                f"Shopify store {data['shop']['name']!r} for connection {self.connection_name!r} "
                f"is missing access scopes: {', '.join(missing)}. Add them to the app, reinstall "
                f"it and update the token in Airflow Connection {self.conn_id!r}"
            )
        self.location_id()

    def location_id(self) -> str:
        """The location whose inventory we set: extra ``location_id`` or the first location."""
        if self._location_id is None:
            configured = self.conn.extra.get("location_id")
            if configured:
                if not self.client.graphql(q.LOCATION, {"id": configured})["location"]:
                    raise NotFoundError(
                        f"location {configured!r} (extra location_id in Airflow Connection "
                        f"{self.conn_id!r}) does not exist in the Shopify store"
                    )
                self._location_id = str(configured)
            else:
                nodes = self.client.graphql(q.FIRST_LOCATION)["locations"]["nodes"]
                if not nodes:
                    raise NotFoundError(
                        f"Shopify store for connection {self.connection_name!r} "
                        "has no location to set inventory at"
                    )
                self._location_id = str(nodes[0]["id"])
        return self._location_id

    # --- orders -----------------------------------------------------------------------------
    def fetch_orders(self, since: datetime, until: datetime) -> Iterator[Order]:
        search = (
            f"updated_at:>='{query_time(since, ISO_Z)}' "
            f"updated_at:<'{query_time(until, ISO_Z, round_up=True)}' {OPEN_ORDERS}"
        )
        # Half-open [since, until): an order updated exactly at a boundary is in one window.
        return self._orders(search, in_window(since, until, "updatedAt"))

    def fetch_open_orders(self, created_since: datetime) -> Iterator[Order]:
        search = f"created_at:>='{query_time(created_since, ISO_Z)}' {OPEN_ORDERS}"
        return self._orders(search, created_at_or_after(created_since, "createdAt"))

    def fetch_cancellations(self, since: datetime, until: datetime) -> Iterator[Cancellation]:
        """Orders cancelled (``cancelledAt`` set) and updated in [since, until): the same
        orders query with ``status:cancelled``."""
        search = (
            f"updated_at:>='{query_time(since, ISO_Z)}' "
            f"updated_at:<'{query_time(until, ISO_Z, round_up=True)}' status:cancelled"
        )
        for raw in self._raw_orders(search, in_window(since, until, "updatedAt")):
            if not raw.get("cancelledAt"):
                continue
            why = raw.get("cancelReason") or "OTHER"
            yield Cancellation(
                order=self.to_order(raw),
                cancelled_at=parse_iso(raw["cancelledAt"]),
                reason=f"cancelled in Shopify: {CANCEL_REASONS.get(why, why)} ({why})",
            )

    def _orders(self, search: str, wanted: Callable[[dict[str, Any]], bool]) -> Iterator[Order]:
        for raw in self._raw_orders(search, wanted):
            yield self.to_order(raw)

    def _raw_orders(
        self, search: str, wanted: Callable[[dict[str, Any]], bool]
    ) -> Iterator[dict[str, Any]]:
        def page(cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
            variables = {
                "first": q.ORDERS_PAGE,
                "after": cursor,
                "query": search,
                "lines": q.LINES_PAGE,
            }
            orders = self.client.graphql(q.ORDERS, variables)["orders"]
            info = orders["pageInfo"]
            return orders["nodes"], info["endCursor"] if info["hasNextPage"] else None

        for raw in CursorPaginator(f"Shopify orders of {self.connection_name!r}").items(page):
            if wanted(raw):
                yield self._with_all_lines(raw)

    def _with_all_lines(self, raw: dict[str, Any]) -> dict[str, Any]:
        info = raw["lineItems"]["pageInfo"]
        if not info["hasNextPage"]:
            return raw

        def page(cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
            variables = {"id": raw["id"], "first": q.MORE_LINES_PAGE, "after": cursor}
            items = self.client.graphql(q.ORDER_LINES, variables)["order"]["lineItems"]
            more = items["pageInfo"]
            return items["nodes"], more["endCursor"] if more["hasNextPage"] else None

        def from_first(cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
            return page(cursor or info["endCursor"])

        lines = raw["lineItems"]["nodes"] + list(CursorPaginator(raw["name"]).items(from_first))
        return {**raw, "lineItems": {"nodes": lines}}

    def to_order(self, raw: dict[str, Any]) -> Order:
        return to_order(raw)

    # --- pushes -----------------------------------------------------------------------------
    def push_shipments(self, shipments: Sequence[Shipment]) -> PushResult:
        return push_shipments(self.client, shipments)

    def push_inventory(self, levels: Sequence[InventoryLevel]) -> PushResult:
        if not levels:  # nothing changed: not even the location is looked up
            return PushResult()
        return push_inventory(self.client, levels, self.location_id())

    def stock_levels(self, skus: Sequence[str]) -> dict[str, int]:
        """ "available" at our location, for the SKUs found there (the push's own lookup)."""
        stock, _missing = lookup(self.client, list(skus), self.location_id())
        return {sku: found.available for sku, found in stock.items()}

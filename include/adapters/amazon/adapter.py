"""AmazonAdapter: the Airflow Connection, orders (v2026-01-01) and shipment confirmations.

Airflow Connection: ``host`` = SP-API endpoint (e.g. ``sellingpartnerapi-na.amazon.com``),
``login`` = LWA client id, ``password`` = LWA client secret, extra ``refresh_token``,
``marketplace_id``, ``seller_id`` (for inventory) and ``token_url`` (default
``https://api.amazon.com/auth/o2/token``). Options: ``page_size`` (default 100),
``patch_max_skus`` (default 5), ``feed_poll_seconds``, ``feed_poll_attempts``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote

from adapters.amazon import listings
from adapters.amazon.client import AmazonClient, RoleDenied, lwa_token
from adapters.amazon.mapping import package_detail, to_order
from adapters.base import ConnectionInfo, HttpStoreAdapter, RetryPolicy
from adapters.oauth import RefreshTokenGrant
from adapters.paginators import CursorPaginator
from adapters.permissions import Probe, missing_permissions
from adapters.results import Rejected, already_pushed, last_levels, push_by_group
from adapters.times import ISO_Z, created_at_or_after, in_window, query_time
from dropstream.errors import (
    AuthenticationError,
    ConfigurationError,
    NotFoundError,
    UpstreamRejectedError,
)
from dropstream.models import Cancellation, InventoryLevel, Order, PushResult, Shipment

LWA_TOKEN_URL = "https://api.amazon.com/auth/o2/token"
ORDERS = "orders/2026-01-01/orders"
ORDERS_PAGE = 100
PROBE_SKU = "DROPSTREAM-CONNECTION-TEST"  # previewed, never saved
OPEN_STATUSES = "UNSHIPPED,PARTIALLY_SHIPPED"
#: Orders v2026-01-01's cancelled orders (Orders v0: ``OrderStatus`` ``Canceled``).
CANCELLED = "CANCELLED"
CANCEL_REASON = "cancelled on Amazon"


class AmazonAdapter(HttpStoreAdapter[AmazonClient]):
    """An Amazon seller account (one marketplace) over the Selling Partner API."""

    platform: ClassVar[str] = "amazon"
    reports_cancellations: ClassVar[bool] = True
    # searchOrders refills at 0.0056 requests/s: a 429 may ask for ~3 minutes.
    retry_policy: ClassVar[RetryPolicy] = RetryPolicy(max_wait=190.0)
    feed_poll_seconds: ClassVar[float] = 30.0
    feed_poll_attempts: ClassVar[int] = 60

    def build_client(self, conn: ConnectionInfo) -> AmazonClient:
        refresh_token = str(conn.extra.get("refresh_token") or "")
        conn.require(
            bool(conn.login and conn.password and refresh_token and self.marketplace_id),
            "login = LWA client id, password = LWA client secret, and extras refresh_token and "
            "marketplace_id",
        )
        grant = RefreshTokenGrant(
            str(conn.extra.get("token_url") or LWA_TOKEN_URL),
            client_id=conn.login,
            client_secret=conn.password,
            refresh_token=refresh_token,
            client_auth="form",
            where=f"Amazon store for connection {self.connection_name!r}",
            conn_id=conn.conn_id,
        )
        return AmazonClient(
            conn.base_url(),
            token=lwa_token(grant),
            **self.client_args(conn, credential_hint="LWA credentials"),
        )

    @property
    def marketplace_id(self) -> str:
        return str(self.conn.extra.get("marketplace_id") or "")

    @property
    def seller_id(self) -> str:
        seller = str(self.conn.extra.get("seller_id") or "")
        if not seller:
            raise ConfigurationError(
                f"Airflow Connection {self.conn_id!r} has no seller_id extra: inventory is set "
                "through the Listings API, which needs the merchant token (Seller Central > "
                "Settings > Account Info > Merchant Token)"
            )
        return seller

    # --- connection check -------------------------------------------------------------------
    def test_connection(self) -> None:
        body = self.http.request("GET", "sellers/v1/marketplaceParticipations").json()
        joined = {(p.get("marketplace") or {}).get("id") for p in body.get("payload") or []}
        if self.marketplace_id not in joined:
            raise NotFoundError(
                f"Amazon seller for connection {self.connection_name!r} does not sell in "
                f"marketplace {self.marketplace_id!r} (extra marketplace_id in Airflow "
                f"Connection {self.conn_id!r}); it sells in: {', '.join(sorted(map(str, joined)))}"
            )
        missing = missing_permissions(self._role_probes(), RoleDenied)
        if missing:
            raise AuthenticationError(
                f"Amazon seller for connection {self.connection_name!r}: the SP-API application "
                f"behind Airflow Connection {self.conn_id!r} lacks the role(s) "
                f"{', '.join(missing)}. Request them in the developer profile, add them to the "
                "app (Developer Central > Edit App), and have the seller authorise the app again "
                "for a new refresh token. (A 403 on listings also follows a seller_id extra that "
                "is not this seller's merchant token.)"
            )

    def _role_probes(self) -> list[Probe]:
        """Side-effect-free calls, one per role: an orders read, a listing validation preview.

        Amazon lists no app's roles; an operation without its role is 403. Shipment confirmation
        has no preview mode and is not probed (see docs/platforms.md).
        """
        since = query_time(datetime.now(UTC) - timedelta(days=1), ISO_Z)
        search = {"createdAfter": since, "marketplaceIds": self.marketplace_id}
        path = f"listings/2021-08-01/items/{quote(self.seller_id, safe='')}/{PROBE_SKU}"
        preview = {"productType": "PRODUCT", "patches": listings.availability_patch(0)}
        mode = {"marketplaceIds": self.marketplace_id, "mode": "VALIDATION_PREVIEW"}
        return [
            (
                "Inventory and Order Tracking",
                lambda: self.http.request("GET", ORDERS, params=search | {"maxResultsPerPage": 1}),
            ),
            (
                "Product Listing",
                lambda: self.http.request("PATCH", path, json=preview, params=mode),
            ),
        ]

    # --- orders -----------------------------------------------------------------------------
    def fetch_orders(self, since: datetime, until: datetime) -> Iterator[Order]:
        return self._updated(since, until, OPEN_STATUSES)

    def fetch_open_orders(self, created_since: datetime) -> Iterator[Order]:
        return self._orders(
            {"createdAfter": query_time(created_since, ISO_Z)},
            created_at_or_after(created_since, "createdTime"),
        )

    def fetch_cancellations(self, since: datetime, until: datetime) -> Iterator[Cancellation]:
        """Merchant-fulfilled orders in ``fulfillmentStatus`` CANCELLED updated in
        [since, until): one search per window (searchOrders allows a burst of 20, then one
        request every 3 minutes: two per 15-minute run stay within it)."""
        for order in self._updated(since, until, CANCELLED):
            yield Cancellation(order=order, cancelled_at=order.updated_at, reason=CANCEL_REASON)

    def _updated(self, since: datetime, until: datetime, statuses: str) -> Iterator[Order]:
        window = {
            "lastUpdatedAfter": query_time(since, ISO_Z),
            "lastUpdatedBefore": query_time(until, ISO_Z, round_up=True),
        }
        # Half-open [since, until): an order updated exactly at a boundary is in one window.
        return self._orders(window, in_window(since, until, "lastUpdatedTime"), statuses=statuses)

    def _orders(
        self,
        dates: dict[str, str],
        wanted: Callable[[dict[str, Any]], bool],
        *,
        statuses: str = OPEN_STATUSES,
    ) -> Iterator[Order]:
        params: dict[str, Any] = {
            **dates,
            "fulfillmentStatuses": statuses,
            "fulfilledBy": "MERCHANT",
            "marketplaceIds": self.marketplace_id,
            "maxResultsPerPage": int(self.options.get("page_size") or ORDERS_PAGE),
            "includedData": "BUYER,RECIPIENT,FULFILLMENT",
        }

        def page(token: str | None) -> tuple[list[dict[str, Any]], str | None]:
            # The next page repeats every parameter unchanged, plus the token.
            query = params | ({"paginationToken": token} if token else {})
            body = self.http.request("GET", ORDERS, params=query).json()
            return list(body.get("orders") or []), (body.get("pagination") or {}).get("nextToken")

        for raw in CursorPaginator(f"Amazon orders of {self.connection_name!r}").items(page):
            if wanted(raw):
                yield self.to_order(raw)

    def to_order(self, raw: dict[str, Any]) -> Order:
        return to_order(raw)

    # --- shipments --------------------------------------------------------------------------
    def push_shipments(self, shipments: Sequence[Shipment]) -> PushResult:
        """One shipment confirmation per package; a tracking number already there is done.

        One order read per order (its packages and items), then one confirmation per package.
        """
        return push_by_group(
            shipments,
            group=lambda s: s.order_id,
            load=lambda first: self._order_with_packages(first.order_id, first),
            push_one=self._confirm,
            key=lambda s: s.key,
            refused=(ConfigurationError, UpstreamRejectedError),
        )

    def _order_with_packages(self, order_id: str, first: Shipment) -> dict[str, Any]:
        if not order_id:
            raise Rejected(f"order {first.order_number}: Amazon order id unknown")
        path = f"{ORDERS}/{quote(order_id, safe='')}"
        params = {"includedData": "FULFILLMENT,PACKAGES"}
        order = self.http.request("GET", path, params=params).json()["order"]
        order.setdefault("packages", [])
        return order

    def _confirm(self, order: dict[str, Any], shipment: Shipment) -> str:
        packages = order["packages"]
        done = already_pushed(
            packages, shipment.tracking_number, number="trackingNumber", ref="packageReferenceId"
        )
        if done is not None:
            return done
        detail = package_detail(order, shipment)
        path = f"orders/v0/orders/{quote(order['orderId'], safe='')}/shipmentConfirmation"
        body = {"marketplaceId": self.marketplace_id, "packageDetail": detail}
        self.http.request("POST", path, json=body)
        packages.append(detail)  # the order's next package sees its reference and tracking
        return str(detail["packageReferenceId"])

    # --- inventory --------------------------------------------------------------------------
    def push_inventory(self, levels: Sequence[InventoryLevel]) -> PushResult:
        """A handful of SKUs: Listings Items PATCH each; more: one JSON_LISTINGS_FEED."""
        wanted = last_levels(levels, floor=0)
        if not wanted:
            return PushResult()
        if len(wanted) <= int(self.options.get("patch_max_skus", 5)):
            return listings.patch_each(self.http, wanted, self.seller_id, self.marketplace_id)
        return listings.push_feed(
            self.http,
            wanted,
            self.seller_id,
            self.marketplace_id,
            poll_seconds=float(self.options.get("feed_poll_seconds", self.feed_poll_seconds)),
            poll_attempts=int(self.options.get("feed_poll_attempts", self.feed_poll_attempts)),
        )

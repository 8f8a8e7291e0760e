"""EbayAdapter: Sell Fulfillment (orders, shipping fulfillments) + Sell Inventory (quantities).

Airflow Connection: ``host`` = API base (``https://api.ebay.com``), ``login`` = app client id,
``password`` = client secret, extra ``refresh_token`` (the seller's user refresh token),
``token_url`` (default ``{host}/identity/v1/oauth2/token``) and ``scopes`` (space-separated or
a list; default fulfillment + inventory). Options: ``page_size`` (getOrders ``limit``, default
200, eBay's documented maximum is unconfirmed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote

from adapters.base import ConnectionInfo, HttpClient, HttpStoreAdapter
from adapters.ebay.mapping import cancel_state, ebay_time, to_cancellation, to_order
from adapters.oauth import BearerToken, RefreshTokenGrant, ScopeRefused
from adapters.paginators import OffsetPaginator
from adapters.results import Rejected, already_pushed, last_levels, push_batches, push_each
from adapters.times import created_at_or_after, in_window
from dropstream.errors import AuthenticationError, ConfigurationError, UpstreamRejectedError
from dropstream.models import Cancellation, InventoryLevel, Order, PushResult, Shipment

DEFAULT_SCOPES = (
    "https://api.ebay.com/oauth/api_scope/sell.fulfillment",
    "https://api.ebay.com/oauth/api_scope/sell.inventory",
)
ORDERS = "sell/fulfillment/v1/order"
BULK_QUANTITY = "sell/inventory/v1/bulk_update_price_quantity"
ORDERS_PAGE = 200
BULK_CAP = 25
OPEN_STATUSES = "{NOT_STARTED|IN_PROGRESS}"


class EbayAdapter(HttpStoreAdapter[HttpClient]):
    """An eBay seller account over the Sell APIs with an OAuth2 user refresh token."""

    platform: ClassVar[str] = "ebay"
    reports_cancellations: ClassVar[bool] = True

    def build_client(self, conn: ConnectionInfo) -> HttpClient:
        refresh_token = str(conn.extra.get("refresh_token") or "")
        if not (conn.login and conn.password and refresh_token):
            raise ConfigurationError(
                f"Airflow Connection {conn.conn_id!r} needs login = eBay app client id, "
                "password = client secret and extra refresh_token = the seller's refresh token"
            )
        base = conn.base_url()
        scopes = conn.extra.get("scopes") or DEFAULT_SCOPES
        grant = RefreshTokenGrant(
            str(conn.extra.get("token_url") or f"{base}/identity/v1/oauth2/token"),
            client_id=conn.login,
            client_secret=conn.password,
            refresh_token=refresh_token,
            scopes=scopes.split() if isinstance(scopes, str) else list(scopes),
            client_auth="basic",
            where=f"eBay store for connection {self.connection_name!r}",
            conn_id=conn.conn_id,
        )
        self._grant = grant
        return HttpClient(
            base,
            platform=self.platform,
            connection_name=self.connection_name,
            conn_id=conn.conn_id,
            credential_hint="OAuth user token",
            retry=self.retry_policy,
            token=BearerToken(grant),
        )

    # --- connection check -------------------------------------------------------------------
    def test_connection(self) -> None:
        """The scopes the flows need, then one read per API they use: a 401/403 names the fix.

        eBay lists no token's scopes, but refuses a refresh that asks for more than the seller
        granted (``invalid_scope``): the grant asks for both write scopes, and if refused, each
        is asked for alone to name the missing one. Token requests only; nothing is written.
        """
        http, grant = self.http, self._grant
        if not_asked := [s for s in DEFAULT_SCOPES if s not in grant.scopes]:
            raise ConfigurationError(
                f"extra scopes in Airflow Connection {self.conn_id!r} leaves out "
                f"{', '.join(not_asked)}, which the flows need: add them or remove the extra"
            )
        try:
            http.request("GET", ORDERS, params={"limit": 1})
        except ScopeRefused as exc:
            missing = [s for s in DEFAULT_SCOPES if not grant.grants([s])]
            raise AuthenticationError(
                f"eBay seller for connection {self.connection_name!r} has not granted the app "
                f"OAuth scopes: {', '.join(missing) or ' '.join(grant.scopes)} (a read-only "
                "consent grants only the .readonly ones). Add them to the app's consent request, "
                "have the seller consent again, and put the new refresh token in extra "
                f"refresh_token of Airflow Connection {self.conn_id!r}"
            ) from exc
        self.http.request("GET", "sell/inventory/v1/inventory_item", params={"limit": 1})

    # --- orders -----------------------------------------------------------------------------
    def fetch_orders(self, since: datetime, until: datetime) -> Iterator[Order]:
        window = f"lastmodifieddate:[{ebay_time(since)}..{ebay_time(until, round_up=True)}]"
        # eBay's filter is inclusive at both ends: enforce [since, until) here.
        return self._orders(window, in_window(since, until, "lastModifiedDate"))

    def fetch_open_orders(self, created_since: datetime) -> Iterator[Order]:
        return self._orders(
            f"creationdate:[{ebay_time(created_since)}..]",
            created_at_or_after(created_since, "creationDate"),
        )

    def fetch_cancellations(self, since: datetime, until: datetime) -> Iterator[Cancellation]:
        """Orders whose ``cancelStatus.cancelState`` is CANCELED, modified in [since, until):
        one listing of the window (getOrders cannot filter on the cancel state)."""
        window = f"lastmodifieddate:[{ebay_time(since)}..{ebay_time(until, round_up=True)}]"
        wanted = in_window(since, until, "lastModifiedDate")
        for raw in self._raw_orders(window, wanted):
            if cancel_state(raw) == "CANCELED":
                yield to_cancellation(raw)

    def _orders(self, dates: str, wanted: Callable[[dict[str, Any]], bool]) -> Iterator[Order]:
        for raw in self._raw_orders(f"{dates},orderfulfillmentstatus:{OPEN_STATUSES}", wanted):
            if raw.get("orderPaymentStatus") != "PAID":
                continue  # getOrders also returns pending/refunded orders
            if cancel_state(raw) == "CANCELED":
                continue
            yield self.to_order(raw)

    def _raw_orders(
        self, search: str, wanted: Callable[[dict[str, Any]], bool]
    ) -> Iterator[dict[str, Any]]:
        limit = int(self.options.get("page_size") or ORDERS_PAGE)

        def page(offset: int) -> tuple[list[dict[str, Any]], int | None]:
            params = {"filter": search, "limit": limit, "offset": offset}
            body = self.http.request("GET", ORDERS, params=params).json()
            total = body.get("total")
            return list(body.get("orders") or []), int(total) if total is not None else None

        what = f"eBay orders of {self.connection_name!r}"
        for raw in OffsetPaginator(what, limit, key=lambda o: o.get("orderId")).items(page):
            if wanted(raw):
                yield raw

    def to_order(self, raw: dict[str, Any]) -> Order:
        return to_order(raw)

    # --- shipments --------------------------------------------------------------------------
    def push_shipments(self, shipments: Sequence[Shipment]) -> PushResult:
        """One shipping fulfillment per package; a tracking number already there is done."""
        return push_each(
            shipments,
            self._push_one,
            key=lambda s: s.key,
            refused=(ConfigurationError, UpstreamRejectedError),
        )

    def _push_one(self, shipment: Shipment) -> str:
        if not shipment.order_id:
            raise Rejected(f"order {shipment.order_number}: eBay order id unknown")
        order_path = f"{ORDERS}/{quote(shipment.order_id, safe='')}"
        path = f"{order_path}/shipping_fulfillment"
        existing = self.http.request("GET", path).json().get("fulfillments") or []
        done = already_pushed(
            existing, shipment.tracking_number, number="shipmentTrackingNumber", ref="fulfillmentId"
        )
        if done is not None:
            return done
        line_ids = {line.sku: line.line_id for line in shipment.lines if line.line_id}
        if len(line_ids) < len(shipment.lines):  # some lines known only by SKU: look them up
            order = self.http.request("GET", order_path).json()
            for item in order.get("lineItems") or []:
                line_ids.setdefault(item.get("sku") or "", item["lineItemId"])
        items = []
        for line in shipment.lines:
            line_id = line.line_id or line_ids.get(line.sku)
            if not line_id:
                raise Rejected(f"order {shipment.order_number}: no line for SKU {line.sku!r}")
            items.append({"lineItemId": line_id, "quantity": line.quantity})
        body = {
            "lineItems": items,
            "shippedDate": ebay_time(shipment.shipped_at or datetime.now(UTC)),
            "shippingCarrierCode": shipment.carrier,
            "trackingNumber": shipment.tracking_number,
        }
        response = self.http.request("POST", path, json=body)
        location = response.headers.get("Location") or ""
        return location.rstrip("/").rsplit("/", 1)[-1]

    # --- inventory --------------------------------------------------------------------------
    def push_inventory(self, levels: Sequence[InventoryLevel]) -> PushResult:
        """``bulk_update_price_quantity``, 25 SKUs a call; per-SKU failures are rejected."""
        wanted = last_levels(levels, floor=0)

        def push_batch(batch: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
            requests_ = [
                {"sku": sku, "shipToLocationAvailability": {"quantity": wanted[sku]}}
                for sku in batch
            ]
            body = self.http.request("POST", BULK_QUANTITY, json={"requests": requests_}).json()
            outcomes = {r.get("sku"): r for r in body.get("responses") or []}
            accepted, rejected = [], []
            for sku in batch:
                outcome = outcomes.get(sku) or {}
                if 200 <= int(outcome.get("statusCode") or 0) < 300:
                    accepted.append(sku)
                else:
                    errors = outcome.get("errors") or []
                    reason = "; ".join(str(e.get("message")) for e in errors) or "no outcome"
                    rejected.append((sku, f"eBay refused the quantity: {reason}"))
            return accepted, rejected

        return push_batches(list(wanted), BULK_CAP, push_batch)

"""eBay store adapter (Sell Fulfillment + Sell Inventory REST APIs): ``adapters.ebay:EbayAdapter``.

Airflow Connection: ``host`` = API base (``https://api.ebay.com``), ``login`` = app client id,
``password`` = client secret, extra ``refresh_token`` (the seller's user refresh token),
``token_url`` (default ``{host}/identity/v1/oauth2/token``) and ``scopes`` (space-separated or
a list; default fulfillment + inventory). Options: ``page_size`` (getOrders ``limit``, default
200, eBay's documented maximum is unconfirmed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import quote

from adapters.base import ConnectionInfo, HttpClient, HttpStoreAdapter
from adapters.oauth import BearerToken, RefreshTokenGrant, ScopeRefused
from adapters.paginators import OffsetPaginator
from adapters.results import Rejected, push_each
from adapters.times import created_at_or_after, in_window, parse_iso
from dropstream.errors import (
    AuthenticationError,
    ConfigurationError,
    DataError,
    UpstreamRejectedError,
)
from dropstream.models import Address, InventoryLevel, Order, OrderLine, PushResult, Shipment

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

    def _orders(self, dates: str, wanted: Callable[[dict[str, Any]], bool]) -> Iterator[Order]:
        search = f"{dates},orderfulfillmentstatus:{OPEN_STATUSES}"
        limit = int(self.options.get("page_size") or ORDERS_PAGE)

        def page(offset: int) -> tuple[list[dict[str, Any]], int | None]:
            params = {"filter": search, "limit": limit, "offset": offset}
            body = self.http.request("GET", ORDERS, params=params).json()
            total = body.get("total")
            return list(body.get("orders") or []), int(total) if total is not None else None

        what = f"eBay orders of {self.connection_name!r}"
        for raw in OffsetPaginator(what, limit, key=lambda o: o.get("orderId")).items(page):
            if raw.get("orderPaymentStatus") != "PAID":
                continue  # getOrders also returns pending/refunded orders
            if (raw.get("cancelStatus") or {}).get("cancelState") == "CANCELED":
                continue
            if wanted(raw):
                yield self.to_order(raw)

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
        for fulfillment in existing:
            # Already pushed (e.g. a retry after a crash between create and our ledger write).
            if fulfillment.get("shipmentTrackingNumber") == shipment.tracking_number:
                return str(fulfillment["fulfillmentId"])
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
        wanted = {level.sku: max(level.available, 0) for level in levels}  # last level wins
        skus = list(wanted)
        accepted: list[str] = []
        rejected: list[tuple[str, str]] = []
        for start in range(0, len(skus), BULK_CAP):
            batch = skus[start : start + BULK_CAP]
            requests_ = [
                {"sku": sku, "shipToLocationAvailability": {"quantity": wanted[sku]}}
                for sku in batch
            ]
            body = self.http.request("POST", BULK_QUANTITY, json={"requests": requests_}).json()
            outcomes = {r.get("sku"): r for r in body.get("responses") or []}
            for sku in batch:
                outcome = outcomes.get(sku)
                if outcome is not None and 200 <= int(outcome.get("statusCode") or 0) < 300:
                    accepted.append(sku)
                else:
                    errors = (outcome or {}).get("errors") or []
                    reason = "; ".join(str(e.get("message")) for e in errors) or "no outcome"
                    rejected.append((sku, f"eBay refused the quantity: {reason}"))
        return PushResult(accepted=tuple(accepted), rejected=tuple(rejected))


# --- pure mapping ---------------------------------------------------------------------------
def ebay_time(value: datetime, *, round_up: bool = False) -> str:
    """Millisecond UTC timestamp, as eBay filters want (rounded outward; we filter exactly)."""
    value = value.astimezone(UTC)
    if round_up and value.microsecond % 1000:
        value += timedelta(microseconds=1000 - value.microsecond % 1000)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def unit_price(line_cost: Decimal, quantity: int) -> Decimal:
    """eBay gives the line's cost (unit x quantity): exact cents when it divides evenly."""
    if quantity <= 1:
        return line_cost
    exact = line_cost / quantity
    exponent = line_cost.as_tuple().exponent
    places = line_cost if isinstance(exponent, int) and exponent < 0 else Decimal("0.01")
    cents = exact.quantize(places)
    return cents if cents * quantity == line_cost else exact.quantize(Decimal("0.000001"))


def to_address(ship_to: dict[str, Any]) -> Address:
    where = ship_to.get("contactAddress") or {}
    return Address(
        name=ship_to.get("fullName") or "",
        company=ship_to.get("companyName") or "",
        address1=where.get("addressLine1") or "",
        address2=where.get("addressLine2") or "",
        city=where.get("city") or "",
        state=where.get("stateOrProvince") or "",
        postal_code=where.get("postalCode") or "",
        country=where.get("countryCode") or "",
        phone=(ship_to.get("primaryPhone") or {}).get("phoneNumber") or "",
    )


def to_order(raw: dict[str, Any]) -> Order:
    """One getOrders ``Order`` -> Order (``number`` is eBay's order id)."""
    try:
        instructions = raw.get("fulfillmentStartInstructions") or [{}]
        step = instructions[0].get("shippingStep") or {}
        # Digital gift cards are e-mailed: an order whose every instruction is DIGITAL ships
        # nothing; a gift card bought as a gift carries giftDetails on its line.
        digital = all(i.get("fulfillmentInstructionsType") == "DIGITAL" for i in instructions)
        ship_to = step.get("shipTo") or {}
        lines = []
        currency = ""
        for number, item in enumerate(raw.get("lineItems") or [], start=1):
            cost = item.get("lineItemCost") or {}
            currency = currency or cost.get("currency") or ""
            quantity = int(item["quantity"])
            lines.append(
                OrderLine(
                    line_id=str(item["lineItemId"]),
                    sku=item.get("sku") or "",
                    quantity=quantity,
                    unit_price=unit_price(Decimal(str(cost.get("value", "0"))), quantity),
                    line_number=number,
                    requires_shipping=not digital and not item.get("giftDetails"),
                )
            )
        return Order(
            order_id=str(raw["orderId"]),
            number=str(raw["orderId"]),
            created_at=parse_iso(raw["creationDate"]),
            updated_at=parse_iso(raw["lastModifiedDate"]),
            ship_to=to_address(ship_to),
            lines=tuple(lines),
            email=ship_to.get("email") or "",
            ship_method=step.get("shippingServiceCode") or "",
            currency=currency or "USD",
            financial_status=raw.get("orderPaymentStatus") or "",
            fulfillment_status=raw.get("orderFulfillmentStatus") or "",
            channel="ebay",
        )
    except (KeyError, IndexError, TypeError, ValueError, ArithmeticError) as exc:
        raise DataError(f"eBay order {raw.get('orderId')!r} is malformed: {exc!r}") from exc

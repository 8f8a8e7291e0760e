"""Magento 2 / Adobe Commerce store adapter (REST ``/rest/V1``), facts in docs/platforms.md.

Connection: ``host`` = store base URL, ``password`` = integration access token (Bearer); options
or extra ``source_code`` (MSI source, default ``default``), ``requests_per_second`` (pacing).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any, ClassVar

import requests

from adapters.allocation import OpenLine, allocate, totals
from adapters.auth import HeaderToken
from adapters.base import ConnectionInfo, HttpClient, HttpStoreAdapter
from adapters.pacing import FixedRatePacer
from adapters.paginators import TotalCountPaginator
from adapters.permissions import missing_permissions
from adapters.results import Refusal, Rejected, push_each, resubmit_without_blamed
from adapters.times import created_at_or_after, in_window, parse_iso, query_time
from dropstream import errors
from dropstream.models import Address, InventoryLevel, Order, OrderLine, PushResult, Shipment

log = logging.getLogger(__name__)

PAGE_MAX, LIST_MAX = 300, 20  # page size, entities per request list: the documented input limits
TIME = "%Y-%m-%d %H:%M:%S"  # UTC, as Magento stores, filters and answers times
CARRIERS = {"ups", "usps", "fedex", "dhl"}  # Magento's carrier codes; the rest is "custom"
# The ACL resources of the routes the writes use (webapi.xml of Magento_Sales, Magento_InventoryApi)
SHIP, SHIPMENTS = "Magento_Sales::ship", "Magento_Sales::shipment"
SOURCE_ITEMS = "Magento_InventoryApi::stock_source_item_assign"
DONE = ("qty_shipped", "qty_refunded", "qty_canceled")
ADDRESS = {"company": "company", "city": "city", "postal_code": "postcode", "phone": "telephone"}


class AclDenied(errors.AuthenticationError):
    """401: the token is not valid, or its integration lacks the route's API resource."""


class MagentoRejected(errors.UpstreamRejectedError):
    blamed: list[tuple[str, Any]] = []  # (error, its first parameter) per failed validation


def render(entry: dict[str, Any]) -> str:
    """A Magento message with its ``%1``/``%name`` placeholders filled from ``parameters``."""
    text, params = str(entry.get("message") or ""), entry.get("parameters") or []
    named = params.items() if isinstance(params, dict) else enumerate(params, start=1)
    for name, value in sorted(named, key=lambda kv: -len(str(kv[0]))):
        text = text.replace(f"%{name}", str(value))
    return text


class MagentoClient(HttpClient):
    """JSON with exact money; Magento's ``{"message", "parameters", "errors"}`` mapped."""

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        return response.json(parse_float=Decimal) if response.content else None

    def raise_for_status(self, response: requests.Response) -> None:
        body: Any = None
        with suppress(ValueError):
            body = response.json() if response.status_code in (400, 401, 404) else None
        if not isinstance(body, dict):
            return super().raise_for_status(response)
        text, where = render(body), self.where
        if response.status_code == 401:
            raise AclDenied(
                f"{where}: {text} (401): the access token in Airflow Connection {self.conn_id!r} "
                "is not valid, or its integration lacks that API resource; check both under "
                "System > Extensions > Integrations (and, since 2.4.4, that Stores > Configuration "
                "> Services > OAuth > Consumer Settings allows access tokens as Bearer tokens)"
            )
        found = [e for e in body.get("errors") or [] if isinstance(e, dict)]
        blamed = [(render(e), (e.get("parameters") or [None])[0]) for e in found]
        text = "; ".join([text, *(e for e, _ in blamed)])
        if response.status_code == 404:
            raise errors.NotFoundError(f"{where}: {text} (404)")
        rejected = MagentoRejected(f"{where} rejected the request (400): {text}")
        rejected.blamed = blamed
        raise rejected


def search(*filters: tuple[str, Any, str], page: int = 1, size: int = PAGE_MAX) -> dict[str, Any]:
    """``searchCriteria`` query: each filter in its own group (AND), ascending ``entity_id``."""
    params: dict[str, Any] = {"searchCriteria[pageSize]": size, "searchCriteria[currentPage]": page}
    params["searchCriteria[sortOrders][0][field]"] = "entity_id"
    params["searchCriteria[sortOrders][0][direction]"] = "ASC"
    for n, (field, value, condition) in enumerate(filters):
        for key, part in (("field", field), ("value", value), ("condition_type", condition)):
            params[f"searchCriteria[filter_groups][{n}][filters][0][{key}]"] = part
    return params


def shippable(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The order's own items: a child (of a configurable or bundle product) ships via its parent."""
    return [item for item in items if not item.get("parent_item_id")]


def qty(item: dict[str, Any], *fields: str) -> int:
    """Whole units (a fractional quantity, "Qty Uses Decimals", is not shipped in part)."""
    given = {f: item.get(f) for f in fields}
    try:
        total = sum((Decimal(str(value or 0)) for value in given.values()), Decimal(0))
    except ArithmeticError:
        total = Decimal("NaN")
    if not total.is_finite() or total != int(total):
        raise ValueError(f"item {item.get('item_id')}: {given} is not a whole quantity")
    return int(total)


def to_order(raw: dict[str, Any]) -> Order:
    """One order of ``GET /V1/orders``; child items (of configurable/bundle products) skipped."""
    try:
        bill = raw.get("billing_address") or {}
        assigned = (raw.get("extension_attributes") or {}).get("shipping_assignments") or [{}]
        items = shippable(raw.get("items") or [])
        return Order(
            order_id=str(raw["entity_id"]),
            number=str(raw.get("increment_id") or raw["entity_id"]),
            created_at=parse_iso(raw["created_at"]),
            updated_at=parse_iso(raw["updated_at"]),
            ship_to=to_address((assigned[0].get("shipping") or {}).get("address") or bill),
            bill_to=to_address(bill),
            lines=tuple(to_line(item, n) for n, item in enumerate(items, start=1)),
            email=raw.get("customer_email") or bill.get("email") or "",
            ship_method=raw.get("shipping_description") or "",
            currency=raw.get("order_currency_code") or "USD",
            notes=raw.get("customer_note") or "",
            financial_status="paid" if Decimal(str(raw.get("total_due") or 0)) <= 0 else "",
            fulfillment_status=raw.get("status") or "",
            channel="magento",
        )
    except (KeyError, TypeError, ValueError, ArithmeticError, IndexError) as exc:
        number = raw.get("increment_id") or raw.get("entity_id")
        raise errors.DataError(f"Magento order {number!r} is malformed: {exc!r}") from exc


def to_line(item: dict[str, Any], number: int) -> OrderLine:
    price = Decimal(str(item.get("price") or 0))
    return OrderLine(
        str(item["item_id"]), item.get("sku") or "", qty(item, "qty_ordered"), price, number
    )


def to_address(raw: dict[str, Any]) -> Address:
    street, text = raw.get("street") or [""], {k: str(v or "") for k, v in raw.items()}
    return Address(
        name=" ".join(p for p in (text.get("firstname"), text.get("lastname")) if p),
        address1=street[0],
        address2=", ".join(street[1:]),
        state=text.get("region_code") or text.get("region") or "",
        country=text.get("country_id", ""),
        **{field: text.get(key, "") for field, key in ADDRESS.items()},
    )


def is_open(raw: dict[str, Any]) -> bool:
    """Paid (nothing due) and nothing shipped yet; ``state`` processing is asked of the API."""
    unshipped = not any(qty(i, "qty_shipped") for i in raw.get("items") or [])
    return unshipped and Decimal(str(raw.get("total_due") or 0)) <= 0


def ship_body(shipment: Shipment, items: dict[str, int]) -> dict[str, Any]:
    """``POST /V1/order/{id}/ship``: the items, one track (carrier code, title, number)."""
    carrier = shipment.carrier.strip().lower()
    track = {
        "track_number": shipment.tracking_number,
        "title": " ".join(p for p in (shipment.carrier, shipment.service) if p) or "Carrier",
        "carrier_code": carrier if carrier in CARRIERS else "custom",
    }
    lines = [{"order_item_id": int(item_id), "qty": n} for item_id, n in items.items()]
    return {"items": lines, "tracks": [track], "notify": True}


def source_items(skus: Sequence[str], wanted: dict[str, int], source: str) -> dict[str, Any]:
    """``POST /V1/inventory/source-items``: each SKU's quantity, in stock while it has any."""
    items = [(s, wanted[s]) for s in skus]
    fields = [
        {"sku": s, "source_code": source, "quantity": n, "status": int(n > 0)} for s, n in items
    ]
    return {"sourceItems": fields}


class MagentoAdapter(HttpStoreAdapter[MagentoClient]):
    """A Magento 2 / Adobe Commerce store."""

    platform: ClassVar[str] = "magento"

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
            f"{conn.base_url()}/rest/V1",
            platform=self.platform,
            connection_name=self.connection_name,
            conn_id=conn.conn_id,
            headers={"Content-Type": "application/json"},
            credential_hint="access token",
            retry=self.retry_policy,
            pacer=FixedRatePacer(float(rate)) if rate else None,
        )
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

    def fetch_orders(self, since: datetime, until: datetime) -> Iterator[Order]:
        """Processing orders updated in [since, until): ceil(N / 300) requests, at least one."""
        bounds = [("updated_at", query_time(since, TIME), "from")]
        bounds.append(("updated_at", query_time(until, TIME, round_up=True), "to"))
        return self._orders(bounds, in_window(since, until, "updated_at"))

    def fetch_open_orders(self, created_since: datetime) -> Iterator[Order]:
        bounds = [("created_at", query_time(created_since, TIME), "from")]
        return self._orders(bounds, created_at_or_after(created_since, "created_at"))

    def _orders(self, bounds: list, wanted: Callable[[dict[str, Any]], bool]) -> Iterator[Order]:
        def page(n: int) -> tuple[list[Any], int]:
            filters = search(*bounds, ("state", "processing", "eq"), page=n)
            body = self.client.call("GET", "orders", params=filters)
            return body.get("items") or [], int(body["total_count"])

        what = f"Magento orders of {self.connection_name!r}"
        for raw in TotalCountPaginator(what, PAGE_MAX, key=lambda o: o["entity_id"]).items(page):
            try:
                if wanted(raw) and is_open(raw):
                    yield self.to_order(raw)
            except (errors.DataError, KeyError, TypeError, ValueError, ArithmeticError) as exc:
                log.error(
                    "Magento order %r is malformed, skipped: %s", raw.get("increment_id"), exc
                )

    def to_order(self, raw: dict[str, Any]) -> Order:
        return to_order(raw)

    def push_shipments(self, shipments: Sequence[Shipment]) -> PushResult:
        """Per package: the order's shipments (a track with this number: done), its items,
        then one ship call with the items allocated and the track."""
        refused = (errors.DataError, errors.UpstreamRejectedError)
        return push_each(shipments, self._ship, key=lambda s: s.key, refused=refused)

    def _ship(self, shipment: Shipment) -> str:
        order, order_id = f"order {shipment.order_number}", shipment.order_id
        if not order_id:
            raise Rejected(f"{order}: Magento order id unknown")
        done = self.client.call("GET", "shipments", params=search(("order_id", order_id, "eq")))
        for old in done.get("items") or []:
            if shipment.tracking_number in {t.get("track_number") for t in old.get("tracks") or []}:
                return str(old["entity_id"])
        try:
            items = self.client.call("GET", f"orders/{order_id}")["items"]
        except errors.NotFoundError as exc:
            raise Rejected(f"{order} ({order_id}) not found in store") from exc
        left = {
            str(i["item_id"]): (i, qty(i, "qty_ordered") - qty(i, *DONE)) for i in shippable(items)
        }
        lines = [OpenLine(k, k, i.get("sku") or "", n, i) for k, (i, n) in left.items()]
        taken = totals(
            allocate(
                shipment, lines, unmatched=lambda ln: f"{order}: no line {ln.line_id or ln.sku}"
            )
        )
        if not taken:
            raise Rejected(f"{order}: nothing left to ship (already shipped?)")
        created = self.client.call(
            "POST", f"order/{order_id}/ship", json=ship_body(shipment, taken)
        )
        return str(created)

    def push_inventory(self, levels: Sequence[InventoryLevel]) -> PushResult:
        """Source items, 20 per call; a batch refused naming SKUs is sent again without them."""
        wanted = {level.sku: level.available for level in levels}  # last level of a SKU wins
        source = self.options.get("source_code") or self.conn.extra.get("source_code") or "default"
        skus = list(wanted)

        def submit(batch: list[str]) -> Refusal | None:
            try:
                body = source_items(batch, wanted, str(source))
                self.client.call("POST", "inventory/source-items", json=body)
            except MagentoRejected as exc:
                at = {sku: n for n, sku in enumerate(batch)}
                return Refusal(f"not applied: {exc}", {at[p]: e for e, p in exc.blamed if p in at})
            return None

        chunks = [skus[i : i + LIST_MAX] for i in range(0, len(skus), LIST_MAX)]
        results = [resubmit_without_blamed(chunk, submit) for chunk in chunks]
        accepted = tuple(sku for ok, _ in results for sku in ok)
        return PushResult(accepted=accepted, rejected=tuple(r for _, no in results for r in no))

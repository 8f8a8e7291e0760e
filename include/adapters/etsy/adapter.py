"""EtsyAdapter: the Airflow Connection, receipts, cancelled receipts, tracking and listing
inventory over Open API v3; facts: docs/platforms.md.

Airflow Connection: ``host`` ``https://api.etsy.com``, ``login`` the app's keystring (OAuth client
id), ``password`` its shared secret, extra ``refresh_token``, ``shop_id``, optional ``token_url``.
Costs: ceil(N / 100) receipt pages (cancellations: one more listing); per package a receipt read
and a tracking write; inventory: the shop's active and sold-out listings (ceil(L / 100) reads
each: Etsy has no SKU lookup), then one PUT per listing whose quantities change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from itertools import chain
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote

import requests

from adapters.allocation import allocate, totals
from adapters.auth import HeaderToken
from adapters.base import ConnectionInfo, HttpClient, HttpStoreAdapter
from adapters.etsy.mapping import (
    inventory_body,
    open_lines,
    package_note,
    shipment_id,
    to_cancellation,
    to_order,
)
from adapters.http_client import json_field
from adapters.oauth import BearerToken, RefreshTokenGrant
from adapters.pacing import QuotaPacer
from adapters.paginators import OffsetPaginator
from adapters.results import PushResults, Rejected, last_levels, push_each, push_groups
from adapters.times import created_at_or_after, epoch_seconds, in_window, parse_epoch
from dropstream import errors
from dropstream.models import Cancellation, InventoryLevel, Order, PushResult, Shipment

T = TypeVar("T")

API = "v3/application"
PAGE = 100  # ``limit`` maximum of getShopReceipts and getListingsByShop
SCOPES = ("transactions_r", "transactions_w", "listings_r", "listings_w")
OPEN = {"was_paid": "true", "was_shipped": "false", "was_canceled": "false"}
CANCELED = {"was_canceled": "true"}  # "only the canceled receipts" (OAS getShopReceipts)
STOCKED = ("active", "sold_out")  # listing states whose stock the warehouse sets
LISTED = {"includes": "Inventory"}  # getListingsByShop: listings with their inventory
EMPTY: dict[str, Any] = {"products": []}
ZERO = "Etsy's API cannot set a listing's last stock to 0: deactivate it in Shop Manager"
REFUSED = (errors.DataError, errors.ConfigurationError, errors.UpstreamRejectedError)


def _token_refused(response: requests.Response) -> bool:  # not a wrong API key (also 401)
    return response.status_code == 401 and json_field(response, "error") == "invalid_token"


class EtsyAdapter(HttpStoreAdapter[HttpClient]):
    """An Etsy shop over Open API v3 with the seller's OAuth2 refresh token."""

    platform: ClassVar[str] = "etsy"
    reports_cancellations: ClassVar[bool] = True

    def build_client(self, conn: ConnectionInfo) -> HttpClient:
        refresh, shop_id = (str(conn.extra.get(k) or "") for k in ("refresh_token", "shop_id"))
        if not (conn.login and conn.password and refresh and shop_id.isdigit()):
            raise errors.ConfigurationError(
                f"Airflow Connection {conn.conn_id!r} needs login = the Etsy app's keystring, "
                "password = its shared secret, extra refresh_token = the seller's refresh token "
                "and extra shop_id = the numeric shop id"
            )
        base, where = conn.base_url(), f"Etsy store for connection {self.connection_name!r}"
        self._grant = RefreshTokenGrant(
            str(conn.extra.get("token_url") or f"{base}/v3/public/oauth/token"),
            client_id=conn.login, client_secret="", refresh_token=refresh,
            client_auth="public", where=where, conn_id=conn.conn_id,
        )  # fmt: skip
        client = HttpClient(
            base, platform=self.platform, connection_name=self.connection_name,
            conn_id=conn.conn_id, retry=self.retry_policy, error_field="error",
            credential_hint="x-api-key (keystring:shared secret) or refresh token",
            pacer=QuotaPacer(second_header="x-remaining-this-second",
                             day_header="x-remaining-today", what=where),
            token=BearerToken(self._grant, refused_when=_token_refused),
        )  # fmt: skip
        HeaderToken("x-api-key", f"{conn.login}:{conn.password}").apply(client.session)
        return client

    @property
    def shop(self) -> str:
        return f"{API}/shops/{self.conn.extra.get('shop_id')}"  # checked by build_client

    def test_connection(self) -> None:
        """The token's scopes (Etsy lists them), then a receipt read: the shop is the seller's."""
        http = self.http  # builds the grant
        token = {"token": self._grant.access_token()}
        granted = http.request("POST", f"{API}/scopes", data=token).json().get("scopes") or []
        if missing := [scope for scope in SCOPES if scope not in granted]:
            raise errors.AuthenticationError(
                f"Etsy store for connection {self.connection_name!r}: the seller's token in "
                f"Airflow Connection {self.conn_id!r} lacks OAuth scopes {', '.join(missing)}; ask "
                f"for {' '.join(SCOPES)} when the seller connects the app, then store the new "
                "refresh token in extra refresh_token"
            )
        http.request("GET", f"{self.shop}/receipts", params={"limit": 1})

    # --- orders: whole seconds, widened; exactly [since, until) on updated_timestamp --------
    def fetch_orders(self, since: datetime, until: datetime) -> Iterator[Order]:
        return self._orders(OPEN | _modified(since, until), _in(since, until), to_order)

    def fetch_open_orders(self, created_since: datetime) -> Iterator[Order]:
        wanted = created_at_or_after(created_since, "created_timestamp", parse_epoch)
        return self._orders(OPEN | {"min_created": epoch_seconds(created_since)}, wanted, to_order)

    def fetch_cancellations(self, since: datetime, until: datetime) -> Iterator[Cancellation]:
        """Receipts cancelled and last changed in [since, until): one listing (was_canceled)."""
        return self._orders(CANCELED | _modified(since, until), _in(since, until), to_cancellation)

    def _orders(
        self, query: dict[str, Any], wanted: Callable[[Any], bool], mapped: Callable[[Any], T]
    ) -> Iterator[T]:
        query = query | {"sort_on": "created", "sort_order": "asc"}
        return (mapped(r) for r in self._pages("receipts", query, "receipt_id") if wanted(r))

    def _pages(self, path: str, query: dict[str, Any], key: str) -> Iterator[dict[str, Any]]:
        def page(offset: int) -> tuple[list[Any], int | None]:
            params = query | {"limit": PAGE, "offset": offset}
            body = self.http.request("GET", f"{self.shop}/{path}", params=params).json()
            return list(body.get("results") or []), body.get("count")

        what = f"Etsy {path} of {self.connection_name!r}"
        return OffsetPaginator(what, PAGE, key=lambda item: item.get(key)).items(page)

    def to_order(self, raw: dict[str, Any]) -> Order:
        return to_order(raw)

    # --- shipments: one tracking code per package; one already on the receipt is done -------
    def push_shipments(self, shipments: Sequence[Shipment]) -> PushResult:
        return push_each(shipments, self._ship, key=lambda s: s.key, refused=REFUSED)

    def _ship(self, shipment: Shipment) -> str:
        order, tracking = f"order {shipment.order_number}", shipment.tracking_number
        if not shipment.order_id:
            raise Rejected(f"{order}: Etsy receipt id unknown")
        path = f"{self.shop}/receipts/{quote(shipment.order_id, safe='')}"
        receipt = self.http.request("GET", path).json()
        if done := shipment_id(receipt, tracking):
            return done  # pushed before (a retry after a crash between write and ledger)
        lines = open_lines(receipt)
        takes = allocate(shipment, lines, unmatched=lambda ln: f"{order}: no line {ln.sku!r}")
        body = {"tracking_code": tracking, "carrier_name": shipment.carrier.lower() or "other"}
        if note := package_note(totals(takes), lines):  # Etsy ships receipts, not lines
            body["note_to_buyer"] = note
        created = self.http.request("POST", f"{path}/tracking", json=body).json()
        return shipment_id(created, tracking) or tracking

    # --- inventory: a PUT of the whole inventory (Etsy replaces it) per changed listing -----
    def push_inventory(self, levels: Sequence[InventoryLevel]) -> PushResult:
        wanted, results = last_levels(levels, floor=0), PushResults()
        if not wanted:
            return PushResult()
        pages = (self._pages("listings", LISTED | {"state": s}, "listing_id") for s in STOCKED)
        listings = {int(x["listing_id"]): x.get("inventory") or EMPTY for x in chain(*pages)}
        where = {p.get("sku"): lid for lid, inv in listings.items() for p in inv["products"]}
        touched: dict[int, list[str]] = {}
        for sku in wanted:
            if sku in where:
                touched.setdefault(where[sku], []).append(sku)
            else:
                results.reject(sku, f"no active or sold-out listing of Etsy {self.shop} has it")

        def put(listing_id: int) -> str:
            body, changed = inventory_body(listings[listing_id], wanted)
            if changed and not any(o["quantity"] for p in body["products"] for o in p["offerings"]):
                raise Rejected(ZERO)  # Etsy would refuse the PUT
            if changed:  # SKUs already at their level cost nothing
                self.http.request("PUT", f"{API}/listings/{listing_id}/inventory", json=body)
            return f"listing {listing_id}"

        push_groups(touched, put, results=results, refused=REFUSED, what="Etsy listing {}".format)
        return results.result(list(wanted))


def _modified(since: datetime, until: datetime) -> dict[str, int]:
    """Epoch-second bounds around [since, until) (Etsy does not say whether they are inclusive)."""
    return {"min_last_modified": epoch_seconds(since),
            "max_last_modified": epoch_seconds(until, round_up=True)}  # fmt: skip


def _in(since: datetime, until: datetime) -> Callable[[Any], bool]:
    return in_window(since, until, "updated_timestamp", parse_epoch)

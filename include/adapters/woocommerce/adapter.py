"""WooCommerceAdapter: the Airflow Connection, orders, and the two pushes (own modules)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, ClassVar

from adapters.auth import HttpBasic, QueryStringKeys
from adapters.base import ConnectionInfo, HttpStoreAdapter
from adapters.paginators import PageNumberPaginator, batched, has_next_page
from adapters.times import ISO_NAIVE, created_at_or_after, in_window, query_time
from adapters.woocommerce.client import API, WooClient
from adapters.woocommerce.inventory import ProductRef, lookup, push_inventory
from adapters.woocommerce.mapping import to_order
from adapters.woocommerce.products import virtual_items
from adapters.woocommerce.tracking import MODES, TrackingMode, push_shipments
from dropstream.errors import ConfigurationError, DataError, TransientError
from dropstream.models import Cancellation, InventoryLevel, Order, PushResult, Shipment

log = logging.getLogger(__name__)

PER_PAGE = 100  # REST v3 maximum (more: 400 rest_invalid_param)
RESTARTS = 3  # re-reads when the result set shifts under us while paging


class WooCommerceAdapter(HttpStoreAdapter[WooClient]):
    """A WooCommerce store over REST v3.

    Airflow Connection: ``host`` = site URL, ``login`` = consumer key, ``password`` = consumer
    secret (HTTP Basic); extra ``query_string_auth: true`` when the server strips the
    Authorization header, ``tracking``: ``auto`` (default) | ``extension`` | ``note``.
    """

    platform: ClassVar[str] = "woocommerce"
    reports_cancellations: ClassVar[bool] = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._products: dict[str, ProductRef] = {}  # SKU -> ids, for this run
        self._tracking: TrackingMode | None = None

    def build_client(self, conn: ConnectionInfo) -> WooClient:
        conn.require(
            bool(conn.login and conn.password),
            "the WooCommerce consumer key as login and the consumer secret as password "
            "(WooCommerce > Settings > Advanced > REST API)",
        )
        client = WooClient(
            conn.base_url(), **self.client_args(conn, credential_hint="consumer key and secret")
        )
        if _truthy(conn.extra.get("query_string_auth")):
            pairs = (("consumer_key", conn.login), ("consumer_secret", conn.password))
            QueryStringKeys(pairs).apply(client.session)
        else:
            HttpBasic(conn.login, conn.password).apply(client.session)
        return client

    @property
    def tracking(self) -> TrackingMode:
        if self._tracking is None:
            mode = str(self.options.get("tracking") or self.conn.extra.get("tracking") or "auto")
            if mode not in MODES:
                raise ConfigurationError(
                    f"tracking {mode!r} in Airflow Connection {self.conn_id!r} is not one of "
                    f"{', '.join(MODES)}"
                )
            self._tracking = TrackingMode(mode)
        return self._tracking

    def test_connection(self) -> None:
        """Read orders, then prove write permission with an empty product batch (writes nothing).

        WooCommerce has no endpoint that lists a key's permissions; it checks them per method
        before routing, so an empty batch is refused for a Read-only key and is a no-op otherwise.
        """
        self.client.call("GET", f"{API}/orders", params={"per_page": 1, "_fields": "id"})
        self.client.call("POST", f"{API}/products/batch", json={})
        self.tracking  # noqa: B018 - validates the extra

    # --- orders -----------------------------------------------------------------------------
    def fetch_orders(self, since: datetime, until: datetime) -> Iterator[Order]:
        """Processing orders modified in [since, until): ceil(N / 100) requests.

        ``modified_after``/``modified_before`` are exclusive and whole-second, so the query is
        widened by a second and the window applied exactly here.
        """
        window = {
            "modified_after": query_time(since, ISO_NAIVE, shift=-1),
            "modified_before": query_time(until, ISO_NAIVE, round_up=True),
        }
        return self._orders(window, in_window(since, until, "date_modified_gmt"))

    def fetch_open_orders(self, created_since: datetime) -> Iterator[Order]:
        """Processing orders created at or after ``created_since`` (``after`` is exclusive)."""
        return self._orders(
            {"after": query_time(created_since, ISO_NAIVE, shift=-1)},
            created_at_or_after(created_since, "date_created_gmt"),
        )

    def fetch_cancellations(self, since: datetime, until: datetime) -> Iterator[Cancellation]:
        """Orders ``cancelled`` or (fully) ``refunded`` modified in [since, until): one listing
        with both statuses. WooCommerce keeps no cancel time: the modification time stands in."""
        window = {
            "modified_after": query_time(since, ISO_NAIVE, shift=-1),
            "modified_before": query_time(until, ISO_NAIVE, round_up=True),
        }
        wanted = in_window(since, until, "date_modified_gmt")
        for raw in self._raw_orders(window, wanted, status="cancelled,refunded"):
            try:
                order = self.to_order(raw)
            except DataError as exc:  # skip and report, as fetch_orders does
                log.error("%s; its cancellation skipped", exc)
                continue
            refunds = [r.get("reason") for r in raw.get("refunds") or [] if r.get("reason")]
            why = f" ({'; '.join(refunds)})" if refunds else ""
            yield Cancellation(
                order=order,
                cancelled_at=order.updated_at,
                reason=f"{raw['status']} in WooCommerce{why}",
            )

    def _orders(
        self, dates: dict[str, str], wanted: Callable[[dict[str, Any]], bool]
    ) -> Iterator[Order]:
        """Processing orders (paid, not yet shipped), a page at a time; the lines of virtual
        products need no shipping (products new to the run read 100 a time: ``products.py``)."""
        known: dict[int, bool] = {}
        for page in batched(self._raw_orders(dates, wanted, status="processing"), PER_PAGE):
            virtual = virtual_items(self.client, page, known)
            for raw in page:
                try:
                    yield to_order(raw, virtual)
                except DataError as exc:  # skip and report; the rest of the window goes on
                    log.error("%s; skipped", exc)

    def _raw_orders(
        self, dates: dict[str, str], wanted: Callable[[dict[str, Any]], bool], *, status: str
    ) -> Iterator[dict[str, Any]]:
        """Orders in ``status`` (comma-separated). Pages are numbered: if the total changes
        while paging (an order left the set), re-read so none is skipped."""
        params = {
            "status": status,
            **dates,
            "dates_are_gmt": "true",
            "per_page": PER_PAGE,
            "orderby": "id",
            "order": "asc",
        }
        yielded: set[int] = set()
        for _ in range(RESTARTS + 1):
            totals: set[str] = set()

            def page(n: int, totals: set[str] = totals) -> tuple[list[Any], bool]:
                orders, response = self.client.call(
                    "GET", f"{API}/orders", params=params | {"page": n}
                )
                totals.add(response.headers.get("X-WP-Total", ""))
                more = has_next_page(
                    response,
                    n,
                    items=len(orders),
                    page_size=PER_PAGE,
                    total_pages_header="X-WP-TotalPages",
                )
                return orders, more

            what = f"WooCommerce orders of {self.connection_name!r}"
            for raw in PageNumberPaginator(what, key=lambda o: o["id"]).items(page):
                if raw["id"] in yielded or not wanted(raw):
                    continue
                yielded.add(raw["id"])
                yield raw
            if len(totals) <= 1:
                return
        raise TransientError(
            f"WooCommerce orders of {self.connection_name!r} kept changing while paging; retry"
        )

    def to_order(self, raw: dict[str, Any]) -> Order:
        return to_order(raw)

    # --- pushes -----------------------------------------------------------------------------
    def push_inventory(self, levels: Sequence[InventoryLevel]) -> PushResult:
        return push_inventory(self.client, levels, self._products)

    def push_shipments(self, shipments: Sequence[Shipment]) -> PushResult:
        return push_shipments(self.client, shipments, self.tracking)

    def stock_levels(self, skus: Sequence[str]) -> dict[str, int]:
        """``stock_quantity`` of the SKUs whose stock the store manages (the push's lookup)."""
        return {
            sku: ref.stock
            for sku, ref in lookup(self.client, list(skus)).items()
            if ref.stock is not None
        }


def _truthy(value: Any) -> bool:
    return value is True or str(value).strip().lower() in {"1", "true", "yes", "on"}

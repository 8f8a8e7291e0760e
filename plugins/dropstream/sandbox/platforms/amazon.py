"""A strict local emulator of Login with Amazon and the SP-API operations DropStream uses.

Real HTTP on 127.0.0.1 (ephemeral port). LWA: form ``grant_type=refresh_token`` with client
id/secret, one-hour tokens. SP-API: ``x-amz-access-token`` (403 ``Unauthorized`` naming the
expired token otherwise), ``x-amzn-RateLimit-Limit`` on every answer and ``429 QuotaExceeded``
without ``Retry-After``; Orders API v2026-01-01 ``searchOrders`` (exactly one of
``createdAfter``/``lastUpdatedAfter``, ``maxResultsPerPage`` <= ``max_page``, unknown
parameters refused, ``paginationToken`` valid only with every other parameter unchanged),
``getOrder``, v0 ``confirmShipment``, Listings Items ``PATCH`` and the feed lifecycle
(document -> pre-signed upload -> feed IN_QUEUE -> IN_PROGRESS -> DONE -> processing report).
Points not confirmed in Amazon's docs (page maximum, token parameter name, the status of an
expired-token answer) are constructor arguments.

Each operation has its own token bucket with the rate and burst Amazon documents for it
(``OPERATION_LIMITS``); a request the bucket cannot pay is ``429 QuotaExceeded``. The
``x-amzn-RateLimit-Limit`` value announced is the ``rate_limit`` argument (tests tune the
client's backoff with it).

Roles: ``roles`` are the SP-API roles the application holds for this seller. An operation whose
role it lacks is ``403 Unauthorized`` "Access to requested resource is denied." (no word about the
token, so a client does not refresh): the Orders operations (search, get, confirmShipment) need
Inventory and Order Tracking, the Listings Items and listings-feed operations Product Listing
(which role confirmShipment needs is *assumed*, not confirmed in Amazon's docs).
``patchListingsItem`` with ``mode=VALIDATION_PREVIEW`` validates without changing the listing
(status ``VALID``/``INVALID``), as Amazon documents.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from dropstream.sandbox.http import Reply
from dropstream.sandbox.strict import StrictEmulator, TokenBucket

ORDERS_ROLE = "Inventory and Order Tracking"
LISTING_ROLE = "Product Listing"
OPERATION_ROLES = {
    "searchOrders": ORDERS_ROLE,
    "getOrder": ORDERS_ROLE,
    "confirmShipment": ORDERS_ROLE,
    "patchListingsItem": LISTING_ROLE,
    "createFeedDocument": LISTING_ROLE,
    "createFeed": LISTING_ROLE,
    "getFeed": LISTING_ROLE,
    "getFeedDocument": LISTING_ROLE,
}
ORDER = re.compile(r"^/orders/2026-01-01/orders/([^/]+)$")
CONFIRM = re.compile(r"^/orders/v0/orders/([^/]+)/shipmentConfirmation$")
LISTING = re.compile(r"^/listings/2021-08-01/items/([^/]+)/([^/]+)$")
FEED = re.compile(r"^/feeds/2021-06-30/feeds/([^/]+)$")
DOCUMENT = re.compile(r"^/feeds/2021-06-30/documents/([^/]+)$")
UPLOAD = re.compile(r"^/feed-documents/([^/]+)$")
SEARCH_PARAMS = {
    "marketplaceIds",
    "createdAfter",
    "createdBefore",
    "lastUpdatedAfter",
    "lastUpdatedBefore",
    "fulfillmentStatuses",
    "fulfilledBy",
    "maxResultsPerPage",
    "includedData",
}
INCLUDED = {"BUYER", "RECIPIENT", "FULFILLMENT", "PROCEEDS", "EXPENSE", "PROMOTION", "PACKAGES"}
STATUSES = {"PENDING", "UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED", "CANCELLED", "UNFULFILLABLE"}
CARRIERS = {"UPS", "USPS", "FedEx", "DHL", "DHL eCommerce", "Royal Mail", "Other"}
FEED_STEPS = ("IN_QUEUE", "IN_PROGRESS", "DONE")
#: operation -> (requests per second, burst), from the SP-API reference of each operation.
OPERATION_LIMITS = {
    "searchOrders": (0.0056, 20),
    "getOrder": (0.5, 30),
    "confirmShipment": (2.0, 10),
    "patchListingsItem": (5.0, 10),
    "createFeedDocument": (0.5, 15),
    "createFeed": (0.0083, 15),
    "getFeed": (2.0, 15),
    "getFeedDocument": (0.0222, 10),
    "getMarketplaceParticipations": (0.016, 15),
}


def _error(status: int, code: str, message: str, details: str = "") -> Reply:
    error = {"code": code, "message": message} | ({"details": details} if details else {})
    return status, {"errors": [error]}, {}


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(value)
    return parsed


def _item_extras(n: int, i: int, qty: int, service_order: str | None, gift: bool) -> dict:
    """An order item's ``associatedOrderItems`` (a VALUE_ADD_SERVICE in its own order) and
    ``fulfillment`` with gift wrap, as the Orders API v2026-01-01 reference shows them."""
    extras: dict[str, Any] = {}
    if service_order:
        extras["associatedOrderItems"] = [
            {
                "orderId": service_order,
                "orderItemId": f"9{n:04d}{i:04d}",
                "associationType": "VALUE_ADD_SERVICE",
            }
        ]
    if gift:
        packing = {"giftOption": {"giftMessage": "Happy birthday", "giftWrapLevel": "Classic"}}
        extras["fulfillment"] = {
            "quantityFulfilled": 0,
            "quantityUnfulfilled": qty,
            "packing": packing,
        }
    return extras


class AmazonEmulator(StrictEmulator):
    """The emulated seller: seed it, point an adapter at ``url``, inspect it after."""

    raw_target = True
    content_type = "application/json"
    json_default = str

    def crash_reply(self, exc: Exception) -> Reply:
        return _error(500, "InternalFailure", f"emulator crashed: {exc!r}")

    def __init__(
        self,
        *,
        client_id: str = "amzn1.application-oa2-client.0123",
        client_secret: str = "amzn1.oa2-cs.v1.secret",
        refresh_token: str = "Atzr|refresh-token",
        marketplace_id: str = "ATVPDKIKX0DER",
        seller_id: str = "A1SELLEREXAMPLE",
        max_page: int = 100,
        token_param: str = "paginationToken",
        expired_status: int = 403,
        rate_limit: str = "20.0",
    ) -> None:
        super().__init__()
        self.client_id, self.client_secret = client_id, client_secret
        self.refresh_token = refresh_token
        self.marketplace_id, self.seller_id = marketplace_id, seller_id
        self.max_page = max_page  # maxResultsPerPage maximum (100 per Amazon; unconfirmed)
        self.token_param = token_param
        self.expired_status = expired_status
        self.rate_limit = rate_limit  # x-amzn-RateLimit-Limit we announce (requests/s)
        self.orders: dict[str, dict[str, Any]] = {}
        self.quantities: dict[str, int] = {}
        self.fulfillments: list[dict[str, Any]] = []
        self.feeds: dict[str, dict[str, Any]] = {}
        self.documents: dict[str, dict[str, Any]] = {}
        self.tokens: set[str] = set()
        self.roles: set[str] = {ORDERS_ROLE, LISTING_ROLE}
        self._page_tokens: dict[str, tuple[tuple, int]] = {}
        self._ids = itertools.count(1)
        self.throttled = 0
        self.buckets = {
            op: TokenBucket(burst, rate) for op, (rate, burst) in OPERATION_LIMITS.items()
        }

    # --- seeding and inspection -------------------------------------------------------------
    def add_order(
        self,
        *,
        updated_at: datetime,
        created_at: datetime | None = None,
        lines: Sequence[tuple[str, int, str]] = (("SKU-1", 1, "10.00"),),  # (sku, qty, unit price)
        address: dict[str, Any] | None = None,
        status: str = "UNSHIPPED",
        fulfilled_by: str = "MERCHANT",
        currency: str = "USD",
        service_level: str = "Standard",
        services: Mapping[str, str] | None = None,
        gift_skus: Collection[str] = (),
    ) -> str:
        """An order; ``services`` (SKU -> another order id) gives an item the value-add service
        bought with it, which Amazon keeps as its own (service) order and names in the item's
        ``associatedOrderItems``; ``gift_skus`` are gift-wrapped (``fulfillment.packing``)."""
        n = next(self._ids)
        services = services or {}
        order_id = f"{100 + n:03d}-{n:07d}-{n * 7:07d}"
        self.orders[order_id] = {
            "orderId": order_id,
            "createdTime": _iso(created_at or updated_at),
            "lastUpdatedTime": _iso(updated_at),
            "salesChannel": {"marketplaceId": self.marketplace_id},
            "fulfillment": {
                "fulfillmentStatus": status,
                "fulfilledBy": fulfilled_by,
                "fulfillmentServiceLevel": service_level,
            },
            "buyer": {"buyerEmail": f"buyer{n}@marketplace.amazon.com"},
            "recipient": {
                "deliveryAddress": address
                or {
                    "name": "Ada Buyer",
                    "addressLine1": "1 Main St",
                    "city": "Seattle",
                    "stateOrRegion": "WA",
                    "postalCode": "98109",
                    "countryCode": "US",
                }
            },
            "orderItems": [
                {
                    "orderItemId": f"{n:05d}{i:04d}",
                    "quantityOrdered": qty,
                    "product": {
                        "sellerSku": sku,
                        "asin": f"B0{n:04d}{i:04d}",
                        "price": {"unitPrice": {"amount": price, "currencyCode": currency}},
                    },
                    **_item_extras(n, i, qty, services.get(sku), sku in gift_skus),
                }
                for i, (sku, qty, price) in enumerate(lines, start=1)
            ],
            "packages": [],
        }
        return order_id

    def cancel_order(self, order_id: str, *, at: datetime) -> None:
        """The order is cancelled (by the buyer's request or the seller): ``fulfillmentStatus``
        CANCELLED, ``lastUpdatedTime`` ``at``. A shipped package cannot be cancelled."""
        order = self.orders[order_id]
        status = order["fulfillment"]["fulfillmentStatus"]
        if status not in ("PENDING", "UNSHIPPED"):
            raise ValueError(f"Amazon order {order_id} is {status}: it cannot be cancelled")
        order["fulfillment"]["fulfillmentStatus"] = "CANCELLED"
        order["lastUpdatedTime"] = _iso(at)

    def add_listing(self, sku: str, quantity: int = 0) -> None:
        self.quantities[sku] = quantity

    def expire_tokens(self) -> None:
        """Expire every access token issued so far: the next API call is refused."""
        self.tokens.clear()

    def calls(self, method: str, path_prefix: str) -> int:
        return sum(
            1 for r in self.requests if r["method"] == method and r["path"].startswith(path_prefix)
        )

    # --- request handling -------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: Any, body: bytes) -> Reply:
        split = urlsplit(target)
        log: dict[str, Any] = {
            "method": method,
            "path": split.path,
            "query": parse_qs(split.query),
            "token": headers.get("x-amz-access-token"),
        }
        status, payload, extra = self.answer(
            log, lambda: self._route(method, split.path, log["query"], headers, body)
        )
        if split.path.startswith(("/orders/", "/listings/", "/feeds/", "/sellers/")):
            extra = {"x-amzn-RateLimit-Limit": self.rate_limit, **extra}
        return status, payload, extra

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> Reply:
        if path == "/auth/o2/token":
            return self._token(method, headers, body)
        if match := UPLOAD.match(path):  # the pre-signed "S3" URL: no SP-API auth here
            return self._upload(method, match[1], headers, body)
        token = headers.get("x-amz-access-token")
        if token not in self.tokens:
            details = "The access token you provided has expired." if token else ""
            return _error(
                self.expired_status,
                "Unauthorized",
                "Access to requested resource is denied.",
                details,
            )
        if failure := self.next_failure():
            status = failure[0]
            if status == 429:
                return _error(
                    429, "QuotaExceeded", "You exceeded your quota for the requested resource."
                )
            return _error(
                status, "InternalFailure", "We encountered an internal error. Please try again."
            )
        operation = _operation(method, path)
        if operation in OPERATION_ROLES and OPERATION_ROLES[operation] not in self.roles:
            return _error(403, "Unauthorized", "Access to requested resource is denied.")
        if operation and not self.buckets[operation].take():
            self.throttled += 1
            return _error(
                429, "QuotaExceeded", "You exceeded your quota for the requested resource."
            )
        payload = None
        if method in ("POST", "PUT", "PATCH"):
            if "application/json" not in headers.get("Content-Type", ""):
                return _error(415, "InvalidInput", "Content-Type must be application/json")
            try:
                payload = json.loads(body or b"null")
            except ValueError:
                return _error(400, "InvalidInput", "Request body is not valid JSON")
        one = {k: v[0] for k, v in query.items()}
        if path == "/sellers/v1/marketplaceParticipations" and method == "GET":
            marketplace = {"id": self.marketplace_id, "countryCode": "US", "name": "Amazon.com"}
            participation = {"isParticipating": True, "hasSuspendedListings": False}
            return (
                200,
                {"payload": [{"marketplace": marketplace, "participation": participation}]},
                {},
            )
        if path == "/orders/2026-01-01/orders" and method == "GET":
            return self._search(query)
        if (match := ORDER.match(path)) and method == "GET":
            order = self.orders.get(unquote(match[1]))
            if order is None:
                return _error(404, "NotFound", f"Order {unquote(match[1])} not found")
            included = set(filter(None, one.get("includedData", "").split(",")))
            return 200, {"order": self._view(order, included)}, {}
        if (match := CONFIRM.match(path)) and method == "POST":
            return self._confirm(unquote(match[1]), payload)
        if (match := LISTING.match(path)) and method == "PATCH":
            return self._patch(unquote(match[1]), unquote(match[2]), one, payload)
        if path == "/feeds/2021-06-30/documents" and method == "POST":
            return self._create_document(payload)
        if path == "/feeds/2021-06-30/feeds" and method == "POST":
            return self._create_feed(payload)
        if (match := FEED.match(path)) and method == "GET":
            return self._get_feed(match[1])
        if (match := DOCUMENT.match(path)) and method == "GET":
            document = self.documents.get(match[1])
            if document is None:
                return _error(404, "NotFound", "Feed document not found")
            return 200, {"feedDocumentId": match[1], "url": document["url"]}, {}
        return _error(404, "NotFound", f"{method} {path} is not an SP-API operation")

    def _token(self, method: str, headers: Any, body: bytes) -> Reply:
        if method != "POST" or "x-www-form-urlencoded" not in headers.get("Content-Type", ""):
            return 400, {"error": "invalid_request", "error_description": "POST a form"}, {}
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if (form.get("client_id"), form.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ):
            return (
                401,
                {"error": "invalid_client", "error_description": "Client authentication failed"},
                {},
            )
        if (
            form.get("grant_type") != "refresh_token"
            or form.get("refresh_token") != self.refresh_token
        ):
            message = "The request has an invalid grant parameter : refresh_token"
            return 400, {"error": "invalid_grant", "error_description": message}, {}
        token = f"Atza|access-{next(self._ids)}"
        self.tokens.add(token)
        return 200, {"access_token": token, "token_type": "bearer", "expires_in": 3600}, {}

    # --- orders -----------------------------------------------------------------------------
    def _search(self, query: dict[str, list[str]]) -> Reply:
        one = {k: v[0] for k, v in query.items()}
        if any(len(v) > 1 for v in query.values()):
            return _error(
                400, "InvalidInput", "Repeated query parameter: use comma-separated lists"
            )
        token = one.pop(self.token_param, None)
        unknown = set(one) - SEARCH_PARAMS
        if unknown:
            return _error(
                400, "InvalidInput", f"Unknown parameter(s): {', '.join(sorted(unknown))}"
            )
        if one.get("marketplaceIds") != self.marketplace_id:
            return _error(400, "InvalidInput", "marketplaceIds is required and must be yours")
        if ("createdAfter" in one) == ("lastUpdatedAfter" in one):
            return _error(
                400, "InvalidInput", "Exactly one of createdAfter and lastUpdatedAfter is required"
            )
        try:
            size = int(one.get("maxResultsPerPage", self.max_page))
            bounds = {k: _parse(one[k]) for k in one if k.endswith(("After", "Before"))}
        except ValueError as exc:
            return _error(400, "InvalidInput", f"Invalid value: {exc}")
        if not 1 <= size <= self.max_page:
            return _error(
                400, "InvalidInput", f"maxResultsPerPage must be between 1 and {self.max_page}"
            )
        statuses = set(filter(None, one.get("fulfillmentStatuses", "").split(",")))
        included = set(filter(None, one.get("includedData", "").split(",")))
        if not statuses <= STATUSES or not included <= INCLUDED:
            return _error(400, "InvalidInput", "Invalid fulfillmentStatuses or includedData value")
        if one.get("fulfilledBy", "MERCHANT") not in ("MERCHANT", "AMAZON"):
            return _error(400, "InvalidInput", "fulfilledBy must be MERCHANT or AMAZON")
        signature = tuple(sorted(one.items()))
        offset = 0
        if token is not None:
            issued = self._page_tokens.get(token)
            if issued is None or issued[0] != signature:
                return _error(400, "InvalidInput", "Invalid paginationToken for these parameters")
            offset = issued[1]
        field = "createdTime" if "createdAfter" in one else "lastUpdatedTime"
        found = []
        for order in sorted(self.orders.values(), key=lambda o: (o[field], o["orderId"])):
            when = _parse(order[field])
            kind = "created" if field == "createdTime" else "lastUpdated"
            if when < bounds[f"{kind}After"] or when > bounds.get(f"{kind}Before", when):
                continue
            if statuses and order["fulfillment"]["fulfillmentStatus"] not in statuses:
                continue
            if "fulfilledBy" in one and order["fulfillment"]["fulfilledBy"] != one["fulfilledBy"]:
                continue
            found.append(order)
        page = [self._view(o, included) for o in found[offset : offset + size]]
        reply: dict[str, Any] = {"orders": page}
        if offset + size < len(found):
            next_token = f"tok-{next(self._ids)}"
            self._page_tokens[next_token] = (signature, offset + size)
            reply["pagination"] = {"nextToken": next_token}
        return 200, reply, {}

    @staticmethod
    def _view(order: dict[str, Any], included: set[str]) -> dict[str, Any]:
        optional = {"BUYER": "buyer", "RECIPIENT": "recipient", "FULFILLMENT": "fulfillment"}
        optional["PACKAGES"] = "packages"
        hidden = {field for group, field in optional.items() if group not in included}
        return json.loads(json.dumps({k: v for k, v in order.items() if k not in hidden}))

    def _confirm(self, order_id: str, payload: Any) -> Reply:
        order = self.orders.get(order_id)
        if order is None:
            return _error(404, "NotFound", f"Order {order_id} not found")
        if not isinstance(payload, dict) or payload.get("marketplaceId") != self.marketplace_id:
            return _error(400, "InvalidInput", "marketplaceId is required")
        package = payload.get("packageDetail") or {}
        for field in (
            "packageReferenceId",
            "carrierCode",
            "trackingNumber",
            "shipDate",
            "orderItems",
        ):
            if not package.get(field):
                return _error(400, "InvalidInput", f"packageDetail.{field} is required")
        if not str(package["packageReferenceId"]).isdigit():
            return _error(400, "InvalidInput", "packageReferenceId must be a positive number")
        if package["carrierCode"] not in CARRIERS:
            return _error(400, "InvalidInput", f"Unknown carrierCode {package['carrierCode']!r}")
        if package["carrierCode"] == "Other" and not package.get("carrierName"):
            return _error(400, "InvalidInput", "carrierName is required when carrierCode is Other")
        try:
            _parse(package["shipDate"])
        except ValueError:
            return _error(400, "InvalidInput", "shipDate must be ISO 8601")
        if any(p["packageReferenceId"] == package["packageReferenceId"] for p in order["packages"]):
            return _error(400, "InvalidInput", "packageReferenceId already used for this order")
        ordered = {i["orderItemId"]: i["quantityOrdered"] for i in order["orderItems"]}
        shipped = dict.fromkeys(ordered, 0)
        for earlier in order["packages"]:
            for item in earlier["packageItems"]:
                shipped[item["orderItemId"]] += item["quantity"]
        for item in package["orderItems"]:
            item_id, qty = item.get("orderItemId"), item.get("quantity")
            if item_id not in ordered or not isinstance(qty, int) or qty < 1:
                return _error(400, "InvalidInput", f"Invalid order item {item!r}")
            shipped[item_id] += qty
            if shipped[item_id] > ordered[item_id]:
                return _error(400, "InvalidInput", f"Quantity exceeds what remains of {item_id}")
        record = {
            "packageReferenceId": package["packageReferenceId"],
            "carrier": package.get("carrierName") or package["carrierCode"],
            "carrierCode": package["carrierCode"],
            "shippingService": package.get("shippingMethod"),
            "trackingNumber": package["trackingNumber"],
            "shipTime": package["shipDate"],
            "packageItems": [
                {"orderItemId": i["orderItemId"], "quantity": i["quantity"]}
                for i in package["orderItems"]
            ],
        }
        order["packages"].append(record)
        self.fulfillments.append({"orderId": order_id, **record})
        done = all(shipped[k] >= v for k, v in ordered.items())
        order["fulfillment"]["fulfillmentStatus"] = "SHIPPED" if done else "PARTIALLY_SHIPPED"
        order["lastUpdatedTime"] = _iso(datetime.now(UTC))
        return 204, None, {}

    # --- listings and feeds -----------------------------------------------------------------
    def _apply(
        self, sku: str, product_type: Any, patches: Any, *, save: bool = True
    ) -> list[dict[str, str]]:
        """Apply one listing patch; the issues Amazon would report (empty when accepted)."""
        if not product_type:
            return [{"code": "4000001", "message": "productType is required", "severity": "ERROR"}]
        if sku not in self.quantities:
            message = f"SKU {sku!r} does not exist for this seller"
            return [{"code": "4000003", "message": message, "severity": "ERROR"}]
        if not isinstance(patches, list) or not patches:
            return [{"code": "4000001", "message": "patches is required", "severity": "ERROR"}]
        for patch in patches:
            if patch.get("op") not in ("add", "replace", "delete", "merge") or not patch.get(
                "path"
            ):
                return [
                    {"code": "4000001", "message": f"Invalid patch {patch!r}", "severity": "ERROR"}
                ]
            if patch["path"] == "/attributes/fulfillment_availability":
                value = (patch.get("value") or [{}])[0]
                quantity = value.get("quantity")
                if (
                    not value.get("fulfillment_channel_code")
                    or not isinstance(quantity, int)
                    or quantity < 0
                ):
                    return [{"code": "90244", "message": "Invalid quantity", "severity": "ERROR"}]
                if save:
                    self.quantities[sku] = quantity
        return []

    def _patch(self, seller: str, sku: str, query: dict[str, str], payload: Any) -> Reply:
        if seller != self.seller_id:
            return _error(403, "Unauthorized", "Access to requested resource is denied.")
        if query.get("marketplaceIds") != self.marketplace_id:
            return _error(400, "InvalidInput", "marketplaceIds is required")
        mode = query.get("mode")
        if mode not in (None, "VALIDATION_PREVIEW"):
            return _error(400, "InvalidInput", f"Invalid mode {mode!r}")
        payload = payload if isinstance(payload, dict) else {}
        issues = self._apply(
            sku, payload.get("productType"), payload.get("patches"), save=mode is None
        )
        status = "INVALID" if issues else "VALID" if mode else "ACCEPTED"
        reply = {
            "sku": sku,
            "status": status,
            "submissionId": f"sub-{next(self._ids)}",
            "issues": issues,
        }
        return 200, reply, {}

    def _create_document(self, payload: Any) -> Reply:
        if not isinstance(payload, dict) or not payload.get("contentType"):
            return _error(400, "InvalidInput", "contentType is required")
        doc_id = f"amzn1.tortuga.4.na.{next(self._ids)}"
        url = f"{self.url}/feed-documents/{doc_id}?X-Amz-Signature=emulated"
        self.documents[doc_id] = {
            "url": url,
            "contentType": payload["contentType"],
            "content": None,
        }
        return 201, {"feedDocumentId": doc_id, "url": url}, {}

    def _upload(self, method: str, doc_id: str, headers: Any, body: bytes) -> Reply:
        document = self.documents.get(doc_id)
        if document is None:
            return 403, {"Error": "SignatureDoesNotMatch"}, {}
        if method == "GET":
            return 200, document["content"], {}
        if method != "PUT" or headers.get("Content-Type") != document["contentType"]:
            return (
                403,
                {"Error": "SignatureDoesNotMatch: Content-Type differs from the declared one"},
                {},
            )
        document["content"] = json.loads(body)
        return 200, None, {}

    def _create_feed(self, payload: Any) -> Reply:
        if not isinstance(payload, dict) or payload.get("feedType") != "JSON_LISTINGS_FEED":
            return _error(
                400, "InvalidInput", "Unsupported feedType (only JSON_LISTINGS_FEED here)"
            )
        if payload.get("marketplaceIds") != [self.marketplace_id]:
            return _error(400, "InvalidInput", "marketplaceIds is required")
        document = self.documents.get(str(payload.get("inputFeedDocumentId")))
        if document is None or document["content"] is None:
            return _error(400, "InvalidInput", "inputFeedDocumentId is unknown or not uploaded")
        feed_id = str(50000 + next(self._ids))
        self.feeds[feed_id] = {"feedId": feed_id, "step": 0, "document": document["content"]}
        return 202, {"feedId": feed_id}, {}

    def _get_feed(self, feed_id: str) -> Reply:
        feed = self.feeds.get(feed_id)
        if feed is None:
            return _error(404, "NotFound", f"Feed {feed_id} not found")
        status = FEED_STEPS[min(feed["step"], len(FEED_STEPS) - 1)]
        feed["step"] += 1
        reply = {"feedId": feed_id, "feedType": "JSON_LISTINGS_FEED", "processingStatus": status}
        if status == "DONE":
            if "report" not in feed:
                feed["report"] = self._process(feed_id, feed["document"])
            reply["resultFeedDocumentId"] = feed["report"]
        return 200, reply, {}

    def _process(self, feed_id: str, document: dict[str, Any]) -> str:
        header = document.get("header") or {}
        messages = document.get("messages") or []
        issues: list[dict[str, Any]] = []
        if header.get("sellerId") != self.seller_id or header.get("version") != "2.0":
            issues.append({"code": "100001", "severity": "ERROR", "message": "Invalid header"})
        elif len(messages) > 25_000:
            issues.append({"code": "100002", "severity": "ERROR", "message": "Too many messages"})
        else:
            for message in messages:
                if message.get("operationType") != "PATCH":
                    found = [
                        {
                            "code": "4000001",
                            "message": "Unsupported operationType",
                            "severity": "ERROR",
                        }
                    ]
                else:
                    found = self._apply(
                        message.get("sku"), message.get("productType"), message.get("patches")
                    )
                issues += [{"messageId": message.get("messageId"), **i} for i in found]
        invalid = len({i.get("messageId") for i in issues})
        report = {
            "header": {"sellerId": self.seller_id, "version": "2.0", "feedId": feed_id},
            "issues": issues,
            "summary": {
                "errors": len(issues),
                "warnings": 0,
                "messagesProcessed": len(messages),
                "messagesAccepted": len(messages) - invalid,
                "messagesInvalid": invalid,
            },
        }
        doc_id = f"amzn1.tortuga.4.na.{next(self._ids)}"
        url = f"{self.url}/feed-documents/{doc_id}?X-Amz-Signature=emulated"
        self.documents[doc_id] = {"url": url, "contentType": "application/json", "content": report}
        return doc_id


def _operation(method: str, path: str) -> str | None:
    """The SP-API operation a request calls (None: not one this emulator meters)."""
    if method == "GET" and path == "/orders/2026-01-01/orders":
        return "searchOrders"
    if method == "GET" and ORDER.match(path):
        return "getOrder"
    if method == "POST" and CONFIRM.match(path):
        return "confirmShipment"
    if method == "PATCH" and LISTING.match(path):
        return "patchListingsItem"
    if method == "POST" and path == "/feeds/2021-06-30/documents":
        return "createFeedDocument"
    if method == "POST" and path == "/feeds/2021-06-30/feeds":
        return "createFeed"
    if method == "GET" and FEED.match(path):
        return "getFeed"
    if method == "GET" and DOCUMENT.match(path):
        return "getFeedDocument"
    if method == "GET" and path == "/sellers/v1/marketplaceParticipations":
        return "getMarketplaceParticipations"
    return None


def amazon_connection_json(emulator: AmazonEmulator, **extra: Any) -> str:
    """The value for ``AIRFLOW_CONN_<ID>`` pointing at the emulator (LWA included)."""
    return json.dumps(
        {
            "conn_type": "http",
            "host": emulator.url,
            "login": emulator.client_id,
            "password": emulator.client_secret,
            "extra": {
                "refresh_token": emulator.refresh_token,
                "token_url": f"{emulator.url}/auth/o2/token",
                "marketplace_id": emulator.marketplace_id,
                "seller_id": emulator.seller_id,
                **extra,
            },
        }
    )

"""The emulated Inventory and Feeds APIs: single updates, the bulk feed and its status."""

from __future__ import annotations

import email.policy
import itertools
import json
from email.parser import BytesParser
from typing import Any
from urllib.parse import unquote

from dropstream.sandbox.http import Reply
from dropstream.sandbox.platforms.walmart.shapes import INVENTORY_KEYS, QUANTITY_KEYS, error, strict


class InventoryApi:
    """``PUT /v3/inventory``, ``POST /v3/feeds?feedType=inventory``, ``GET /v3/feeds/{id}``."""

    quantities: dict[str, int]
    feeds: dict[str, dict[str, Any]]
    feed_polls_in_progress: int
    feed_detail_max: int
    _ids: itertools.count[int]

    def _put(self, query: dict[str, str], body: bytes) -> Reply:
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            return error(400, "INVALID_REQUEST_CONTENT", "body is not JSON")
        refused = strict(payload, INVENTORY_KEYS, "body") or strict(
            payload.get("quantity"), QUANTITY_KEYS, "quantity"
        )
        if refused:
            return refused
        sku = query.get("sku", "")
        if payload["sku"] != sku or sku not in self.quantities:
            return error(
                400,
                "INVALID_REQUEST_CONTENT.GMP_INVENTORY_API",
                f"SKU {sku!r} is not an item of this seller",
                "sku",
            )
        amount = payload["quantity"].get("amount")
        if not isinstance(amount, int) or amount < 0 or payload["quantity"].get("unit") != "EACH":
            return error(
                400,
                "INVALID_REQUEST_CONTENT.GMP_INVENTORY_API",
                "quantity must be EACH, a whole number >= 0",
                "quantity",
            )
        self.quantities[sku] = amount
        return 200, payload, {}

    def _feed(self, query: dict[str, str], headers: Any, body: bytes) -> Reply:
        if query.get("feedType") != "inventory":
            return error(
                400, "INVALID_REQUEST_PARAM", "feedType must be inventory here", "feedType"
            )
        head = f"Content-Type: {headers.get('Content-Type', '')}\r\n\r\n".encode()
        message = BytesParser(policy=email.policy.default).parsebytes(head + body)
        parts = (
            [
                p
                for p in message.iter_parts()
                if p.get_param("name", header="content-disposition") == "file"
            ]
            if message.is_multipart()
            else []
        )
        if len(parts) != 1:
            return error(
                400,
                "INVALID_REQUEST_CONTENT",
                "multipart/form-data with one 'file' part required",
                "file",
            )
        try:
            doc = json.loads(bytes(parts[0].get_payload(decode=True) or b"null"))
        except ValueError:
            return error(400, "INVALID_REQUEST_CONTENT", "the feed file is not JSON", "file")
        refused = strict(doc, {"InventoryHeader", "Inventory"}, "feed") or next(
            (
                r
                for item in doc.get("Inventory") or []
                if (
                    r := strict(item, INVENTORY_KEYS, "Inventory")
                    or strict(item.get("quantity"), QUANTITY_KEYS, "quantity")
                )
            ),
            None,
        )
        if refused:
            return refused
        feed_id = f"F{next(self._ids):08X}@AU8BAQA"
        self.feeds[feed_id] = {
            "items": list(doc.get("Inventory") or []),
            "polls": 0,
            "results": None,
        }
        return 200, {"feedId": feed_id}, {}

    def _feed_status(self, feed_id: str, query: dict[str, str]) -> Reply:
        feed = self.feeds.get(unquote(feed_id))
        if feed is None:
            return error(404, "CONTENT_NOT_FOUND.GMP_FEED_API", f"feed {feed_id} not found")
        limit, offset = int(query.get("limit") or 50), int(query.get("offset") or 0)
        if not 1 <= limit <= self.feed_detail_max:
            return error(
                400, "INVALID_REQUEST_PARAM", f"limit must be 1 to {self.feed_detail_max}", "limit"
            )
        feed["polls"] += 1
        reply: dict[str, Any] = {
            "feedId": unquote(feed_id),
            "itemsReceived": len(feed["items"]),
            "offset": offset,
            "limit": limit,
        }
        if feed["polls"] <= self.feed_polls_in_progress:
            return (
                200,
                reply | {"feedStatus": "INPROGRESS", "itemsProcessing": len(feed["items"])},
                {},
            )
        if feed["results"] is None:
            feed["results"] = [self._ingest(i, item) for i, item in enumerate(feed["items"])]
        results = feed["results"]
        ok = sum(1 for r in results if r["ingestionStatus"] == "SUCCESS")
        reply |= {
            "feedStatus": "PROCESSED",
            "itemsSucceeded": ok,
            "itemsFailed": len(results) - ok,
            "itemsProcessing": 0,
        }
        if query.get("includeDetails") == "true":
            reply["itemDetails"] = {"itemIngestionStatus": results[offset : offset + limit]}
        return 200, reply, {}

    def _ingest(self, index: int, item: dict[str, Any]) -> dict[str, Any]:
        sku, amount = item.get("sku"), (item.get("quantity") or {}).get("amount")
        if sku not in self.quantities or not isinstance(amount, int) or amount < 0:
            error = {
                "type": "DATA_ERROR",
                "code": "ERR_EXT_DATA_0101",
                "description": f"SKU {sku!r} or its quantity is invalid",
            }
            return {
                "sku": sku,
                "index": index,
                "ingestionStatus": "DATA_ERROR",
                "ingestionErrors": {"ingestionError": [error]},
            }
        self.quantities[str(sku)] = amount
        return {"sku": sku, "index": index, "ingestionStatus": "SUCCESS"}

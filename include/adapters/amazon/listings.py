"""Inventory -> Amazon: Listings Items PATCH for a few SKUs, a JSON_LISTINGS_FEED for many.

The feed path: createFeedDocument -> PUT the JSON to the pre-signed URL (no SP-API token:
it is not an SP-API host) -> createFeed -> poll getFeed until DONE -> getFeedDocument for
the processing report -> per-SKU ERROR issues become rejections.
"""

from __future__ import annotations

import gzip
import json
from typing import Any
from urllib.parse import quote

import requests

from adapters.base import HttpClient
from adapters.results import Rejected, push_batches, push_each
from dropstream.errors import (
    ConfigurationError,
    TransientError,
    UpstreamRejectedError,
)
from dropstream.models import PushResult

FEEDS = "feeds/2021-06-30"
FEED_CAP = 25_000  # messages per JSON_LISTINGS_FEED
CONTENT_TYPE = "application/json; charset=UTF-8"
FINISHED = {"DONE", "CANCELLED", "FATAL"}


def availability_patch(quantity: int) -> list[dict[str, Any]]:
    value = [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}]
    return [{"op": "replace", "path": "/attributes/fulfillment_availability", "value": value}]


def patch_each(
    client: HttpClient, wanted: dict[str, int], seller_id: str, marketplace_id: str
) -> PushResult:
    """One ``patchListingsItem`` per SKU; INVALID submissions are rejected with their issues
    (the detail of an accepted SKU is Amazon's submission id)."""

    def patch(sku: str) -> str:
        path = f"listings/2021-08-01/items/{quote(seller_id, safe='')}/{quote(sku, safe='')}"
        body = {"productType": "PRODUCT", "patches": availability_patch(wanted[sku])}
        params = {"marketplaceIds": marketplace_id}
        result = client.request("PATCH", path, json=body, params=params).json()
        if result.get("status") != "ACCEPTED":
            raise Rejected(_issues(result.get("issues")) or str(result.get("status")))
        return str(result.get("submissionId") or "")

    return push_each(wanted, patch, key=str, refused=(ConfigurationError, UpstreamRejectedError))


def push_feed(
    client: HttpClient,
    wanted: dict[str, int],
    seller_id: str,
    marketplace_id: str,
    *,
    poll_seconds: float,
    poll_attempts: int,
) -> PushResult:
    """Submit one JSON_LISTINGS_FEED per 25,000 SKUs and report what Amazon refused."""

    def submit(batch: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
        document = {
            "header": {"sellerId": seller_id, "version": "2.0", "issueLocale": "en_US"},
            "messages": [
                {
                    "messageId": n,
                    "sku": sku,
                    "operationType": "PATCH",
                    "productType": "PRODUCT",
                    "patches": availability_patch(wanted[sku]),
                }
                for n, sku in enumerate(batch, start=1)
            ],
        }
        feed_id, report = _run_feed(client, document, marketplace_id, poll_seconds, poll_attempts)
        errors = _errors_by_message(report)
        accepted, rejected = [], []
        for n, sku in enumerate(batch, start=1):
            if n in errors:
                rejected.append((sku, f"feed {feed_id}: {errors[n]}"))
            elif None in errors:  # a feed-level error: nothing was applied
                rejected.append((sku, f"feed {feed_id} failed: {errors[None]}"))
            else:
                accepted.append(sku)
        return accepted, rejected

    return push_batches(list(wanted), FEED_CAP, submit)


def _run_feed(
    client: HttpClient,
    document: dict[str, Any],
    marketplace_id: str,
    poll_seconds: float,
    poll_attempts: int,
) -> tuple[str, dict[str, Any]]:
    upload = client.request("POST", f"{FEEDS}/documents", json={"contentType": CONTENT_TYPE})
    target = upload.json()
    _transfer(client, "PUT", target["url"], json.dumps(document).encode())
    feed = {
        "feedType": "JSON_LISTINGS_FEED",
        "marketplaceIds": [marketplace_id],
        "inputFeedDocumentId": target["feedDocumentId"],
    }
    feed_id = str(client.request("POST", f"{FEEDS}/feeds", json=feed).json()["feedId"])
    status, finished = client.poll(
        f"{FEEDS}/feeds/{feed_id}",
        done=lambda answer: answer.get("processingStatus") in FINISHED,
        attempts=poll_attempts,
        pause=poll_seconds,
    )
    if not finished:
        raise TransientError(
            f"{client.where}: feed {feed_id} still {status.get('processingStatus')} after "
            f"{poll_attempts} polls; quantities will be re-sent on the next inventory run"
        )
    if status["processingStatus"] == "CANCELLED":
        return feed_id, {"issues": [{"severity": "ERROR", "message": "feed was cancelled"}]}
    if not status.get("resultFeedDocumentId"):
        message = f"feed ended {status['processingStatus']} without a processing report"
        return feed_id, {"issues": [{"severity": "ERROR", "message": message}]}
    result = client.request("GET", f"{FEEDS}/documents/{status['resultFeedDocumentId']}").json()
    raw = _transfer(client, "GET", result["url"])
    if result.get("compressionAlgorithm") == "GZIP":
        raw = gzip.decompress(raw)
    return feed_id, json.loads(raw)


def _transfer(client: HttpClient, method: str, url: str, data: bytes | None = None) -> bytes:
    """Up/download a feed document at its pre-signed URL: no SP-API headers go there."""
    headers = {"Content-Type": CONTENT_TYPE} if data is not None else {}
    try:
        response = requests.request(method, url, data=data, headers=headers, timeout=client.timeout)
    except (requests.Timeout, requests.ConnectionError) as exc:
        raise TransientError(f"{client.where}: feed document transfer failed ({exc})") from exc
    if response.status_code >= 400:  # URLs expire after minutes: a fresh run gets a new one
        raise TransientError(
            f"{client.where}: feed document {method} answered {response.status_code}"
        )
    return response.content


def _errors_by_message(report: dict[str, Any]) -> dict[int | None, str]:
    found: dict[int | None, list[str]] = {}
    for issue in report.get("issues") or []:
        if issue.get("severity") == "ERROR":
            text = f"{issue.get('code') or 'ERROR'}: {issue.get('message')}"
            found.setdefault(issue.get("messageId"), []).append(text)
    return {key: "; ".join(texts) for key, texts in found.items()}


def _issues(issues: Any) -> str:
    return "; ".join(
        f"{i.get('code')}: {i.get('message')}"
        for i in issues or []
        if i.get("severity", "ERROR") == "ERROR"
    )

"""A strict local emulator of Walmart Marketplace API v3 (US): token, orders, inventory, feeds.

Real HTTP on 127.0.0.1 (ephemeral port). ``POST /v3/token``: HTTP Basic client id/secret,
``grant_type=client_credentials``, tokens that expire (``token_ttl``, 900 s as Walmart's).
Every API call needs ``WM_SEC.ACCESS_TOKEN`` (401 otherwise), ``WM_SVC.NAME`` and
``WM_QOS.CORRELATION_ID`` (400 ``INVALID_REQUEST_HEADER``). Errors are Walmart's shape
``{"errors": [{"code", "field", "description", "category", "severity"}]}``; a query parameter
or body key the API reference does not define is a 400 naming it.

Orders: ``GET /v3/orders`` with the reference's filters (``lastModified*``/``created*`` bounds
inclusive, ``createdStartDate`` 7 days ago when not given, ``status`` one value, ``limit``
1..200; a search matching nothing is 404 ``CONTENT_NOT_FOUND.GMP_ORDER_API``) and
``meta.nextCursor`` (the next page's query string, absent on the last page);
``GET /v3/orders/{po}``; ``POST …/acknowledge`` (Created -> Acknowledged, status date moved
on); ``POST …/shipping`` (lines must be Acknowledged; more than is left -> 400).
``cancel_order`` cancels a line's unshipped units as ``POST …/cancel`` does (status
``Cancelled`` with a ``cancellationReason``, status date moved).
Inventory: ``PUT /v3/inventory?sku=``, ``POST /v3/feeds?feedType=inventory`` (multipart
``file``, spec 1.4 JSON) and ``GET /v3/feeds/{id}`` (``INPROGRESS`` for
``feed_polls_in_progress`` polls, then ``PROCESSED`` with per-SKU ``itemIngestionStatus``).

Access: each client (``clients``; ``add_client`` for more) has its access per API area as
``GET /v3/token/detail`` lists it (the seller's own key: ``scopes``, ``full_access`` everywhere
by default); a token serves the client it was issued to; reads need ``view_only``, writes
``full_access`` (403 otherwise).

Rate limits: a token bucket per API (``limits``: capacity, refill per second), answered in
``x-current-token-count`` / ``x-next-replenishment-time`` (epoch ms) on every call, 429 when
empty. Walmart's per-API figures are on its "Rate limiting" page, which could not be
read from here: the defaults are placeholders, not Walmart's numbers (docs/platforms.md).
"""

from dropstream.sandbox.platforms.walmart.emulator import (
    WalmartEmulator,
    walmart_connection_json,
)

__all__ = ["WalmartEmulator", "walmart_connection_json"]

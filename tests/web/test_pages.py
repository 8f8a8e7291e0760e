"""The DropStream pages, as the Airflow UI's session cookie opens them, on the real api-server."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import quote

import pytest
import requests

pytestmark = [pytest.mark.slow, pytest.mark.sshd]


def page(view, path: str, username: str | None, **params) -> requests.Response:
    """``GET /dropstream{path}`` with the UI's session cookie (``_token``), as the nav entry's
    frame sends it; ``username`` None: no cookie."""
    cookies = {"_token": view.token(username)} if username else {}
    return requests.get(f"{view.url}/dropstream{path}", params=params, cookies=cookies, timeout=30)


def text(response: requests.Response) -> str:
    """The page's visible text, tags dropped, whitespace folded."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.text)).split())


def test_pages_need_a_login(view):
    response = page(view, "/connections", None)
    assert response.status_code == 401
    assert "text/html" in response.headers["content-type"]
    assert "Log in to Airflow" in response.text and "/auth/login" in response.text


def test_connections_grouped_and_filtered_by_merchant(view, story):
    response = page(view, "/connections", "admin")
    assert response.status_code == 200
    shown = text(response)
    assert re.search(r"acme Connection .* acme_east Acme Shopify \(shopify\)", shown)
    assert "Acme 3PL (sftp, header_detail_csv) Partly enabled" in shown
    assert re.search(r"globex Connection .* globex_west .* Disabled", shown)
    run = quote(story["second_orders_run"], safe="")
    assert f'href="/dags/dropstream__acme_east__orders/runs/{run}"' in response.text
    only = text(page(view, "/connections", "admin", merchant="globex"))
    assert "globex_west" in only and "acme_east" not in only


def test_orders_page_search_shows_the_timeline(view, story):
    response = page(view, "/connections/acme_east/orders", "admin", q="AE-5001")
    assert response.status_code == 200
    shown = text(response)
    assert "Order 5001 (the warehouse sees AE-5001) : shipped" in shown
    for step in (
        "fetched from the store",
        f"written to an order file {story['order_file']}",
        f"order file published to the warehouse {story['order_file']} {story['orders_run']}",
        "shipment pushed to the store UPS Ground tracking 1ZVIEW1, 1 unit(s)",
    ):
        assert step in shown, step
    held = text(page(view, "/connections/acme_east/orders", "admin", state="held"))
    assert "5002" in held and "PIGEON" in held and "5001" not in held


def test_what_a_person_types_is_shown_escaped(view, story):
    response = page(view, "/connections/acme_east/orders", "admin", q="<script>alert(1)</script>")
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in response.text
    assert "No order numbered &lt;script&gt;alert(1)&lt;/script&gt;" in response.text


def test_files_page(view, story):
    shown = text(page(view, "/connections/acme_east/files", "admin"))
    assert f"{story['order_file']} /in published 1" in shown
    assert "shp_1.csv tracking archived" in shown


def test_pages_hide_what_the_user_may_not_read(view, story):
    assert "acme_east" not in text(page(view, "/connections", "globex-viewer"))
    response = page(view, "/connections/acme_east/orders", "globex-viewer", q="5001")
    assert response.status_code == 404 and "5001" not in text(response).replace("q=5001", "")


def test_the_nav_entry_is_registered_with_airflow(view):
    response = requests.get(
        f"{view.url}/api/v2/plugins",
        headers={"Authorization": f"Bearer {view.token('admin')}"},
        timeout=30,
    )
    assert response.status_code == 200
    (plugin,) = [p for p in response.json()["plugins"] if p["name"] == "dropstream"]
    (entry,) = plugin["external_views"]
    assert entry["name"] == "DropStream" and entry["href"] == "/dropstream/connections"
    assert entry["url_route"] == "dropstream" and entry["destination"] == "nav"

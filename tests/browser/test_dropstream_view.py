"""An operator opens DropStream in the Airflow UI, finds an order of the demo connection and reads
its story. Runs the whole product (``make run``) with the sandbox: minutes, like its neighbour."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.ui import wait

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_an_operator_searches_an_order_and_sees_its_timeline(person, make_run):
    def a_shipped_order():
        response = requests.get(
            f"{make_run.url}/dropstream/api/connections/demo/orders",
            params={"state": "shipped", "limit": 1},
            headers={"Authorization": f"Bearer {make_run.token()}"},
            timeout=10,
        )
        return response.ok and response.json()["orders"] and response.json()["orders"][0]

    order = wait(a_shipped_order, 600, "a shipped order of the demo in DropStream", every=5)
    person.open("/")
    person.page.get_by_role("link", name=re.compile("^DropStream$")).first.click()
    frame = person.page.frame_locator("iframe").first
    expect(frame.get_by_role("heading", name="Connections")).to_be_visible()
    row = frame.locator('tr[data-connection="demo"]')
    expect(row).to_contain_text("Enabled")
    person.screenshot("dropstream-connections", docs=True)
    row.get_by_role("link", name="demo", exact=True).click()
    frame.get_by_label("Order number").fill(f"#{order['number']}")
    frame.get_by_role("button", name="Search").click()
    timeline = frame.locator("#timeline")
    expect(timeline).to_contain_text(f"Order {order['number']}")
    for step in (
        "fetched from the store",
        "order file published to the warehouse",
        "shipment pushed to the store",
    ):
        expect(timeline).to_contain_text(step)
    expect(timeline).to_contain_text(order["file_name"])
    person.screenshot("dropstream-order-timeline", docs=True)

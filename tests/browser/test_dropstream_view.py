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


@pytest.mark.timeout(1800)  # make run's start, an order to Canada, two orders runs
def test_an_operator_releases_a_held_order_from_required_actions(person, make_run):
    """The demo holds its orders to Canada for a person (rules.hold_countries): the orders run
    raises a Required Action; the operator releases from there; the next orders run sends it
    and the DropStream view tells who released it."""

    def waiting_review():
        try:  # make run's api-server on SQLite can be slow to answer under load: ask again
            body = make_run.get(
                "/dags/dropstream_review/dagRuns/~/hitlDetails",
                params={"response_received": "false"},
            )
        except requests.RequestException:
            return None
        return [
            d
            for d in body.get("hitl_details", [])
            if d["task_instance"]["state"] == "awaiting_input" and d["subject"].startswith("demo ")
        ]

    (detail, *_) = wait(
        waiting_review, 900, "a held-order review waiting in Required Actions", every=5
    )
    held = list(detail["params"]["apply_to"]["value"])
    assert held and all(label.startswith("#") for label in held)
    page = person.page
    person.open_required_action(detail, "ask_held_orders")
    expect(page.get_by_text("Connection demo holds").first).to_be_visible()
    person.screenshot("required-action-review", docs=True)
    page.get_by_test_id("hitl-option-Release").click()
    received = page.get_by_text(re.compile("Response received at")).first
    expect(received).to_contain_text(make_run.username)  # "… from <who answered>"

    number = held[0].removeprefix("#")

    def sent():
        try:
            response = requests.get(
                f"{make_run.url}/dropstream/api/connections/demo/orders",
                params={"q": number},
                headers={"Authorization": f"Bearer {make_run.token()}"},
                timeout=30,
            )
        except requests.RequestException:
            return None
        orders = response.json()["orders"] if response.ok else []
        return orders and orders[0]["state"] in ("published", "shipped") and orders[0]

    wait(sent, 600, f"order {number} released and published by the next orders run", every=5)
    person.open("/")
    person.page.get_by_role("link", name=re.compile("^DropStream$")).first.click()
    frame = person.page.frame_locator("iframe").first
    frame.locator('tr[data-connection="demo"]').get_by_role("link", name="demo", exact=True).click()
    frame.get_by_label("Order number").fill(f"#{number}")
    frame.get_by_role("button", name="Search").click()
    timeline = frame.locator("#timeline")
    released = timeline.locator('tr[data-event="released"]')
    expect(released).to_contain_text("released by an operator")
    expect(released).to_contain_text(make_run.username)
    expect(timeline.locator('tr[data-event="review_asked"]')).to_be_visible()
    expect(timeline).to_contain_text("order file published to the warehouse")
    person.screenshot("dropstream-order-released", docs=True)

"""An operator acts from the DropStream view and from Required Actions, against ``make run``: they
resend a whole order file the warehouse says it lost, and reject an inventory file from the
warehouse that would have zeroed half the store. Runs after its neighbours in this folder (the
product starts once for the folder): minutes.

The demo's simulated warehouse is quick: it ships an order 20 seconds after taking its file and
writes a fresh stock snapshot every minute, and the demo's DAGs run every minute. So, as an
operator would while they sort something out with a warehouse, each test switches one of the
demo's DAGs off for its duration (and on again after): the tracking DAG while a file is resent
(else its orders ship before anyone can resend them, and a shipped order is never resent), the
inventory DAG while a suspect snapshot waits for the answer (else the next snapshot, which is not
suspect, supersedes it by design).
"""

from __future__ import annotations

import ftplib
import io
import json
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import FrameLocator, expect

from dropstream.actions import ACTIONS
from dropstream.ledger.events import EVENTS
from dropstream.sandbox import threepl_files
from dropstream.sandbox.warehouse import WarehouseSettings
from tests.browser.conftest import RunningProduct, registry
from tests.browser.ui import AirflowUI, wait

pytestmark = [pytest.mark.slow, pytest.mark.browser]

DEMO = "demo"
ACTIONS_DAG = "dropstream_actions"
REVIEW_DAG = "dropstream_review"
TRACKING = f"dropstream__{DEMO}__tracking"
INVENTORY = f"dropstream__{DEMO}__inventory"
RESEND = ACTIONS["resend_file"]
#: An order's file must be this old before it is resent: past the window in which the sandbox's
#: shoppers cancel fresh orders (40 s) and the next orders run sees it.
SETTLED = timedelta(seconds=120)


# --- reading what the product says (the view's JSON API and Airflow's REST API) -----------------
def view_api(product: RunningProduct, path: str, **params: Any) -> Any:
    """``/dropstream/api{path}`` as the operator; None while make run's api-server is too busy
    to answer (SQLite under load), so a ``wait`` asks again."""
    try:
        response = requests.get(
            f"{product.url}/dropstream/api{path}",
            params=params,
            headers={"Authorization": f"Bearer {product.token()}"},
            timeout=30,
        )
    except requests.RequestException:
        return None
    return response.json() if response.ok else None


def rest(product: RunningProduct, path: str, **params: Any) -> Any:
    try:
        return product.get(path, params=params)
    except requests.RequestException:
        return None


def set_paused(product: RunningProduct, dag_id: str, paused: bool) -> None:
    """The DAG's on/off toggle, as the DAGs page sends it."""
    response = product.call("PATCH", f"/dags/{dag_id}", json={"is_paused": paused})
    assert response.status_code == 200, response.text


def tasks_in_flight(product: RunningProduct, dag_id: str) -> list[str] | None:
    body = rest(
        product, f"/dags/{dag_id}/dagRuns/~/taskInstances", state=["running", "queued"], limit=50
    )
    if body is None:
        return None
    return [f"{t['dag_run_id']}.{t['task_id']}" for t in body["task_instances"]]


@contextmanager
def switched_off(product: RunningProduct, dag_id: str) -> Iterator[None]:
    """The DAG switched off for the block (a task already running finishes; nothing else of it
    starts) and on again after. Waits for make run's sandbox to have switched it on first."""
    wait(
        lambda: (rest(product, f"/dags/{dag_id}") or {}).get("is_paused") is False,
        600,
        f"{dag_id} switched on by make run's sandbox",
        every=3,
    )
    set_paused(product, dag_id, True)
    try:
        wait(
            lambda: tasks_in_flight(product, dag_id) == [],
            600,
            f"{dag_id}'s running tasks to finish after it was switched off",
            every=2,
            seen=lambda: tasks_in_flight(product, dag_id),
        )
        yield
    finally:
        set_paused(product, dag_id, False)


def run_state(product: RunningProduct, dag_id: str, run_id: str) -> str | None:
    run = rest(product, f"/dags/{dag_id}/dagRuns/{run_id}")
    return run["state"] if run and run["state"] in ("success", "failed") else None


def ended(product: RunningProduct, dag_id: str, run_id: str) -> str:
    """The run's final state, once it has one."""
    return wait(
        lambda: run_state(product, dag_id, run_id), 600, f"{dag_id} run {run_id} to end", every=3
    )


def action_outcome(product: RunningProduct, run_id: str) -> str:
    """What the dropstream_actions run says it did (its task's return value, the XCom the run's
    page shows)."""
    body = product.get(
        f"/dags/{ACTIONS_DAG}/dagRuns/{run_id}/taskInstances/perform_action/xcomEntries/return_value"
    )
    return str(body["value"])


# --- the DropStream view, in the browser --------------------------------------------------------
def open_view(person: AirflowUI, page: str) -> FrameLocator:
    """DropStream → Connections → the demo's ``page`` ("orders" or "files"), from the nav."""
    person.open("/")
    person.page.get_by_role("link", name=re.compile("^DropStream$")).first.click()
    frame = person.page.frame_locator("iframe").first
    row = frame.locator(f'tr[data-connection="{DEMO}"]')
    link = DEMO if page == "orders" else "files"
    row.get_by_role("link", name=link, exact=True).click()
    heading = "Orders of" if page == "orders" else "Files of"
    expect(frame.get_by_role("heading", name=f"{heading} {DEMO}")).to_be_visible()
    return frame


def resend_from_files_page(person: AirflowUI, file_name: str, why: str) -> str:
    """Type why, press the Resend button of the file's row; return the run the page links to."""
    frame = open_view(person, "files")
    row = frame.locator(f'tr[data-file="{file_name}"]')
    row.get_by_label(f"Why resend {file_name}").fill(why)
    row.get_by_role("button", name=RESEND).click()
    asked = frame.locator("#asked")
    expect(asked).to_contain_text(f"Asked: {RESEND} ({file_name})")
    link = asked.get_by_role("link", name="this dropstream_actions run")
    href = link.get_attribute("href") or ""
    found = re.fullmatch(rf"/dags/{ACTIONS_DAG}/runs/([^/?#]+)", href)
    assert found, f"the notice links to {href!r}, not to a {ACTIONS_DAG} run"
    return requests.utils.unquote(found.group(1))


# --- 1. resend a whole order file -----------------------------------------------------------------
def a_file_to_resend(product: RunningProduct) -> tuple[str, list[dict[str, Any]]] | None:
    """The newest published order file, settled, whose orders are all still only published (not
    shipped, no cancellation): what a warehouse that lost it is missing."""
    files = view_api(product, f"/connections/{DEMO}/files", limit=100)
    published = view_api(product, f"/connections/{DEMO}/orders", state="published", limit=500)
    if not files or not published:
        return None
    by_file: dict[str, list[dict[str, Any]]] = {}
    for order in published["orders"]:
        if not order["cancel_requested_at"]:
            by_file.setdefault(order["file_name"], []).append(order)
    settled = datetime.now(UTC) - SETTLED
    for f in files["order_files"]["items"]:  # newest first
        if (
            f["kind"] == "orders"
            and f["state"] == "published"
            and "-resend-" not in f["file_name"]
            and datetime.fromisoformat(f["published_at"]) <= settled
            and len(by_file.get(f["file_name"], [])) == f["order_count"]
        ):
            return f["file_name"], by_file[f["file_name"]]
    return None


def resend_files(product: RunningProduct) -> list[dict[str, Any]]:
    files = view_api(product, f"/connections/{DEMO}/files", limit=500)
    assert files, "the DropStream API did not list the demo's files"
    return [f for f in files["order_files"]["items"] if "-resend-" in f["file_name"]]


def resent_steps(product: RunningProduct, order_id: str) -> list[dict[str, Any]]:
    order = view_api(product, f"/connections/{DEMO}/orders/{order_id}")
    assert order, f"the DropStream API did not show order {order_id}"
    return [e for e in order["timeline"] if e["event"] == "resent"]


@pytest.mark.timeout(1800)  # make run's start, orders published, two actions runs
def test_an_operator_resends_a_whole_order_file_from_the_files_page(person, make_run):
    """The warehouse says it lost an order file. On the Files page the operator types why and
    presses Resend: a dropstream_actions run, as them, publishes the file's orders again in one new
    file, which the warehouse takes; each order's timeline names the new file, who and why. A
    colleague pressing Resend again with the same why gets nothing new (the action's idempotence:
    the same file resent for the same why is done once)."""
    why = f"3PL says it lost the file ({secrets.token_hex(3)})"
    inbound = demo_folder(make_run, "orders")
    with switched_off(make_run, TRACKING):
        source, orders = wait(
            lambda: a_file_to_resend(make_run),
            600,
            "a published order file of the demo whose orders are all unshipped",
            every=5,
        )
        earlier = {f["file_name"] for f in resend_files(make_run)}

        run_id = resend_from_files_page(person, source, why)
        assert ended(make_run, ACTIONS_DAG, run_id) == "success", make_run.logs()[-3000:]
        said = action_outcome(make_run, run_id)
        (new,) = [f for f in resend_files(make_run) if f["file_name"] not in earlier]
        assert said == (
            f"{len(orders)} order(s) of {source} resent in {new['file_name']} ({inbound})"
        ), said
        assert (new["state"], new["order_count"]) == ("published", len(orders))

        # The warehouse took the new file from its inbound folder, as it takes every order file.
        def taken() -> list[str]:
            received = make_run.sandbox()["warehouse"]["received_files"]
            return [f["file"] for f in received if "-resend-" in f["file"]]

        wait(
            lambda: new["file_name"] in taken(),
            120,
            f"the simulated warehouse taking {new['file_name']}",
            every=2,
            seen=taken,
        )

        # The Files page shows it, published, beside the file it repeats.
        frame = open_view(person, "files")
        row = frame.locator(f'tr[data-file="{new["file_name"]}"]')
        expect(row).to_contain_text("published")
        expect(row.locator("td.num")).to_have_text(str(len(orders)))
        expect(frame.locator(f'tr[data-file="{source}"]')).to_contain_text("published")
        person.screenshot("dropstream-file-resend", docs=True)

        # Each order's timeline: resent, in the new file, by the operator, for that reason.
        frame = open_view(person, "orders")
        frame.get_by_label("Order number").fill(f"#{orders[0]['number']}")
        frame.get_by_role("button", name="Search").click()
        resent = frame.locator('#timeline tr[data-event="resent"]')
        expect(resent).to_have_count(1)
        expect(resent).to_contain_text(EVENTS["resent"])
        expect(resent).to_contain_text(f"in {new['file_name']} (resend of {source}): {why}")
        expect(resent).to_contain_text(make_run.username)
        expect(resent.get_by_role("link", name=run_id)).to_be_visible()

        # Asked again, same file, same why: the run says there is nothing to do, and no file.
        again = resend_from_files_page(person, source, why)
        assert again != run_id
        assert ended(make_run, ACTIONS_DAG, again) == "success", make_run.logs()[-3000:]
        assert action_outcome(make_run, again) == (
            f"{source} was already resent for {why!r}: nothing to do"
        )
        now = {f["file_name"] for f in resend_files(make_run)}
        assert now == earlier | {new["file_name"]}
        for order in orders:
            steps = resent_steps(make_run, order["order_id"])
            assert [(s["actor"], s["run_id"]) for s in steps] == [(make_run.username, run_id)]
        assert [f for f in taken() if f not in earlier] == [new["file_name"]]


# --- 2. reject a suspect inventory snapshot -------------------------------------------------------
def demo_folder(product: RunningProduct, kind: str) -> str:
    """The demo's warehouse folder of ``kind`` (its registry entry, once the sandbox made it)."""
    entry = wait(lambda: registry(product).get(DEMO), 600, "the demo connection registered")
    return str(entry["warehouse"]["paths"][kind])


def warehouse_login(product: RunningProduct) -> tuple[int, str, str]:
    """The sandbox warehouse's FTP port and login (make run's sandbox, ``sandbox.json``)."""
    about = json.loads((product.home / "sandbox" / "sandbox.json").read_text())
    port = int(about["ftp"].rsplit(":", 1)[1])
    settings = WarehouseSettings(root=Path(about["warehouse_folder"]))
    return port, settings.username, settings.password


def deliver(product: RunningProduct, folder: str, name: str, data: bytes) -> None:
    """Upload a file to the warehouse's folder as a 3PL does: a hidden name, then a rename."""
    port, user, password = warehouse_login(product)
    with ftplib.FTP() as ftp:
        ftp.connect("127.0.0.1", port, timeout=30)
        ftp.login(user, password)
        ftp.cwd(folder)
        ftp.storbinary(f"STOR .{name}.part", io.BytesIO(data))
        ftp.rename(f".{name}.part", name)


def newest_warehouse_snapshot(product: RunningProduct) -> str | None:
    snapshots = product.sandbox()["warehouse"]["snapshots"]
    return snapshots[-1]["file"] if snapshots else None


def kept(product: RunningProduct, file_name: str) -> dict[str, Any] | None:
    """The snapshot the zero-out guard kept from ``file_name``, as the Files page lists it."""
    files = view_api(product, f"/connections/{DEMO}/files")
    found = [s for s in (files or {}).get("snapshots", []) if s["source_file"] == file_name]
    return found[0] if found else None


def review_of(product: RunningProduct, since: datetime) -> dict[str, Any] | None:
    """The demo's snapshot review run created after ``since`` (an inventory run's load creates
    it when a snapshot waits for a person)."""
    body = rest(product, f"/dags/{REVIEW_DAG}/dagRuns", limit=50, order_by="-run_after")
    for run in (body or {}).get("dag_runs", []):
        conf = run.get("conf") or {}
        if (
            conf.get("connection") == DEMO
            and conf.get("kind") == "suspect_snapshot"
            and datetime.fromisoformat(run["run_after"]) > since
        ):
            return run
    return None


def waiting_review(product: RunningProduct, file_name: str) -> dict[str, Any] | None:
    body = rest(product, f"/dags/{REVIEW_DAG}/dagRuns/~/hitlDetails", response_received="false")
    for detail in (body or {}).get("hitl_details", []):
        if (
            detail["task_instance"]["state"] == "awaiting_input"
            and detail["task_instance"]["task_id"] == "ask_suspect_snapshot"
            and file_name in detail["params"]["apply_to"]["value"]
        ):
            return detail
    return None


def read_files(product: RunningProduct) -> list[str]:
    files = view_api(product, f"/connections/{DEMO}/files") or {}
    return [
        f"{f['file_name']} {f['state']}" for f in files.get("warehouse_files", {}).get("items", [])
    ]


def in_stock_skus(
    product: RunningProduct, stock: dict[str, int] | None = None
) -> list[tuple[int, str]]:
    """(quantity, SKU) of the demo store's SKUs in stock, fewest first."""
    stock = product.sandbox()["store"]["stock"] if stock is None else stock
    return sorted((qty, sku) for sku, qty in stock.items() if qty > 0)


def a_bad_snapshot(product: RunningProduct) -> tuple[str, dict[str, int]]:
    """Deliver a stock file that zeroes the half of the store's SKUs it has most of (the 3PL's
    count went wrong), right after the warehouse's own minute snapshot (so none is newer when
    the inventory run reads it), and trigger the inventory DAG; once that run kept it back and
    asked a person about it, switch the inventory DAG off. Returns the file's name and the SKUs
    it zeroes (with the store's stock then). Delivered again if a newer snapshot superseded it
    first."""
    folder = demo_folder(product, "inventory")
    # Run alone, this test starts with a fresh `make run`: the demo's inventory DAG is not parsed
    # yet and the store has no stock until its first inventory run pushed some.
    wait(lambda: product.call("GET", f"/dags/{INVENTORY}").ok, 600, f"{INVENTORY} parsed", every=2)
    wait(
        lambda: len(in_stock_skus(product)) >= 4,
        600,
        "the demo's first inventory run to stock the store (4 SKUs in stock)",
        every=3,
        seen=lambda: product.sandbox()["store"]["stock"],
    )
    for _attempt in range(4):
        stock = product.sandbox()["store"]["stock"]
        in_stock = in_stock_skus(product, stock)
        assert len(in_stock) >= 4, f"the demo store has too little in stock: {stock}"
        zeroed = {sku: qty for qty, sku in in_stock[len(in_stock) // 2 :]}
        figures = {sku: 0 if sku in zeroed else qty for sku, qty in stock.items()}
        last = newest_warehouse_snapshot(product)
        wait(
            lambda last=last: newest_warehouse_snapshot(product) != last,
            120,
            "the simulated warehouse's next stock snapshot",
        )
        now = datetime.now(UTC)
        name = f"inv_{now:%y%m%d%H%M%S}_recount.csv"
        deliver(product, folder, name, threepl_files.inventory_file(figures, now, "DEMO-1"))
        product.trigger(INVENTORY, f"manual__recount_{name}")
        snapshot = wait(
            lambda name=name: kept(product, name),
            300,
            f"the demo's inventory run keeping {name} back",
            every=0.5,
            seen=lambda: read_files(product),
        )
        if snapshot["state"] == "suspect":
            wait(
                lambda now=now, name=name: (
                    review_of(product, now) or (kept(product, name) or {}).get("state") != "suspect"
                ),
                300,
                f"the inventory run that kept {name} to ask for a review",
                every=0.5,
            )
            set_paused(product, INVENTORY, True)
            if review_of(product, now) and (kept(product, name) or {})["state"] == "suspect":
                return name, zeroed
            set_paused(product, INVENTORY, False)
        # A newer snapshot that is not suspect superseded it first (by design): once more.
    raise AssertionError("four suspect snapshots in a row were superseded before their review")


@pytest.mark.timeout(1800)  # make run's start, inventory runs, a review run
def test_an_operator_rejects_a_suspect_inventory_snapshot_from_required_actions(person, make_run):
    """The warehouse sends a stock file that would zero half the store's in-stock SKUs. The demo's
    inventory run keeps it back, pushes nothing from it and raises a Required Action; the operator
    answers Reject with a why. The store never shows those zeros; the Files page lists the
    snapshot as rejected by them, with their why; later inventory runs never apply it."""
    why = f"the 3PL's count was wrong ({secrets.token_hex(3)})"
    try:
        name, zeroed = a_bad_snapshot(make_run)
        wait(
            lambda: tasks_in_flight(make_run, INVENTORY) == [],
            600,
            f"{INVENTORY}'s running tasks to finish",
            every=2,
        )
        # The run that kept it pushed nothing from it: no zeros in the store.
        stock = make_run.sandbox()["store"]["stock"]
        assert all(stock[sku] > 0 for sku in zeroed), (stock, zeroed)
        detail = wait(lambda: waiting_review(make_run, name), 600, f"the review of {name}", every=3)
        assert detail["subject"] == (
            f"{DEMO} (demo-merchant): 1 suspect inventory snapshot to review"
        )

        page = person.page
        person.open_required_action(detail, "ask_suspect_snapshot")
        run_id = detail["task_instance"]["dag_run_id"]
        expect(
            page.get_by_text(f"Connection {DEMO} kept back 1 inventory snapshot").first
        ).to_be_visible()
        expect(page.get_by_text(name).first).to_be_visible()
        expect(page.get_by_text(re.compile(f"would zero {len(zeroed)}")).first).to_be_visible()
        page.locator('[name="element_why"]').fill(why)
        person.screenshot("required-action-snapshot")
        page.get_by_test_id("hitl-option-Reject").click()
        expect(page.get_by_text(re.compile("Response received at")).first).to_contain_text(
            make_run.username
        )
        assert ended(make_run, REVIEW_DAG, run_id) == "success", make_run.logs()[-3000:]
        decided = kept(make_run, name)
        assert decided and decided["state"] == "rejected", decided
        assert (decided["decided_by"], decided["decision_note"]) == (make_run.username, why)
        # Nothing was pushed meanwhile: the store's stock is as it was once it was kept back.
        assert make_run.sandbox()["store"]["stock"] == stock
    finally:
        set_paused(make_run, INVENTORY, False)

    # The inventory DAG on again: the next runs read the newer snapshots; this one is never
    # applied and the store never shows its zeros.
    switched_on = datetime.now(UTC)

    def a_run_since() -> bool:
        body = rest(make_run, f"/dags/{INVENTORY}/dagRuns", limit=20, order_by="-run_after")
        return any(
            r["state"] == "success"
            and r["start_date"]
            and datetime.fromisoformat(r["start_date"]) > switched_on
            for r in (body or {}).get("dag_runs", [])
        )

    wait(a_run_since, 600, f"an inventory run of the demo after {switched_on:%H:%M:%S}", every=5)
    assert kept(make_run, name)["state"] == "rejected"  # type: ignore[index]
    after = make_run.sandbox()["store"]["stock"]
    assert all(after[sku] > 0 for sku in zeroed), (after, zeroed)

    frame = open_view(person, "files")
    row = frame.locator(f'tr[data-snapshot="{name}"]')
    expect(row).to_contain_text("rejected")
    expect(row).to_contain_text(make_run.username)
    expect(row).to_contain_text(why)
    expect(row).to_contain_text(f"would set {len(zeroed)} of the")
    row.scroll_into_view_if_needed()
    person.screenshot("dropstream-snapshot-rejected")

"""One person's first visit, in Chromium, against ``make run`` on a non-default port.

They fill the setup form for an SFTP, an FTP, an FTPS and an S3 warehouse (Shopify and
WooCommerce stores), land on the outcome each time, see the DAGs appear paused, get a note naming
the field when a password is wrong, switch a connection on, backfill three past windows from
Trigger ▸ Backfill, and look at the demo connection the sandbox runs. Everything is done through
the UI; the REST API is only read, to check what the page said. The tests run in file order.
"""

from __future__ import annotations

import re
import secrets
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from playwright.sync_api import expect

from adapters import PLATFORMS
from dropstream.sandbox.shopify import ShopifyEmulator
from dropstream.setup.form import setup_params
from dropstream.spec import schedule_offset
from tests.browser.conftest import RunningProduct, registry, runs
from tests.browser.ui import AirflowUI, Choice, pick_datetime, wait
from tests.dags.warehouse_files import order_numbers
from tests.servers._emulator import running
from tests.servers.woocommerce import WooCommerceEmulator
from tests.setup.test_setup_dag import assert_no_secret_anywhere

pytestmark = [pytest.mark.slow, pytest.mark.sshd, pytest.mark.browser]

SETUP = "dropstream_setup"
SECTIONS = {name: p.schema["section"] for name, p in setup_params([], PLATFORMS).items()}
FLOWS = ("orders", "inventory", "tracking")
RUN_TIMEOUT = 240
#: What the person typed that must never be readable afterwards, and the runs they submitted.
TYPED: dict[str, Any] = {"secrets": [], "runs": []}
#: Connection names of this session (an instance attached by hand may have older ones).
RUN = secrets.token_hex(2)


def named(kind: str) -> str:
    return f"b{RUN}-{kind}"


@pytest.fixture(scope="module")
def shop() -> Iterator[ShopifyEmulator]:
    with running(ShopifyEmulator(token="shpat_browser_test_token_7f3a")) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def woo() -> Iterator[WooCommerceEmulator]:
    with running(WooCommerceEmulator()) as emulator:
        yield emulator


def yesterday() -> str:
    return (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")


def shopify_fields(shop: ShopifyEmulator) -> dict[str, Any]:
    return {
        "store_name": "Browser Goods on Shopify",
        "store_platform": Choice("Shopify"),
        "store_url": shop.url,
        "store_access_token": shop.token,
        "store_api_version": "2026-10",
    }


def woo_fields(woo: WooCommerceEmulator) -> dict[str, Any]:
    return {
        "store_name": "Browser Goods on WooCommerce",
        "store_platform": Choice("WooCommerce"),
        "store_url": woo.url,
        "store_login": woo.key,
        "store_client_secret": woo.secret,
    }


def fill_and_submit(person: AirflowUI, values: dict[str, Any], shot: str | None = None) -> str:
    """The person opens the setup form, types ``values`` and presses Trigger; the run id."""
    dialog = person.open_trigger_form(SETUP)
    if shot:
        person.screenshot(f"{shot}-empty", dialog, docs=shot == "setup-sftp")
    person.fill_form(dialog, SECTIONS, values)
    if shot:
        # The Connection section open, as a person checks it before pressing Trigger.
        dialog.get_by_role("button", name="Connection", exact=True).click()
        person.screenshot(f"{shot}-filled", docs=shot == "setup-sftp")
    run_id = person.submit(dialog)
    TYPED["runs"].append(run_id)
    return run_id


def outcome(person: AirflowUI, product: RunningProduct, run_id: str) -> dict[str, Any]:
    """Wait on the run page the UI opened until the run has ended; the run as the API has it."""
    assert f"/dags/{SETUP}/runs/" in person.page.url  # where Trigger took the person
    ended = wait(
        lambda: (
            (r := product.get(f"/dags/{SETUP}/dagRuns/{run_id}"))["state"] in ("success", "failed")
            and r
        ),
        RUN_TIMEOUT,
        f"setup run {run_id} to end",
    )
    person.page.reload()
    badge = person.page.get_by_test_id("state-badge").first
    expect(badge).to_have_text(re.compile(ended["state"], re.I))
    return ended


def register(
    person: AirflowUI, product: RunningProduct, name: str, values: dict[str, Any], shot: str
) -> dict[str, Any]:
    run_id = fill_and_submit(
        person,
        {
            "connection_name": name,
            "merchant": "browser-goods",
            "start_date": yesterday(),
            "default_ship_method": "UPS_GROUND",
            **values,
        },
        shot,
    )
    run = outcome(person, product, run_id)
    assert run["state"] == "success", run["note"]
    first_line = person.page.get_by_text(f"Connection {name} added", exact=False)
    expect(first_line.first).to_be_visible()
    person.screenshot(f"{shot}-outcome", docs=shot == "setup-sftp")
    # The run kept what the person typed, minus every secret.
    for field in ("warehouse_password", "warehouse_private_key", "store_access_token"):
        assert run["conf"].get(field) is None, (field, run["conf"].get(field))
    assert run["conf"]["connection_name"] == name
    assert name in registry(product)
    return run


def see_dags_paused(person: AirflowUI, product: RunningProduct, name: str, shot: str) -> None:
    ids = [f"dropstream__{name}__{flow}" for flow in FLOWS]
    wait(
        lambda: all(product.call("GET", f"/dags/{i}").status_code == 200 for i in ids),
        120,
        f"the DAGs of {name}",
        every=3,
    )
    person.open(f"/dags?tags=connection%3A{name}")
    for dag in ids:
        expect(person.page.get_by_text(dag, exact=True)).to_be_visible()
        assert product.get(f"/dags/{dag}")["is_paused"] is True
    person.screenshot(shot, docs=True)


def test_setup_form_registers_an_sftp_warehouse_and_a_shopify_store(
    person, make_run, sftp_server_session, shop
):
    sftp = sftp_server_session
    sftp.reset_folders()
    TYPED["secrets"] += [sftp.private_key, shop.token]
    TYPED["secrets"] += [line for line in sftp.private_key.splitlines()[1:-1] if line]
    register(
        person,
        make_run,
        named("sftp"),
        {
            "warehouse_name": "Browser 3PL (SFTP)",
            "warehouse_protocol": Choice("SFTP (SSH file transfer)"),
            "warehouse_host": sftp.host,
            "warehouse_port": sftp.port,
            "warehouse_login": sftp.username,
            # Pasted whole into the masked field, which drops the line breaks: setup restores them.
            "warehouse_private_key": sftp.private_key,
            "warehouse_host_key": sftp.host_key,
            **shopify_fields(shop),
        },
        "setup-sftp",
    )
    see_dags_paused(person, make_run, named("sftp"), "dags-paused")


def test_setup_form_registers_an_ftp_warehouse_and_a_woocommerce_store(
    person, make_run, ftp_server_session, woo
):
    ftp = ftp_server_session
    ftp.reset()
    TYPED["secrets"] += [ftp.password, woo.secret]
    register(
        person,
        make_run,
        named("ftp"),
        {
            "warehouse_name": "Browser 3PL (FTP)",
            "warehouse_protocol": Choice("FTP (plain, unencrypted)"),
            "warehouse_host": ftp.host,
            "warehouse_port": ftp.port,
            "warehouse_login": ftp.username,
            "warehouse_password": ftp.password,
            **woo_fields(woo),
        },
        "setup-ftp",
    )
    see_dags_paused(person, make_run, named("ftp"), "dags-paused-ftp")


def test_setup_form_registers_an_ftps_warehouse(person, make_run, ftps_server_session, shop):
    ftps = ftps_server_session
    ftps.reset()
    TYPED["secrets"] += [ftps.password]
    register(
        person,
        make_run,
        named("ftps"),
        {
            "warehouse_name": "Browser 3PL (FTPS)",
            "warehouse_protocol": Choice("FTPS (FTP over TLS)"),
            "warehouse_host": ftps.host,
            "warehouse_port": ftps.port,
            "warehouse_login": ftps.username,
            "warehouse_password": ftps.password,
            "warehouse_ca_cert": ftps.ca_cert_pem,
            **shopify_fields(shop),
        },
        "setup-ftps",
    )


def test_setup_form_registers_an_s3_warehouse(person, make_run, s3_server_session, woo):
    s3 = s3_server_session
    s3.reset_bucket()
    TYPED["secrets"] += [s3.secret_key]
    register(
        person,
        make_run,
        named("s3"),
        {
            "warehouse_name": "Browser 3PL (S3)",
            "warehouse_protocol": Choice("Amazon S3 (or S3-compatible) bucket"),
            "warehouse_login": s3.access_key,
            "warehouse_password": s3.secret_key,
            "warehouse_bucket": s3.bucket,
            "warehouse_region": s3.region,
            "warehouse_endpoint_url": s3.endpoint_url,
            **woo_fields(woo),
        },
        "setup-s3",
    )


def test_a_wrong_password_gets_a_note_naming_the_field(person, make_run, ftp_server_session, woo):
    ftp = ftp_server_session
    wrong = "not-the-password-81c2"
    TYPED["secrets"] += [wrong]
    run_id = fill_and_submit(
        person,
        {
            "connection_name": named("wrong"),
            "merchant": "browser-goods",
            "warehouse_name": "Browser 3PL (FTP)",
            "warehouse_protocol": Choice("FTP (plain, unencrypted)"),
            "warehouse_host": ftp.host,
            "warehouse_port": ftp.port,
            "warehouse_login": ftp.username,
            "warehouse_password": wrong,
            # The FTP connection of an earlier test uses the same account and folders: a
            # connection beside it needs its own order-number prefix (or the form refuses it).
            "order_number_prefix": "W-",
            **woo_fields(woo),
        },
    )
    run = outcome(person, make_run, run_id)
    assert run["state"] == "failed", run
    note = run["note"]
    first = note.splitlines()[0]
    assert "failed, nothing was registered" in first and "login refused" in first, note
    assert "'Password / secret access key'" in note, note
    expect(person.page.get_by_text("nothing was registered", exact=False).first).to_be_visible()
    person.screenshot("setup-wrong-password", docs=True)
    assert named("wrong") not in registry(make_run)
    warehouse = f"/connections/dropstream_{named('wrong')}_warehouse"
    assert make_run.call("GET", warehouse).status_code == 404


def test_nothing_typed_in_the_form_is_readable_afterwards(make_run, capfd):
    captured = capfd.readouterr()
    output = SimpleNamespace(out="\n".join([captured.out, captured.err, make_run.logs()]), err="")
    product = SimpleNamespace(api=make_run)
    assert len(TYPED["runs"]) == 5, TYPED["runs"]
    assert_no_secret_anywhere(
        product,
        TYPED["secrets"],
        output,
        conf_of=set(TYPED["runs"]),
        logs=make_run.home / "logs",
    )


def _quarter(now: datetime, name: str) -> datetime:
    """The newest start of a 15-minute window of connection ``name`` at or before ``now``: its
    default orders schedule is offset into the quarter hour (schedule_offset)."""
    offset = timedelta(seconds=schedule_offset(name, "orders", 900))
    point = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0) + offset
    return point if point <= now else point - timedelta(minutes=15)


def _minute_at_or_after(when: datetime) -> datetime:
    """The backfill form takes minutes: the first whole minute not before ``when``."""
    floor = when.replace(second=0, microsecond=0)
    return floor if floor == when else floor + timedelta(minutes=1)


def test_switch_on_then_backfill_three_windows_sends_each_order_once(
    person, make_run, sftp_server_session, shop
):
    sftp, dag = sftp_server_session, f"dropstream__{named('sftp')}__orders"
    q = _quarter(datetime.now(UTC), named("sftp"))
    windows = [
        (q - timedelta(minutes=15 * k), q - timedelta(minutes=15 * (k - 1))) for k in (4, 3, 2, 1)
    ]
    seeded = {}
    for start, _end in windows:  # one order in each window; the last is the scheduled run's
        order_id = shop.add_order(updated_at=start + timedelta(minutes=5), created_at=start)
        seeded[str(shop.order(order_id).number)] = start

    # Switch it on with the toggle on the DAG's page: the scheduler runs the latest window.
    person.open(f"/dags/{dag}")
    toggle = person.page.get_by_test_id("toggle-pause").first
    expect(toggle).to_have_attribute("data-state", "unchecked")
    toggle.click()
    expect(toggle).to_have_attribute("data-state", "checked")
    first = wait(
        lambda: [
            r
            for r in runs(make_run, dag)
            if r["run_type"] == "scheduled" and r["state"] == "success"
        ],
        RUN_TIMEOUT,
        "the first scheduled run to succeed",
        every=3,
    )
    assert not [r for r in runs(make_run, dag) if r["state"] == "failed"]
    person.page.reload()
    person.screenshot("first-run", docs=True)

    # Trigger ▸ Backfill over the three windows before it.
    person.page.get_by_role("button", name="Trigger").first.click()
    dialog = person.dialog()
    dialog.get_by_text("Backfill", exact=True).click()
    # Whole minutes around the three window starts (which fall on the connection's offset).
    pick_datetime(person.page, dialog, 0, windows[0][0].replace(second=0, microsecond=0))
    pick_datetime(person.page, dialog, 1, _minute_at_or_after(windows[2][0]))
    person.screenshot("backfill-form", dialog, docs=True)
    dialog.get_by_role("button", name="Run Backfill").click()
    backfilled = wait(
        lambda: (
            (b := [r for r in runs(make_run, dag) if r["run_type"] == "backfill"])
            and len(b) == 3
            and all(r["state"] in ("success", "failed") for r in b)
            and b
        ),
        RUN_TIMEOUT * 2,
        "three backfill runs to end",
        every=3,
    )
    assert {r["state"] for r in backfilled} == {"success"}, backfilled
    starts = sorted(datetime.fromisoformat(r["data_interval_start"]) for r in backfilled)
    assert starts == [w[0] for w in windows[:3]], starts
    person.page.reload()
    person.screenshot("backfill-done", docs=True)

    # Every seeded order reached the warehouse exactly once, across every file published.
    sent = Counter(
        number
        for path in sorted((sftp.root / "in").glob("ord_*.csv"))
        for number in order_numbers("header_detail_csv", path.read_bytes())
    )
    assert {n: sent[n] for n in seeded} == dict.fromkeys(seeded, 1), sent
    assert first  # the scheduled run is one of the four that sent them


def _demo_progress(make_run: Any) -> str:
    """What the demo got to: sandbox figures and each demo DAG's run states."""
    s = make_run.sandbox()
    states = {
        flow: sorted(r["state"] for r in runs(make_run, f"dropstream__demo__{flow}"))
        for flow in FLOWS
    }
    return (
        f"{len(s['warehouse']['received_files'])} order files, "
        f"{sum(bool(o['fulfillments']) for o in s['store']['orders'])} fulfilled orders, "
        f"{sum(bool(q) for q in s['store']['stock'].values())} SKUs in stock; runs {states}"
    )


def test_the_demo_connection_runs_green_with_readable_notes(person, make_run):
    """The sandbox `make run` starts: order files, fulfillments with tracking, stock moved."""
    state = wait(
        lambda: (
            (s := make_run.sandbox())["warehouse"]["received_files"]
            and any(o["fulfillments"] for o in s["store"]["orders"])
            and any(q for q in s["store"]["stock"].values())
            and s
        ),
        480,
        "the demo: an order file, a fulfillment with tracking and a stock change",
        every=5,
        seen=lambda: _demo_progress(make_run),
    )
    fulfilled = [o for o in state["store"]["orders"] if o["fulfillments"]]
    assert all(f["number"] for o in fulfilled for f in o["fulfillments"])
    for flow in FLOWS:
        dag = f"dropstream__demo__{flow}"
        done = runs(make_run, dag)
        assert [r for r in done if r["state"] == "success"], (dag, done)
        assert not [r for r in done if r["state"] == "failed"], (dag, done)
        assert "sandbox" in {t["name"] for t in make_run.get(f"/dags/{dag}")["tags"]}
    notes = [r["note"] for r in runs(make_run, "dropstream__demo__orders") if r["note"]]
    assert any(re.search(r"\d+ orders? published in ord_demo-\S+\.csv", n) for n in notes), notes
    tracking = [r["note"] for r in runs(make_run, "dropstream__demo__tracking") if r["note"]]
    assert any("pushed to the store with tracking" in n for n in tracking), tracking
    person.open("/dags/dropstream__demo__orders")
    person.screenshot("demo-dag")
    latest = next(
        r
        for r in runs(make_run, "dropstream__demo__orders", order_by="-run_after")
        if r["note"] and "published in" in r["note"]
    )
    person.open(f"/dags/dropstream__demo__orders/runs/{latest['dag_run_id']}")
    expect(person.page.get_by_text(re.compile(r"published in ord_demo-")).first).to_be_visible()
    person.screenshot("demo-run-note", docs=True)
    person.page.goto(make_run.shop_url + "/")
    expect(person.page.get_by_text("SANDBOX · demo data only")).to_be_visible()
    person.screenshot("sandbox-page", docs=True)

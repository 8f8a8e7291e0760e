"""Every platform and protocol through the form: WooCommerce + FTP, S3, per-target validation.

End to end like ``test_setup_dag.py`` (real api-server, the WooCommerce emulator, the FTP server,
moto's S3 server); the table-driven pieces (form, validation, Connection bodies) also directly.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from adapters import PLATFORMS
from dropstream.setup import connections as conns
from dropstream.setup.form import SECRET_FIELDS, setup_params
from dropstream.setup.targets import STORES, WAREHOUSES
from dropstream.setup.validate import FormError, plan_setup
from dropstream.transports import PROTOCOLS
from tests.servers.woocommerce import woocommerce_connection_json
from tests.setup.test_setup_dag import assert_no_secret_anywhere, failed_setup

NO_SFTP = {
    "warehouse_private_key": "",
    "warehouse_host_key": "",
}
NO_SHOPIFY = {"store_access_token": "", "store_api_version": ""}


def stored_password(conn_id: str) -> str | None:
    """The Connection's password as stored (decrypted), which the REST API does not show."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    with create_session() as session:
        conn = session.query(Connection).filter_by(conn_id=conn_id).one()
        return conn.password


def woocommerce_ftp(wizard, woo, ftp, name: str, **overrides) -> dict:
    return wizard.form(
        name,
        **NO_SFTP,
        **NO_SHOPIFY,
        warehouse_protocol="ftp",
        warehouse_host=ftp.host,
        warehouse_port=ftp.port,
        warehouse_login=ftp.username,
        warehouse_password=ftp.password,
        store_name="Acme WooCommerce",
        store_platform="woocommerce",
        store_url=woo.url,
        store_login=woo.key,
        store_client_secret=woo.secret,
        store_options={"tracking": "extension"},
        **overrides,
    )


def test_add_woocommerce_store_with_ftp_warehouse(wizard, woocommerce_emulator, ftp_server, capfd):
    woo, ftp = woocommerce_emulator, ftp_server
    conf = woocommerce_ftp(wizard, woo, ftp, "wiz-woo-ftp")
    wizard.trigger(conf)
    run = wizard.last_run()
    assert run["state"] == "success", run
    assert "dropstream__wiz-woo-ftp__orders" in run["note"]

    store = wizard.connection("dropstream_wiz-woo-ftp_store")
    expected = json.loads(woocommerce_connection_json(woo, tracking="extension"))
    assert {k: store[k] for k in ("conn_type", "host", "login")} == {
        k: expected[k] for k in ("conn_type", "host", "login")
    }
    assert json.loads(store["extra"]) == expected["extra"]
    assert stored_password("dropstream_wiz-woo-ftp_store") == woo.secret
    assert woo.calls("GET", r".*/orders") >= 1  # test_connection() ran against the emulator

    warehouse = wizard.connection("dropstream_wiz-woo-ftp_warehouse")
    assert warehouse["conn_type"] == "ftp" and warehouse["host"] == ftp.host
    assert warehouse["port"] == ftp.port and warehouse["login"] == ftp.username
    assert json.loads(warehouse["extra"]) == {"passive": True}
    assert stored_password("dropstream_wiz-woo-ftp_warehouse") == ftp.password
    assert not [p for p in ftp.root.rglob("*") if p.is_file()]  # no probe left behind

    entry = wizard.registry()["wiz-woo-ftp"]
    assert entry["store"]["platform"] == "woocommerce"
    assert entry["warehouse"]["protocol"] == "ftp"
    assert_no_secret_anywhere(wizard, [woo.secret, ftp.password], capfd.readouterr(), conf_of=set())


def test_read_only_woocommerce_key_fails_the_store_check_naming_the_permission(
    wizard, woocommerce_emulator, ftp_server, capfd
):
    woo = woocommerce_emulator
    woo.permissions = "read"
    conf = woocommerce_ftp(wizard, woo, ftp_server, "wiz-woo-read")
    run, _ = failed_setup(wizard, capfd, "wiz-woo-read", **conf)
    assert "lacks Write permission" in run["note"] and "Read/Write" in run["note"], run["note"]
    assert "Settings > Advanced > REST API" in run["note"]
    assert woo.calls("POST", r".*/products/batch") == 1  # the probe was refused, not skipped


def reduce_to_read_only(platform: str, emulator) -> str:
    """Take the write permission away the platform's way; the words the check must say."""
    if platform == "woocommerce":
        emulator.permissions = "read"
        return "lacks Write permission"
    if platform == "bigcommerce":
        emulator.scopes = {"store_v2_orders_read_only", "store_inventory_read_only"}
        emulator.scopes.add("store_v2_information_read_only")
        return "missing OAuth scopes: Orders: modify (store_v2_orders), Store Inventory: modify"
    if platform == "ebay":
        base = "https://api.ebay.com/oauth/api_scope"
        emulator.granted_scopes = {base, f"{base}/sell.fulfillment.readonly"}
        emulator.granted_scopes.add(f"{base}/sell.inventory.readonly")
        return f"OAuth scopes: {base}/sell.fulfillment, {base}/sell.inventory ("
    if platform == "magento":
        emulator.tokens[emulator.token] = {"Magento_Sales::actions_view"}  # orders: View only
        return (
            "lacks the API resources Magento_Sales::ship, Magento_Sales::shipment, "
            "Magento_InventoryApi::stock_source_item_assign"
        )
    if platform == "etsy":  # Etsy lists a token's scopes: the read scopes only
        emulator.granted_scopes = {"transactions_r", "listings_r"}
        return "lacks OAuth scopes transactions_w, listings_w;"
    if platform == "walmart":  # Walmart's token detail: inventory view only
        emulator.scopes["inventory"] = "view_only"
        return "inventory: full_access"
    emulator.roles = {"Inventory and Order Tracking"}  # amazon: orders readable, listings not
    return "lacks the role(s) Product Listing."


@pytest.mark.parametrize("read_only", [False, True], ids=["full", "read-only"])
@pytest.mark.parametrize(
    "platform", ["woocommerce", "bigcommerce", "ebay", "amazon", "magento", "etsy", "walmart"]
)
def test_store_check_names_the_missing_permission(request, platform, read_only):
    """The setup's store check (the code the form runs) on each platform's emulator."""
    from dropstream.setup.remote import CheckFailed, check_store

    emulator = request.getfixturevalue(f"{platform}_emulator")
    module = __import__(f"tests.servers.{platform}", fromlist=["x"])
    body = json.loads(getattr(module, f"{platform}_connection_json")(emulator))
    body["extra"] = json.dumps(body.get("extra") or {})
    if not read_only:
        (proven,) = check_store(body, platform, "acme")
        assert "grants every permission the three flows need" in proven
        return
    words = reduce_to_read_only(platform, emulator)
    with pytest.raises(CheckFailed) as caught:
        check_store(body, platform, "acme")
    assert caught.value.side == "store" and words in caught.value.reason, caught.value.reason
    assert caught.value.fields  # the note points at the credential fields


def test_s3_warehouse_test_only(wizard, s3_server, capfd):
    s3 = s3_server
    conf = wizard.form(
        "wiz-s3",
        **NO_SFTP,
        action="test",
        warehouse_protocol="s3",
        warehouse_host="",
        warehouse_port=None,
        warehouse_login=s3.access_key,
        warehouse_password=s3.secret_key,
        warehouse_bucket=s3.bucket,
        warehouse_region=s3.region,
        warehouse_endpoint_url=s3.endpoint_url,
    )
    wizard.trigger(conf)
    run = wizard.last_run()
    assert run["state"] == "success", run
    assert "tested OK" in run["note"], run["note"]
    assert wizard.connection("dropstream_wiz-s3_warehouse") is None
    assert wizard.connection("dropstream_wiz-s3_store") is None
    assert "wiz-s3" not in wizard.registry()
    assert s3.keys() == ["archive/", "in/", "out/"]  # probes removed, folders kept
    assert_no_secret_anywhere(wizard, [s3.secret_key], capfd.readouterr(), conf_of=set())


def test_s3_without_bucket_is_refused_by_validation(wizard, s3_server, capfd):
    s3 = s3_server
    run, output = failed_setup(
        wizard,
        capfd,
        "wiz-s3-nobucket",
        **NO_SFTP,
        warehouse_protocol="s3",
        warehouse_port=None,
        warehouse_login=s3.access_key,
        warehouse_password=s3.secret_key,
    )
    assert "'S3 bucket': required for S3" in run["note"], run["note"]
    assert "'Server (host)': not used by S3" in run["note"]


def test_amazon_form_lists_the_platform_specific_missing_fields(wizard, capfd):
    run, output = failed_setup(
        wizard,
        capfd,
        "wiz-amazon",
        **NO_SHOPIFY,
        store_platform="amazon",
        store_url="https://sellingpartnerapi-na.amazon.com",
        store_login="amzn1.application-oa2-client.abc",
        store_client_secret="amzn1.oa2-cs.v1.not-shown",
    )
    for title in ("Refresh token", "Amazon marketplace id", "Amazon seller id / Etsy shop id"):
        assert f"'{title}': required for Amazon" in run["note"], run["note"]
    assert not [line for line in run["note"].splitlines() if "'API secret" in line]
    captured = SimpleNamespace(out=output, err="")
    assert_no_secret_anywhere(wizard, ["amzn1.oa2-cs.v1.not-shown"], captured, conf_of=set())


# --- the tables, directly ------------------------------------------------------------------
NOW = datetime(2026, 11, 26, tzinfo=UTC)


def blank_form(**values) -> dict:
    form = {k: p.value for k, p in setup_params([], PLATFORMS).items()}
    form.update(
        connection_name="unit",
        merchant="acme",
        warehouse_name="W",
        store_name="S",
        warehouse_host="files.example",
        warehouse_login="u",
        warehouse_host_key="ssh-ed25519 AAAA",
        store_url="https://shop.example",
    )
    form.update(values)
    return form


def test_every_platform_and_protocol_has_a_table():
    assert set(STORES) == set(PLATFORMS)
    assert set(WAREHOUSES) == set(PROTOCOLS)


def test_new_secret_fields_are_masked_and_staged():
    params = setup_params([], PLATFORMS)
    for name in ("store_client_secret", "store_refresh_token"):
        assert name in SECRET_FIELDS
        assert params[name].schema["format"] == "password"
    for target in (*STORES.values(), *WAREHOUSES.values()):
        assert set(target.secret_fields) <= set(SECRET_FIELDS)
        for name in target.field_mapping:
            assert name in params, name
            # The field's section or its help text says which platforms/protocols read it.
            schema = params[name].schema
            assert target.display in schema["section"] + schema["description_md"], name


@pytest.mark.parametrize(
    ("platform", "missing"),
    [
        ("shopify", {"store_access_token"}),
        ("bigcommerce", {"store_access_token"}),
        ("woocommerce", {"store_login", "store_client_secret"}),
        (
            "amazon",
            {
                "store_login",
                "store_client_secret",
                "store_refresh_token",
                "store_marketplace_id",
                "store_seller_id",
            },
        ),
        ("ebay", {"store_login", "store_client_secret", "store_refresh_token"}),
        ("magento", {"store_access_token"}),
        ("walmart", {"store_login", "store_client_secret"}),
    ],
)
def test_required_store_fields_per_platform(platform, missing):
    with pytest.raises(FormError) as caught:
        plan_setup(blank_form(store_platform=platform), {}, {"warehouse_password"}, NOW)
    named = caught.value.fields
    assert named == missing, caught.value.problems


@pytest.mark.parametrize(
    ("protocol", "overrides", "missing"),
    [
        ("sftp", {}, {"warehouse_password", "warehouse_private_key"}),  # one of the two
        ("ftp", {}, {"warehouse_password"}),
        ("ftps", {}, {"warehouse_password"}),
        (
            "s3",
            {"warehouse_host": "", "warehouse_host_key": ""},
            {"warehouse_password", "warehouse_bucket"},
        ),
    ],
)
def test_required_warehouse_fields_per_protocol(protocol, overrides, missing):
    form = blank_form(warehouse_protocol=protocol, **overrides)
    if protocol != "sftp":
        form["warehouse_host_key"] = ""
    with pytest.raises(FormError) as caught:
        plan_setup(form, {}, {"store_access_token"}, NOW)
    named = caught.value.fields
    assert named == missing, caught.value.problems


def test_options_reject_secrets_and_unknown_keys():
    form = blank_form(
        store_platform="ebay",
        store_login="app",
        store_options={"refresh_token": "v^1.1#x", "scopes": "a b", "page": 1},
    )
    with pytest.raises(FormError) as caught:
        plan_setup(form, {}, {"warehouse_password", "store_client_secret"}, NOW)
    problems = "\n".join(caught.value.problems)
    assert "'refresh_token' is not a setting of eBay" in problems
    assert "use the field 'Refresh token'" in problems
    assert "'page' is not a setting of eBay" in problems
    assert "'scopes'" not in problems.replace("allowed: scopes", "")


@pytest.mark.parametrize("platform", sorted(STORES))
def test_store_bodies_follow_the_table(platform):
    values = {
        "store_login": "client-id",
        "store_api_version": "2026-10",
        "store_location_id": "7",
        "store_marketplace_id": "ATVPDKIKX0DER",
        "store_seller_id": "A1SELLER",
    }
    target = STORES[platform]
    form = blank_form(
        store_platform=platform, **{k: v for k, v in values.items() if k in target.field_mapping}
    )
    secrets = {k: f"secret-{k}" for k in target.secret_fields}
    plan = plan_setup(form, {}, {"warehouse_password", *secrets}, NOW)
    body = conns.store_body(plan, secrets, None)
    assert body["conn_type"] == "http" and body["host"] == "https://shop.example"
    for name, where in target.field_mapping.items():
        value = secrets.get(name) or values.get(name) or form[name]
        if where.startswith("extra."):
            assert body["extra"][where.removeprefix("extra.")] == value
        else:
            assert body[where] == value
    assert not set(body["extra"]) - {
        w.removeprefix("extra.") for w in target.field_mapping.values()
    }


def test_s3_and_ftps_bodies_carry_their_extras():
    s3 = blank_form(
        warehouse_protocol="s3",
        warehouse_host="",
        warehouse_host_key="",
        warehouse_bucket="acme-3pl",
        warehouse_region="eu-west-1",
        warehouse_endpoint_url="http://minio:9000",
        warehouse_server_side_encryption="aws:kms",
        warehouse_sse_kms_key_id="alias/3pl",
    )
    secrets = {"warehouse_password": "s3-secret", "store_access_token": "t"}
    body = conns.warehouse_body(plan_setup(s3, {}, set(secrets), NOW), secrets, None)
    assert body["conn_type"] == "aws" and body["login"] == "u" and "host" not in body
    assert body["password"] == "s3-secret" and "port" not in body
    assert body["extra"] == {
        "bucket": "acme-3pl",
        "region_name": "eu-west-1",
        "endpoint_url": "http://minio:9000",
        "server_side_encryption": "aws:kms",
        "sse_kms_key_id": "alias/3pl",
    }
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"
    ftps = blank_form(
        warehouse_protocol="ftps",
        warehouse_host_key="",
        warehouse_passive=False,
        warehouse_ca_cert=pem,
        warehouse_cert_fingerprint="sha256:AB:CD",
    )
    body = conns.warehouse_body(plan_setup(ftps, {}, set(secrets), NOW), secrets, None)
    assert body["conn_type"] == "ftp" and body["port"] == 21
    assert body["extra"] == {"passive": False, "ca_cert": pem, "cert_fingerprint": "sha256:AB:CD"}


def test_docs_name_every_field():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "setup.md").read_text()
    for target in (*STORES.values(), *WAREHOUSES.values()):
        for name in target.field_mapping:
            assert f"`{name}`" in docs, name
        for key in target.option_keys:
            assert f"`{key}`" in docs, key


# --- one validation for the whole spec; the shared-folder prefix check --------------------
def test_bad_format_choices_are_refused_by_the_form():
    for fmt, says in (("header_detail_cvs", "is not known"), ("x12", "sender_id: is required")):
        with pytest.raises(FormError) as caught:
            plan_setup(
                blank_form(warehouse_format=fmt),
                {},
                {"warehouse_password", "store_access_token"},
                NOW,
            )
        assert any("warehouse.format" in p and says in p for p in caught.value.problems), (
            caught.value.problems
        )


def test_second_store_on_one_warehouse_login_needs_its_own_prefix():
    from dropstream.sharing import Account

    secrets = {"warehouse_password", "store_access_token"}
    first = plan_setup(blank_form(connection_name="first"), {}, secrets, NOW).spec
    login = Account("sftp", ("files.example", "22", "u"))  # what 'first' logs in to

    with pytest.raises(FormError) as caught:
        plan_setup(
            blank_form(connection_name="second"),
            {"first": first},
            secrets,
            NOW,
            account_of=lambda spec: login,
        )
    problems = "\n".join(caught.value.problems)
    assert "'Order-number prefix'" in problems
    assert "'second' and 'first' share the orders folder /in" in problems
    assert "shipments folder /out" in problems

    ok = plan_setup(
        blank_form(connection_name="second", order_number_prefix="B-"),
        {"first": first},
        secrets,
        NOW,
        account_of=lambda spec: login,
    )
    assert ok.spec["rules"]["order_number_prefix"] == "B-"
    # Another server: no conflict, whatever the prefixes.
    other = plan_setup(
        blank_form(connection_name="third", warehouse_host="other.example"),
        {"first": first},
        secrets,
        NOW,
        account_of=lambda spec: login,
    )
    assert other.spec["rules"].get("order_number_prefix", "") == ""


# --- every format from the form -------------------------------------------------------------


def test_x12_connection_set_up_through_the_form_runs_its_three_flows(wizard, monkeypatch, tmp_path):
    """X12 needs its partner ids: the form takes them, and the connection it registers runs."""
    from datetime import timedelta

    from tests.dags.warehouse_files import (
        OUR_ID,
        WAREHOUSE_ID,
        file_format,
        file_name,
        inventory_file,
        order_numbers,
        shipment_file,
    )
    from tests.ledgers import sqlite_ledger_url

    for folder in ("in", "out", "archive"):
        for path in (wizard.sftp.root / folder).iterdir():
            path.unlink()
    name = "wiz-x12"
    wizard.trigger(
        wizard.form(
            name,
            warehouse_format="x12",
            x12_sender_id=OUR_ID,
            x12_receiver_id=WAREHOUSE_ID,
            order_number_prefix="X-",
            start_date="2026-11-20",
            orders_schedule="*/15 * * * *",
            inventory_schedule="0 * * * *",
            tracking_schedule="0 */4 * * *",
        )
    )
    run = wizard.last_run()
    assert run["state"] == "success", run["note"]
    entry = wizard.registry()[name]
    assert entry["warehouse"]["format"] == {
        "name": "x12",
        "options": {"sender_id": OUR_ID, "receiver_id": WAREHOUSE_ID},
    }

    # The registered connection's own DAGs, Connections (made by the run) and a fresh ledger.
    monkeypatch.setenv("DROPSTREAM_LEDGER_URL", sqlite_ledger_url(tmp_path))
    dags = wizard.generated_dags(monkeypatch)
    monkeypatch.setenv("AIRFLOW_VAR_DROPSTREAM_CONNECTIONS", json.dumps(wizard.registry()))

    def run_flow(flow: str, when: datetime) -> None:
        dag = dags[f"dropstream__{name}__{flow}"]
        for task in dag.tasks:
            task.retries = 0
        assert dag.test(logical_date=when).state == "success", flow

    t0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    shop = wizard.shop
    shop.add_order(7001, updated_at=t0 + timedelta(minutes=2), created_at=t0 + timedelta(minutes=2),
                   lines=[("SKU-1", 2, "5.00")])  # fmt: skip
    run_flow("orders", t0 + timedelta(minutes=15))
    (order_file,) = sorted((wizard.sftp.root / "in").glob("ord_*.edi"))
    assert order_numbers("x12", order_file.read_bytes()) == ["X-7001"]

    x12 = file_format("x12")
    shipped = file_name(x12.shipment_pattern)
    (wizard.sftp.root / "out" / shipped).write_bytes(
        shipment_file(
            "x12",
            "X-7001",
            [("SKU-1", 2)],
            tracking="1ZX12FORM",
            shipped_on=t0 + timedelta(hours=1),
        )  # fmt: skip
    )
    run_flow("tracking", t0 + timedelta(hours=4))
    (fulfillment,) = [f for f in shop.fulfillments if f["number"] == "1ZX12FORM"]
    assert fulfillment["order_number"] == "7001"  # the store's own number, prefix stripped

    shop.add_variant("SKU-1", available=0)
    stock = file_name(x12.inventory_pattern)
    (wizard.sftp.root / "out" / stock).write_bytes(
        inventory_file("x12", [("SKU-1", 11)], as_of=t0 - timedelta(hours=1))
    )
    run_flow("inventory", t0 + timedelta(hours=1))
    assert shop.inventory["SKU-1"] == 11


def test_format_option_fields_name_their_format():
    secrets = {"warehouse_password", "store_access_token"}
    with pytest.raises(FormError) as caught:
        plan_setup(blank_form(warehouse_format="x12"), {}, secrets, NOW)
    assert caught.value.fields == {"x12_sender_id", "x12_receiver_id"}
    assert "'X12: our id (sender)'" in caught.value.problems[0]
    with pytest.raises(FormError) as caught:
        plan_setup(blank_form(x12_sender_id="ACME"), {}, secrets, NOW)
    assert "only the x12 format reads it, not header_detail_csv" in caught.value.problems[0]
    with pytest.raises(FormError) as caught:
        plan_setup(blank_form(format_options={"colour": "blue"}), {}, secrets, NOW)
    assert "colour: unknown option" in caught.value.problems[0]
    plan = plan_setup(blank_form(format_version="v3", format_options={"facility": "WH-1"}),
                      {}, secrets, NOW)  # fmt: skip
    assert plan.spec["warehouse"]["format"] == {
        "name": "header_detail_csv",
        "options": {"facility": "WH-1", "version": "v3"},
    }
    # An update that does not touch the format keeps its options.
    registry = {"unit": plan.spec}
    kept = plan_setup(blank_form(action="update", warehouse_host_key=None), registry, set(), NOW)
    assert kept.spec["warehouse"]["format"] == plan.spec["warehouse"]["format"]


def test_alert_fields_set_the_spec_and_an_update_keeps_them():
    params = setup_params([], PLATFORMS)
    assert params["alert_emails"].value == [] and params["alert_held_hours"].value is None
    secrets = {"warehouse_password", "store_access_token"}
    plan = plan_setup(blank_form(alert_emails=["ops@acme.example"]), {}, secrets, NOW)
    assert plan.spec["alerts"] == {
        "emails": ["ops@acme.example"],
        "apprise_tags": [],
        "held_hours": 4.0,
    }
    registry = {"unit": plan.spec}
    kept = plan_setup(
        blank_form(action="update", warehouse_host_key=None, alert_held_hours=1.5,
                   alert_apprise_tags=["ops"]),
        registry, set(), NOW,
    )  # fmt: skip
    assert kept.spec["alerts"] == {
        "emails": ["ops@acme.example"],
        "apprise_tags": ["ops"],
        "held_hours": 1.5,
    }
    with pytest.raises(FormError) as caught:
        plan_setup(blank_form(alert_emails=["ops at acme"]), {}, secrets, NOW)
    assert caught.value.fields == {"alert_emails"}
    assert "'Alert e-mail addresses': 'alerts.emails': 'ops at acme': not e-mail" in str(
        caught.value
    )

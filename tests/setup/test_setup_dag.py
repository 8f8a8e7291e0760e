"""The connection wizard end to end: real api-server, real sshd, the Shopify emulator."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.servers.sshd import free_port, new_ed25519_key

SETUP = "dropstream_setup"


def test_add_registers_connections_registry_and_paused_dags(wizard, monkeypatch, capfd, caplog):
    conf = wizard.form("wiz-add")
    ran = wizard.trigger(conf)
    assert len(ran) == 1, ran  # one run: the one the person lands on after Trigger
    run = wizard.last_run()
    assert run["state"] == "success", run
    assert run["dag_run_id"] == ran[0]
    assert "dropstream__wiz-add__orders" in run["note"] and "paused" in run["note"]

    store = wizard.connection("dropstream_wiz-add_store")
    warehouse = wizard.connection("dropstream_wiz-add_warehouse")
    assert store["conn_type"] == "http" and store["host"] == wizard.shop.url
    assert warehouse["conn_type"] == "sftp" and warehouse["host"] == wizard.sftp.host
    assert warehouse["port"] == wizard.sftp.port and warehouse["login"] == wizard.sftp.username
    extra = json.loads(warehouse["extra"])
    assert extra["host_key"] == wizard.sftp.host_key

    entry = wizard.registry()["wiz-add"]
    assert entry["merchant"] == "acme-goods" and entry["store"]["platform"] == "shopify"
    assert entry["warehouse"]["paths"]["orders"] == "/in"
    dags = wizard.generated_dags(monkeypatch)
    ids = {f"dropstream__wiz-add__{f}" for f in ("orders", "inventory", "tracking")}
    assert ids <= set(dags)
    for dag_id in ids:
        assert dags[dag_id].is_paused_upon_creation
        assert "merchant:acme-goods" in dags[dag_id].tags
    assert not [p for p in wizard.sftp.root.rglob("*") if p.is_file()]  # no probe left behind

    secrets = [conf["warehouse_private_key"], conf["store_access_token"]]
    secrets += [line for line in conf["warehouse_private_key"].splitlines()[1:-1] if line]
    # The plugin blanked both secrets in the run's conf (see the note on dag.test() below).
    assert "blanked: store_access_token, warehouse_private_key" in caplog.text
    assert_no_secret_anywhere(wizard, secrets, capfd.readouterr(), conf_of=set())


def assert_no_secret_anywhere(
    wizard, secrets, captured, *, conf_of: set[str], logs: Path | None = None
) -> None:
    """No secret in any place Airflow keeps or shows.

    The conf is checked for the runs in ``conf_of`` only. Leave out runs executed by
    ``dag.test()``: its
    in-process harness keeps the DagRun it created in memory and merges it back into the
    database whenever it updates a task's state, which writes the conf the run started with
    over the plugin's blanking. A scheduler does not (tasks run in their own processes and
    report through the Execution API): ``test_setup_real_scheduler.py`` and the browser tests
    check the conf of runs executed the way production executes them.
    """
    api = wizard.api
    runs = [
        r if r["dag_run_id"] in conf_of else {k: v for k, v in r.items() if k != "conf"}
        for r in api.get(f"/dags/{SETUP}/dagRuns", params={"limit": 1000})["dag_runs"]
    ]
    places = {
        "runs (the conf of those in conf_of)": json.dumps(runs),
        "task instances and rendered fields": json.dumps(
            api.get(f"/dags/{SETUP}/dagRuns/~/taskInstances")
        ),
        "variables": json.dumps(api.get("/variables")),
        "connections (API view)": json.dumps(api.get("/connections")),
        "event log": json.dumps(api.get("/eventLogs", params={"limit": 1000})),
        "process output": captured.out + captured.err,
    }
    xcoms = api.get(f"/dags/{SETUP}/dagRuns/~/taskInstances/~/xcomEntries")["xcom_entries"]
    places["xcom"] = json.dumps(
        [
            api.get(
                f"/dags/{SETUP}/dagRuns/{x['run_id']}/taskInstances/{x['task_id']}"
                f"/xcomEntries/{x['key']}"
            )
            for x in xcoms
        ]
    )
    logs = logs or Path(os.environ["AIRFLOW_HOME"]) / "logs"
    for path in logs.rglob("*") if logs.exists() else ():
        if path.is_file():
            places[str(path)] = path.read_text(errors="replace")
    assert "dropstream_setup_staged_" not in places["connections (API view)"]
    for secret in secrets:
        found = [where for where, text in places.items() if secret in text]
        assert not found, f"secret {secret[:12]}… found in {found}"


def failed_setup(wizard, capfd, name: str, **overrides) -> tuple[dict, str]:
    """Run a setup that must fail; check nothing was registered; return (run, output)."""
    wizard.trigger(wizard.form(name, **overrides))
    run = wizard.last_run()
    output = capfd.readouterr()
    assert run["state"] == "failed", run
    assert "nothing was registered" in run["note"]
    assert wizard.connection(f"dropstream_{name}_store") is None
    assert wizard.connection(f"dropstream_{name}_warehouse") is None
    assert name not in wizard.registry()
    assert "dropstream_setup_staged_" not in json.dumps(wizard.api.get("/connections"))
    return run, output.out + output.err


@pytest.mark.parametrize(
    ("case", "reason", "fields"),
    [
        ("unreachable", "Warehouse check: host unreachable", ("Server (host)", "Port")),
        ("login", "Warehouse check: login refused", ("SFTP private key",)),
        ("host_key", "Warehouse check: host key changed", ("SFTP host key",)),
        ("folder_missing", "cannot upload to folder /nowhere", ("Orders folder",)),
        ("token", "Store check: credentials or permissions refused", ("Access token",)),
        ("scope", "is missing access scopes: read_orders", ("Access token",)),
    ],
)
def test_failed_check_registers_nothing_and_says_why(wizard, capfd, case, reason, fields):
    overrides = {
        "unreachable": {"warehouse_port": free_port()},
        "login": {"warehouse_private_key": new_ed25519_key()[0]},
        "host_key": {"warehouse_host_key": new_ed25519_key()[1]},
        "folder_missing": {"orders_folder": "/nowhere"},
        "token": {"store_access_token": "shpat_not_the_token"},
        "scope": {},
    }[case]
    if case == "scope":
        wizard.shop.scopes = [s for s in wizard.shop.scopes if "orders" not in s or "fulfil" in s]
    run, output = failed_setup(wizard, capfd, f"wiz-fail-{case.replace('_', '-')}", **overrides)
    assert reason in run["note"], run["note"]
    for title in fields:  # the note points at the form's fields by the titles the form shows
        assert f"'{title}'" in run["note"], run["note"]
    assert "probe" not in run["note"]  # no internal connection id
    if case == "token":
        assert "shpat_not_the_token" not in output and "shpat_not_the_token" not in run["note"]


def test_read_only_folder_is_reported(wizard, capfd):
    folder = wizard.sftp.root / "out"
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("this filesystem cannot make a folder immutable (chattr +i)")
    try:
        run, output = failed_setup(wizard, capfd, "wiz-fail-read-only")
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)
    assert "cannot upload to folder /out" in run["note"] and "permission denied" in run["note"]


def test_form_problems_are_listed_at_once(wizard, capfd):
    run, output = failed_setup(
        wizard, capfd, "Bad Name!", merchant=None, warehouse_host=None, store_url=None
    )
    # Every problem at once, each naming the field by the title the form shows.
    for title in ("Connection name", "Server (host)", "Store URL", "Merchant"):
        assert f"'{title}'" in run["note"], run["note"]
    assert "warehouse_host" not in run["note"]


def test_second_store_then_remove_first_leaves_only_the_second(wizard, monkeypatch):
    wizard.trigger(wizard.form("wiz-first", merchant="multi-goods"))
    assert wizard.last_run()["state"] == "success"
    wizard.reparse()  # the form now offers the merchant to join
    second = wizard.form("wiz-second", merchant="multi-goods")
    wizard.trigger(second)
    assert wizard.last_run()["state"] == "success", wizard.last_run()
    wizard.trigger(
        {
            **wizard.form("wiz-first"),
            "action": "remove",
            "warehouse_private_key": "",
            "store_access_token": "",
        }
    )
    run = wizard.last_run()
    assert run["state"] == "success" and "removed" in run["note"], run
    assert wizard.connection("dropstream_wiz-first_store") is None
    assert wizard.connection("dropstream_wiz-first_warehouse") is None
    assert wizard.registry()["wiz-second"]["merchant"] == "multi-goods"
    mine = {d for d in wizard.generated_dags(monkeypatch) if d.startswith("dropstream__wiz-")}
    assert {d for d in mine if "wiz-first" in d or "wiz-second" in d} == {
        f"dropstream__wiz-second__{f}" for f in ("orders", "inventory", "tracking")
    }


def test_update_changes_only_what_was_given(wizard):
    wizard.trigger(wizard.form("wiz-upd"))
    assert wizard.last_run()["state"] == "success"
    before = wizard.connection("dropstream_wiz-upd_warehouse")
    blank = {
        k: ""
        for k in (
            "merchant",
            "warehouse_name",
            "warehouse_host",
            "warehouse_login",
            "warehouse_private_key",
            "warehouse_host_key",
            "store_name",
            "store_url",
            "store_access_token",
            "store_api_version",
        )
    }
    wizard.trigger(
        {
            **wizard.form("wiz-upd"),
            **blank,
            "warehouse_port": None,
            "action": "update",
            "default_ship_method": "FEDEX_2DAY",
        }
    )
    run = wizard.last_run()
    assert run["state"] == "success" and "updated" in run["note"], run
    entry = wizard.registry()["wiz-upd"]
    assert entry["rules"]["default_ship_method"] == "FEDEX_2DAY"
    assert entry["warehouse"]["name"] == "Acme 3PL" and entry["merchant"] == "acme-goods"
    after = wizard.connection("dropstream_wiz-upd_warehouse")
    assert {k: after[k] for k in ("host", "port", "login", "extra")} == {
        k: before[k] for k in ("host", "port", "login", "extra")
    }


# --- the registry fails closed and writes only its own entry --------------------------------
def _set_registry_text(api, text: str) -> None:
    body = {"key": "dropstream_connections", "value": text}
    response = api.call("PATCH", "/variables/dropstream_connections", json=body)
    if response.status_code == 404:
        response = api.call("POST", "/variables", json=body)
    assert response.status_code in (200, 201), response.text


def _registry_text(api) -> str | None:
    response = api.call("GET", "/variables/dropstream_connections")
    return response.json()["value"] if response.status_code == 200 else None


def test_unreadable_registry_is_never_overwritten(wizard, capfd):
    before = _registry_text(wizard.api) or "{}"
    form, dag = wizard.form("wiz-closed"), wizard.dag()  # submitted before the registry broke
    broken = before.rstrip()[:-1] + ', "half-typed": {'  # someone's edit, cut short
    _set_registry_text(wizard.api, broken)
    try:
        wizard.trigger(form, dag)
        run = wizard.last_run()
        output = capfd.readouterr()
        assert run["state"] == "failed", run
        assert "Variable 'dropstream_connections' is not valid JSON" in run["note"], run["note"]
        assert "is not valid JSON" in output.out + output.err  # the cause is in the task log
        assert _registry_text(wizard.api) == broken  # not replaced by a one-entry registry
        assert wizard.connection("dropstream_wiz-closed_store") is None
    finally:
        _set_registry_text(wizard.api, before)


def test_a_setup_run_keeps_entries_written_while_it_ran(wizard, monkeypatch):
    from dropstream.setup import tasks
    from tests.specs import spec_dict

    api = wizard.api
    meanwhile = spec_dict("wiz-meanwhile")
    register_connections = tasks.register_connections
    written = []

    def write_then_register(**context):
        """Another writer (a person in Admin → Variables) adds an entry after this run's
        validate read the registry and before its update_registry writes it."""
        current = json.loads(_registry_text(api) or "{}")
        assert "wiz-beside" not in current
        _set_registry_text(api, json.dumps({**current, "wiz-meanwhile": meanwhile}))
        written.append(True)
        return register_connections(**context)

    # The setup DAG takes its callables from the tasks module when it is parsed (by trigger).
    monkeypatch.setattr(tasks, "register_connections", write_then_register)
    wizard.trigger(wizard.form("wiz-beside"))
    assert written == [True]
    assert wizard.last_run()["state"] == "success", wizard.last_run()
    registry = wizard.registry()
    assert registry["wiz-meanwhile"] == meanwhile  # written after this run read the registry
    assert registry["wiz-beside"]["merchant"] == "acme-goods"
    _set_registry_text(api, json.dumps({k: v for k, v in registry.items() if k != "wiz-meanwhile"}))

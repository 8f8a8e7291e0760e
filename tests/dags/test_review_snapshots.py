"""A suspect inventory snapshot waits for a person in Required Actions: real inventory runs and a
real ``dropstream_review`` run (dag.test()), the real api-server the answer goes through, the
ledger, the real sshd and the Shopify emulator.

The inventory run that keeps the snapshot triggers the review run through the REST API; the test
runs that run's conf with ``dag.test()`` (no scheduler here), and a person's answer reaches its
waiting task through ``PATCH …/hitlDetails``, as the Required Actions page sends it.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dropstream import reviews
from tests.dags.test_actions import T0
from tests.dags.test_end_to_end import inventory_file
from tests.dags.test_review import answer, review_rows, spec_of
from tests.servers.airflow_api import AirflowAPIServer

pytestmark = [pytest.mark.slow, pytest.mark.sshd]

REVIEW = reviews.DAG_ID
ASK = reviews.SUSPECT_SNAPSHOT.task_id
WAIT = 180


BEFORE = {"SKU-1": 8, "SKU-2": 3, "SKU-7": 0}


def in_stock_then_zeroed(d, *zeroed_files: str) -> None:
    """SKU-1 and SKU-2 in stock (8, 3) in the store; then each of ``zeroed_files`` would zero
    both (suspect, kept back) and bring SKU-7 in."""
    for sku in ("SKU-1", "SKU-2", "SKU-7"):
        d.shop.add_variant(sku, available=0)
    d.write("out", "inv_1.csv", inventory_file("2026-11-20T09:00:00Z", SKU_1=8, SKU_2=3))
    assert d.run("inventory", T0).state == "success"
    assert d.shop.inventory == BEFORE
    for hour, name in enumerate(zeroed_files, start=1):
        at = f"2026-11-20T{9 + hour:02}:00:00Z"
        d.write("out", name, inventory_file(at, SKU_1=0, SKU_2=0, SKU_7=2))
        assert d.run("inventory", T0 + timedelta(hours=hour)).state == "success"
    assert d.shop.inventory == BEFORE  # suspect: nothing pushed


def review_dag():
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    from tests.dags.conftest import DAGS

    DagBundlesManager().sync_bundles_to_db()  # as dag.test() does: the bundle a DAG names
    bag = DagBag(dag_folder=str(DAGS / "dropstream_review.py"))
    assert not bag.import_errors, bag.import_errors
    sync_bag_to_db(bag, "dags-folder", None)  # as the dag-processor does: runs can be triggered
    return bag.dags[REVIEW]


def connection_events(name: str) -> list[tuple[str, str, str | None]]:
    from dropstream.ledger import Ledger

    ledger = Ledger()
    try:
        return [(e.event, e.detail, e.actor) for e in ledger.connection_events(name)]
    finally:
        ledger.close()


class Person(threading.Thread):
    """Answers the connection's Required Action once it shows, through the REST API; keeps what
    it saw (``seen``) and any failure (``error``)."""

    def __init__(self, api: AirflowAPIServer, connection: str, reply: dict[str, Any]) -> None:
        super().__init__(daemon=True)
        self.api, self.connection, self.reply = api, connection, reply
        self.seen: dict[str, Any] = {}
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            deadline = time.monotonic() + WAIT
            while not self.seen:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no Required Action for {self.connection} in {WAIT}s")
                waiting = self.api.get(
                    f"/dags/{REVIEW}/dagRuns/~/hitlDetails",
                    params={"response_received": False, "task_id": ASK},
                )["hitl_details"]
                mine = [d for d in waiting if d["subject"].startswith(f"{self.connection} (")]
                self.seen = mine[0] if mine else {}
                time.sleep(1)
            run_id = self.seen["task_instance"]["dag_run_id"]
            response = self.api.call(
                "PATCH",
                f"/dags/{REVIEW}/dagRuns/{run_id}/taskInstances/{ASK}/-1/hitlDetails",
                json=self.reply,
            )
            assert response.ok, response.text
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            self.error = exc


def test_a_suspect_snapshot_approved_in_required_actions_is_pushed(
    deployment, airflow_api_server: AirflowAPIServer
):
    from dropstream.ledger import Ledger

    api, d = airflow_api_server, deployment
    dag = review_dag()
    in_stock_then_zeroed(d, "inv_2.csv")
    # The inventory run that kept it asked for a review: a dropstream_review run (REST API).
    runs = api.get(f"/dags/{REVIEW}/dagRuns", params={"limit": 100})["dag_runs"]
    (asked,) = [r for r in runs if r["dag_run_id"].startswith(f"review__{d.name}__")]
    assert asked["conf"]["kind"] == "suspect_snapshot" and asked["state"] == "queued"
    assert asked["triggering_user_name"] == api.username
    # No scheduler here: dag.test() runs it; the queued one must not wait for a later scheduler.
    assert api.call("DELETE", f"/dags/{REVIEW}/dagRuns/{asked['dag_run_id']}").ok
    why = "the 3PL confirmed the recall"
    reply = {"chosen_options": ["Approve"], "params_input": {"apply_to": ["inv_2.csv"], "why": why}}
    person = Person(api, d.name, reply)
    person.start()
    run = dag.test(run_conf=asked["conf"])
    person.join(timeout=30)
    assert person.error is None, person.error
    assert run.state == "success"
    seen = person.seen
    assert seen["options"] == ["Approve", "Reject", "Keep waiting"]
    assert seen["defaults"] == ["Keep waiting"]
    assert seen["subject"] == f"{d.name} (acme-goods): 1 suspect inventory snapshot to review"
    assert (
        "| inv_2.csv | it would set 2 of the 2 SKUs in stock in the store to zero" in seen["body"]
    )
    assert (
        "3 SKU(s) in the file, 2 in stock in the store now; would zero 2: SKU-1, SKU-2"
        in (seen["body"])
    )
    assert seen["params"]["apply_to"]["value"] == ["inv_2.csv"]
    assert d.shop.inventory == BEFORE  # approved: the next run pushes it
    assert d.run("inventory", T0 + timedelta(hours=2)).state == "success"
    assert d.shop.inventory == {"SKU-1": 0, "SKU-2": 0, "SKU-7": 2}
    ledger = Ledger()
    try:
        (applied,) = ledger.suspect_snapshots(d.name, "applied")
    finally:
        ledger.close()
    assert applied["source_file"] == "inv_2.csv" and applied["decided_by"] == api.username
    events = connection_events(d.name)
    assert ("snapshot_approved", f"inv_2.csv: {why}", api.username) in events
    assert ("review_asked", f"inv_2.csv: in Required Actions ({asked['dag_run_id']})", None) in (
        events
    )


def ask(d) -> str:
    """Put the connection's suspect snapshots up for review, as an inventory run does."""
    from dropstream.ledger import Ledger
    from dropstream.review_tasks import snapshot_items

    review_id = uuid.uuid4().hex
    ledger = Ledger()
    try:
        now = datetime.now(UTC)
        rows = [(i.subject, i.label, i.detail) for i in snapshot_items(spec_of(d), ledger, now)]
        assert ledger.ask_review(d.name, "suspect_snapshot", review_id, rows, now)
        ledger.set_review_run(review_id, f"review__{review_id[:8]}", now)
    finally:
        ledger.close()
    return review_id


def test_rejected_kept_waiting_or_timed_out_none_is_pushed(deployment):
    from dropstream.review_tasks import apply_snapshots

    d = deployment
    in_stock_then_zeroed(d, "inv_2.csv", "inv_3.csv", "inv_4.csv")
    review_id = ask(d)
    assert sorted(review_rows(review_id)) == ["inv_2.csv", "inv_3.csv", "inv_4.csv"]
    outcome = apply_snapshots(
        spec_of(d), review_id, answer("Reject", ["inv_3.csv"], why="wrong account"), run="r1"
    )
    assert "snapshot inv_3.csv rejected" in outcome and "2 snapshot(s) left out" in outcome
    assert review_rows(review_id) == {"inv_3.csv": ("answered", "Reject", "alice")}
    kept = ask(d)  # the ones left out, asked again
    keep = answer("Keep waiting", ["inv_4.csv"], why="asking the 3PL")
    outcome = apply_snapshots(spec_of(d), kept, keep, run="r2")
    assert outcome.startswith("Keep waiting by alice: inv_4.csv kept waiting")
    # answered again (a retried apply): nothing more happens
    assert apply_snapshots(spec_of(d), kept, answer("Approve", ["inv_4.csv"]), run="r2") == (
        "Approve by alice: "
    )
    timed_out = ask(d)  # inv_4 was answered (kept waiting): only inv_2 is asked again
    assert review_rows(timed_out) == {"inv_2.csv": ("asked", None, None)}
    outcome = apply_snapshots(
        spec_of(d), timed_out, answer("Keep waiting", ["inv_2.csv"], who=None), run="r3"
    )
    assert outcome == f"review timed out: 1 snapshot(s) of {d.name} keep waiting (not pushed)"
    assert d.run("inventory", T0 + timedelta(hours=5)).state == "success"
    assert d.shop.inventory == BEFORE  # nothing pushed
    events = connection_events(d.name)
    assert ("snapshot_rejected", "inv_3.csv: wrong account", "alice") in events
    assert ("kept_waiting", "inv_4.csv: asking the 3PL", "alice") in events
    assert events[0] == (
        "review_timed_out",
        "inv_2.csv: still waiting, not pushed; listed in the daily digest",
        None,
    )


def test_an_answer_about_a_snapshot_superseded_meanwhile_is_not_applied(deployment):
    from dropstream.review_tasks import apply_snapshots

    d = deployment
    in_stock_then_zeroed(d, "inv_2.csv")
    review_id = ask(d)
    d.write("out", "inv_3.csv", inventory_file("2026-11-20T12:00:00Z", SKU_1=6, SKU_2=2))
    assert d.run("inventory", T0 + timedelta(hours=2)).state == "success"  # not suspect
    outcome = apply_snapshots(spec_of(d), review_id, answer("Approve", ["inv_2.csv"]), run="r4")
    assert outcome == (
        "Approve by alice: inv_2.csv is superseded now, no longer suspect: Approve not applied"
    )
    assert review_rows(review_id) == {
        "inv_2.csv": ("moot", "Approve (not applied: superseded)", "alice")
    }
    assert d.run("inventory", T0 + timedelta(hours=3)).state == "success"
    assert d.shop.inventory == {"SKU-1": 6, "SKU-2": 2, "SKU-7": 0}  # never the zeros

"""The Airflow edge of reviews (``dropstream.reviews``): asking for one, and applying its answer.

- :func:`ask_for_review`, called after an orders run's load (held orders) or an inventory run's
  load (suspect snapshots): records the items nobody was asked about yet and triggers a
  ``dropstream_review`` run for them (REST API).
- The ``dropstream_review`` DAG: ``prepare`` (what is still to be asked; picks the kind's ask
  task) → ``ask_<kind>`` (:class:`ReviewOperator`, a ``HITLOperator``: Required Actions) →
  ``apply_answer`` (``dropstream.review_answers``: the answer through
  :func:`dropstream.action_tasks.run_action`, the code path of ``dropstream_actions``, as the
  person who answered).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.standard.operators.hitl import HITLOperator

from dropstream import reviews
from dropstream.errors import ConfigurationError
from dropstream.reviews import HELD_ORDERS, KINDS, SUSPECT_SNAPSHOT, Item, ReviewKind

if TYPE_CHECKING:
    from dropstream.ledger import Ledger
    from dropstream.setup.api import AirflowAPI
    from dropstream.spec import ConnectionSpec

log = logging.getLogger("dropstream.reviews")
#: Everything held right now: ``held_before`` takes orders held before a time.
_ANY_TIME = timedelta(seconds=1)
#: An item still asked this long after its review's timeout lost its run: asked again.
STALE_AFTER = timedelta(hours=1)
#: How soon an ask task whose answer Airflow lost tries again (it reads that answer back).
RETRY_DELAY = timedelta(seconds=5)


def held_order_items(spec: ConnectionSpec, ledger: Ledger, now: datetime) -> list[Item]:
    """The connection's held orders a person can release (see :func:`_for_a_person`)."""
    held = ledger.held_before(spec.name, now + _ANY_TIME)
    return reviews.held_order_items(r for r in held if _for_a_person(spec, ledger, r, now))


def snapshot_items(spec: ConnectionSpec, ledger: Ledger, now: datetime) -> list[Item]:
    """The connection's suspect snapshots waiting for a person, with the SKUs each would zero."""
    published = ledger.published_quantities(spec.name)
    return [
        reviews.snapshot_item(row, ledger.snapshot_levels(spec.name, row["source_file"]), published)
        for row in ledger.suspect_snapshots(spec.name)
    ]


#: What each kind asks about now, and the DropStream page its body links to.
ITEMS: dict[str, Callable[[ConnectionSpec, Ledger, datetime], list[Item]]] = {
    HELD_ORDERS.name: held_order_items,
    SUSPECT_SNAPSHOT.name: snapshot_items,
}
PAGES = {HELD_ORDERS.name: "orders?state=held", SUSPECT_SNAPSHOT.name: "files"}


def request_review(
    spec: ConnectionSpec,
    kind: ReviewKind,
    ledger: Ledger,
    api: AirflowAPI,
    now: datetime,
    *,
    timeout_minutes: float | None = None,
) -> str | None:
    """Ask about the connection's items of ``kind`` not asked about yet, in one new review run;
    return its run id (None when there was nothing new to ask, or the connection's review of
    that kind is still open: one Required Action per connection and kind at a time, so a flood
    makes one question, and what comes up meanwhile is asked when it closes). Trouble reaching
    the API forgets the review, so the next run asks again, and raises."""
    limit = timedelta(minutes=timeout_minutes or spec.alerts.held_hours * 60)
    ledger.forget_stale_reviews(spec.name, kind.name, now - limit - STALE_AFTER)
    if ledger.open_reviews(spec.name, kind.name):
        return None
    items = ITEMS[kind.name](spec, ledger, now)
    review_id = uuid.uuid4().hex
    new = ledger.ask_review(
        spec.name, kind.name, review_id, ((i.subject, i.label, i.detail) for i in items), now
    )
    if not new:
        return None
    conf: dict[str, Any] = {
        "connection": spec.name,
        "kind": kind.name,
        "review_id": review_id,
        "timeout_minutes": timeout_minutes,
    }
    try:
        created = api.trigger_run(
            reviews.DAG_ID,
            {
                "dag_run_id": (
                    f"{reviews.RUN_PREFIX}{spec.name}__{now:%Y%m%dT%H%M%S}__{review_id[:8]}"
                ),
                "logical_date": None,
                "conf": conf,
                "note": f"{len(new)} {kind.what}(s) of {spec.name} to review",
            },
        )
    except Exception:
        ledger.forget_review(review_id)
        raise
    run_id = str(created["dag_run_id"])
    ledger.set_review_run(review_id, run_id, now)
    return run_id


def _for_a_person(spec: ConnectionSpec, ledger: Ledger, row: dict[str, Any], now: datetime) -> bool:
    """Whether a person can release the held order as it is (a hold such as
    ``rules.hold_countries``); an order the warehouse would refuse (no ship method, ...) waits
    for a rules change instead, which the held-order alert names."""
    from dropstream.actions import release_blocker
    from dropstream.formats import get_format

    stored = ledger.held_order(spec.name, row["order_id"])
    if stored is None:
        return False
    fmt = spec.warehouse.format
    file_format = get_format(fmt.name, fmt.options).for_run(
        now=now,
        next_control_number=lambda n: 0,  # nothing is written: only checked
    )
    return release_blocker(spec, file_format, stored[0]) is None


def ask_for_review(spec: ConnectionSpec, kind: ReviewKind, run: str) -> None:
    """After a run's load (or a review's answer): raise a Required Action for the items of
    ``kind`` nobody was asked about; never fail the run over it (the daily digest still lists
    every held order and waiting snapshot)."""
    from dropstream.ledger import Ledger
    from dropstream.setup.api import AirflowAPI

    ledger = Ledger()
    try:
        asked = request_review(spec, kind, ledger, AirflowAPI.from_connection(), datetime.now(UTC))
        if asked:
            log.info(
                "connection %s: %ss to review in %s %s", spec.name, kind.what, reviews.DAG_ID, asked
            )
    except Exception as exc:  # noqa: BLE001 - nothing is lost; the next run asks again
        log.warning(
            "connection %s: %ss not put up for review (%s: %s); the next run tries again. "
            "Check the Airflow Connection dropstream_airflow_api and that the DAG %s exists",
            spec.name,
            kind.what,
            type(exc).__name__,
            exc,
            reviews.DAG_ID,
        )
    finally:
        ledger.close()


def review_params() -> dict[str, Any]:
    """The review run's conf (set by :func:`request_review`, not typed by a person)."""
    from airflow.sdk import Param

    def text(title: str) -> Any:
        return Param(None, type=["null", "string"], title=title)

    return {
        "connection": text("Connection"),
        "kind": Param("held_orders", type="string", enum=list(KINDS), title="What is reviewed"),
        "review_id": text("Review id (ds_reviews.review_id)"),
        "timeout_minutes": Param(
            None,
            type=["null", "number"],
            title="Answer within (minutes)",
            description="Default: the connection's alerts.held_hours.",
        ),
    }


def _conf(context: dict[str, Any]) -> tuple[ConnectionSpec, ReviewKind, str]:
    from dropstream.registry import load_registry

    params = context["params"]
    name, kind_name, review_id = params["connection"], params["kind"], params["review_id"]
    if not (name and review_id) or kind_name not in KINDS:
        raise ConfigurationError(
            f"{reviews.DAG_ID}: a run needs connection, kind ({', '.join(KINDS)}) and review_id; "
            "orders and inventory runs trigger it, a person does not"
        )
    spec = load_registry(only=name).specs.get(name)
    if spec is None:
        raise ConfigurationError(f"{reviews.DAG_ID}: no valid connection {name!r} in the registry")
    return spec, KINDS[kind_name], review_id


def _waiting(kind: ReviewKind, spec: ConnectionSpec, ledger: Ledger, now: datetime) -> dict:
    """Subject -> since when, of the items of ``kind`` still waiting for a person now."""
    if kind is SUSPECT_SNAPSHOT:
        return {s["source_file"]: s["kept_at"] for s in ledger.suspect_snapshots(spec.name)}
    return {r["order_id"]: r["since"] for r in ledger.held_before(spec.name, now + _ANY_TIME)}


def prepare_review(**context: Any) -> list[str]:
    """What is still to ask (orders released or cancelled, snapshots decided or superseded
    meanwhile are dropped): the question for the ask task, in XCom ``question``; returns that
    task's id (none: skip all)."""
    from dropstream.ledger import Ledger

    spec, kind, review_id = _conf(context)
    now = datetime.now(UTC)
    ledger = Ledger()
    try:
        asked = ledger.review_items(review_id, state="asked")
        waiting = _waiting(kind, spec, ledger, now)
        moot = [r["subject"] for r in asked if r["subject"] not in waiting]
        ledger.close_review_items(
            spec.name, kind.name, moot, "moot", now, answer="", actor=None, run=context["run_id"]
        )
        items = [
            Item(r["subject"], r["label"], r["detail"], waiting[r["subject"]])
            for r in asked
            if r["subject"] in waiting
        ]
    finally:
        ledger.close()
    if not items:
        log.info("review %s: nothing left to ask (no %s waits any more)", review_id, kind.what)
        return []
    minutes = context["params"].get("timeout_minutes") or spec.alerts.held_hours * 60
    timeout = timedelta(minutes=float(minutes))
    context["ti"].xcom_push(
        key="question",
        value={
            "subject": reviews.subject_line(kind, spec.name, spec.merchant, len(items)),
            "body": reviews.body(
                kind,
                spec.name,
                items,
                timeout,
                view_url=f"/dropstream/connections/{spec.name}/{PAGES[kind.name]}",
            ),
            "labels": [i.label for i in items],
            "timeout_seconds": timeout.total_seconds(),
        },
    )
    return [kind.task_id]


class ReviewOperator(HITLOperator):
    """A Required Action for one review: the options of its kind, the items it is about (the
    ``apply_to`` field, all chosen at first) and an optional *why* for the timeline. The
    question itself (subject, body, items, timeout) is the ``prepare`` task's, made at run time.
    """

    def __init__(self, *, kind: ReviewKind, **kwargs: Any) -> None:
        self.kind = kind
        kwargs.pop("params", None)  # the DAG's (the run's conf): not fields of this form
        # One retry, for an answer Airflow lost: see ``answer_of_the_last_try``.
        # (The DAG's default_args come in as kwargs: retries=0 there must not win.)
        kwargs["retries"] = max(1, kwargs.get("retries") or 0)
        kwargs["retry_delay"] = RETRY_DELAY
        super().__init__(
            task_id=kind.task_id,
            subject=f"Review {kind.what}s",
            options=list(kind.options),
            defaults=[kind.default],
            params=_form(kind, []),
            **kwargs,
        )

    def execute(self, context: Any) -> Any:
        if context["ti"].try_number > 1 and (event := self.answer_of_the_last_try(context)):
            return self.execute_complete(context, event)
        question = context["ti"].xcom_pull(task_ids="prepare", key="question")
        self.subject, self.body = question["subject"], question["body"]
        self.params = _form(self.kind, list(question["labels"]))
        self.response_timeout = timedelta(seconds=float(question["timeout_seconds"]))
        return super().execute(context)

    def answer_of_the_last_try(self, context: Any) -> dict[str, Any] | None:
        """The answer a person gave an earlier try, when Airflow failed that try after it came.

        Airflow 3.3.2's scheduler can fail a Human-in-the-loop task answered within about a
        second of it starting to wait: the answer re-queues the task before the scheduler reads
        the executor's report that the waiting process ended, and that report then looks like a
        task "killed externally" ("finished with state success, but the task instance's state
        attribute is queued"). The answer is kept with the Required Action of that try: this
        retry reads it back through the REST API (the Task SDK cannot read another try's) and
        finishes with it, as given and by whoever gave it, instead of asking again. No answer
        found, or no API: the question is asked again."""
        ti = context["ti"]
        try:
            answer = self._kept_before(ti)
        except Exception as exc:  # noqa: BLE001 - asking again loses nothing but a click
            log.warning(
                "%s: earlier tries' answers could not be read (%s: %s): asking again",
                ti.task_id,
                type(exc).__name__,
                exc,
            )
            return None
        if not answer:
            log.info("%s: no answer kept from an earlier try: asking again", ti.task_id)
            return None
        who = answer.get("responded_by_user") or None
        log.warning(
            "%s: an earlier try was answered %s by %s at %s, and Airflow failed it after that: "
            "applying that answer",
            ti.task_id,
            answer["chosen_options"],
            (who or {}).get("name", "the timeout"),
            answer.get("responded_at"),
        )
        return {
            "chosen_options": list(answer["chosen_options"]),
            "params_input": answer.get("params_input") or {},
            "responded_at": datetime.fromisoformat(answer["responded_at"]),
            "responded_by_user": who and {"id": who["id"], "name": who["name"]},
        }

    @staticmethod
    def _kept_before(ti: Any) -> dict[str, Any] | None:
        """The newest answered Required Action among this task's tries (a failed try can be
        recorded under the next try's number, so the current one is looked at too)."""
        from dropstream.setup.api import AirflowAPI

        api = AirflowAPI.from_connection()
        map_index = getattr(ti, "map_index", -1)
        for number in range(ti.try_number, 0, -1):
            detail = api.hitl_detail(ti.dag_id, ti.run_id, ti.task_id, number, map_index)
            if detail and detail.get("response_received") and detail.get("chosen_options"):
                return detail
        return None

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        # The form's fields only (the answer is checked against them, not the run's conf).
        self.params = _form(self.kind, [])
        return super().execute_complete(context, event)


def _form(kind: ReviewKind, labels: list[str]) -> Any:
    """The Required Action's fields: the items the answer applies to (all at first), and why."""
    from airflow.sdk import Param
    from airflow.sdk.definitions.param import ParamsDict

    items: dict[str, Any] = {"type": "string"}
    choice: dict[str, Any] = {}
    if labels:
        items["enum"] = labels
        choice["examples"] = labels
    return ParamsDict(
        {
            "apply_to": Param(
                labels,
                type="array",
                items=items,
                title=kind.items_title,
                description="The answer applies to these; the others are asked about again.",
                **choice,
            ),
            "why": Param(None, type=["null", "string"], title="Why (for the timeline)"),
        }
    )


def apply_answer(**context: Any) -> str:
    """The answer as actions; returns (and logs) what happened to each item."""
    from dropstream.review_answers import apply_review

    spec, kind, review_id = _conf(context)
    answer = context["ti"].xcom_pull(task_ids=kind.task_id) or {}
    return apply_review(
        spec, kind, review_id, answer, run=str(context["run_id"]), ask_again=ask_for_review
    )


def apply_held_orders(
    spec: ConnectionSpec, review_id: str, answer: dict[str, Any], *, run: str
) -> str:
    """Release / cancel / keep holding the chosen orders of a review (see ``apply_review``)."""
    from dropstream.review_answers import apply_review

    return apply_review(spec, HELD_ORDERS, review_id, answer, run=run, ask_again=ask_for_review)


def apply_snapshots(
    spec: ConnectionSpec, review_id: str, answer: dict[str, Any], *, run: str
) -> str:
    """Approve / reject / keep waiting the chosen suspect snapshots (see ``apply_review``)."""
    from dropstream.review_answers import apply_review

    return apply_review(
        spec, SUSPECT_SNAPSHOT, review_id, answer, run=run, ask_again=ask_for_review
    )

"""The Airflow edge of reviews (``dropstream.reviews``): asking for one, and applying its answer.

- :func:`request_held_review`, called after an orders run's load: records the held orders
  nobody was asked about yet and triggers a ``dropstream_review`` run for them (REST API).
- The ``dropstream_review`` DAG: ``prepare`` (what is still to be asked; picks the kind's ask
  task) → ``ask_<kind>`` (:class:`ReviewOperator`, a ``HITLOperator``: Required Actions) →
  ``apply_answer`` (the answer through :func:`dropstream.action_tasks.run_action`, the code path
  of ``dropstream_actions``, as the person who answered).
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.standard.operators.hitl import HITLOperator

from dropstream import reviews
from dropstream.errors import ConfigurationError
from dropstream.reviews import HELD_ORDERS, KINDS, ReviewKind

if TYPE_CHECKING:
    from dropstream.ledger import Ledger
    from dropstream.setup.api import AirflowAPI
    from dropstream.spec import ConnectionSpec

log = logging.getLogger("dropstream.reviews")
#: Everything held right now: ``held_before`` takes orders held before a time.
_ANY_TIME = timedelta(seconds=1)
#: An item still asked this long after its review's timeout lost its run: asked again.
STALE_AFTER = timedelta(hours=1)
_PAST = {reviews.RELEASE: "released", reviews.CANCEL: "cancelled"}
#: Where an order may be when an answer comes that already says what the answer asked (moved on
#: meanwhile, by another person or the store): nothing to do and nothing to object to.
_ALREADY = {
    reviews.RELEASE: ("ready", "in_file", "published", "shipped"),
    reviews.CANCEL: ("cancelled", "cancelling", "cancel_sent"),
}


def request_held_review(
    spec: ConnectionSpec,
    ledger: Ledger,
    api: AirflowAPI,
    now: datetime,
    *,
    run: str = "",
    timeout_minutes: float | None = None,
) -> str | None:
    """Ask about the connection's held orders not asked about yet, in one new review run;
    return its run id (None when there was nothing new to ask, or the connection's review is
    still open: one Required Action per connection at a time, so a flood of held orders makes
    one question, and the orders held meanwhile are asked when it closes). Trouble reaching the
    API forgets the review, so the next orders run asks again, and raises."""
    limit = timedelta(minutes=timeout_minutes or spec.alerts.held_hours * 60)
    ledger.forget_stale_reviews(spec.name, HELD_ORDERS.name, now - limit - STALE_AFTER)
    if ledger.open_reviews(spec.name, HELD_ORDERS.name):
        return None
    held = ledger.held_before(spec.name, now + _ANY_TIME)
    items = reviews.held_order_items(r for r in held if _for_a_person(spec, ledger, r, now))
    review_id = uuid.uuid4().hex
    new = ledger.ask_review(
        spec.name,
        HELD_ORDERS.name,
        review_id,
        ((i.subject, i.label, i.detail) for i in items),
        now,
    )
    if not new:
        return None
    conf: dict[str, Any] = {
        "connection": spec.name,
        "kind": HELD_ORDERS.name,
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
                "note": f"{len(new)} held order(s) of {spec.name} to review",
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


def ask_after_orders_run(spec: ConnectionSpec, run: str) -> None:
    """After an orders run's load: raise a Required Action for newly held orders; never fail
    the run over it (the daily digest still lists every held order)."""
    from dropstream.ledger import Ledger
    from dropstream.setup.api import AirflowAPI

    ledger = Ledger()
    try:
        asked = request_held_review(
            spec, ledger, AirflowAPI.from_connection(), datetime.now(UTC), run=run
        )
        if asked:
            log.info(
                "connection %s: held orders to review in %s %s", spec.name, reviews.DAG_ID, asked
            )
    except Exception as exc:  # noqa: BLE001 - the orders are held safely; the next run asks again
        log.warning(
            "connection %s: held orders not put up for review (%s: %s); the next orders run "
            "tries again. Check the Airflow Connection dropstream_airflow_api and that the DAG "
            "%s exists",
            spec.name,
            type(exc).__name__,
            exc,
            reviews.DAG_ID,
        )
    finally:
        ledger.close()


def review_params() -> dict[str, Any]:
    """The review run's conf (set by :func:`request_held_review`, not typed by a person)."""
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
            "orders runs trigger it, a person does not"
        )
    spec = load_registry(only=name).specs.get(name)
    if spec is None:
        raise ConfigurationError(f"{reviews.DAG_ID}: no valid connection {name!r} in the registry")
    return spec, KINDS[kind_name], review_id


def prepare_review(**context: Any) -> list[str]:
    """What is still to ask (orders released or cancelled meanwhile are dropped): the
    question for the ask task, in XCom ``question``; returns that task's id (none: skip all)."""
    from dropstream.ledger import Ledger

    spec, kind, review_id = _conf(context)
    now = datetime.now(UTC)
    ledger = Ledger()
    try:
        asked = ledger.review_items(review_id, state="asked")
        held = {r["order_id"]: r for r in ledger.held_before(spec.name, now + _ANY_TIME)}
        moot = [r["subject"] for r in asked if r["subject"] not in held]
        ledger.close_review_items(
            spec.name, kind.name, moot, "moot", now, answer="", actor=None, run=context["run_id"]
        )
        items = [
            reviews.Item(r["subject"], r["label"], r["detail"], held[r["subject"]]["since"])
            for r in asked
            if r["subject"] in held
        ]
    finally:
        ledger.close()
    if not items:
        log.info("review %s: nothing left to ask (no longer held)", review_id)
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
                view_url=f"/dropstream/connections/{spec.name}/orders?state=held",
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
        super().__init__(
            task_id=kind.task_id,
            subject=f"Review {kind.what}s",
            options=list(kind.options),
            defaults=[kind.default],
            params=_form([]),
            **kwargs,
        )

    def execute(self, context: Any) -> Any:
        question = context["ti"].xcom_pull(task_ids="prepare", key="question")
        self.subject, self.body = question["subject"], question["body"]
        self.params = _form(list(question["labels"]))
        self.response_timeout = timedelta(seconds=float(question["timeout_seconds"]))
        return super().execute(context)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        # The form's fields only (the answer is checked against them, not the run's conf).
        self.params = _form([])
        return super().execute_complete(context, event)


def _form(labels: list[str]) -> Any:
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
                title="Orders",
                description="The answer applies to these; the others are asked about again.",
                **choice,
            ),
            "why": Param(None, type=["null", "string"], title="Why (for the timeline)"),
        }
    )


def apply_answer(**context: Any) -> str:
    """The answer as actions; returns (and logs) what happened to each item."""
    spec, kind, review_id = _conf(context)
    answer = context["ti"].xcom_pull(task_ids=kind.task_id) or {}
    if kind is not HELD_ORDERS:  # another kind brings its own apply
        raise ConfigurationError(f"{reviews.DAG_ID}: no apply for review kind {kind.name!r}")
    return apply_held_orders(spec, review_id, answer, run=str(context["run_id"]))


def apply_held_orders(
    spec: ConnectionSpec,
    review_id: str,
    answer: dict[str, Any],
    *,
    run: str,
) -> str:
    """Release / cancel / keep holding the chosen orders of a review, as the person who
    answered; a timed-out review keeps them all held. Orders left out are asked again."""
    from dropstream.action_tasks import run_action
    from dropstream.actions import ActionRequest
    from dropstream.ledger import Ledger

    kind = HELD_ORDERS
    option, labels, why, who = reviews.chosen(answer, kind)
    now = datetime.now(UTC)
    ledger = Ledger()
    done: list[str] = []
    refused: list[str] = []
    moved_on: list[str] = []
    try:
        asked = ledger.review_items(review_id, state="asked")
        if who is None:  # nobody answered in time: the default, which changes nothing
            moved = ledger.close_review_items(
                spec.name,
                kind.name,
                [r["subject"] for r in asked],
                "timed_out",
                now,
                answer=option,
                actor=None,
                run=run,
                event="review_timed_out",
                detail="still held; listed in the daily held-orders digest",
            )
            done.append(f"review timed out: {len(moved)} order(s) of {spec.name} stay held")
        chosen_rows = [r for r in asked if r["label"] in labels] if who else []
        left_out = [r["subject"] for r in asked if r["label"] not in labels] if who else []
        reason = why or f"answered {option} in Required Actions ({run})"
        for row in chosen_rows:
            action = reviews.ACTIONS.get(option)
            if action is None:
                ledger.close_review_items(
                    spec.name,
                    kind.name,
                    [row["subject"]],
                    "answered",
                    now,
                    answer=option,
                    actor=who,
                    run=run,
                    event="kept_held",
                    detail=reason,
                )
                done.append(f"{row['label']} kept held")
                continue
            state = (ledger.order_row(spec.name, row["subject"]) or {}).get("state")
            if state != "held":
                # Released, sent or cancelled since the question was asked: the answer was about
                # a held order, so it is not applied (a Cancel never sends a cancel file for an
                # order a colleague released and the warehouse now has).
                ledger.close_review_items(
                    spec.name,
                    kind.name,
                    [row["subject"]],
                    "moot",
                    now,
                    answer=f"{option} (not applied: {state})",
                    actor=who,
                    run=run,
                )
                note = f"{row['label']} is {state} now, no longer held: {option} not applied"
                if state in _ALREADY.get(option, ()):
                    done.append(note)
                else:
                    moved_on.append(note)
                continue
            request = ActionRequest.model_validate(
                {
                    "action": action,
                    "connection": spec.name,
                    "target": row["subject"],
                    "reason": reason,
                }
            )
            try:
                outcome = run_action(request, actor=who or "", run=run, now=now)
            except ConfigurationError as exc:
                refused.append(f"{row['label']}: {exc}")
                answered = f"{option} (refused)"
            else:
                done.append(outcome.message)
                answered = option
            ledger.close_review_items(
                spec.name,
                kind.name,
                [row["subject"]],
                "answered",
                now,
                answer=answered,
                actor=who,
                run=run,
            )
        if left_out:
            ledger.forget_review(review_id)  # only the left-out rows are still "asked"
    finally:
        ledger.close()
    # This review is closed: orders left out, or held since it was asked, get the next one.
    ask_after_orders_run(spec, run)
    if left_out:
        done.append(f"{len(left_out)} order(s) left out: asked again in a new Required Action")
    if who is None:
        summary = "; ".join(done)
        log.info("connection %s, review %s: %s", spec.name, review_id, summary)
        return summary
    summary = f"{option} by {who}: " + "; ".join(done)
    log.info("connection %s, review %s: %s", spec.name, review_id, summary)
    problems = []
    if refused:
        problems.append(
            f"{len(refused)} order(s) could not be {_PAST.get(option, option)} and stay held: "
            + " | ".join(refused)
        )
    if moved_on:
        problems.append(
            " | ".join(moved_on)
            + f". If such an order must still be {_PAST.get(option, option)}, use that action on "
            "its order page (DropStream → Orders), which does what fits its state now"
        )
    if problems:
        raise ConfigurationError(
            f"connection {spec.name!r}: "
            + "; ".join(problems)
            + (f". Done: {summary}" if done else "")
        )
    return summary

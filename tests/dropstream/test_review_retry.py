"""An answer Airflow lost is applied, not asked again: the ask task's retry reads it back.

Airflow 3.3.2's scheduler can fail a Human-in-the-loop task answered within about a second of
parking ("finished with state success, but the task instance's state attribute is queued"). The
answer stays in the Required Action of that try; ``ReviewOperator``'s retry (try 2) reads it
through the REST API and finishes with it, as the person gave it. The real-scheduler review
test answers at once, so it meets this race (tests/dags/test_review_real_scheduler.py); here
each branch, with the REST API's record of the tries stubbed, and its path against the real
api-server.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from dropstream import review_tasks, reviews
from dropstream.errors import TransientError
from dropstream.review_tasks import ReviewOperator
from dropstream.reviews import HELD_ORDERS

RUN = "review__acme__20261130T170009__2927ef6c"
AT = datetime(2026, 11, 30, 17, 0, 11, 941153, tzinfo=UTC)
ANSWERED = {
    "options": ["Release", "Cancel", "Keep holding"],
    "response_received": True,
    "chosen_options": ["Release"],
    "params_input": {"apply_to": ["#7101"], "why": "address checked"},
    "responded_at": "2026-11-30T17:00:11.941153Z",
    "responded_by_user": {"id": "3", "name": "alice"},
}
UNANSWERED = {**ANSWERED, "response_received": False, "chosen_options": None, "params_input": {}}
QUESTION = {"subject": "s", "body": "b", "labels": ["#7101"], "timeout_seconds": 60}


class API:
    """The REST API's record of the task's tries (try number -> Required Action)."""

    def __init__(self, tries: dict[int, dict[str, Any]], error: Exception | None = None):
        self.tries, self.error, self.asked = tries, error, []

    def hitl_detail(self, dag_id, run_id, task_id, try_number, map_index):
        self.asked.append((dag_id, run_id, task_id, try_number, map_index))
        if self.error:
            raise self.error
        return self.tries.get(try_number)


@pytest.fixture
def operator() -> ReviewOperator:
    return ReviewOperator(kind=HELD_ORDERS)


def context(try_number: int) -> dict[str, Any]:
    ti = SimpleNamespace(
        try_number=try_number,
        dag_id=reviews.DAG_ID,
        run_id=RUN,
        task_id=HELD_ORDERS.task_id,
        map_index=-1,
        xcom_pull=lambda **_: QUESTION,
    )
    return {"ti": ti, "task_instance": ti}


def rest(monkeypatch: pytest.MonkeyPatch, api: API) -> API:
    from dropstream.setup.api import AirflowAPI

    monkeypatch.setattr(AirflowAPI, "from_connection", classmethod(lambda cls: api))
    return api


def asking(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """HITLOperator.execute (a new Required Action), recorded instead of sent."""
    asked: list[Any] = []
    monkeypatch.setattr(review_tasks.HITLOperator, "execute", lambda self, ctx: asked.append(ctx))
    return asked


def tries_read(api: API) -> list[int]:
    return [number for (_d, _r, _t, number, _m) in api.asked]


def test_the_ask_task_may_retry_once_whatever_the_dag_s_default(operator):
    assert operator.retries == 1
    assert ReviewOperator(kind=HELD_ORDERS, retries=0).retries == 1
    assert operator.retry_delay == review_tasks.RETRY_DELAY


@pytest.mark.parametrize("recorded_as", [1, 2], ids=["as-try-1", "as-the-next-try"])
def test_the_retry_finishes_with_the_answer_the_lost_try_got(operator, monkeypatch, recorded_as):
    api = rest(monkeypatch, API({recorded_as: ANSWERED}))
    asked_again = asking(monkeypatch)
    result = operator.execute(context(2))
    assert api.asked[0] == (reviews.DAG_ID, RUN, HELD_ORDERS.task_id, 2, -1)
    assert asked_again == []  # no second Required Action
    assert result["chosen_options"] == ["Release"]
    assert result["params_input"] == {"apply_to": ["#7101"], "why": "address checked"}
    assert result["responded_at"] == AT
    # applied as the person gave it, by them
    assert reviews.chosen(result, HELD_ORDERS) == ("Release", {"#7101"}, "address checked", "alice")


@pytest.mark.parametrize(
    "api",
    [
        API({}),  # no try asked anything
        API({1: UNANSWERED}),
        API({}, error=TransientError("Airflow API GET … unreachable")),
    ],
    ids=["no-question", "not-answered", "api-down"],
)
def test_without_an_answer_to_read_back_the_retry_asks_again(operator, monkeypatch, api):
    rest(monkeypatch, api)
    asked_again = asking(monkeypatch)
    monkeypatch.setattr(
        review_tasks.HITLOperator,
        "execute_complete",
        lambda self, ctx, event: pytest.fail(f"applied {event} though nobody answered"),
    )
    ctx = context(2)
    operator.execute(ctx)
    assert asked_again == [ctx]
    assert tries_read(api) == ([2] if api.error else [2, 1])


def test_the_first_try_asks_without_reading_anything_back(operator, monkeypatch):
    api = rest(monkeypatch, API({1: ANSWERED}))
    asked = asking(monkeypatch)
    ctx = context(1)
    operator.execute(ctx)
    assert asked == [ctx] and api.asked == []


def test_the_tries_record_path_is_one_the_real_api_server_answers(airflow_api_server):
    """A try with no Required Action is "nothing to read back" (404), not a refused request."""
    from dropstream.setup.api import AirflowAPI

    server = airflow_api_server
    api = AirflowAPI(server.url, server.username, server.password)
    assert api.hitl_detail(reviews.DAG_ID, "no-such-run", HELD_ORDERS.task_id, 1) is None

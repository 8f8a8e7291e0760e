"""The outcome of a setup run as its note: what was registered, what was tested, what to fix.

Written in the form's words (field titles, not internal ids), as Markdown the run page shows.
Pure: no Airflow, no I/O. Airflow keeps at most 1,000 characters of a note, so the longest part
(the list of problems) is shortened first and the run's ``report`` log keeps the whole text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dropstream.setup.form import field_label
from dropstream.setup.validate import Plan
from dropstream.spec import FLOWS, dag_id

NOTE_LIMIT = 1000
_SIDES = {"test_warehouse": "Warehouse check", "test_store": "Store check"}
_STEP_NAMES = {
    "validate": "Form",
    **_SIDES,
    "register_connections": "Saving the Airflow Connections",
    "update_registry": "Saving the connection",
}


@dataclass
class Outcome:
    plan: Plan | None
    received: bool
    name: str = ""  # the connection name typed in the form (the plan has it once valid)
    action: str = ""  # the action chosen in the form
    failures: dict[str, dict[str, Any]] = field(default_factory=dict)
    proven: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.received and self.plan is not None and not self.failures

    def problems(self) -> list[str]:
        """Every problem, one line each, in form words."""
        lines = []
        for step, failure in self.failures.items():
            what = _STEP_NAMES.get(step, step)
            for problem in failure.get("problems") or ():
                lines.append(problem)
            if failure.get("reason"):
                fields = failure.get("fields") or ()
                named = f" — look at {', '.join(field_label(f) for f in fields)}" if fields else ""
                lines.append(f"{what}: {failure['reason']}{named}")
        return lines

    def first_problem(self) -> str:
        problems = self.problems()
        return problems[0] if problems else "the form could not be received (see receive_form)"


def summary(outcome: Outcome) -> str:
    """The run's note."""
    plan = outcome.plan
    if not outcome.received:
        return _fit(
            "**Setup failed before it started**: the form could not be received (see the "
            "`receive_form` log; usually the Airflow Connection `dropstream_airflow_api` is "
            "missing or its login is refused). Nothing was registered."
        )
    typed = plan.name if plan and plan.name else outcome.name
    name = f" `{typed}`" if typed else ""
    checks = _checks(outcome)
    if not outcome.ok:
        # The run page shows a note's first line: it carries the outcome and the first problem.
        testing = (plan.action if plan else outcome.action) == "test"
        problems = outcome.problems()
        more = f" (and {len(problems) - 1} more below)" if len(problems) > 1 else ""
        head = (
            f"**Test of connection{name} found {len(problems)} problem(s)**: "
            if testing
            else f"**Setup of connection{name} failed, nothing was registered**: "
        ) + f"{outcome.first_problem()}{more}"
        advice = ["Fix the fields named and trigger the form again."]
        listed = [f"- {p}" for p in problems] if len(problems) > 1 else []
        return _fit(head, listed, checks, advice)
    assert plan is not None
    ids = [dag_id(plan.name, flow) for flow in FLOWS]
    links = ", ".join(f"[{i}](/dags/{i})" for i in ids)
    if plan.action == "test":
        return _fit(
            f"**Connection{name} tested OK**: every check passed; nothing was registered.",
            checks,
            ["Trigger the form again with *Add a new connection* (or *Update*) to save it."],
        )
    if plan.action == "remove":
        return _fit(
            f"**Connection{name} removed**: its registry entry and its Airflow Connections "
            f"`{plan.store_conn_id}`, `{plan.warehouse_conn_id}` are deleted. Its DAGs "
            f"({', '.join(ids)}) disappear at the next parse; their run history stays."
        )
    merchant = plan.spec["merchant"] if plan.spec else "?"
    verb = "added" if plan.action == "add" else "updated"
    return _fit(
        f"**Connection{name} {verb}** for merchant `{merchant}`: warehouse and store checked; "
        "its three DAGs appear within about 30 seconds, paused.",
        checks,
        [
            f"Its DAGs {links} appear within about 30 seconds, **paused**: switch them on with "
            f"their toggles (DAGs list, filter by tag `connection:{plan.name}`) to start the "
            "syncs; catch up missed windows with Trigger → Backfill."
        ],
    )


def _checks(outcome: Outcome) -> list[str]:
    lines = []
    for side, title in (("warehouse", "Warehouse"), ("store", "Store")):
        proven = outcome.proven.get(side) or []
        if proven:
            lines.append(f"- {title}: ✔ " + "; ".join(proven))
        elif f"test_{side}" not in outcome.failures and outcome.plan and outcome.failures:
            lines.append(f"- {title}: not checked (see above)")
    return lines


def _fit(head: str, *parts: list[str]) -> str:
    """Join the note; drop lines from the end of the longest list until it fits the limit."""
    blocks = [list(p) for p in parts]
    dropped = [0] * len(blocks)

    def render() -> str:
        shown = []
        for block, gone in zip(blocks, dropped, strict=True):
            lines = block + ([f"- … and {gone} more in the report task's log"] if gone else [])
            if lines:
                shown.append("\n".join(lines))
        return "\n\n".join([head, *shown])

    text = render()
    while len(text) > NOTE_LIMIT:
        longest = max(range(len(blocks)), key=lambda i: sum(map(len, blocks[i])), default=None)
        if longest is None or not blocks[longest]:
            return text[: NOTE_LIMIT - 1] + "…"
        blocks[longest].pop()
        dropped[longest] += 1
        text = render()
    return text

"""What each alert says: pure functions from facts to incidents, and incidents to messages.

Every text names the connection, the flow or order or file, the cause, and what to do next.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

#: More new incidents than this for one connection at once are sent as one digest.
DIGEST_AFTER = 3

#: Incident kinds and how a subject line names them.
KINDS: dict[str, str] = {
    "failed": "a task failed after its retries",
    "overdue": "no successful orders run",
    "held": "order held too long",
    "held_daily": "orders still held (daily digest)",
    "unknown_shipment": "shipment for an unknown order",
    "error_file": "warehouse file moved to error",
    "suspect_snapshot": "inventory snapshot held back (suspect)",
    "suspect_daily": "suspect inventory snapshots still waiting (daily digest)",
}


@dataclass(frozen=True, slots=True)
class Incident:
    """One piece of trouble: ``key`` is what makes it the same incident next time."""

    key: str
    kind: str
    text: str

    def row(self) -> tuple[str, str, str]:
        return self.key, self.kind, self.text


@dataclass(frozen=True, slots=True)
class Message:
    subject: str
    text: str

    @property
    def html(self) -> str:
        """The text as HTML paragraphs, links clickable (SmtpNotifier sends HTML)."""
        paragraphs = []
        for part in self.text.split("\n\n"):
            escaped = html.escape(part).replace("\n", "<br>\n")
            paragraphs.append(
                "<p>" + re.sub(r"(https?://[^\s<]+)", r'<a href="\1">\1</a>', escaped) + "</p>"
            )
        return "\n".join(paragraphs)


def first_line(error: BaseException | str | None) -> str:
    """The first non-empty line of an error, with its type for an exception."""
    if error is None:
        return "(no error was recorded)"
    text = str(error).strip()
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    if isinstance(error, BaseException):
        return f"{type(error).__name__}: {line}" if line else type(error).__name__
    return line or "(no message)"


def failed_flow(
    connection: str,
    flow: str,
    step: str,
    error: str,
    *,
    dag_id: str,
    run_id: str,
    tries: int,
    log_url: str,
) -> Incident:
    """A step of ``flow`` failed after its last retry: one incident until the flow succeeds."""
    return Incident(
        f"failed:{flow}",
        "failed",
        f"Connection '{connection}', {flow} flow: the step '{step}' failed after {tries} "
        f"attempt(s) in run {run_id} of {dag_id}.\n"
        f"Error: {error}\nLog: {log_url}\n\n"
        "What to do: read the log; fix the cause it names (the store's or the warehouse's "
        f"Airflow Connection dropstream_{connection}_store / dropstream_{connection}_warehouse, "
        "the server, the connection's rules); then clear the failed task in the grid, or let the "
        "next run catch up. Further failures of this flow are not mailed again until one of its "
        "runs succeeds.",
    )


def overdue_orders(
    connection: str,
    *,
    dag_id: str,
    run_id: str,
    logical_date: str,
    deadline: str,
    interval: timedelta,
) -> Incident:
    """The orders DAG had no successful run for twice its interval."""
    minutes = int(interval.total_seconds() // 60)
    return Incident(
        "overdue:orders",
        "overdue",
        f"Connection '{connection}': no successful orders run for {2 * minutes} minutes (twice "
        f"the {minutes}-minute interval). The run {run_id} of {dag_id} (logical date "
        f"{logical_date}) had not succeeded by {deadline}. New orders are not reaching the "
        "warehouse.\n\n"
        f"What to do: open {dag_id} in Airflow: a failed run (its log says why), a run stuck in "
        "queued or running (is the scheduler up, are workers free?), or a task waiting on a "
        "lease. Once a run succeeds, the backlog goes out in the next run.",
    )


def _hours(value: float) -> str:
    return f"{value:g} hour" + ("" if value == 1 else "s")


def held_orders(
    connection: str, rows: Iterable[dict[str, Any]], held_hours: float, now: datetime
) -> list[Incident]:
    """One incident per order held longer than ``held_hours``."""
    found = []
    for row in rows:
        waited = (now - row["since"]).total_seconds() / 3600
        found.append(
            Incident(
                f"held:{row['order_id']}",
                "held",
                f"Connection '{connection}': order #{row['number']} has been held for "
                f"{waited:.1f} hours (more than {_hours(held_hours)}), since "
                f"{row['since']:%Y-%m-%d %H:%M} UTC. Reason: {row['reason']}.\n\n"
                "What to do: fix what the reason names (e.g. add the ship method to the "
                "connection's ship-method map with dropstream_setup → Update) and the next orders "
                "run sends it; or cancel the order in the store.",
            )
        )
    return found


def held_daily(
    connection: str, rows: Iterable[dict[str, Any]], held_hours: float, now: datetime
) -> list[Incident]:
    """Once a UTC day, every order still held that was already told about before the day began
    (held longer than ``held_hours`` by then): a review nobody answered, or "Keep holding"."""
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    told = [r for r in rows if r["since"] < day_start - timedelta(hours=held_hours)]
    if not told:
        return []
    lines = "\n".join(
        f"- order #{r['number']}, held since {r['since']:%Y-%m-%d %H:%M} UTC: {r['reason']}"
        for r in told
    )
    return [
        Incident(
            f"held_daily:{day_start:%Y-%m-%d}",
            "held_daily",
            f"Connection '{connection}': {len(told)} order(s) still held on {day_start:%Y-%m-%d} "
            f"(none of them reaches the warehouse):\n{lines}\n\n"
            "What to do: release or cancel them (DropStream → the connection's orders, or the "
            "dropstream_actions DAG), or fix what the reason names in the connection's rules "
            "(dropstream_setup → Update) and the next orders run sends them.",
        )
    ]


def unknown_shipments(
    connection: str, folder: str, rows: Iterable[dict[str, Any]]
) -> list[Incident]:
    """One incident per shipment confirmation for an order no connection sent."""
    return [
        Incident(
            f"unknown_shipment:{row['shipment_key']}",
            "unknown_shipment",
            f"Connection '{connection}': the warehouse confirmed shipment {row['shipment_key']} "
            f"in {row['source_file']} (folder {folder}) for order {row['order_number']}, which "
            f"{row['reason'] or 'no connection sent'}. It is kept and matched again on every "
            "tracking run.\n\n"
            "What to do: ask the warehouse which order it shipped; if it is one of this store's "
            "under another number, check the connection's order-number prefix.",
        )
        for row in rows
    ]


def error_files(
    connection: str, error_folder: str, rows: Iterable[dict[str, Any]]
) -> list[Incident]:
    """One incident per unreadable warehouse file moved to the error folder."""
    return [
        Incident(
            f"error_file:{row['flow']}:{row['file_name']}",
            "error_file",
            f"Connection '{connection}', {row['flow']} flow: the warehouse file "
            f"{row['file_name']} could not be read and was moved to {error_folder}: "
            f"{row['detail']}\n\n"
            "What to do: ask the warehouse for a corrected file (or fix this one and put it "
            "back in its folder): nothing in it was used.",
        )
        for row in rows
    ]


def suspect_snapshots(connection: str, rows: Iterable[dict[str, Any]]) -> list[Incident]:
    """One incident per inventory snapshot the zero-out guard kept back for a person."""
    return [
        Incident(
            f"suspect_snapshot:{row['source_file']}",
            "suspect_snapshot",
            f"Connection '{connection}', inventory flow: the warehouse file {row['source_file']} "
            f"was not pushed to the store: it {row['reason']} (rules.zero_out_guard_pct). It is "
            "kept in the ledger.\n\n"
            "What to do: check the file with the warehouse. If the stock really is gone, "
            "approve it (dropstream_actions, approve_snapshot) and the next inventory run pushes "
            "it; if not, reject it (reject_snapshot). A newer snapshot that is not suspect "
            "replaces it by itself.",
        )
        for row in rows
    ]


def suspect_daily(connection: str, rows: Iterable[dict[str, Any]], now: datetime) -> list[Incident]:
    """Once a UTC day, every suspect snapshot still waiting that was kept before the day began
    (told about when it was kept): a review nobody answered, or "Keep waiting"."""
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    told = [r for r in rows if r["kept_at"] < day_start]
    if not told:
        return []
    lines = "\n".join(
        f"- {r['source_file']}, kept since {r['kept_at']:%Y-%m-%d %H:%M} UTC: it {r['reason']}"
        for r in told
    )
    return [
        Incident(
            f"suspect_daily:{day_start:%Y-%m-%d}",
            "suspect_daily",
            f"Connection '{connection}', inventory flow: {len(told)} suspect snapshot(s) still "
            f"waiting on {day_start:%Y-%m-%d} (none of their figures reached the store):\n"
            f"{lines}\n\n"
            "What to do: check them with the warehouse, then approve or reject each "
            "(Browse → Required Actions, or the dropstream_actions DAG: approve_snapshot / "
            "reject_snapshot). A newer snapshot that is not suspect replaces them by itself.",
        )
    ]


def compose(connection: str, merchant: str, incidents: Sequence[Incident]) -> list[Message]:
    """One message per incident; a single digest when more than ``DIGEST_AFTER`` come at once."""
    if not incidents:
        return []
    tag = f"[DropStream] {connection}"
    footer = f"\n\n— DropStream, connection '{connection}' of merchant '{merchant}'"
    if len(incidents) <= DIGEST_AFTER:
        return [
            Message(f"{tag}: {KINDS.get(i.kind, i.kind)} ({_about(i)})", i.text + footer)
            for i in incidents
        ]
    counts: dict[str, int] = {}
    for incident in incidents:
        counts[incident.kind] = counts.get(incident.kind, 0) + 1
    summary = ", ".join(f"{n} × {KINDS.get(k, k)}" for k, n in counts.items())
    body = "\n\n".join(f"{n}. {i.text}" for n, i in enumerate(incidents, 1))
    return [Message(f"{tag}: {len(incidents)} alerts ({summary})", body + footer)]


def _about(incident: Incident) -> str:
    """What the subject names: the flow, order, shipment or file the incident is about."""
    kind, _, what = incident.key.partition(":")
    if kind == "held":
        number = re.search(r"order #(\S+)", incident.text)
        return f"order #{number.group(1)}" if number else what
    return what

"""A flow run's outcome in one line an operator reads in the grid (the DAG run's note).

Pure: built from the three steps' summaries (their XCom), e.g.
``12 orders published in ord_acme-1f2e3d4c_261126101500.csv · 2 held (no ship method for PIGEON)``.
"""

from __future__ import annotations

import re
from typing import Any

NOTE_LIMIT = 1000


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _reasons(reasons: dict[str, int]) -> str:
    """``no ship method for 'PIGEON'`` ×2, shortest first: what a person acts on."""
    shown = []
    for reason, count in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:3]:
        short = re.split(r"[:;(]", reason, maxsplit=1)[0].strip() or reason
        shown.append(short + (f" ×{count}" if count > 1 else ""))
    return "; ".join(shown)


def run_note(flow: str, counts: dict[str, Any]) -> str:
    """The note for one run of ``flow`` from the merged step summaries."""
    parts: list[str] = []
    if flow == "orders":
        files = [f for f in counts.get("files") or [] if isinstance(f, str)]
        published = int(counts.get("orders_published") or 0)
        if published or files:
            where = f" in {', '.join(files)}" if files else ""
            parts.append(f"{_plural(published, 'order')} published{where}")
        else:
            fetched = _plural(int(counts.get("fetched") or 0), "order")
            parts.append(f"no new order to send ({fetched} fetched)")
        reasons = counts.get("reasons") or {}
        held, skipped = int(counts.get("held") or 0), int(counts.get("skipped") or 0)
        if held:  # every order on hold now, not only those this run put there
            parts.append(f"{held} on hold ({_reasons(reasons)})" if reasons else f"{held} on hold")
        if skipped:
            parts.append(f"{skipped} skipped")
        waiting = int(counts.get("waiting") or 0)
        if waiting:
            parts.append(f"{waiting} waiting out rules.hold_minutes")
        if int(counts.get("cancelled_before_sending") or 0):
            n = int(counts["cancelled_before_sending"])
            parts.append(f"{_plural(n, 'order')} cancelled in the store before sending (not sent)")
        cancel_files = [f for f in counts.get("cancel_files") or [] if isinstance(f, str)]
        if cancel_files:
            n = int(counts.get("cancellations_sent") or 0)
            parts.append(f"{_plural(n, 'cancellation')} sent in {', '.join(cancel_files)}")
    elif flow == "inventory":
        pushed, rejected = int(counts.get("pushed") or 0), int(counts.get("rejected") or 0)
        files = counts.get("files") or []
        source = f" from {', '.join(files)}" if files else ""
        parts.append(f"{_plural(pushed, 'stock level')} pushed to the store{source}")
        if rejected:
            parts.append(f"{rejected} refused by the store (see the load log)")
        if not files and not pushed:
            parts[-1] = "no new inventory file; nothing to push"
        suspect = [f for f in counts.get("suspect_snapshots") or [] if isinstance(f, str)]
        if suspect:  # every snapshot still waiting, not only this run's
            parts.append(
                f"suspect snapshot {', '.join(suspect)} not pushed: check it, then approve or "
                "reject it in dropstream_actions"
            )
    else:
        pushed, rejected = int(counts.get("pushed") or 0), int(counts.get("rejected") or 0)
        parts.append(f"{_plural(pushed, 'shipment')} pushed to the store with tracking")
        if int(counts.get("unknown_order") or 0):
            parts.append(f"{counts['unknown_order']} for orders this connection did not send")
        if rejected:
            parts.append(f"{rejected} refused by the store (see the load log)")
    if int(counts.get("bad_records") or 0):
        parts.append(f"{counts['bad_records']} unreadable record(s) skipped (see the extract log)")
    archived = int(counts.get("archived") or 0)
    if archived:
        parts.append(f"{_plural(archived, 'file')} archived")
    return " · ".join(parts)[:NOTE_LIMIT]

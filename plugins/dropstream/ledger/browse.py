"""Read-only listings for the DropStream view: orders, order files, warehouse files, counts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, or_, select

from dropstream.ledger.base import LedgerBase, _aware
from dropstream.ledger.schema import files, orders, seen_files

Page = tuple[list[dict[str, Any]], int]

_ORDER_COLUMNS = (
    orders.c.order_id,
    orders.c.number,
    orders.c.warehouse_number,
    orders.c.state,
    orders.c.reason,
    orders.c.file_name,
    orders.c.received_at,
    orders.c.updated_at,
    orders.c.received_run,
    orders.c.cancel_requested_at,
    orders.c.cancel_reason,
    orders.c.cancel_file,
)

_FILE_COLUMNS = (
    files.c.file_name,
    files.c.folder,
    files.c.state,
    files.c.order_count,
    files.c.sha256,
    files.c.created_at,
    files.c.published_at,
    files.c.kind,
)


class BrowseBook(LedgerBase):
    """What a person looking at a connection wants to see, a page at a time."""

    def find_orders(
        self,
        connection: str,
        *,
        numbers: Sequence[str] = (),
        state: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page:
        """Orders newest first; ``numbers`` matches the store's or the warehouse's number."""
        query = select(*_ORDER_COLUMNS).where(orders.c.connection == connection)
        if numbers:
            wanted = sorted(set(numbers))
            query = query.where(
                or_(orders.c.number.in_(wanted), orders.c.warehouse_number.in_(wanted))
            )
        if state:
            query = query.where(orders.c.state == state)
        order_by = (orders.c.received_at.desc(), orders.c.order_id.desc())
        return self._page(query, order_by, limit, offset)

    def order_row(self, connection: str, order_id: str) -> dict[str, Any] | None:
        with self._tx() as conn:
            row = (
                conn.execute(
                    select(*_ORDER_COLUMNS).where(
                        orders.c.connection == connection, orders.c.order_id == order_id
                    )
                )
                .mappings()
                .first()
            )
        return _plain(row) if row else None

    def order_files(self, connection: str, *, limit: int = 50, offset: int = 0) -> Page:
        """Order files this connection recorded (newest first), without their content."""
        query = select(*_FILE_COLUMNS).where(files.c.connection == connection)
        return self._page(query, (files.c.created_at.desc(), files.c.file_name), limit, offset)

    def order_file(self, connection: str, file_name: str) -> dict[str, Any] | None:
        """One order (or cancel) file this connection recorded, without its content."""
        with self._tx() as conn:
            row = (
                conn.execute(
                    select(*_FILE_COLUMNS).where(
                        files.c.connection == connection, files.c.file_name == file_name
                    )
                )
                .mappings()
                .first()
            )
        return _plain(row) if row else None

    def warehouse_files(self, keys: Sequence[str], *, limit: int = 50, offset: int = 0) -> Page:
        """Files read from the warehouse under these ledger keys (the connection's own name and
        any shared folder's key), newest first: read, archived or moved to error."""
        query = select(
            seen_files.c.connection.label("kept_under"),
            seen_files.c.flow,
            seen_files.c.file_name,
            seen_files.c.state,
            seen_files.c.detail,
            seen_files.c.seen_at,
        ).where(seen_files.c.connection.in_(list(keys)))
        order_by = (seen_files.c.seen_at.desc(), seen_files.c.file_name)
        return self._page(query, order_by, limit, offset)

    def file_counts(self, connection: str, keys: Sequence[str]) -> dict[str, dict[str, int]]:
        """``{"order_files": {state: n}, "<flow>_files": {state: n}}``."""
        with self._tx() as conn:
            sent = conn.execute(
                select(files.c.state, func.count())
                .where(files.c.connection == connection)
                .group_by(files.c.state)
            ).all()
            read = conn.execute(
                select(seen_files.c.flow, seen_files.c.state, func.count())
                .where(seen_files.c.connection.in_(list(keys)))
                .group_by(seen_files.c.flow, seen_files.c.state)
            ).all()
        counts: dict[str, dict[str, int]] = {"order_files": dict(sent)}  # type: ignore[arg-type]
        for flow, state, count in read:
            counts.setdefault(f"{flow}_files", {})[state] = count
        return counts

    def _page(self, query: Select[Any], order_by: Sequence[Any], limit: int, offset: int) -> Page:
        with self._tx() as conn:
            total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
            rows = conn.execute(query.order_by(*order_by).limit(limit).offset(offset)).mappings()
            return [_plain(r) for r in rows], int(total)


def _plain(row: Any) -> dict[str, Any]:
    out = {}
    for key, value in dict(row).items():
        if hasattr(value, "isoformat"):
            value = _aware(value).isoformat()  # type: ignore[union-attr]
        out[key] = value
    return out

"""What every step of a flow gets: one run's context, opening the step's collaborators on use.

A step takes what it needs from the context (``adapter``, ``transport``, ``file_format``,
``window``, ``shared_folder(kind)``) and nothing else is opened: an orders transform touches
neither the store nor the warehouse, an inventory transform not even the registry. What was
opened is closed when the context closes (``with`` or ``close()``), newest first, also when the
step failed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from dropstream.errors import ConfigurationError
from dropstream.ledger import Ledger
from dropstream.spec import ConnectionSpec

if TYPE_CHECKING:
    from dropstream.formats.base import FileFormat
    from dropstream.sharing import Kind
    from dropstream.stores import StoreAdapter
    from dropstream.transports.base import Transport

log = logging.getLogger("dropstream")


class Window(NamedTuple):
    """The orders run's ``[since, until)``; ``backlog_since`` on the connection's first run."""

    since: datetime
    until: datetime
    backlog_since: datetime | None


@dataclass(frozen=True, slots=True)
class SharedFolder:
    """A warehouse folder and the connections that read it (see ``dropstream.sharing``).

    ``key`` is what the ledger keeps the folder's files and unclaimed records under: the
    connection's own name when nobody shares the folder.
    """

    path: str
    key: str
    members: tuple[str, ...]
    #: (member, its rules.zero_out_guard_pct): the inventory guard judges each member's store
    #: by its own threshold (a member left out gets the default).
    guard_pcts: tuple[tuple[str, float], ...] = ()

    @classmethod
    def alone(cls, ctx: RunContext, path: str) -> SharedFolder:
        return cls(path, ctx.name, (ctx.name,))

    @property
    def shared(self) -> bool:
        return len(self.members) > 1


@dataclass(slots=True)
class RunContext:
    """One run of one step for one connection: what it reads and what it opens on first use."""

    spec: ConnectionSpec
    ledger: Ledger
    now: datetime
    log: logging.Logger = field(default=log)
    run: str = ""  # the Airflow run id: names the lease holder, attributes orders to runs
    #: The task's Airflow context: the data interval (``window``), ``ti`` (``pulled``).
    airflow: Mapping[str, Any] = field(default_factory=dict)
    _stack: ExitStack = field(default_factory=ExitStack, init=False, repr=False)
    _opened: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def for_task(cls, spec: ConnectionSpec, airflow: Mapping[str, Any]) -> RunContext:
        """The context of an Airflow task: the ledger it opens is closed with the context."""
        ledger = Ledger()
        run = str(airflow.get("run_id") or "")
        ctx = cls(spec, ledger, datetime.now(UTC), run=run, airflow=airflow)
        ctx._stack.callback(ledger.close)
        return ctx

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def opened(self) -> tuple[str, ...]:
        """What this context has opened so far, in order (``shared_folder:<kind>`` per kind)."""
        return tuple(self._opened)

    # --- opened on first use ---------------------------------------------------------------
    @property
    def adapter(self) -> StoreAdapter:
        """The store's adapter."""
        if "adapter" not in self._opened:
            from dropstream.stores import get_adapter

            store = self.spec.store
            made = get_adapter(
                store.platform, store.conn_id, store.options, connection_name=self.name
            )
            self._opened["adapter"] = self._stack.enter_context(closing(made))
        adapter: StoreAdapter = self._opened["adapter"]
        return adapter

    @property
    def transport(self) -> Transport:
        """The warehouse's transport."""
        if "transport" not in self._opened:
            from dropstream.transports import get_transport

            made = get_transport(self.spec.warehouse.protocol, self.spec.warehouse.conn_id)
            self._opened["transport"] = self._stack.enter_context(made)
        transport: Transport = self._opened["transport"]
        return transport

    @property
    def file_format(self) -> FileFormat:
        """The warehouse's file format as this run uses it (its clock, its control numbers)."""
        if "file_format" not in self._opened:
            from dropstream.formats import get_format

            ref = self.spec.warehouse.format
            self._opened["file_format"] = get_format(ref.name, ref.options).for_run(
                now=self.now,
                next_control_number=lambda name: self.ledger.next_counter(
                    self.name, f"{ref.name}_{name}"
                ),
            )
        file_format: FileFormat = self._opened["file_format"]
        return file_format

    @property
    def window(self) -> Window:
        """The orders window (``run_window`` from the watermark); the first run (no watermark
        yet) also imports the open backlog since the connection's start date."""
        if "window" not in self._opened:
            watermark = self.ledger.watermark(self.name, "orders")
            since, until = run_window(self.spec, self.airflow, watermark, self.now)
            backlog = self.spec.start_date if watermark is None else None
            self._opened["window"] = Window(since, until, backlog)
        window: Window = self._opened["window"]
        return window

    def shared_folder(self, kind: Kind) -> SharedFolder:
        """The connection's ``kind`` folder and who shares it (read from the registry once)."""
        key = f"shared_folder:{kind}"
        if key not in self._opened:
            self._opened[key] = shared_folder(self.spec, kind)
        found: SharedFolder = self._opened[key]
        return found

    # --- the Airflow run ---------------------------------------------------------------------
    def pulled(self, step: str) -> dict[str, Any]:
        """What an earlier step of this run returned (its XCom)."""
        return pulled(self.airflow, step)

    def close(self) -> None:
        """Close what was opened, newest first (idempotent)."""
        self._opened.clear()
        self._stack.close()

    def __enter__(self) -> RunContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def pulled(airflow: Mapping[str, Any], step: str) -> dict[str, Any]:
    """What the step ``step`` of this Airflow run returned (empty outside an Airflow task)."""
    ti = airflow.get("ti")
    found: dict[str, Any] | None = ti.xcom_pull(task_ids=step) if ti is not None else None
    return found or {}


def run_window(
    spec: ConnectionSpec, context: Mapping[str, Any], watermark: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """``(since, until)`` for this run.

    A run with a data interval (scheduled, backfill, or manual with a logical date) owns
    ``[data_interval_start, data_interval_end)``. A run whose interval is empty or missing
    catches up from the watermark (or the connection's start date) to now.
    """
    start = context.get("data_interval_start")
    end = context.get("data_interval_end")
    if start is not None and end is not None and start < end:
        return _utc(start), _utc(end)
    since = watermark or spec.start_date
    return since, max(now, since)


def _utc(value: datetime) -> datetime:
    """A plain stdlib UTC datetime (pendulum's loses its tzinfo in arithmetic with timedelta)."""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime(
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
        tzinfo=UTC,
    )


def shared_folder(spec: ConnectionSpec, kind: Kind) -> SharedFolder:
    """The connection's ``kind`` folder and who shares it (reads the registry: fails closed)."""
    from dropstream.registry import specs_using_folder
    from dropstream.sharing import folder, group_key, sharing
    from dropstream.transports import AccountResolver

    path = folder(spec, kind)
    candidates = specs_using_folder(spec, kind)
    if len(candidates) == 1:
        return SharedFolder(path, spec.name, (spec.name,))
    account_of = AccountResolver()
    members = sharing(spec, kind, candidates, account_of)
    guards = tuple(
        (c.name, c.rules.zero_out_guard_pct) for c in candidates if c.name in set(members)
    )
    return SharedFolder(
        path, group_key(spec, kind, members, account_of(spec)), tuple(members), guards
    )


def refuse_prefix_conflicts(spec: ConnectionSpec) -> None:
    """ConfigurationError when another connection shares this one's orders or shipments folder
    with the same order-number prefix: its orders could not be told apart at the warehouse."""
    from dropstream.registry import specs_using_folder
    from dropstream.sharing import PREFIXED_KINDS, prefix_conflicts
    from dropstream.transports import AccountResolver

    prefix = spec.rules.order_number_prefix
    same = {
        other.name: other
        for kind in PREFIXED_KINDS
        for other in specs_using_folder(spec, kind)[1:]
        if other.rules.order_number_prefix == prefix
    }
    if same:
        problems = prefix_conflicts(spec, same.values(), AccountResolver())
        if problems:
            raise ConfigurationError("; ".join(dict.fromkeys(problems)))

"""``dag.test()`` without re-writing an unchanged bundle to the metadata DB on every call.

Airflow 3.3's ``DAG.test()`` parses the DAG's whole bundle and serializes and writes every DAG in
it before each run (so that sibling DAGs exist: apache/airflow#64884). Our bundle generates three
DAGs per registered connection: a test module of twelve connections re-serialized some forty
DAGs before each of its runs, about half of each ``dag.test()``'s time (cProfile of one
warehouse-matrix case: ``sync_bag_to_db`` 12.3 s of 24.0 s in six runs).

Here ``DAG.test`` does that sync as before the first time it meets a given state of everything
the generated DAGs are made from: the DAG files' and plugins' modification times, the registry
(its environment Variable and its row in the metadata DB) and the ``DROPSTREAM_`` settings
other than the per-test ledger. While that state is unchanged and the DAG under test has a
version in the DB, the re-sync is skipped: it would write the same DAGs again. Anything else
(a reset DB, a new connection, an edited file) syncs as Airflow does. The run itself is
Airflow's own, unchanged. ``DROPSTREAM_TEST_FULL_DAG_SYNC=1`` turns this off.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: Settings that differ per test but do not shape a DAG.
NOT_SHAPING = {"DROPSTREAM_LEDGER_URL"}

_synced: set[tuple] = set()


def _sources_stamp() -> tuple:
    folders = (ROOT / "dags", ROOT / "plugins", ROOT / "include")
    return tuple(max((p.stat().st_mtime_ns for p in f.rglob("*.py")), default=0) for f in folders)


def _registry_in_db(session: Any) -> str | None:
    from airflow.models.variable import Variable
    from sqlalchemy import select

    from dropstream.registry import VARIABLE_KEY

    return session.scalar(select(Variable._val).where(Variable.key == VARIABLE_KEY))


def _state(session: Any) -> tuple:
    settings = tuple(
        sorted(
            (k, v)
            for k, v in os.environ.items()
            if (k.startswith(("AIRFLOW_VAR_", "DROPSTREAM_")) and k not in NOT_SHAPING)
        )
    )
    return _sources_stamp(), settings, _registry_in_db(session)


@contextmanager
def _no_bundle_sync() -> Iterator[None]:
    import airflow.dag_processing.dagbag as dagbag

    parse, sync = dagbag.BundleDagBag, dagbag.sync_bag_to_db
    dagbag.BundleDagBag = lambda *args, **kwargs: None  # type: ignore[assignment,misc]
    dagbag.sync_bag_to_db = lambda *args, **kwargs: None  # type: ignore[assignment]
    try:
        yield
    finally:
        dagbag.BundleDagBag, dagbag.sync_bag_to_db = parse, sync


def _test_once_synced(original: Callable[..., Any]) -> Callable[..., Any]:
    def test(self: Any, *args: Any, **kwargs: Any) -> Any:
        from airflow import settings
        from airflow.models.dag_version import DagVersion

        with settings.Session() as session:
            state = _state(session)
            known = DagVersion.get_latest_version(self.dag_id, session=session) is not None
        if state in _synced and known:
            with _no_bundle_sync():
                return original(self, *args, **kwargs)
        result = original(self, *args, **kwargs)
        _synced.add(state)
        return result

    test.__wrapped__ = original  # type: ignore[attr-defined]
    return test


def install() -> None:
    """Wrap ``DAG.test`` for this test process (once)."""
    from airflow.sdk.definitions.dag import DAG

    if os.environ.get("DROPSTREAM_TEST_FULL_DAG_SYNC"):  # Airflow's own behaviour, to compare
        return
    if not hasattr(DAG.test, "__wrapped__"):
        DAG.test = _test_once_synced(DAG.test)  # type: ignore[method-assign]

"""How ``make test`` shares the test files among pytest-xdist workers (``-n 3 --dist loadfile``).

Most of the suite's time is waiting on wall-clock (a real scheduler's minute crons, ``make run``
starting, Celery picking up tasks), not CPU, so files run side by side. xdist's ``loadfile``
hands a worker one test file at a time; this plugin adds two things:

- **one worker for a shared server**: the files under a folder of ``SHARED_SERVER`` go to one
  worker together, so the costly server they share starts once: ``make run`` of the browser
  tests (one person's visit, in order) and the view's api-server of ``tests/web/`` (a package
  fixture). Every other server a test starts takes a free port, a fresh database and a temporary
  folder of its own (each worker has its own AIRFLOW_HOME), so two workers never meet;
- **longest first**: the files of ``LONGEST_FIRST`` are handed out before the rest, in that
  order, so the run lasts about as long as its longest file, not that file plus whatever was
  queued before it.

xdist's own ``--dist loadgroup`` would group, but under pytest 9.2 its group suffix on the node
id no longer takes (pytest-dev/pytest-xdist#1386), so the grouping is done here, by path.
"""

from __future__ import annotations

from typing import Any

import pytest

#: Folders whose files share one session or package server: one worker runs them all.
SHARED_SERVER = ("tests/browser/", "tests/web/")

#: Files (or folders) that take minutes, longest first: handed out before everything else.
LONGEST_FIRST = (
    "tests/browser/",
    "tests/deploy/test_celery_topology.py",
    "tests/dags/test_review_real_scheduler.py",
    "tests/dags/test_webhooks_real_scheduler.py",
    "tests/dags/test_backfill_real_scheduler.py",
    "tests/dags/test_alerts_real_scheduler.py",
    "tests/setup/test_setup_real_scheduler.py",
    "tests/chaos/",
    "tests/web/",
)


def work_unit(nodeid: str) -> str:
    """The file of a test, or the shared-server folder it belongs to."""
    path = nodeid.split("::", 1)[0]
    return next((folder for folder in SHARED_SERVER if path.startswith(folder)), path)


def _rank(path: str) -> int:
    return next((i for i, p in enumerate(LONGEST_FIRST) if path.startswith(p)), len(LONGEST_FIRST))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under xdist, longest files first; files and the tests inside them otherwise keep their
    order. A serial run keeps pytest's own order: run before the real-scheduler files, the
    tests/dags files failed (tests/dags/test_actions.py, three tests, in a fresh-clone run of
    2026-11-30), so some state a real-scheduler test leaves matters to them; to find."""
    under_xdist = getattr(config.option, "numprocesses", None) or hasattr(config, "workerinput")
    if not under_xdist:
        return
    items.sort(key=lambda item: _rank(item.nodeid))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SharedServerScheduling(LoadFileScheduling):
        """``loadfile`` whose work units are ``work_unit``s, handed out in collection order."""

        def __init__(self, config: pytest.Config, log: Any = None) -> None:
            super().__init__(config, log)
            config.option.loadscopereorder = False  # the order is the one collected above

        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return SharedServerScheduling(config, log)

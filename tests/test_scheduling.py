"""`make test`'s xdist plan (tests/scheduling.py), run by a real pytest-xdist over a small tree.

xdist's own grouping stopped working silently once (loadgroup under pytest 9.2): this runs the
real scheduler and checks which worker ran what, and in which order.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

RECORD = """
import json, os, time
def record(name):
    time.sleep(0.2)  # long enough that the other worker takes the next file meanwhile
    with open(os.environ["RAN"], "a") as out:
        out.write(json.dumps([os.environ["PYTEST_XDIST_WORKER"], name, time.time()]) + "\\n")
"""


def _tree(base: Path) -> None:
    files = {
        "tests/adapters/test_alpha.py": 3,
        "tests/browser/test_a_person.py": 2,  # shares make run with the next file
        "tests/browser/test_b_view.py": 2,
        "tests/deploy/test_celery_topology.py": 1,  # first of LONGEST_FIRST after the browser
        "tests/web/test_api.py": 1,  # shares the view's api-server with the next file
        "tests/web/test_pages.py": 1,
        "tests/zeta/test_omega.py": 3,
    }
    (base / "record.py").write_text(RECORD)
    for path, count in files.items():
        (base / path).parent.mkdir(parents=True, exist_ok=True)
        body = "from record import record\n" + "".join(
            f"def test_{i}():\n    record({path!r})\n" for i in range(count)
        )
        (base / path).write_text(body)


def test_shared_server_folders_run_on_one_worker_and_the_longest_files_first(tmp_path):
    _tree(tmp_path)
    ran_path = tmp_path / "ran.jsonl"
    env = {**os.environ, "RAN": str(ran_path), "PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path}"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadfile", "-p", "tests.scheduling",
         "-p", "no:cacheprovider", "-v", "--rootdir", str(tmp_path), "tests"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "scheduling tests via SharedServerScheduling" in done.stdout, done.stdout
    ran = [json.loads(line) for line in ran_path.read_text().splitlines()]
    assert len(ran) == 13, ran
    workers: dict[str, set[str]] = {}
    for worker, path, _ in ran:
        workers.setdefault(path.rsplit("/", 1)[0], set()).add(worker)
    assert len(workers["tests/browser"]) == 1, workers  # one make run
    assert len(workers["tests/web"]) == 1, workers  # one view api-server
    # The browser folder and the Celery topology start first, one on each worker.
    first: dict[str, str] = {}
    for worker, path, _ in sorted(ran, key=lambda r: r[2]):
        first.setdefault(worker, path.split("/")[1])
    assert sorted(first.values()) == ["browser", "deploy"], first

# DropStream on Airflow. `make run` starts the product; `make test` installs what is needed and runs every test.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test deps services lint bench chaos screenshots clean

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.9
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements-dev.txt -c constraints.txt
	@touch $@

deps: $(STAMP)

# Servers the tests talk to on loopback: OpenSSH's sshd (SFTP tests), PostgreSQL (ledger, metadata DB)
# and Redis (the Celery broker of the native CeleryExecutor test).
services:
	@bash scripts/ensure-services.sh

# pytest-xdist workers: 0 runs the suite serially in one process (the default: a green parallel run
# on two cores has not been seen yet). With N > 0, files that share one server stay on one worker,
# the longest start first (tests/scheduling.py); try `make test TEST_WORKERS=3`.
TEST_WORKERS ?= 0
test: deps services
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=30

# The long chaos run (tests/chaos): 200 kills and 50 concurrent-load rounds per flow, figures
# printed; `make test` runs the short version. Takes about half an hour.
chaos: deps services
	CHAOS_KILLS=200 CHAOS_ROUNDS=50 $(BIN)/python -m pytest -q -s -p no:cacheprovider -o timeout=0 tests/chaos

run: deps
	@bash scripts/run.sh

lint: deps
	$(BIN)/ruff check plugins include dags tests bench
	$(BIN)/ruff format --check plugins include dags tests bench
	$(BIN)/mypy plugins include

bench: deps
	$(BIN)/python bench/demo.py
	$(BIN)/python bench/parse.py
	$(BIN)/python bench/formats.py
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/api_calls.py
	$(BIN)/python bench/preload.py

# Refresh docs/img (the README's quick tour) from the browser tests.
screenshots: deps services
	DROPSTREAM_UPDATE_SCREENSHOTS=1 $(BIN)/python -m pytest tests/browser

clean:
	rm -rf $(VENV) .airflow .pytest_cache

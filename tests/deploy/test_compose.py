"""docker-compose.yaml, Dockerfile and .env.example: valid Compose, and the topology we run.

Validated with ``docker compose config`` where the compose plugin is installed; always against
the Compose specification's JSON schema (``vendor.compose-spec``, shipped inside the pinned
check-jsonschema; no Docker engine runs here), then by checks of the services, the executor
and the environment every component needs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yaml"
AIRFLOW_SERVICES = {
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "flower",
}
CELERY_CONFIG_OPTIONS = "dropstream.celery_config.CELERY_CONFIG"
REQUIRED = re.compile(r"\$\{(\w+):\?[^}]*\}")  # ${NAME:?message}: compose refuses to start without
SECRETS = (
    "POSTGRES_PASSWORD",
    "REDIS_PASSWORD",
    "AIRFLOW_JWT_SECRET",
    "AIRFLOW_FERNET_KEY",
    "AIRFLOW_ADMIN_PASSWORD",
    "DROPSTREAM_LEDGER_PASSWORD",
)
VARIABLE = re.compile(r"\$\{(\w+)(?::?[-?][^}]*)?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())  # resolves the anchors and `<<` merges


def env_example() -> dict[str, str]:
    pairs = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?error}, with $$ kept as a literal $."""

    def one(match: re.Match[str]) -> str:
        name, rest = match.group(1), match.group(0)[len(match.group(1)) + 2 : -1]
        if name in env:
            return env[name]
        if rest.startswith((":-", "-")):
            return rest.split("-", 1)[1]
        raise AssertionError(f"{name} is neither in .env.example nor defaulted: {value}")

    return VARIABLE.sub(one, value.replace("$$", "\0")).replace("\0", "$")


def test_valid_against_the_compose_specification_schema():
    done = subprocess.run(
        [Path(sys.executable).parent / "check-jsonschema", "--builtin-schema",
         "vendor.compose-spec", str(COMPOSE)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_docker_compose_config_accepts_it_where_the_compose_plugin_is_installed(tmp_path):
    docker = shutil.which("docker")
    has_compose = bool(docker) and subprocess.run(
        [docker, "compose", "version"], capture_output=True
    ).returncode == 0  # fmt: skip
    if not has_compose:
        # No compose plugin (as on this project's machines): the schema test above stands in.
        # What docker compose would refuse anyway: an undefined required variable.
        missing = {m for m in REQUIRED.findall(COMPOSE.read_text())} - set(env_example())
        assert not missing, f".env.example lacks {sorted(missing)}"
        return
    done = subprocess.run(
        [docker, "compose", "--env-file", str(ROOT / ".env.example"), "-f", str(COMPOSE),
         "config", "--quiet"],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_the_services_of_airflows_compose_file_on_the_celery_executor(compose):
    services = compose["services"]
    assert set(services) == {"postgres", "redis"} | AIRFLOW_SERVICES
    for name in AIRFLOW_SERVICES:
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://"), name
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql+psycopg://"), name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg://")
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == (
            "http://airflow-apiserver:8080/execution/"
        )
        # One JWT secret and one Fernet key for every component, from .env only.
        assert REQUIRED.fullmatch(env["AIRFLOW__API_AUTH__JWT_SECRET"]), name
        assert REQUIRED.fullmatch(env["AIRFLOW__CORE__FERNET_KEY"]), name
        assert env["PYTHONPATH"] == "/opt/airflow/plugins:/opt/airflow/include"
        # The worker preloads DropStream's task modules (the same setting as bench/stack.py).
        assert env["AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"] == CELERY_CONFIG_OPTIONS, name
        assert services[name]["build"] == "."
    commands = {name: services[name].get("command") for name in AIRFLOW_SERVICES}
    assert commands["airflow-apiserver"] == "api-server"
    assert commands["airflow-scheduler"] == "scheduler"
    assert commands["airflow-dag-processor"] == "dag-processor"
    assert commands["airflow-triggerer"] == "triggerer"
    assert commands["airflow-worker"] == "celery worker"
    assert commands["flower"] == "celery flower" and services["flower"]["profiles"] == ["flower"]
    for name, service in services.items():
        if name != "airflow-init":
            assert service["healthcheck"]["test"], name
    for name in AIRFLOW_SERVICES - {"airflow-init"}:
        needs = services[name]["depends_on"]
        assert needs["airflow-init"]["condition"] == "service_completed_successfully", name
        assert needs["postgres"]["condition"] == "service_healthy", name
        mounts = {v.split(":")[1] for v in services[name]["volumes"]}
        assert {"/opt/airflow/dags", "/opt/airflow/plugins", "/opt/airflow/include"} <= mounts


def test_the_ledger_has_its_own_database_and_init_migrates_both(compose):
    services = compose["services"]
    env = services["airflow-worker"]["environment"]
    ledger, metadata = env["DROPSTREAM_LEDGER_URL"], env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert ledger.startswith("postgresql+psycopg://dropstream:")
    assert ledger.rsplit("/", 1)[1] == "dropstream" != metadata.rsplit("/", 1)[1]
    init = "\n".join(services["airflow-init"]["command"])
    assert init.index("airflow db migrate") < init.index("python -m dropstream.ledger upgrade")
    assert "airflow connections add dropstream_airflow_api" in init
    assert "/opt/airflow/auth/passwords.json" in init
    script = (ROOT / "scripts/postgres-init/10-dropstream-ledger.sh").read_text()
    assert "CREATE DATABASE dropstream OWNER dropstream" in script
    mounts = services["postgres"]["volumes"]
    assert "./scripts/postgres-init:/docker-entrypoint-initdb.d:ro" in mounts


def test_only_the_api_server_publishes_a_port_on_loopback_by_default(compose):
    published = {name: s["ports"] for name, s in compose["services"].items() if "ports" in s}
    assert list(published) == ["airflow-apiserver"]
    (port,) = published["airflow-apiserver"]
    assert interpolate(port, {}) == "127.0.0.1:8080:8080"  # defaults: loopback only
    assert interpolate(port, env_example()) == "127.0.0.1:8080:8080"


def test_secrets_come_only_from_env_and_the_example_holds_none():
    text = COMPOSE.read_text()
    example = env_example()
    for name in SECRETS:
        assert name in REQUIRED.findall(text), f"{name} must be required (${{{name}:?…}})"
        assert example[name].startswith("change-me"), name  # a placeholder, not a secret
    assert "/.env" in (ROOT / ".gitignore").read_text().splitlines()
    assert ".env" in (ROOT / ".dockerignore").read_text().splitlines()
    # Every ${…} resolves from .env.example or has a default: `docker compose up` needs no more.
    for line in text.splitlines():
        if "${" in line and not line.lstrip().startswith("#"):
            interpolate(line, example)


def test_the_image_is_airflow_3_3_2_with_the_run_time_requirements_and_constraints():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.count("\nFROM ") + dockerfile.startswith("FROM ") == 1
    assert "FROM apache/airflow:3.3.2-python3.11" in dockerfile
    assert "-r /opt/dropstream/requirements.txt -c /opt/dropstream/constraints.txt" in dockerfile
    assert "requirements-dev" not in dockerfile
    airflow_pin = next(
        line for line in (ROOT / "constraints.txt").read_text().splitlines()
        if line.startswith("apache-airflow==")
    )  # fmt: skip
    assert airflow_pin == "apache-airflow==3.3.2"


def test_the_sandbox_never_starts_in_production(compose: dict[str, Any]):
    """The demo store and simulated 3PL belong to `make run` only: no service starts them, runs
    `scripts/run.sh`, or registers the demo connection."""
    for name, service in compose["services"].items():
        text = yaml.safe_dump({k: service.get(k) for k in ("command", "entrypoint", "environment")})
        for needle in ("dropstream.sandbox", "run.sh", "standalone", "register-demo"):
            assert needle not in text, f"service {name} mentions {needle}"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "dropstream.sandbox" not in dockerfile and "run.sh" not in dockerfile

"""A small client for Airflow's public REST API (connections, DAG runs), as the setup tasks use it.

Tasks cannot create Connections through the Task SDK, so setup goes through the API server.
Its URL and service account come from the Airflow Connection ``dropstream_airflow_api``
(type http): host = the API server's base URL, login/password = a user allowed to edit
connections and DAG runs. The bearer token comes from ``POST /auth/token``.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import requests
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from dropstream.errors import AuthenticationError, ConfigurationError, TransientError

API_CONN_ID = "dropstream_airflow_api"
TIMEOUT = 30
ATTEMPTS = 4


class AirflowAPI:
    """Just the calls setup needs; errors say which call failed and what to check."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        attempts: int = ATTEMPTS,
        timeout: float = TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.attempts, self.timeout = attempts, timeout
        self._credentials = {"username": username, "password": password}
        self._session = requests.Session()
        self._token: str | None = None

    @classmethod
    def from_connection(cls, conn_id: str = API_CONN_ID, **options: Any) -> AirflowAPI:
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException

        try:
            conn = BaseHook.get_connection(conn_id)
        except AirflowNotFoundException as exc:
            raise ConfigurationError(
                f"Airflow Connection {conn_id!r} is missing: create it (type http, host = the "
                "API server URL e.g. http://localhost:8080, login/password = a service user); "
                "see docs/setup.md"
            ) from exc
        host = (conn.host or "").rstrip("/")
        if "://" not in host:
            host = f"{conn.schema or 'http'}://{host}"
        if conn.port and host.count(":") < 2:
            host = f"{host}:{conn.port}"
        return cls(host, conn.login or "", conn.password or "", **options)

    # --- plumbing -------------------------------------------------------------------------
    def _authenticate(self) -> str:
        if self._token is None:
            try:
                response = self._session.post(
                    f"{self.base_url}/auth/token", json=self._credentials, timeout=self.timeout
                )
            except requests.RequestException as exc:
                raise TransientError(f"Airflow API {self.base_url} unreachable: {exc}") from exc
            if response.status_code >= 400:
                raise AuthenticationError(
                    f"Airflow API {self.base_url} refused the service login "
                    f"{self._credentials['username']!r} (HTTP {response.status_code}); fix the "
                    f"login/password of Airflow Connection {API_CONN_ID!r}"
                )
            self._token = response.json()["access_token"]
            from airflow.sdk.log import mask_secret

            mask_secret(self._token)
        return self._token

    def request(
        self,
        method: str,
        path: str,
        *,
        ok: tuple[int, ...] = (),
        prefix: str = "/api/v2",
        **kwargs: Any,
    ) -> Any:
        """Call ``{prefix}{path}``; return the JSON body (None for 204 or an ``ok`` status).

        An unreachable server or a 5xx answer (e.g. a busy SQLite metadata DB under ``make run``)
        is tried again a few times with backoff before the TransientError reaches the caller.
        """
        retrying = Retrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=1, max=10),
            reraise=True,
        )
        return retrying(self._request_once, method, path, ok, prefix, kwargs)

    def _request_once(
        self, method: str, path: str, ok: tuple[int, ...], prefix: str, kwargs: dict[str, Any]
    ) -> Any:
        headers = {"Authorization": f"Bearer {self._authenticate()}"}
        url = f"{self.base_url}{prefix}{path}"
        try:
            response = self._session.request(
                method, url, headers=headers, timeout=self.timeout, **kwargs
            )
        except requests.RequestException as exc:
            raise TransientError(f"Airflow API {method} {path} failed: {exc}") from exc
        if response.status_code in ok:
            return None
        if response.status_code >= 400:
            detail = response.text[:500]
            error: type[Exception] = ConfigurationError
            if response.status_code in (401, 403):
                error = AuthenticationError
            elif response.status_code >= 500:
                error = TransientError
            raise error(
                f"Airflow API {method} {path} answered HTTP {response.status_code}: {detail}"
            )
        return response.json() if response.content else None

    # --- connections ----------------------------------------------------------------------
    def connection_exists(self, conn_id: str) -> bool:
        return self.request("GET", f"/connections/{quote(conn_id)}", ok=(404,)) is not None

    def upsert_connection(self, body: dict[str, Any]) -> str:
        """Create the connection, or replace it if it exists; return 'created' or 'updated'."""
        body = {**body, "extra": _extra_text(body.get("extra"))}
        conn_id = body["connection_id"]
        if self.connection_exists(conn_id):
            self.request("PATCH", f"/connections/{quote(conn_id)}", json=body)
            return "updated"
        if self.request("POST", "/connections", json=body, ok=(409,)) is None:
            # 409: it exists after all (an earlier attempt's POST went through): replace it.
            if not self.connection_exists(conn_id):
                raise ConfigurationError(f"Airflow API refused to create connection {conn_id!r}")
            self.request("PATCH", f"/connections/{quote(conn_id)}", json=body)
        return "created"

    def delete_connection(self, conn_id: str) -> bool:
        """Delete it; False if it did not exist."""
        if not self.connection_exists(conn_id):
            return False
        self.request("DELETE", f"/connections/{quote(conn_id)}", ok=(404,))
        return True

    # --- DAGs -----------------------------------------------------------------------------
    def dag_paused(self, dag_id: str) -> bool | None:
        """The DAG's pause flag; None when Airflow has not parsed it (yet)."""
        body = self.request("GET", f"/dags/{quote(dag_id)}", ok=(404,))
        return None if body is None else bool(body["is_paused"])

    def set_dag_paused(self, dag_id: str, paused: bool) -> None:
        body = self.request(
            "PATCH",
            f"/dags/{quote(dag_id)}",
            params={"update_mask": "is_paused"},
            json={"is_paused": paused},
        )
        if bool(body["is_paused"]) != paused:
            raise ConfigurationError(
                f"Airflow API kept DAG {dag_id} {'un' if paused else ''}paused: check that the "
                "service user of the Connection dropstream_airflow_api may edit DAGs"
            )

    # --- DAG runs -------------------------------------------------------------------------
    def trigger_run(self, dag_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", f"/dags/{quote(dag_id)}/dagRuns", json=body)

    def get_run(self, dag_id: str, run_id: str) -> dict[str, Any] | None:
        return self.request("GET", f"/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}", ok=(404,))

    def list_runs(self, dag_id: str, limit: int = 100) -> list[dict[str, Any]]:
        body = self.request(
            "GET",
            f"/dags/{quote(dag_id)}/dagRuns",
            params={"limit": limit, "order_by": "-start_date"},
        )
        return list(body["dag_runs"])

    def hitl_detail(
        self, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1
    ) -> dict[str, Any] | None:
        """A Required Action's question and answer as one try of its task left it (None: that
        try asked nothing)."""
        path = (
            f"/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}/taskInstances/{quote(task_id)}"
            f"/{int(map_index)}/hitlDetails/tries/{int(try_number)}"
        )
        return self.request("GET", path, ok=(404,))

    def delete_run(self, dag_id: str, run_id: str) -> None:
        self.request("DELETE", f"/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}", ok=(404,))

    def scrub_setup_run(self, run_id: str, fields: list[str]) -> list[str]:
        """Blank ``fields`` in the conf of setup run ``run_id`` (the DropStream plugin's route,
        which runs inside the api-server); return the fields that held a value."""
        try:
            body = self.request(
                "POST",
                f"/api/setup/runs/{quote(run_id, safe='')}/scrub",
                prefix="/dropstream",
                json={"fields": fields},
            )
        except ConfigurationError as exc:
            if "HTTP 404" in str(exc) and "no dropstream_setup run" not in str(exc):
                raise ConfigurationError(
                    f"the DropStream plugin is not loaded on the Airflow API server "
                    f"{self.base_url} (no /dropstream route): put plugins/dropstream_plugin.py "
                    "in its plugins folder and restart it, so setup can remove the secrets "
                    "from the run"
                ) from exc
            raise
        return list(body.get("blanked") or [])

    def set_note(self, dag_id: str, run_id: str, note: str) -> None:
        """The run's note (Markdown, at most 1000 characters)."""
        self.request(
            "PATCH",
            f"/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}",
            params={"update_mask": "note"},
            json={"note": note[:1000]},
        )


def _extra_text(extra: Any) -> str | None:
    if extra is None or isinstance(extra, str):
        return extra
    return json.dumps(extra)

"""The DropStream Airflow plugin: a FastAPI app mounted at ``/dropstream`` in the api-server.

Configuration only; the routes live in ``dropstream.web``. Every route checks Airflow's own
authentication (bearer token or the UI's session cookie), except the store webhook receiver
``/dropstream/webhooks/<connection>``, which checks the platform's signature instead
(docs/webhooks.md); restart the api-server after a change.
The "DropStream" navigation entry opens the Connections page inside the Airflow UI (an
``external_views`` entry with a ``url_route``: the UI frames the page under /plugin/dropstream).

The app is built when ``fastapi_apps`` is first read, which only the api-server does (when it
starts): every task process loads Airflow's plugins too, and building the app there (FastAPI and
Airflow's API security modules) cost each task 1.8 CPU-s for nothing.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from airflow.plugins_manager import AirflowPlugin


@cache
def _apps() -> list[dict[str, Any]]:
    from dropstream.web.app import create_app

    return [{"app": create_app(), "url_prefix": "/dropstream", "name": "DropStream"}]


class _BuiltOnFirstRead:
    """A class attribute computed on first read (``AirflowPlugin`` reads it on the class or an
    instance)."""

    def __get__(self, instance: object, owner: type) -> list[dict[str, Any]]:
        return _apps()


class DropStreamPlugin(AirflowPlugin):
    name = "dropstream"
    fastapi_apps = _BuiltOnFirstRead()  # type: ignore[assignment]
    external_views = [
        {
            "name": "DropStream",
            "href": "/dropstream/connections",
            "destination": "nav",
            "url_route": "dropstream",
            "nav_top_level": True,
        }
    ]

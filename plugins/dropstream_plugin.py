"""The DropStream Airflow plugin: a FastAPI app mounted at ``/dropstream`` in the api-server.

Configuration only; the routes live in ``dropstream.web``. Every route checks Airflow's own
authentication (bearer token or the UI's session cookie), except the store webhook receiver
``/dropstream/webhooks/<connection>``, which checks the platform's signature instead
(docs/webhooks.md); restart the api-server after a change.
The "DropStream" navigation entry opens the Connections page inside the Airflow UI (an
``external_views`` entry with a ``url_route``: the UI frames the page under /plugin/dropstream).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from dropstream.web.app import create_app


class DropStreamPlugin(AirflowPlugin):
    name = "dropstream"
    fastapi_apps = [{"app": create_app(), "url_prefix": "/dropstream", "name": "DropStream"}]
    external_views = [
        {
            "name": "DropStream",
            "href": "/dropstream/connections",
            "destination": "nav",
            "url_route": "dropstream",
            "nav_top_level": True,
        }
    ]

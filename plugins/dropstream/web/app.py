"""The FastAPI app the plugin mounts at ``/dropstream``.

A plugin app gets no Airflow authentication by itself: every route here depends on Airflow's
own checks (``requires_access_dag``), so a request without a valid token or session cookie is
answered 401 and a user without the right permission 403.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from dropstream.web import api, setup_routes


def create_app() -> FastAPI:
    app = FastAPI(
        title="DropStream",
        description="DropStream's API inside Airflow: connections, orders and their timelines, "
        "files; setup helpers. See docs/operations.md.",
        docs_url=None,
        redoc_url=None,
    )
    app.include_router(setup_routes.router, prefix="/api/setup")
    app.include_router(api.router, prefix="/api")

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        """Unauthenticated liveness probe: says only that the plugin is loaded."""
        return {"plugin": "dropstream", "status": "ok"}

    return app

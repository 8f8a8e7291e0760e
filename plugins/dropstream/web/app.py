"""The FastAPI app the plugin mounts at ``/dropstream``.

A plugin app gets no Airflow authentication by itself: every route here depends on Airflow's
own checks (``requires_access_dag``), so a request without a valid token or session cookie is
answered 401 and a user without the right permission 403. The one exception is the webhook
receiver under ``/webhooks/``: stores cannot log in, so each delivery's platform signature is
its authentication (``dropstream.web.webhooks``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from starlette.exceptions import HTTPException
from starlette.responses import Response

from dropstream.web import api, pages, setup_routes, webhooks


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
    # No Airflow login here: stores cannot log in; the platform's signature is the check.
    app.include_router(webhooks.router, prefix="/webhooks")
    app.include_router(pages.router)

    @app.exception_handler(HTTPException)
    async def errors(request: Request, exc: HTTPException) -> Response:
        """JSON for the API, a page for the pages (a 401 page links to Airflow's login)."""
        path, root = request.url.path, str(request.scope.get("root_path") or "")
        if path.removeprefix(root).startswith(("/api/", "/webhooks/")):
            return await http_exception_handler(request, exc)
        return pages.error_page(request, exc)

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        """Unauthenticated liveness probe: says only that the plugin is loaded."""
        return {"plugin": "dropstream", "status": "ok"}

    return app

"""An auth manager for tests: Airflow's SimpleAuthManager, with some users limited to some DAGs.

``DROPSTREAM_TEST_DAG_ACCESS`` is a JSON object ``{username: [fnmatch pattern of DAG ids, …]}``;
a listed user may do on a DAG what their SimpleAuthManager role allows, and only on DAGs whose
id matches one of their patterns. Users not listed are SimpleAuthManager users as usual. Real
deployments limit DAG access with FAB or Keycloak roles; this is the smallest real auth manager
that does the same, loaded by a real api-server through ``[core] auth_manager``.
"""

from __future__ import annotations

import fnmatch
import json
import os
from typing import Any

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager


def _patterns(username: str) -> list[str] | None:
    access = json.loads(os.environ.get("DROPSTREAM_TEST_DAG_ACCESS") or "{}")
    return access.get(username)


class DagPatternAuthManager(SimpleAuthManager):
    def is_authorized_dag(
        self, *, method: Any, user: Any, access_entity: Any = None, details: Any = None
    ) -> bool:
        allowed = super().is_authorized_dag(
            method=method, user=user, access_entity=access_entity, details=details
        )
        patterns = _patterns(user.username)
        if not allowed or patterns is None or details is None or details.id is None:
            return allowed  # no specific DAG asked: lists are filtered per DAG id afterwards
        return any(fnmatch.fnmatchcase(details.id, p) for p in patterns)

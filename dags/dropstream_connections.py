"""The generator: three DAGs (orders, inventory, tracking) per registered DropStream connection.

Configuration only: the registry Variable ``dropstream_connections`` is read once per parse;
invalid entries are skipped here and reported by ``dropstream_registry_check.py``.
"""

from __future__ import annotations

from airflow.sdk import get_parsing_context

from dropstream.factory import build_dags
from dropstream.registry import load_registry
from dropstream.spec import FLOWS, parse_dag_id

_wanted = parse_dag_id(get_parsing_context().dag_id or "")
_registry = load_registry(only=_wanted[0] if _wanted else None)

for _name, _spec in sorted(_registry.specs.items()):
    for _dag_id, _dag in build_dags(_spec, (_wanted[1],) if _wanted else FLOWS).items():
        globals()[_dag_id] = _dag

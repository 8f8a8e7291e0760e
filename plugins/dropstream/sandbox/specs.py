"""Example registry entries (complete and valid): for the tests, the benchmarks and the sandbox."""

from __future__ import annotations

import copy
import json
from typing import Any


def spec_dict(name: str = "acme", **overrides: Any) -> dict[str, Any]:
    """A complete, valid registry entry for connection ``name``."""
    entry: dict[str, Any] = {
        "name": name,
        "merchant": "acme-goods",
        "store": {
            "name": "Acme Shopify",
            "platform": "shopify",
            "conn_id": f"dropstream_{name}_store",
            "options": {},
        },
        "warehouse": {
            "name": "Acme 3PL",
            "protocol": "sftp",
            "conn_id": f"dropstream_{name}_warehouse",
            "paths": {
                "orders": "/in",
                "shipments": "/out",
                "inventory": "/out",
                "archive": "/archive",
            },
            "format": "header_detail_csv",
        },
        "rules": {"default_ship_method": "UPS_GROUND"},
        "start_date": "2026-01-01T00:00:00+00:00",
    }
    for key, value in overrides.items():
        entry[key] = value
    return copy.deepcopy(entry)


def registry_json(*entries: dict[str, Any]) -> str:
    return json.dumps({e["name"]: e for e in entries})


#: Explicit schedules on the cadence's round times (:00, :15, …): the end-to-end tests pick their
#: runs' times on quarter hours. Default schedules fire at a per-connection offset instead
#: (tests/dropstream/test_spec.py, tests/dags/test_generator.py).
ON_THE_HOUR = {"orders": "*/15 * * * *", "inventory": "0 * * * *", "tracking": "0 */4 * * *"}

"""The registry: one Airflow Variable mapping connection name -> ConnectionSpec (no secrets).

The generator reads it once per parse; the setup DAG (max_active_runs=1) is the only writer.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from dropstream.errors import SpecError
from dropstream.spec import ConnectionSpec, parse_spec

log = logging.getLogger(__name__)

VARIABLE_KEY = "dropstream_connections"


@dataclass(frozen=True, slots=True)
class Registry:
    """The valid specs by name, and the invalid entries with what is wrong with each."""

    specs: dict[str, ConnectionSpec] = field(default_factory=dict)
    errors: dict[str, SpecError] = field(default_factory=dict)


def parse_registry(raw: Any, only: str | None = None) -> Registry:
    """Validate a registry document; one bad entry never hides the others.

    ``only`` restricts validation to one connection name (a task run needs just its own).
    """
    if raw is None or raw == "":
        return Registry()
    if isinstance(raw, str | bytes):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            error = SpecError("*", [f"the Variable is not valid JSON ({exc})"])
            return Registry(errors={"*": error})
    if not isinstance(raw, dict):
        error = SpecError("*", [f"the Variable must be a JSON object, got {type(raw).__name__}"])
        return Registry(errors={"*": error})
    specs: dict[str, ConnectionSpec] = {}
    errors: dict[str, SpecError] = {}
    for key in sorted(raw):
        if only is not None and key != only:
            continue
        try:
            specs[key] = parse_spec(key, raw[key])
        except SpecError as exc:
            errors[key] = exc
    return Registry(specs=specs, errors=errors)


def read_registry_document() -> Any:
    """The raw registry document from the Variable (or AIRFLOW_VAR_DROPSTREAM_CONNECTIONS)."""
    from airflow.sdk import Variable

    try:
        return Variable.get(VARIABLE_KEY, default=None)
    except Exception as exc:  # noqa: BLE001 - a parse must not die on a Variable backend hiccup
        log.warning("could not read Variable %r: %s", VARIABLE_KEY, exc)
        return None


def load_registry(only: str | None = None) -> Registry:
    """Read the registry Variable once and validate it."""
    return parse_registry(read_registry_document(), only=only)


def dump_spec(spec: ConnectionSpec) -> dict[str, Any]:
    """A spec as the JSON the registry stores."""
    return spec.model_dump(mode="json", exclude_none=True)


def write_registry(specs: dict[str, dict[str, Any]]) -> None:
    """Replace the registry Variable (setup DAG only: it runs with max_active_runs=1)."""
    from airflow.sdk import Variable

    Variable.set(VARIABLE_KEY, json.dumps(dict(sorted(specs.items())), indent=2, sort_keys=True))

"""The registry: one Airflow Variable mapping connection name -> ConnectionSpec (no secrets).

The generator reads it once per parse; the setup DAG (max_active_runs=1) is the only writer.

It fails closed: a Variable that cannot be read (metadata DB or API down, a secrets backend
error) or that is not a JSON object raises ``RegistryReadError``; it is never taken for an
empty registry. Only a Variable that no backend has at all is an empty registry (a new
install). Airflow's ``Variable.get`` cannot tell those apart (it logs a backend's failure and
answers "not found"), so ``read_registry_document`` asks the backends itself, in Airflow's
order, and lets their failures through.
"""

from __future__ import annotations

import json
import logging
import posixpath
from dataclasses import dataclass, field
from typing import Any

from dropstream.errors import RegistryReadError, SpecError
from dropstream.sharing import AccountOf, Kind, folder, registry_conflicts
from dropstream.spec import ConnectionSpec, WarehousePaths, parse_spec

log = logging.getLogger(__name__)

VARIABLE_KEY = "dropstream_connections"


@dataclass(frozen=True, slots=True)
class Registry:
    """The valid specs by name, and the invalid entries with what is wrong with each."""

    specs: dict[str, ConnectionSpec] = field(default_factory=dict)
    errors: dict[str, SpecError] = field(default_factory=dict)


def parse_document(raw: Any) -> dict[str, Any]:
    """The registry document as a dict; RegistryReadError if it is not a JSON object."""
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str | bytes):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise RegistryReadError(
                f"Variable '{VARIABLE_KEY}' is not valid JSON ({exc}); nothing is generated or "
                "written until it is fixed (Admin → Variables)"
            ) from None
    if not isinstance(raw, dict):
        raise RegistryReadError(
            f"Variable '{VARIABLE_KEY}' must be a JSON object of connection name → entry, got "
            f"{type(raw).__name__}; nothing is generated or written until it is fixed"
        )
    return raw


def parse_registry(
    raw: Any, only: str | None = None, *, account_of: AccountOf | None = None
) -> Registry:
    """Validate a registry document; one bad entry never hides the others.

    ``only`` restricts validation to one connection name (a task run needs just its own).
    ``account_of`` also checks the whole registry for connections sharing an orders or
    shipments folder with the same order-number prefix (both entries become errors).
    """
    document = parse_document(raw)
    specs: dict[str, ConnectionSpec] = {}
    errors: dict[str, SpecError] = {}
    for key in sorted(document):
        if only is not None and key != only:
            continue
        try:
            specs[key] = parse_spec(key, document[key])
        except SpecError as exc:
            errors[key] = exc
    if account_of is not None:
        for name, problems in registry_conflicts(specs, account_of).items():
            errors[name] = SpecError(name, problems)
            del specs[name]
    return Registry(specs=specs, errors=errors)


def read_registry_document() -> Any:
    """The raw registry document; None only when no secrets backend has the Variable.

    Raises RegistryReadError when a backend fails: see the module docstring.
    """
    try:
        return _read_variable(VARIABLE_KEY)
    except RegistryReadError:
        raise
    except Exception as exc:
        raise RegistryReadError(
            f"could not read Variable '{VARIABLE_KEY}' ({type(exc).__name__}: {exc}); the "
            "registry is not assumed empty: nothing is generated or written until it can be read"
        ) from exc


def _read_variable(key: str) -> str | None:
    # Airflow's own lookup order (airflow.sdk.execution_time.context._get_variable), minus its
    # "log the failure and try the next backend": here a failure is an answer.
    from airflow.sdk.execution_time.secrets.execution_api import ExecutionAPISecretsBackend
    from airflow.sdk.execution_time.supervisor import ensure_secrets_backend_loaded

    for backend in ensure_secrets_backend_loaded():
        if isinstance(backend, ExecutionAPISecretsBackend):
            value = _read_through_supervisor(key)
        else:
            value = backend.get_variable(key=key)
        if value is not None:
            return str(value)
    return None


def _read_through_supervisor(key: str) -> str | None:
    """GetVariable over the task's (or DAG processor's) channel: "not found" vs a failure."""
    from airflow.sdk.exceptions import ErrorType
    from airflow.sdk.execution_time.comms import ErrorResponse, GetVariable, VariableResult
    from airflow.sdk.execution_time.task_runner import SUPERVISOR_COMMS

    answer = SUPERVISOR_COMMS.send(GetVariable(key=key))  # a server failure raises here
    if isinstance(answer, VariableResult):
        return answer.value
    if isinstance(answer, ErrorResponse) and answer.error == ErrorType.VARIABLE_NOT_FOUND:
        return None
    raise RegistryReadError(f"could not read Variable '{key}': the API answered {answer!r}")


def load_registry(only: str | None = None, *, account_of: AccountOf | None = None) -> Registry:
    """Read the registry Variable once and validate it (RegistryReadError if unreadable)."""
    return parse_registry(read_registry_document(), only=only, account_of=account_of)


def specs_using_folder(spec: ConnectionSpec, kind: Kind) -> list[ConnectionSpec]:
    """The valid registry entries (``spec`` first) using ``spec``'s protocol and ``kind`` folder
    path: the only candidates to share that folder. Reads the registry (fails closed); only
    those entries are validated."""
    path = folder(spec, kind)
    found = [spec]
    for key, raw in sorted(parse_document(read_registry_document()).items()):
        warehouse = raw.get("warehouse") if isinstance(raw, dict) else None
        if key == spec.name or not isinstance(warehouse, dict):
            continue
        paths = warehouse.get("paths") or {}
        theirs = paths.get(kind, WarehousePaths.model_fields[kind].default)
        if warehouse.get("protocol") != spec.warehouse.protocol or not isinstance(theirs, str):
            continue
        if posixpath.normpath(theirs) != path:
            continue
        try:
            found.append(parse_spec(key, raw))
        except SpecError:
            continue  # an invalid entry runs nothing
    return found


def dump_spec(spec: ConnectionSpec) -> dict[str, Any]:
    """A spec as the JSON the registry stores."""
    return spec.model_dump(mode="json", exclude_none=True)


def write_registry(specs: dict[str, dict[str, Any]]) -> None:
    """Replace the registry Variable (setup DAG only: it runs with max_active_runs=1)."""
    from airflow.sdk import Variable

    Variable.set(VARIABLE_KEY, json.dumps(dict(sorted(specs.items())), indent=2, sort_keys=True))


def write_entry(name: str, entry: dict[str, Any] | None) -> None:
    """Set (or, with None, remove) one entry; every other entry is written back as it was read.

    The registry is read again right before writing, so entries changed since the caller last
    read it are kept; an unreadable registry raises RegistryReadError and nothing is written.
    """
    document = parse_document(read_registry_document())
    if entry is None:
        document.pop(name, None)
    else:
        document[name] = entry
    write_registry(document)


__all__ = [
    "VARIABLE_KEY",
    "Registry",
    "dump_spec",
    "load_registry",
    "parse_document",
    "parse_registry",
    "read_registry_document",
    "specs_using_folder",
    "write_entry",
    "write_registry",
]

"""Turn a submitted setup form into a plan: every problem at once, each naming its field.

Pure: no Airflow, no I/O. The plan holds no secret; the secrets travel separately (see tasks).
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from dropstream.errors import ConfigurationError, SpecError
from dropstream.setup.form import DEFAULT_FOLDERS, DEFAULT_PORTS, SECRET_FIELDS
from dropstream.spec import SLUG, parse_spec

_FOLDER_FIELDS = {f"{flow}_folder": flow for flow in DEFAULT_FOLDERS}


class FormError(ConfigurationError):
    """The submitted form has problems; ``problems`` lists them, each naming its field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        listed = "\n".join(f"- {p}" for p in problems)
        super().__init__(f"the setup form has {len(problems)} problem(s):\n{listed}")


@dataclass
class Plan:
    """What a setup run will do; JSON-safe and free of secrets (it travels as XCom)."""

    action: str
    name: str
    store_conn_id: str
    warehouse_conn_id: str
    spec: dict[str, Any] | None = None  # the registry entry to write (None for remove)
    warehouse: dict[str, Any] = field(default_factory=dict)  # connection fields, no secrets
    store: dict[str, Any] = field(default_factory=dict)
    pin_presented_key: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        return cls(**data)


def given(form: dict[str, Any], key: str) -> bool:
    """Whether the operator filled in ``key`` (empty text and None mean "not given")."""
    value = form.get(key)
    return value is not None and value != "" and value != [] and value != {}


def _text(form: dict[str, Any], key: str) -> str:
    value = form.get(key)
    return value.strip() if isinstance(value, str) else ""


def plan_setup(
    form: dict[str, Any], registry: dict[str, Any], secrets: set[str], now: datetime
) -> Plan:
    """Validate ``form`` against the registry document; raise FormError listing every problem.

    ``secrets`` names the secret fields the operator filled in (their values never come here).
    """
    problems: list[str] = []
    action = form.get("action") or "add"
    name = _text(form, "connection_name")
    if not name:
        problems.append("field 'connection_name': required")
    elif not SLUG.match(name):
        problems.append(
            f"field 'connection_name': {name!r} must be lowercase letters, digits, "
            "'-' and '_', starting with a letter or digit"
        )
    existing = registry.get(name) if name else None
    if action == "add" and existing is not None:
        problems.append(
            f"field 'connection_name': connection {name!r} already exists; "
            "use action 'update' or pick another name"
        )
    if action in {"update", "remove"} and name and existing is None:
        problems.append(
            f"field 'connection_name': no connection {name!r} is registered "
            f"(registered: {', '.join(sorted(registry)) or 'none'})"
        )
    plan = Plan(action, name, f"dropstream_{name}_store", f"dropstream_{name}_warehouse")
    if action == "remove":
        if problems:
            raise FormError(problems)
        return plan

    merging = action == "update" or (action == "test" and existing is not None)
    base = copy.deepcopy(existing) if merging and isinstance(existing, dict) else None
    problems += _connection_problems(form, secrets, require=base is None)
    entry = _entry(form, base, name, now, problems)
    plan.warehouse = _warehouse_fields(form)
    plan.store = _store_fields(form)
    plan.pin_presented_key = bool(form.get("warehouse_pin_presented_key"))
    if not problems and entry is not None:
        try:
            plan.spec = parse_spec(name, entry).model_dump(mode="json", exclude_none=True)
        except SpecError as exc:
            problems += [f"spec: {p}" for p in exc.problems]
    if problems:
        raise FormError(problems)
    return plan


def _connection_problems(form: dict[str, Any], secrets: set[str], *, require: bool) -> list[str]:
    problems = []
    protocol = form.get("warehouse_protocol") or "sftp"
    if require:
        for key in ("warehouse_host", "warehouse_login", "store_url"):
            if not given(form, key):
                problems.append(f"field '{key}': required")
        if "store_access_token" not in secrets:
            problems.append("field 'store_access_token': required (the store's API token)")
        if protocol == "sftp" and not secrets & {"warehouse_password", "warehouse_private_key"}:
            problems.append(
                "field 'warehouse_password' or 'warehouse_private_key': one is "
                "required to log in to the SFTP server"
            )
        if protocol in {"ftp", "ftps", "s3"} and "warehouse_password" not in secrets:
            problems.append(f"field 'warehouse_password': required for {protocol.upper()}")
        if (
            protocol == "sftp"
            and not given(form, "warehouse_host_key")
            and not form.get("warehouse_pin_presented_key")
        ):
            problems.append(
                "field 'warehouse_host_key': required for SFTP; paste the server's "
                "key, or tick 'warehouse_pin_presented_key' to trust the key it "
                "presents now"
            )
    if protocol != "sftp":
        for key in ("warehouse_private_key", "warehouse_private_key_passphrase"):
            if key in secrets:
                problems.append(f"field '{key}': only used with SFTP")
    key_text = _text(form, "warehouse_host_key")
    if key_text and len(key_text.split()) < 2:
        problems.append(
            "field 'warehouse_host_key': expected '<type> <base64>', e.g. 'ssh-ed25519 AAAA…'"
        )
    url = _text(form, "store_url")
    if url and not url.startswith(("https://", "http://")) and "." not in url:
        problems.append(
            f"field 'store_url': {url!r} is not a URL (e.g. https://acme.myshopify.com)"
        )
    return problems


def _entry(
    form: dict[str, Any], base: dict[str, Any] | None, name: str, now: datetime, problems: list[str]
) -> dict[str, Any] | None:
    """The registry entry: the existing one with what was given laid over it, or a new one."""
    entry: dict[str, Any] = base or {
        "name": name,
        "merchant": "",
        "store": {"options": {}},
        "warehouse": {"paths": {}},
        "rules": {},
        "start_date": now.astimezone(UTC)
        .replace(hour=0, minute=0, second=0, microsecond=0)
        .isoformat(),
    }
    entry["store"]["conn_id"] = f"dropstream_{name}_store"
    entry["warehouse"]["conn_id"] = f"dropstream_{name}_warehouse"
    picked, new = _text(form, "existing_merchant"), _text(form, "new_merchant")
    if picked and new:
        problems.append("fields 'existing_merchant' and 'new_merchant': fill in only one")
    elif picked or new:
        if new and not SLUG.match(new):
            problems.append(
                f"field 'new_merchant': {new!r} must be lowercase letters, digits, "
                "'-' and '_' (it becomes the DAG tag merchant:<name>)"
            )
        entry["merchant"] = picked or new
    elif base is None:
        problems.append("field 'existing_merchant' or 'new_merchant': pick or create a merchant")
    overlay = [
        ("store_name", ("store", "name")),
        ("store_platform", ("store", "platform")),
        ("warehouse_name", ("warehouse", "name")),
        ("warehouse_protocol", ("warehouse", "protocol")),
        ("warehouse_format", ("warehouse", "format")),
        ("default_ship_method", ("rules", "default_ship_method")),
        ("ship_method_map", ("rules", "ship_method_map")),
        ("hold_countries", ("rules", "hold_countries")),
    ]
    for key, folder in _FOLDER_FIELDS.items():
        overlay.append((key, ("warehouse", "paths", folder)))
    for key, (*parents, leaf) in overlay:
        target = entry
        for part in parents:
            target = target.setdefault(part, {})
        if given(form, key) and (base is None or not _is_default(form, key)):
            target[leaf] = form[key].strip() if isinstance(form[key], str) else form[key]
        elif base is None and key in {"store_name", "warehouse_name"}:
            problems.append(f"field '{key}': required")
    if form.get("safety_stock") and (base is None or form["safety_stock"] != 0):
        entry["rules"]["safety_stock"] = form["safety_stock"]
    if given(form, "start_date"):
        try:
            day = datetime.fromisoformat(_text(form, "start_date"))
        except ValueError:
            problems.append(
                f"field 'start_date': {form['start_date']!r} is not a date (YYYY-MM-DD)"
            )
        else:
            entry["start_date"] = (day if day.tzinfo else day.replace(tzinfo=UTC)).isoformat()
    return entry


_FORM_DEFAULTS = {
    **{k: DEFAULT_FOLDERS[v] for k, v in _FOLDER_FIELDS.items()},
    "warehouse_protocol": "sftp",
    "warehouse_format": "header_detail_csv",
}


def _is_default(form: dict[str, Any], key: str) -> bool:
    """On update, a field left at its form default counts as "not given"."""
    return key in _FORM_DEFAULTS and form.get(key) == _FORM_DEFAULTS[key]


def _warehouse_fields(form: dict[str, Any]) -> dict[str, Any]:
    """Given, non-secret warehouse connection fields (port filled in from the protocol)."""
    protocol = form.get("warehouse_protocol") or "sftp"
    fields: dict[str, Any] = {"protocol": protocol}
    for key in ("host", "login", "host_key", "region"):
        if given(form, f"warehouse_{key}"):
            fields[key] = _text(form, f"warehouse_{key}")
    port = form.get("warehouse_port") or DEFAULT_PORTS.get(protocol)
    if port and (given(form, "warehouse_port") or given(form, "warehouse_host")):
        fields["port"] = int(port)
    return fields


def _store_fields(form: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key in ("url", "login", "api_version", "location_id"):
        if given(form, f"store_{key}"):
            fields[key] = _text(form, f"store_{key}")
    return fields


def secret_values(form: dict[str, Any]) -> dict[str, str]:
    """The secrets the operator typed, by field name (only the non-empty ones)."""
    return {k: form[k] for k in SECRET_FIELDS if isinstance(form.get(k), str) and form[k]}

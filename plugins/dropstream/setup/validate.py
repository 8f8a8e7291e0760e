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
from dropstream.setup.targets import STORE_OPTIONS_FIELD, STORES, WAREHOUSES, Target
from dropstream.sharing import AccountOf, account_of_connection, by_conn_id, prefix_conflicts
from dropstream.spec import SLUG, ConnectionSpec, parse_spec

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
    # Per side: {"target": protocol|platform, "fresh": ignore the current Connection,
    # "fields": {form field: value} (given, non-secret, read by the target), "options": {…}}
    warehouse: dict[str, Any] = field(default_factory=dict)
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
    form: dict[str, Any],
    registry: dict[str, Any],
    secrets: set[str],
    now: datetime,
    *,
    account_of: AccountOf = by_conn_id,
) -> Plan:
    """Validate ``form`` against the registry document; raise FormError listing every problem.

    ``secrets`` names the secret fields the operator filled in (their values never come here).
    ``account_of`` tells which warehouse account a registered connection logs in to (the
    setup task looks the Airflow Connections up), for the shared-folder prefix check.
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
    before = _targets_of(base) if base is not None else (None, None)
    entry = _entry(form, base, name, now, problems)
    protocol, platform = _targets_of(entry)
    # A side is built afresh (every required field, the current Connection ignored) on add and
    # when an update switches its protocol/platform.
    fresh_w, fresh_s = before[0] != protocol, before[1] != platform
    warehouse, store = WAREHOUSES.get(protocol), STORES.get(platform)
    if warehouse is None:
        problems.append(
            f"field 'warehouse_protocol': {protocol!r} is not one of {', '.join(WAREHOUSES)}"
        )
    if store is None:
        problems.append(f"field 'store_platform': {platform!r} is not one of {', '.join(STORES)}")
    problems += _side_problems(form, secrets, warehouse, require=fresh_w)
    problems += _side_problems(form, secrets, store, require=fresh_s)
    problems += _connection_problems(form, protocol, require=fresh_w)
    plan.warehouse = {
        "target": protocol,
        "fresh": fresh_w,
        "fields": _given_fields(form, warehouse, fresh_w),
    }
    plan.store = {
        "target": platform,
        "fresh": fresh_s,
        "fields": _given_fields(form, store, fresh_s),
        "options": _options(form, store, problems),
    }
    plan.pin_presented_key = bool(form.get("warehouse_pin_presented_key"))
    if not problems and entry is not None:
        try:
            candidate = parse_spec(name, entry)
        except SpecError as exc:
            problems += [f"spec: {p}" for p in exc.problems]
        else:
            plan.spec = candidate.model_dump(mode="json", exclude_none=True)
            problems += _shared_folder_problems(candidate, form, registry, account_of)
    if problems:
        raise FormError(problems)
    return plan


def _shared_folder_problems(
    candidate: ConnectionSpec, form: dict[str, Any], registry: dict[str, Any], account_of: AccountOf
) -> list[str]:
    """Registered connections sharing an orders/shipments folder with the same prefix."""
    others = []
    for key, raw in registry.items():
        if key != candidate.name:
            try:
                others.append(parse_spec(key, raw))
            except SpecError:
                continue  # an invalid entry runs nothing: it cannot collide
    protocol = candidate.warehouse.protocol
    typed = account_of_connection(
        protocol,
        _text(form, "warehouse_host"),
        int(form["warehouse_port"]) if given(form, "warehouse_port") else None,
        _text(form, "warehouse_login"),
        {
            "bucket": _text(form, "warehouse_bucket"),
            "endpoint_url": _text(form, "warehouse_endpoint_url"),
        },
    )
    mine = typed or account_of(candidate)  # on update with the address unchanged: as registered

    def accounts(spec: ConnectionSpec):  # type: ignore[no-untyped-def]
        return mine if spec.name == candidate.name else account_of(spec)

    return [
        f"field 'order_number_prefix': {p}" for p in prefix_conflicts(candidate, others, accounts)
    ]


def _targets_of(entry: dict[str, Any]) -> tuple[str, str]:
    """(protocol, platform) of a registry entry."""
    return (
        str((entry.get("warehouse") or {}).get("protocol") or "sftp"),
        str((entry.get("store") or {}).get("platform") or ""),
    )


def _has(form: dict[str, Any], secrets: set[str], key: str) -> bool:
    return (
        key in secrets if key in SECRET_FIELDS else given(form, key) and not _is_default(form, key)
    )


def _side_problems(
    form: dict[str, Any], secrets: set[str], target: Target | None, *, require: bool
) -> list[str]:
    """The target's required fields (when building it afresh) and fields it does not read."""
    if target is None:
        return []
    problems = []
    if require:
        for entry in target.required_fields:
            names = (entry,) if isinstance(entry, str) else entry
            if any(_has(form, secrets, n) for n in names):
                continue
            if len(names) == 1:
                problems.append(
                    f"field '{names[0]}': required for {target.display} ({target.label(names[0])})"
                )
            else:
                quoted = " or ".join(f"'{n}'" for n in names)
                what = " or ".join(target.label(n) for n in names)
                problems.append(f"field {quoted}: one is required for {target.display} ({what})")
    side = STORES if target in STORES.values() else WAREHOUSES
    others = dict.fromkeys(f for t in side.values() for f in t.field_mapping)
    for key in others:
        if key not in target.field_mapping and _has(form, secrets, key):
            users = ", ".join(t.display for t in side.values() if key in t.field_mapping)
            problems.append(
                f"field '{key}': not used by {target.display} (only by {users}); leave it empty"
            )
    return problems


def _given_fields(form: dict[str, Any], target: Target | None, fresh: bool) -> dict[str, Any]:
    """Given, non-secret fields the target reads; the port filled in from the protocol."""
    if target is None:
        return {}
    fields: dict[str, Any] = {}
    for key in target.field_mapping:
        if key in SECRET_FIELDS or not given(form, key):
            continue
        if not fresh and _is_default(form, key):
            continue
        value = form[key]
        fields[key] = value.strip() if isinstance(value, str) else value
    if "warehouse_port" in target.field_mapping and "warehouse_port" not in fields:
        port = DEFAULT_PORTS.get(target.key)
        if port and given(form, "warehouse_host"):
            fields["warehouse_port"] = port
    if isinstance(fields.get("warehouse_port"), str | float):
        fields["warehouse_port"] = int(fields["warehouse_port"])
    return fields


def _options(form: dict[str, Any], target: Target | None, problems: list[str]) -> dict[str, Any]:
    """The non-secret store extras of the options object, checked against the target's keys."""
    value = form.get(STORE_OPTIONS_FIELD)
    if value in (None, "", {}):
        return {}
    if not isinstance(value, dict):
        problems.append(f"field '{STORE_OPTIONS_FIELD}': expected an object, e.g. {{\"key\": 1}}")
        return {}
    if target is None:
        return {}
    allowed = ", ".join(target.option_keys) or "none"
    for key in value:
        if key not in target.option_keys:
            hint = ""
            mapped = {w.removeprefix("extra."): f for f, w in target.field_mapping.items()}
            if key in mapped:
                hint = f"; use field '{mapped[key]}'"
            problems.append(
                f"field '{STORE_OPTIONS_FIELD}': {key!r} is not a setting of "
                f"{target.display} (allowed: {allowed}){hint}"
            )
    return {k: v for k, v in value.items() if k in target.option_keys}


def _connection_problems(form: dict[str, Any], protocol: str, *, require: bool) -> list[str]:
    """Checks beyond the tables: the SFTP host key, URL shape."""
    problems = []
    if (
        require
        and protocol == "sftp"
        and not given(form, "warehouse_host_key")
        and not form.get("warehouse_pin_presented_key")
    ):
        problems.append(
            "field 'warehouse_host_key': required for SFTP; paste the server's "
            "key, or tick 'warehouse_pin_presented_key' to trust the key it "
            "presents now"
        )
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
        ("order_number_prefix", ("rules", "order_number_prefix")),
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
    "warehouse_passive": True,
    "warehouse_pin_presented_key": False,
}


def _is_default(form: dict[str, Any], key: str) -> bool:
    """On update, a field left at its form default counts as "not given"."""
    return key in _FORM_DEFAULTS and form.get(key) == _FORM_DEFAULTS[key]


def secret_values(form: dict[str, Any]) -> dict[str, str]:
    """The secrets the operator typed, by field name (only the non-empty ones)."""
    return {k: form[k] for k in SECRET_FIELDS if isinstance(form.get(k), str) and form[k]}

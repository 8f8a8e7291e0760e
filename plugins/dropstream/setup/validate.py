"""Turn a submitted setup form into a plan: every problem at once, each naming its field.

Pure: no Airflow, no I/O. The plan holds no secret; the secrets travel separately (see tasks).
"""

from __future__ import annotations

import copy
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from dropstream.catalogue import DEFAULT_FOLDERS, PROTOCOLS
from dropstream.errors import ConfigurationError, SpecError
from dropstream.setup.form import SECRET_FIELDS, field_label
from dropstream.setup.keys import normalize_private_key
from dropstream.setup.targets import STORE_OPTIONS_FIELD, STORES, WAREHOUSES, Target
from dropstream.sharing import AccountOf, account_of_connection, by_conn_id, prefix_conflicts
from dropstream.spec import FLOWS, SLUG, ConnectionSpec, parse_spec
from dropstream.webhooks import WEBHOOK_PLATFORMS

_FOLDER_FIELDS = {f"{flow}_folder": flow for flow in DEFAULT_FOLDERS}
_SCHEDULE_FIELDS = {f"{flow}_schedule": flow for flow in FLOWS}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the form: the fields it is about and what to do, in form words."""

    fields: tuple[str, ...]
    text: str

    def __str__(self) -> str:
        if not self.fields:
            return self.text
        return f"{' or '.join(field_label(f) for f in self.fields)}: {self.text}"


class FormError(ConfigurationError):
    """The submitted form has problems; ``problems`` lists them, each naming its field."""

    def __init__(self, problems: list[Problem]) -> None:
        self.fields = {f for p in problems for f in p.fields}
        self.problems = [str(p) for p in problems]
        listed = "\n".join(f"- {p}" for p in self.problems)
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
    problems: list[Problem] = []
    action = form.get("action") or "add"
    name = _text(form, "connection_name")
    if not name:
        problems.append(Problem(("connection_name",), "required: a short id such as acme-shop"))
    elif not SLUG.match(name):
        problems.append(
            Problem(
                ("connection_name",),
                f"{name!r} must be lowercase letters, digits, '-' and '_', starting with a "
                "letter or digit",
            )
        )
    existing = registry.get(name) if name else None
    if action == "add" and existing is not None:
        problems.append(
            Problem(
                ("connection_name",),
                f"connection {name!r} already exists; choose 'Update a connection' or pick "
                "another name",
            )
        )
    if action in {"update", "remove"} and name and existing is None:
        problems.append(
            Problem(
                ("connection_name",),
                f"no connection {name!r} is registered "
                f"(registered: {', '.join(sorted(registry)) or 'none'})",
            )
        )
    plan = Plan(action, name, f"dropstream_{name}_store", f"dropstream_{name}_warehouse")
    if action == "remove":
        if problems:
            raise FormError(problems)
        # The platform, so that removing also removes the store's webhook subscriptions.
        plan.store = {"target": ((existing or {}).get("store") or {}).get("platform")}
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
            Problem(("warehouse_protocol",), f"{protocol!r} is not one of {', '.join(WAREHOUSES)}")
        )
    if store is None:
        problems.append(
            Problem(("store_platform",), f"{platform!r} is not one of {', '.join(STORES)}")
        )
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
    if not problems:
        try:
            candidate = parse_spec(name, entry)
        except SpecError as exc:
            problems += [Problem(_spec_fields(p), p) for p in exc.problems]
        else:
            plan.spec = candidate.model_dump(mode="json", exclude_none=True)
            problems += _shared_folder_problems(candidate, form, registry, account_of)
    if problems:
        raise FormError(problems)
    return plan


def _spec_fields(problem: str) -> tuple[str, ...]:
    """The form fields a registry-entry problem is about, when it names a key they set."""
    if "warehouse.format" in problem or "format" in problem.split(":")[0]:
        named = tuple(
            f for f, (_, option) in FORMAT_FIELDS.items() if re.search(rf"\b{option}\b", problem)
        )
        return named or ("warehouse_format", "format_options")
    for form_field, (*parents, leaf) in _OVERLAY:
        if "'" + ".".join([*parents, leaf]) in problem:
            return (form_field,)
    for form_field, flow in _SCHEDULE_FIELDS.items():
        if f"schedules.{flow}" in problem:
            return (form_field,)
    return ()


def _shared_folder_problems(
    candidate: ConnectionSpec, form: dict[str, Any], registry: dict[str, Any], account_of: AccountOf
) -> list[Problem]:
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
        Problem(("order_number_prefix",), p) for p in prefix_conflicts(candidate, others, accounts)
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
) -> list[Problem]:
    """The target's required fields (when building it afresh) and fields it does not read."""
    if target is None:
        return []
    problems = []
    if require:
        for entry in target.required_fields:
            names = (entry,) if isinstance(entry, str) else entry
            if any(_has(form, secrets, n) for n in names):
                continue
            what = " or ".join(target.label(n) for n in names)
            needed = "required" if len(names) == 1 else "one of these is required"
            problems.append(Problem(names, f"{needed} for {target.display} ({what})"))
    side = STORES if target in STORES.values() else WAREHOUSES
    others = dict.fromkeys(f for t in side.values() for f in t.field_mapping)
    for key in others:
        if key not in target.field_mapping and _has(form, secrets, key):
            users = ", ".join(t.display for t in side.values() if key in t.field_mapping)
            problems.append(
                Problem((key,), f"not used by {target.display} (only by {users}); leave it empty")
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
        protocol = PROTOCOLS.get(target.key)
        port = protocol.default_port if protocol else None
        if port and given(form, "warehouse_host"):
            fields["warehouse_port"] = port
    if isinstance(fields.get("warehouse_port"), str | float):
        fields["warehouse_port"] = int(fields["warehouse_port"])
    return fields


def _options(
    form: dict[str, Any], target: Target | None, problems: list[Problem]
) -> dict[str, Any]:
    """The non-secret store extras of the options object, checked against the target's keys."""
    value = form.get(STORE_OPTIONS_FIELD)
    if value in (None, "", {}):
        return {}
    if not isinstance(value, dict):
        problems.append(
            Problem((STORE_OPTIONS_FIELD,), 'expected an object, e.g. {"tracking": "note"}')
        )
        return {}
    if target is None:
        return {}
    allowed = ", ".join(target.option_keys) or "none"
    mapped = {w.removeprefix("extra."): f for f, w in target.field_mapping.items()}
    for key in value:
        if key not in target.option_keys:
            hint = f"; use the field {field_label(mapped[key])}" if key in mapped else ""
            problems.append(
                Problem(
                    (STORE_OPTIONS_FIELD,),
                    f"{key!r} is not a setting of {target.display} (allowed: {allowed}){hint}",
                )
            )
    return {k: v for k, v in value.items() if k in target.option_keys}


def _connection_problems(form: dict[str, Any], protocol: str, *, require: bool) -> list[Problem]:
    """Checks beyond the tables: the SFTP host key, URL shape."""
    problems = []
    if (
        require
        and protocol == "sftp"
        and not given(form, "warehouse_host_key")
        and not form.get("warehouse_pin_presented_key")
    ):
        problems.append(
            Problem(
                ("warehouse_host_key",),
                "required for SFTP: paste the server's key, or tick "
                f"{field_label('warehouse_pin_presented_key')} to trust the key it presents now",
            )
        )
    key_text = _text(form, "warehouse_host_key")
    if key_text and len(key_text.split()) < 2:
        problems.append(
            Problem(("warehouse_host_key",), "expected 'TYPE BASE64', e.g. 'ssh-ed25519 AAAA…'")
        )
    url = _text(form, "store_url")
    if url and not url.startswith(("https://", "http://")) and "." not in url:
        problems.append(
            Problem(("store_url",), f"{url!r} is not a URL (e.g. https://acme.myshopify.com)")
        )
    return problems


#: Form field → where it goes in the registry entry.
_OVERLAY: list[tuple[str, tuple[str, ...]]] = [
    ("store_name", ("store", "name")),
    ("store_platform", ("store", "platform")),
    ("warehouse_name", ("warehouse", "name")),
    ("warehouse_protocol", ("warehouse", "protocol")),
    ("default_ship_method", ("rules", "default_ship_method")),
    ("ship_method_map", ("rules", "ship_method_map")),
    *(
        (key, ("rules", key))
        for key in (
            "hold_countries",
            "ship_countries",
            "include_tags",
            "exclude_tags",
            "hold_minutes",
            "sku_map",
            "skip_skus",
            "bundles",
            "address_checks",
            "safety_stock",
            "safety_stock_pct",
            "subtract_in_flight",
            "zero_out_guard_pct",
        )
    ),
    ("order_number_prefix", ("rules", "order_number_prefix")),
    *((key, ("warehouse", "paths", folder)) for key, folder in _FOLDER_FIELDS.items()),
    *((key, ("schedules", flow)) for key, flow in _SCHEDULE_FIELDS.items()),
    ("extra_tags", ("tags",)),
    ("alert_emails", ("alerts", "emails")),
    ("alert_apprise_tags", ("alerts", "apprise_tags")),
    ("alert_held_hours", ("alerts", "held_hours")),
    ("webhooks_enabled", ("webhooks", "enabled")),
]


def _entry(
    form: dict[str, Any],
    base: dict[str, Any] | None,
    name: str,
    now: datetime,
    problems: list[Problem],
) -> dict[str, Any]:
    """The registry entry: the existing one with what was given laid over it, or a new one."""
    entry: dict[str, Any] = base or {
        "name": name,
        "merchant": "",
        "store": {"options": {}},
        "warehouse": {"paths": {}},
        "rules": {},
        "start_date": now.astimezone(UTC).replace(microsecond=0).isoformat(),
    }
    entry["store"]["conn_id"] = f"dropstream_{name}_store"
    entry["warehouse"]["conn_id"] = f"dropstream_{name}_warehouse"
    merchant = _text(form, "merchant")
    if merchant:
        if not SLUG.match(merchant):
            problems.append(
                Problem(
                    ("merchant",),
                    f"{merchant!r} must be lowercase letters, digits, '-' and '_' (it becomes "
                    "the DAG tag merchant:NAME)",
                )
            )
        entry["merchant"] = merchant
    elif base is None:
        problems.append(Problem(("merchant",), "required: a new merchant or an existing one"))
    for key, (*parents, leaf) in _OVERLAY:
        target = entry
        for part in parents:
            target = target.setdefault(part, {})
        if given(form, key) and (base is None or not _is_default(form, key)):
            target[leaf] = form[key].strip() if isinstance(form[key], str) else form[key]
        elif base is None and key in {"store_name", "warehouse_name"}:
            problems.append(Problem((key,), "required"))
    _format(form, entry, base, problems)
    platform = entry.get("store", {}).get("platform")
    if (entry.get("webhooks") or {}).get("enabled") and platform not in WEBHOOK_PLATFORMS:
        problems.append(
            Problem(
                ("webhooks_enabled",),
                f"{platform} stores cannot send webhooks to DropStream (only "
                f"{', '.join(sorted(WEBHOOK_PLATFORMS))}); leave it off",
            )
        )
    if given(form, "start_date"):
        try:
            day = datetime.fromisoformat(_text(form, "start_date"))
        except ValueError:
            problems.append(
                Problem(("start_date",), f"{form['start_date']!r} is not a date (YYYY-MM-DD)")
            )
        else:
            entry["start_date"] = (day if day.tzinfo else day.replace(tzinfo=UTC)).isoformat()
    return entry


#: Format option fields of the form → (the format that reads them, its option name).
FORMAT_FIELDS: dict[str, tuple[str, str]] = {
    "format_version": ("header_detail_csv", "version"),
    "x12_sender_id": ("x12", "sender_id"),
    "x12_receiver_id": ("x12", "receiver_id"),
    "x12_sender_qualifier": ("x12", "sender_qualifier"),
    "x12_receiver_qualifier": ("x12", "receiver_qualifier"),
}


def _format(
    form: dict[str, Any],
    entry: dict[str, Any],
    base: dict[str, Any] | None,
    problems: list[Problem],
) -> None:
    """``warehouse.format``: the chosen name with its options; an update keeps the options it
    does not change (while the format stays the same)."""
    current = (base or {}).get("warehouse", {}).get("format") or "header_detail_csv"
    current_name = current if isinstance(current, str) else current.get("name", "")
    current_options = {} if isinstance(current, str) else dict(current.get("options") or {})
    name = current_name
    if given(form, "warehouse_format") and (
        base is None or not _is_default(form, "warehouse_format")
    ):
        name = str(form["warehouse_format"]).strip()
    options = current_options if name == current_name else {}
    typed = form.get("format_options")
    if typed not in (None, "", {}):
        if isinstance(typed, dict):
            options.update(typed)
        else:
            problems.append(
                Problem(("format_options",), 'expected an object, e.g. {"facility": "WH-1"}')
            )
    for field_name, (reader, option) in FORMAT_FIELDS.items():
        if not given(form, field_name):
            continue
        if reader != name:
            problems.append(
                Problem(
                    (field_name,), f"only the {reader} format reads it, not {name}; leave it empty"
                )
            )
            continue
        value = form[field_name]
        options[option] = value.strip() if isinstance(value, str) else value
    entry["warehouse"]["format"] = {"name": name, "options": options} if options else name


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
    """The secrets the operator typed, by field name (only the non-empty ones).

    A private key pasted into the masked (single-line) field arrives with its line breaks
    removed; it is put back into the PEM/OpenSSH shape here.
    """
    found = {k: form[k] for k in SECRET_FIELDS if isinstance(form.get(k), str) and form[k]}
    if "warehouse_private_key" in found:
        found["warehouse_private_key"] = normalize_private_key(found["warehouse_private_key"])
    return found

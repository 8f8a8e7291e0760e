"""ConnectionSpec: one store <-> warehouse connection, validated strictly (pydantic).

Unknown keys are errors, not silently ignored; every problem names its key.
The spec holds no secrets: credentials live in the Airflow Connections named by ``conn_id``.
"""

from __future__ import annotations

import posixpath
import re
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from dropstream.catalogue import DEFAULT_FOLDERS, PLATFORMS, PROTOCOLS
from dropstream.errors import SpecError

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
TAG = re.compile(r"^[a-z0-9][a-z0-9_:.-]{0,99}$")
#: What an order-number prefix may hold: safe in every format's order number (X12 too).
PREFIX = re.compile(r"^[A-Za-z0-9_-]{0,10}$")
FLOWS: tuple[str, ...] = ("orders", "inventory", "tracking")
#: The cadence of each flow (the contract); a connection's default schedule fires at its own
#: offset inside it (``offset_schedule``).
DEFAULT_SCHEDULES: dict[str, str] = {
    "orders": "*/15 * * * *",
    "inventory": "0 * * * *",
    "tracking": "0 */4 * * *",
}
PERIODS: dict[str, int] = {"orders": 15 * 60, "inventory": 60 * 60, "tracking": 4 * 60 * 60}


def schedule_offset(name: str, flow: str, period: int) -> int:
    """Seconds into each ``period`` at which the connection's ``flow`` fires.

    crc32 of the name, not ``hash()``: Python salts string hashes per process, and the
    scheduler, the dag-processor and every worker must agree on the schedule.
    """
    return zlib.crc32(f"{name}/{flow}".encode()) % period


def offset_schedule(period: int, offset: int) -> str:
    """A cron firing every ``period`` seconds, ``offset`` seconds into it (UTC).

    Six fields: croniter reads a sixth field as the second, so 1,000 connections spread over a
    quarter hour fire about one a second instead of all at :00. ``period`` is a minute, or a
    divisor of an hour in whole minutes, or a divisor of a day in whole hours.
    """
    minute, second = divmod(offset % period, 60)
    if period == 60:
        return f"* * * * * {second}"
    if 3600 % period == 0 and period % 60 == 0:
        minutes = ",".join(str(m) for m in range(minute, 60, period // 60))
        return f"{minutes} * * * * {second}"
    if 86400 % period == 0 and period % 3600 == 0:
        hour, minute = divmod(minute, 60)
        hours = ",".join(str(h) for h in range(hour, 24, period // 3600))
        return f"{minute} {hours} * * * {second}"
    raise ValueError(f"no cron fires every {period} s: use a minute, hour or day divisor")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _check_cron(value: str | None) -> str | None:
    if value is None:
        return None
    fields = value.split()
    if len(fields) not in (5, 6):
        raise ValueError(
            f"{value!r} is not a cron expression: 5 fields (e.g. '*/15 * * * *'), "
            "or 6 with the second last (e.g. '*/15 * * * * 30')"
        )
    from croniter import croniter  # airflow ships croniter; imported only when a schedule is set

    if not croniter.is_valid(value):
        raise ValueError(f"{value!r} is not a valid cron expression")
    return value


class StoreSpec(_Strict):
    name: str = Field(min_length=1)
    platform: str = Field(min_length=1)
    conn_id: str = Field(min_length=1)
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("platform")
    @classmethod
    def _known_platform(cls, value: str) -> str:
        if value not in PLATFORMS:  # the catalogue: no adapter (no HTTP library) is imported
            known = ", ".join(sorted(PLATFORMS))
            raise ValueError(f"unsupported platform {value!r} (supported: {known})")
        return value

    @field_validator("options")
    @classmethod
    def _known_options(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        platform = PLATFORMS.get(info.data.get("platform", ""))
        # an unknown platform is reported by the platform check itself
        problems = platform.option_problems(value) if platform is not None else []
        if problems:
            raise ValueError("; ".join(problems))
        return value


def _folder(value: str) -> str:
    """An absolute folder on the warehouse, without ``..``, normalised (``/out/`` -> ``/out``)."""
    if not value.startswith("/"):
        raise ValueError(f"{value!r} must be an absolute folder such as '/out'")
    if ".." in value.split("/"):
        raise ValueError(f"{value!r} must not contain '..'")
    return posixpath.normpath(value).replace("//", "/")


class WarehousePaths(_Strict):
    orders: str = DEFAULT_FOLDERS["orders"]
    shipments: str = DEFAULT_FOLDERS["shipments"]
    inventory: str = DEFAULT_FOLDERS["inventory"]
    archive: str = DEFAULT_FOLDERS["archive"]

    _absolute = field_validator("orders", "shipments", "inventory", "archive")(_folder)


class FormatRef(_Strict):
    name: str = Field(min_length=1)
    options: dict[str, Any] = Field(default_factory=dict)


class WarehouseSpec(_Strict):
    name: str = Field(min_length=1)
    protocol: str
    conn_id: str = Field(min_length=1)
    paths: WarehousePaths = Field(default_factory=WarehousePaths)
    format: FormatRef

    @field_validator("protocol")
    @classmethod
    def _known_protocol(cls, value: str) -> str:
        if value not in PROTOCOLS:
            raise ValueError(f"{value!r} is not one of {', '.join(PROTOCOLS)}")
        return value

    @field_validator("format", mode="before")
    @classmethod
    def _format_by_name(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @field_validator("format")
    @classmethod
    def _usable_format(cls, value: FormatRef) -> FormatRef:
        from dropstream.formats import format_problems  # the format's own options model decides

        problems = format_problems(value.name, value.options)
        if problems:
            raise ValueError("; ".join(problems))
        return value


COUNTRY = re.compile(r"^[A-Z]{2}$")


def _countries(value: list[str]) -> list[str]:
    """ISO 3166-1 alpha-2 codes, upper-cased, each once."""
    codes = [v.strip().upper() for v in value]
    bad = [v for v in codes if not COUNTRY.match(v)]
    if bad:
        listed = ", ".join(repr(b) for b in bad)
        raise ValueError(f"{listed}: not ISO 3166-1 alpha-2 country codes (e.g. 'US', 'DE')")
    return list(dict.fromkeys(codes))


def _tag_list(value: list[str]) -> list[str]:
    tags = [v.strip() for v in value]
    if any(not t for t in tags):
        raise ValueError("an empty tag matches nothing: remove it")
    return list(dict.fromkeys(tags))


class Rules(_Strict):
    """Fulfillment-flow rules; see ``dropstream.rules`` and docs/fulfillment.md."""

    sku_map: dict[str, str] = Field(default_factory=dict)
    ship_method_map: dict[str, str] = Field(default_factory=dict)
    default_ship_method: str = ""
    skip_skus: list[str] = Field(default_factory=list)
    hold_countries: list[str] = Field(default_factory=list)
    #: Only orders shipping to these countries go out; others are held (empty: every country).
    ship_countries: list[str] = Field(default_factory=list)
    #: Send only orders carrying one of these store tags (empty: every order).
    include_tags: list[str] = Field(default_factory=list)
    #: Hold orders carrying any of these store tags.
    exclude_tags: list[str] = Field(default_factory=list)
    #: An order is sent only once it is this many minutes old; until then it waits.
    hold_minutes: int = Field(default=0, ge=0, le=7 * 24 * 60)
    #: Store SKU of a bundle -> {component SKU: units in one bundle}.
    bundles: dict[str, dict[str, int]] = Field(default_factory=dict)
    #: Hold orders whose ship-to address the warehouse could not ship to.
    address_checks: bool = True
    safety_stock: int = Field(default=0, ge=0)
    #: Percent of the available quantity withheld from the store (the larger of the two wins).
    safety_stock_pct: float = Field(default=0, ge=0, le=100)
    #: Subtract units of orders sent but not yet shipped from the warehouse's figure.
    subtract_in_flight: bool = False
    #: A snapshot that would zero at least this percent of the store's in-stock SKUs is suspect.
    zero_out_guard_pct: float = Field(default=50, gt=0, le=100)
    #: Put before the store's order number in every file sent to the warehouse, and taken off
    #: the order numbers that come back: tells apart the stores of one warehouse account.
    order_number_prefix: str = ""

    _country_codes = field_validator("hold_countries", "ship_countries")(_countries)
    _tag_names = field_validator("include_tags", "exclude_tags")(_tag_list)

    @field_validator("order_number_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not PREFIX.match(value):
            raise ValueError(
                f"{value!r} may hold up to 10 letters, digits, '-' and '_' (e.g. 'A-')"
            )
        return value

    @field_validator("bundles")
    @classmethod
    def _bundles(cls, value: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
        problems = []
        for bundle, components in value.items():
            if not bundle.strip():
                problems.append("a bundle needs its store SKU as the key")
            if not components:
                problems.append(f"bundle {bundle!r} has no components")
            for sku, qty in components.items():
                if not sku.strip():
                    problems.append(f"bundle {bundle!r} has a component without a SKU")
                if type(qty) is not int or qty < 1:
                    problems.append(
                        f"bundle {bundle!r}: component {sku!r} needs a whole quantity from 1, "
                        f"got {qty!r}"
                    )
                if sku in value:
                    problems.append(
                        f"bundle {bundle!r}: component {sku!r} is itself a bundle; "
                        "list the inner bundle's components instead"
                    )
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Rules:
        problems = []
        both = sorted(set(self.bundles) & set(self.sku_map))
        if both:
            problems.append(
                f"{', '.join(both)} in both bundles and sku_map: a bundle is sent as its "
                "components; map the components instead"
            )
        skipped = sorted(set(self.bundles) & set(self.skip_skus))
        if skipped:
            problems.append(f"{', '.join(skipped)} in both bundles and skip_skus: pick one")
        overlap = sorted(set(self.include_tags) & set(self.exclude_tags))
        if overlap:
            problems.append(f"tags {', '.join(overlap)} in both include_tags and exclude_tags")
        contradict = sorted(set(self.ship_countries) & set(self.hold_countries))
        if contradict:
            problems.append(
                f"countries {', '.join(contradict)} in both ship_countries and hold_countries"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self


#: A recipient address: something@domain.tld (the SMTP server has the last word).
EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
APPRISE_TAG = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class Alerts(_Strict):
    """Who hears about trouble with the connection, and when a held order counts as trouble
    (see ``dropstream.alerts`` and docs/operations.md)."""

    emails: list[str] = Field(default_factory=list)
    #: Tags of the Apprise services (Slack, Teams, …) in the Airflow Connection
    #: ``dropstream_apprise`` that hear about this connection. The services' URLs hold tokens:
    #: they live in that Connection, never in the spec.
    apprise_tags: list[str] = Field(default_factory=list)
    #: A held order is reported once it has waited this long for a person.
    held_hours: float = Field(default=4, gt=0, le=24 * 30)

    @field_validator("emails")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not EMAIL.match(v)]
        if bad:
            listed = ", ".join(repr(b) for b in bad)
            raise ValueError(f"{listed}: not e-mail addresses (expected e.g. ops@acme.example)")
        return list(dict.fromkeys(value))

    @field_validator("apprise_tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        bad = [t for t in value if not APPRISE_TAG.match(t)]
        if bad:
            listed = ", ".join(repr(b) for b in bad)
            raise ValueError(f"{listed}: a tag is letters, digits, '-', '_' or '.' (e.g. ops)")
        return list(dict.fromkeys(value))

    @property
    def wanted(self) -> bool:
        """Whether anyone is to be told at all."""
        return bool(self.emails or self.apprise_tags)


class Schedules(_Strict):
    orders: str | None = None
    inventory: str | None = None
    tracking: str | None = None

    _cron = field_validator("orders", "inventory", "tracking")(_check_cron)


class Webhooks(_Strict):
    """Store webhooks start the orders DAG at once (docs/webhooks.md); the schedule stays the
    safety net. The secret lives in the store's Airflow Connection, never here."""

    enabled: bool = False


class ConnectionSpec(_Strict):
    name: str
    merchant: str = Field(min_length=1)
    store: StoreSpec
    warehouse: WarehouseSpec
    rules: Rules = Field(default_factory=Rules)
    schedules: Schedules = Field(default_factory=Schedules)
    alerts: Alerts = Field(default_factory=Alerts)
    webhooks: Webhooks = Field(default_factory=Webhooks)
    tags: list[str] = Field(default_factory=list)  # extra DAG tags, e.g. "sandbox"
    start_date: datetime

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        bad = [t for t in value if not TAG.match(t)]
        if bad:
            raise ValueError(
                f"tags {bad} must be lowercase letters, digits and '-', '_', ':', '.' "
                "(at most 100 characters)"
            )
        return value

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG.match(value):
            raise ValueError(
                "must be a slug: lowercase letters, digits, '_' and '-', "
                "starting with a letter or digit"
            )
        return value

    @field_validator("start_date")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def schedule(self, flow: str) -> str:
        """Cron schedule of ``flow``: the explicit ``schedules`` entry, else the default cadence
        at this connection's own offset (``schedule_offset``)."""
        explicit = getattr(self.schedules, flow)
        if explicit:
            return str(explicit)
        period = PERIODS[flow]
        return offset_schedule(period, schedule_offset(self.name, flow, period))

    def interval(self, flow: str) -> timedelta:
        """The longest gap between two runs of ``flow`` (its period for the default cadence)."""
        explicit = getattr(self.schedules, flow)
        if not explicit:
            return timedelta(seconds=PERIODS[flow])
        from croniter import croniter

        fires = croniter(str(explicit), self.start_date)
        times = [fires.get_next(datetime) for _ in range(50)]
        return max(b - a for a, b in zip(times, times[1:], strict=False))

    def dag_id(self, flow: str) -> str:
        return dag_id(self.name, flow)


def dag_id(name: str, flow: str) -> str:
    """DAG id of one flow of one connection: ``dropstream__<name>__<flow>``."""
    return f"dropstream__{name}__{flow}"


def parse_dag_id(value: str) -> tuple[str, str] | None:
    """``(connection name, flow)`` of a DropStream DAG id, or None for any other id."""
    if not value.startswith("dropstream__"):
        return None
    name, sep, flow = value[len("dropstream__") :].rpartition("__")
    return (name, flow) if sep and name and flow in FLOWS else None


def _describe(error: Any) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "(entry)"
    kind = error["type"]
    if kind == "missing":
        return f"missing key '{where}'"
    if kind == "extra_forbidden":
        return f"unknown key '{where}'"
    return f"'{where}': {error['msg'].removeprefix('Value error, ')}"


def parse_spec(key: str, raw: Any) -> ConnectionSpec:
    """Validate one registry entry; raise SpecError listing every problem by key."""
    if not isinstance(raw, dict):
        raise SpecError(key, [f"entry must be a JSON object, got {type(raw).__name__}"])
    problems: list[str] = []
    if "name" in raw and raw["name"] != key:
        problems.append(f"'name' is {raw['name']!r} but the registry key is {key!r}")
    try:
        spec = ConnectionSpec.model_validate(raw)
    except ValidationError as exc:
        problems.extend(_describe(e) for e in exc.errors(include_url=False))
        raise SpecError(key, problems) from None
    if problems:
        raise SpecError(key, problems)
    return spec

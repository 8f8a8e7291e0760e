"""The trigger form of ``dropstream_setup``: Airflow Params in the order a person thinks.

Every field has a title (what the form shows and what validation messages name) and says where a
first-time user finds the value. Only the few choices every setup makes carry a default; every
other field is optional to the form (``["null", …]`` types, ``None`` defaults), so nothing is red
before typing and the Trigger button is never held back by a field the chosen protocol or
platform does not read. ``validate.plan_setup`` is the one place that says which fields a choice
needs. Secret fields use ``format="password"`` (masked, the private key too) and never leave the
first task: see ``docs/setup.md``.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param

from dropstream.catalogue import DEFAULT_FOLDERS, FORMATS, PLATFORMS, PROTOCOLS, STORE_FIELDS
from dropstream.setup.rule_fields import RULE_TITLES, rule_params
from dropstream.setup.targets import SECRET_FIELDS, STORE_OPTIONS_FIELD, STORES, WAREHOUSES
from dropstream.setup.targets import applies_to as _applies_to

__all__ = ["SECRET_FIELDS", "TITLES", "field_label", "setup_params"]

ACTIONS: dict[str, str] = {
    "add": "Add a new connection",
    "update": "Update a connection (only the fields you fill in change)",
    "test": "Test only: check everything, register nothing",
    "remove": "Remove a connection (its DAGs disappear, their history stays)",
}
#: The protocol choice, in catalogue order (each protocol's ``choice`` text).
PROTOCOL_NAMES: dict[str, str] = {p.key: p.choice for p in PROTOCOLS.values()}
#: The format choice, sorted by name.
FORMAT_NAMES: dict[str, str] = {k: FORMATS[k].display for k in sorted(FORMATS)}

# Sections, in the order the form shows them.
CONNECTION = "Connection"
WAREHOUSE = "Warehouse (3PL)"
SFTP = "Warehouse: SFTP only"
FTP = "Warehouse: FTP and FTPS only"
S3 = "Warehouse: S3 only"
FILES = "Warehouse folders and file format"
STORE = "Store"
FLOW = "Fulfillment flow"
SCHEDULES = "Schedules and tags (optional)"
ALERTS = "Alerts (optional)"

#: What the form calls each field; validation and run notes use the same words.
TITLES: dict[str, str] = {
    "action": "What to do",
    "connection_name": "Connection name",
    "merchant": "Merchant",
    "warehouse_name": "Warehouse name",
    "warehouse_protocol": "Protocol",
    "warehouse_host": "Server (host)",
    "warehouse_port": "Port",
    "warehouse_login": "User name / access key id",
    "warehouse_password": "Password / secret access key",
    "warehouse_private_key": "SFTP private key",
    "warehouse_private_key_passphrase": "SFTP private key passphrase",
    "warehouse_host_key": "SFTP host key",
    "warehouse_pin_presented_key": "Trust the host key the server presents now",
    "warehouse_passive": "Passive mode",
    "warehouse_ca_cert": "FTPS CA certificate (PEM)",
    "warehouse_ca_cert_path": "FTPS CA file on the workers",
    "warehouse_cert_fingerprint": "FTPS certificate fingerprint",
    "warehouse_bucket": "S3 bucket",
    "warehouse_region": "S3 region",
    "warehouse_endpoint_url": "S3 endpoint URL",
    "warehouse_server_side_encryption": "S3 server-side encryption",
    "warehouse_sse_kms_key_id": "S3 KMS key id",
    "orders_folder": "Orders folder",
    "shipments_folder": "Shipments folder",
    "inventory_folder": "Inventory folder",
    "archive_folder": "Archive folder",
    "warehouse_format": "File format",
    "order_number_prefix": "Order-number prefix",
    "format_version": "Header/detail CSV version",
    "x12_sender_id": "X12: our id (sender)",
    "x12_receiver_id": "X12: the 3PL's id (receiver)",
    "x12_sender_qualifier": "X12: our id qualifier",
    "x12_receiver_qualifier": "X12: the 3PL's id qualifier",
    "format_options": "More file format options",
    "store_name": "Store name",
    "store_platform": "Platform",
    **{f.name: f.title for f in STORE_FIELDS},
    STORE_OPTIONS_FIELD: "More store settings",
    "default_ship_method": "Default ship method",
    "ship_method_map": "Ship-method map",
    **RULE_TITLES,
    "start_date": "Import open orders placed since",
    "orders_schedule": "Orders schedule",
    "inventory_schedule": "Inventory schedule",
    "tracking_schedule": "Tracking schedule",
    "extra_tags": "Extra DAG tags",
    "webhooks_enabled": "Start orders at once on the store's webhooks",
    "alert_emails": "Alert e-mail addresses",
    "alert_apprise_tags": "Alert Apprise tags (Slack, Teams, …)",
    "alert_held_hours": "Alert on orders held longer than (hours)",
}


def field_label(name: str) -> str:
    """How a message names a form field: its title, as the form shows it."""
    return f"'{TITLES.get(name, name)}'"


def _optional(section: str, name: str, description: str, **schema: Any) -> Param:
    """A text field the form never insists on (empty = not given)."""
    return Param(
        None,
        type=["null", "string"],
        title=TITLES[name],
        section=section,
        description_md=description,
        **schema,
    )


def _secret(section: str, name: str, description: str) -> Param:
    """A masked field; its value is moved out of the run before anything else happens."""
    return _optional(section, name, description, format="password")


def _choice(
    section: str, name: str, default: str, names: dict[str, str], description: str
) -> Param:
    return Param(
        default,
        type="string",
        enum=list(names),
        values_display=names,
        title=TITLES[name],
        section=section,
        description_md=description,
    )


def _used(name: str, description: str) -> str:
    """``description`` plus which protocols/platforms read the field (from ``targets``)."""
    targets = STORES if name.startswith("store_") else WAREHOUSES
    return description + _applies_to(name, targets)


def _folder(name: str, description: str) -> Param:
    flow = name.removesuffix("_folder")
    return Param(
        DEFAULT_FOLDERS[flow],
        type=["null", "string"],
        title=TITLES[name],
        section=FILES,
        description_md=description,
    )


def _standard_ports() -> str:
    return ", ".join(f"{p.display} {p.default_port}" for p in PROTOCOLS.values() if p.default_port)


def _option_keys() -> str:
    return "; ".join(
        f"**{t.display}**: " + ", ".join(f"`{k}`" for k in t.option_keys)
        for t in STORES.values()
        if t.option_keys
    )


def setup_params(merchants: list[str], platforms: tuple[str, ...]) -> dict[str, Param]:
    """The form; ``merchants`` are the registry's merchants, offered as suggestions."""
    merchant_hint = (
        f" Existing merchants: {', '.join(f'`{m}`' for m in merchants)}." if merchants else ""
    )
    params: dict[str, Param] = {
        "action": _choice(
            CONNECTION,
            "action",
            "add",
            ACTIONS,
            "**Test only** runs every check of both sides and registers nothing; **update** "
            "keeps every field you leave empty.",
        ),
        "connection_name": _optional(
            CONNECTION,
            "connection_name",
            "Short id of this store ↔ warehouse pair: lowercase letters, digits, `-`, `_` "
            "(e.g. `acme-shopify-reno`). It names the DAGs `dropstream__NAME__orders` (and "
            "`__inventory`, `__tracking`).",
        ),
        "merchant": _optional(
            CONNECTION,
            "merchant",
            "The business that owns the store and pays the 3PL, e.g. `acme-goods`: a new one, "
            "or one that already has connections (pick it from the suggestions). It becomes "
            f"the `merchant:` tag of every DAG of the connection.{merchant_hint}",
            **({"examples": merchants} if merchants else {}),
        ),
        "warehouse_name": _optional(
            WAREHOUSE, "warehouse_name", "The 3PL's name as your team calls it, e.g. `Acme 3PL`."
        ),
        "warehouse_protocol": _choice(
            WAREHOUSE,
            "warehouse_protocol",
            "sftp",
            PROTOCOL_NAMES,
            "How the 3PL exchanges files: its onboarding sheet says which. Then fill in the "
            "fields below and the section of that protocol; leave the other sections empty.",
        ),
        "warehouse_host": _optional(
            WAREHOUSE,
            "warehouse_host",
            _used(
                "warehouse_host",
                "Server name from the 3PL's onboarding sheet, e.g. `sftp.3pl.example` "
                "(not for S3: use the bucket field).",
            ),
        ),
        "warehouse_port": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            maximum=65535,
            title=TITLES["warehouse_port"],
            section=WAREHOUSE,
            description_md=f"Empty = the protocol's standard port ({_standard_ports()}).",
        ),
        "warehouse_login": _optional(
            WAREHOUSE,
            "warehouse_login",
            _used("warehouse_login", "User name the 3PL gave you (for S3: the access key id)."),
        ),
        "warehouse_password": _secret(
            WAREHOUSE,
            "warehouse_password",
            _used(
                "warehouse_password",
                "Password from the 3PL (for S3: the secret access key). Leave empty when you "
                "log in to SFTP with a private key.",
            ),
        ),
        "warehouse_private_key": _secret(
            SFTP,
            "warehouse_private_key",
            "The private key the 3PL authorised for your user, pasted whole "
            "(`-----BEGIN OPENSSH PRIVATE KEY-----` … `-----END OPENSSH PRIVATE KEY-----`); the "
            "masked field joins its lines, setup restores them. Leave empty to log in with "
            "the password.",
        ),
        "warehouse_private_key_passphrase": _secret(
            SFTP, "warehouse_private_key_passphrase", "The private key's passphrase, if any."
        ),
        "warehouse_host_key": _optional(
            SFTP,
            "warehouse_host_key",
            "The server's public host key, e.g. `ssh-ed25519 AAAA…`. Ask the 3PL, or run "
            "`ssh-keyscan -t ed25519 HOST` and confirm its fingerprint with them.",
        ),
        "warehouse_pin_presented_key": Param(
            False,
            type="boolean",
            title=TITLES["warehouse_pin_presented_key"],
            section=SFTP,
            description_md="Only when the host key above is empty: trust and pin the key the "
            "server presents now (trust on first use). The run's note shows its fingerprint; "
            "compare it with the 3PL's.",
        ),
        "warehouse_passive": Param(
            True,
            type="boolean",
            title=TITLES["warehouse_passive"],
            section=FTP,
            description_md="Passive-mode data connections (leave on unless the 3PL says "
            "active mode).",
        ),
        "warehouse_ca_cert": _optional(
            FTP,
            "warehouse_ca_cert",
            "FTPS: the CA certificate(s) that sign the server's certificate, pasted as PEM "
            "(`-----BEGIN CERTIFICATE-----` …). Empty = the system CA store. Not secret.",
            format="multiline",
        ),
        "warehouse_ca_cert_path": _optional(
            FTP, "warehouse_ca_cert_path", "FTPS: or the path of such a PEM file on the workers."
        ),
        "warehouse_cert_fingerprint": _optional(
            FTP,
            "warehouse_cert_fingerprint",
            "FTPS: pin the server certificate by its SHA-256 (`sha256:AB:CD:…`), e.g. for a "
            "self-signed certificate; a failed test shows the one presented.",
        ),
        "warehouse_bucket": _optional(
            S3, "warehouse_bucket", "The bucket the 3PL exchanges files in (name only)."
        ),
        "warehouse_region": _optional(
            S3, "warehouse_region", "The bucket's region, e.g. `us-east-1`."
        ),
        "warehouse_endpoint_url": _optional(
            S3,
            "warehouse_endpoint_url",
            "Only for an S3-compatible store (MinIO, Wasabi, …): its endpoint URL. Empty = AWS.",
        ),
        "warehouse_server_side_encryption": Param(
            None,
            type=["null", "string"],
            enum=[None, "AES256", "aws:kms"],
            values_display={
                "None": "none / the bucket's default",
                "AES256": "AES256 (SSE-S3)",
                "aws:kms": "aws:kms (SSE-KMS)",
            },
            title=TITLES["warehouse_server_side_encryption"],
            section=S3,
            description_md="Encryption applied to every object written, if the 3PL's bucket "
            "policy demands one.",
        ),
        "warehouse_sse_kms_key_id": _optional(
            S3, "warehouse_sse_kms_key_id", "With `aws:kms`: the KMS key id or ARN."
        ),
        "orders_folder": _folder("orders_folder", "Folder the 3PL picks orders up from."),
        "shipments_folder": _folder(
            "shipments_folder", "Folder where the 3PL drops shipment confirmations."
        ),
        "inventory_folder": _folder(
            "inventory_folder", "Folder where the 3PL drops inventory snapshots."
        ),
        "archive_folder": _folder(
            "archive_folder", "Folder files are moved to once read; it must exist."
        ),
        "warehouse_format": _choice(
            FILES,
            "warehouse_format",
            "header_detail_csv",
            FORMAT_NAMES,
            "File layout the 3PL expects, from its integration guide; see `docs/formats.md`. "
            "Fill in the options of your format below; leave the others empty.",
        ),
        "order_number_prefix": _optional(
            FILES,
            "order_number_prefix",
            "Prepended to every order number the 3PL sees (and removed from its shipments), e.g. "
            "`A-`: needed when two stores use the same 3PL login and folders, so their order "
            "`1001`s stay apart. Up to 10 letters, digits, `-` or `_`.",
            pattern=r"^[A-Za-z0-9_-]{0,10}$",
        ),
        "format_version": Param(
            None,
            type=["null", "string"],
            enum=[None, "v1", "v2", "v3"],
            values_display={
                "None": "the default (v2)",
                "v1": "v1",
                "v2": "v2 (adds email and notes)",
                "v3": "v3 (adds the facility id)",
            },
            title=TITLES["format_version"],
            section=FILES,
            description_md="Header/detail CSV only: the PH row layout the 3PL reads.",
        ),
        **{
            name: _optional(FILES, name, text)
            for name, text in (
                ("x12_sender_id", "X12 only: the interchange id the 3PL knows you by (ISA06)."),
                ("x12_receiver_id", "X12 only: the 3PL's interchange id (ISA08)."),
                ("x12_sender_qualifier", "X12 only: your id's qualifier (ISA05); empty = `ZZ`."),
                ("x12_receiver_qualifier", "X12 only: the 3PL's qualifier (ISA07); empty = `ZZ`."),
            )
        },
        "format_options": Param(
            {},
            type=["object", "null"],
            title=TITLES["format_options"],
            section=FILES,
            description_md="Any other option of the chosen format, as in `docs/formats.md`, e.g. "
            'the flat CSV column map `{"columns": [{"field": "order_id", "header": "PO"}, …]}` or '
            '`{"facility": "WH-EAST"}`.',
        ),
        "store_name": _optional(
            STORE, "store_name", "The store's name as your team calls it, e.g. `Acme on Shopify`."
        ),
        "store_platform": _choice(
            STORE,
            "store_platform",
            "shopify" if "shopify" in platforms else platforms[0],
            {p: PLATFORMS[p].display for p in platforms},
            "The eCommerce platform the store runs on. Fill in the fields it reads (each "
            "field below says which platforms use it) and leave the others empty.",
        ),
        **{
            f.name: (_secret if f.secret else _optional)(
                STORE, f.name, _used(f.name, f.description)
            )
            for f in STORE_FIELDS
        },
        STORE_OPTIONS_FIELD: Param(
            {},
            type=["object", "null"],
            title=TITLES[STORE_OPTIONS_FIELD],
            section=STORE,
            description_md="Further **non-secret** settings of the store, e.g. "
            f'`{{"tracking": "note"}}`. Allowed: {_option_keys()}. Secrets never go here: use '
            "the masked fields above.",
        ),
        "default_ship_method": _optional(
            FLOW,
            "default_ship_method",
            "Carrier service code the 3PL uses when an order's shipping method is not mapped "
            "below, e.g. `UPS_GROUND`. Empty = such orders are held.",
        ),
        "ship_method_map": Param(
            {},
            type=["object", "null"],
            title=TITLES["ship_method_map"],
            section=FLOW,
            description_md="Store shipping-method code → 3PL service code, e.g. "
            '`{"standard": "UPS_GROUND", "express": "UPS_2DAY"}`.',
        ),
        **rule_params(),
        "start_date": _optional(
            FLOW,
            "start_date",
            "The first orders run sends every open, paid, unfulfilled order placed since this "
            "day (UTC), once; nothing placed earlier is ever sent. Empty = from now on.",
            format="date",
        ),
    }
    for flow, every in (("orders", "15 minutes"), ("inventory", "hour"), ("tracking", "4 hours")):
        name = f"{flow}_schedule"
        params[name] = _optional(
            SCHEDULES,
            name,
            f"Cron expression in UTC, e.g. `*/5 * * * *`. Empty = every {every}.",
        )
    params["extra_tags"] = Param(
        [],
        type=["array", "null"],
        items={"type": "string"},
        title=TITLES["extra_tags"],
        section=SCHEDULES,
        description_md="More tags for the connection's DAGs, one per line (e.g. `team-east`), "
        "to filter the DAGs list by; every DAG already carries `dropstream`, `merchant:…`, "
        "`platform:…` and `connection:…`.",
    )
    params["webhooks_enabled"] = Param(
        None,
        type=["null", "boolean"],
        title=TITLES["webhooks_enabled"],
        section=SCHEDULES,
        description_md="Shopify, WooCommerce and BigCommerce: setup subscribes this "
        "connection's receiver (`<api-server>/dropstream/webhooks/<connection>`) to the "
        "store's order webhooks, and each webhook starts the orders DAG at once; the schedule "
        "stays the safety net. Off removes the subscriptions. Empty = off (on update: "
        "unchanged). The store must reach the api-server over HTTPS: see `docs/webhooks.md`.",
    )
    params["alert_emails"] = Param(
        [],
        type=["array", "null"],
        items={"type": "string"},
        title=TITLES["alert_emails"],
        section=ALERTS,
        description_md="Who is told, once per incident, when a task fails after its retries, "
        "no orders run succeeds for twice its interval, an order stays held, the warehouse "
        "confirms a shipment for an unknown order or sends an unreadable file; one address per "
        "line (e.g. `ops@acme.example`). Empty = no alerts (on update: unchanged). Mail goes "
        "out through the Airflow Connection `dropstream_smtp`: see `docs/operations.md`.",
    )
    params["alert_apprise_tags"] = Param(
        [],
        type=["array", "null"],
        items={"type": "string"},
        title=TITLES["alert_apprise_tags"],
        section=ALERTS,
        description_md="The same alerts to chat and other services through Apprise: tags of "
        "the services listed in the Airflow Connection `dropstream_apprise` (their URLs hold "
        "tokens, so they live there, not here), one per line, e.g. `ops`. See "
        "`docs/operations.md`.",
    )
    params["alert_held_hours"] = Param(
        None,
        type=["null", "number"],
        exclusiveMinimum=0,
        title=TITLES["alert_held_hours"],
        section=ALERTS,
        description_md="An order held this long is reported (empty = 4 hours, or unchanged "
        "on update).",
    )
    return params

"""The trigger form of ``dropstream_setup``: Airflow Params in the order a person thinks.

Every field says where a first-time user finds the value. Secret fields are named so that
Airflow's own redaction (audit log, secrets masker) recognises them (``password``, ``token``,
``private_key``), and they never leave the first task: see ``docs/setup.md``.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param

from dropstream.formats import FORMATS
from dropstream.transports import PROTOCOLS

ACTIONS: dict[str, str] = {
    "add": "Add a new connection",
    "update": "Update a connection (only the fields you fill in change)",
    "test": "Test only (register nothing)",
    "remove": "Remove a connection (its DAGs disappear, their history stays)",
}
PROTOCOL_NAMES: dict[str, str] = {
    "sftp": "SFTP (SSH file transfer)",
    "ftp": "FTP (plain, unencrypted)",
    "ftps": "FTPS (FTP over TLS)",
    "s3": "Amazon S3 (or S3-compatible) bucket",
}
FORMAT_NAMES: dict[str, str] = {
    "header_detail_csv": "Header/detail CSV (PH/PD rows)",
    "flat_csv": "Flat CSV (one row per order line)",
    "x12": "ANSI X12 EDI (940 / 945 / 846)",
}
PLATFORM_NAMES: dict[str, str] = {
    "shopify": "Shopify",
    "woocommerce": "WooCommerce",
    "bigcommerce": "BigCommerce",
    "amazon": "Amazon Seller Central",
    "ebay": "eBay",
}
DEFAULT_PORTS: dict[str, int | None] = {"sftp": 22, "ftp": 21, "ftps": 21, "s3": None}
DEFAULT_FOLDERS: dict[str, str] = {
    "orders": "/in",
    "shipments": "/out",
    "inventory": "/out",
    "archive": "/archive",
}
#: Form fields holding secrets: they are staged into an encrypted Connection and scrubbed.
SECRET_FIELDS: tuple[str, ...] = (
    "warehouse_password",
    "warehouse_private_key",
    "warehouse_private_key_passphrase",
    "store_access_token",
)


def _readable(names: dict[str, str], values: tuple[str, ...]) -> dict[str, str]:
    return {v: names.get(v, v.replace("_", " ").title()) for v in values}


def _text(section: str, description: str, default: str | None = "", **schema: Any) -> Param:
    kind: Any = "string" if default is not None else ["null", "string"]
    return Param(default, type=kind, section=section, description_md=description, **schema)


def _secret(section: str, description: str, **schema: Any) -> Param:
    return Param(
        "", type="string", format="password", section=section, description_md=description, **schema
    )


def setup_params(merchants: list[str], platforms: tuple[str, ...]) -> dict[str, Param]:
    """The form, in sections; ``merchants`` are the registry's merchants, to join one."""
    c, m, w, s, f = "Connection", "Merchant", "Warehouse", "Store", "Fulfillment flow"
    return {
        "action": Param(
            "add",
            type="string",
            enum=list(ACTIONS),
            values_display=ACTIONS,
            section=c,
            description_md="What to do. **Test only** runs every check and registers nothing; "
            "**update** keeps every field you leave empty (or at its default).",
        ),
        "connection_name": _text(
            c,
            "Short id of this store ↔ warehouse pair: lowercase letters, digits, `-`, `_` "
            "(e.g. `acme-shopify-reno`). It names the DAGs `dropstream__<name>__orders|inventory|"
            "tracking` and the Airflow Connections `dropstream_<name>_store|_warehouse`.",
        ),
        "existing_merchant": Param(
            "",
            type="string",
            enum=["", *merchants],
            values_display={"": "— create a new merchant below —", **{x: x for x in merchants}},
            section=m,
            description_md="Join a merchant that already has connections (the "
            "merchant's name is the `merchant:<name>` tag on every one of its DAGs).",
        ),
        "new_merchant": _text(
            m,
            "Or create a merchant: the business that owns the store and pays the 3PL "
            "(e.g. `acme-goods`). Leave empty when you picked an existing merchant.",
        ),
        "warehouse_name": _text(w, "The 3PL's name as your team calls it, e.g. `Acme 3PL (Reno)`."),
        "warehouse_protocol": Param(
            "sftp",
            type="string",
            enum=list(PROTOCOLS),
            values_display=_readable(PROTOCOL_NAMES, PROTOCOLS),
            section=w,
            description_md="How the 3PL exchanges files: its onboarding sheet or portal "
            '("FTP/SFTP credentials") says which.',
        ),
        "warehouse_host": _text(
            w,
            "Server name from the 3PL's onboarding sheet, e.g. `sftp.3pl.example`. "
            "For S3: the bucket name.",
        ),
        "warehouse_port": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            maximum=65535,
            section=w,
            description_md="Leave empty for the protocol's standard port (SFTP 22, FTP/FTPS 21).",
        ),
        "warehouse_login": _text(
            w,
            "User name the 3PL gave you (for S3: the access key id).",
        ),
        "warehouse_password": _secret(
            w,
            "Password from the 3PL (for S3: the secret access key). Leave empty when you log "
            "in with a private key.",
        ),
        "warehouse_private_key": _text(
            w,
            "SFTP only: the private key the 3PL authorised for your user, pasted whole "
            "(`-----BEGIN OPENSSH PRIVATE KEY-----` …). Leave empty to log in with the password.",
            format="multiline",
        ),
        "warehouse_private_key_passphrase": _secret(
            w,
            "SFTP only: the private key's passphrase, if it has one.",
        ),
        "warehouse_host_key": _text(
            w,
            "SFTP only: the server's public host key, e.g. `ssh-ed25519 AAAA…`. Ask the 3PL, "
            "or run `ssh-keyscan -t ed25519 <host>` and confirm its fingerprint with them.",
        ),
        "warehouse_pin_presented_key": Param(
            False,
            type="boolean",
            section=w,
            description_md="SFTP only, when the host key above is empty: trust and pin the key "
            "the server presents now (trust on first use). The run log shows its fingerprint; "
            "compare it with the 3PL's.",
        ),
        "warehouse_region": _text(w, "S3 only: the bucket's region, e.g. `us-east-1`."),
        "orders_folder": _text(
            w, "Folder the 3PL picks orders up from (their *inbound*).", DEFAULT_FOLDERS["orders"]
        ),
        "shipments_folder": _text(
            w, "Folder where the 3PL drops shipment confirmations.", DEFAULT_FOLDERS["shipments"]
        ),
        "inventory_folder": _text(
            w, "Folder where the 3PL drops inventory snapshots.", DEFAULT_FOLDERS["inventory"]
        ),
        "archive_folder": _text(
            w, "Folder files are moved to once read; it must exist.", DEFAULT_FOLDERS["archive"]
        ),
        "warehouse_format": Param(
            "header_detail_csv",
            type="string",
            enum=list(FORMATS),
            values_display=_readable(FORMAT_NAMES, FORMATS),
            section=w,
            description_md="File layout the 3PL expects, from its integration guide; see "
            "`docs/formats.md`.",
        ),
        "store_name": _text(s, "The store's name as your team calls it, e.g. `Acme on Shopify`."),
        "store_platform": Param(
            "shopify" if "shopify" in platforms else platforms[0],
            type="string",
            enum=list(platforms),
            values_display=_readable(PLATFORM_NAMES, platforms),
            section=s,
            description_md="The eCommerce platform the store runs on.",
        ),
        "store_url": _text(
            s,
            "The store's address, e.g. `https://acme.myshopify.com` (Shopify admin → "
            "Settings → Domains shows the `myshopify.com` one).",
        ),
        "store_login": _text(
            s,
            "Only for platforms with a key *and* a secret (e.g. WooCommerce consumer key); "
            "leave empty for Shopify.",
        ),
        "store_access_token": _secret(
            s,
            "Shopify: the Admin API access token (`shpat_…`) from Settings → Apps → Develop "
            "apps → your app → API credentials, with scopes read/write orders, merchant-managed "
            "fulfillment orders, inventory and read products.",
        ),
        "store_api_version": _text(s, "Optional API version, e.g. `2026-10` for Shopify."),
        "store_location_id": _text(
            s,
            "Optional: the location whose stock the warehouse sets, e.g. "
            "`gid://shopify/Location/1`; empty = the store's first location.",
        ),
        "default_ship_method": _text(
            f,
            "Carrier service code the 3PL uses when an order's shipping method is not mapped "
            "below, e.g. `UPS_GROUND`. Empty = such orders are held.",
        ),
        "ship_method_map": Param(
            {},
            type="object",
            section=f,
            description_md="Store shipping-method code → 3PL service code, e.g. "
            '`{"standard": "UPS_GROUND", "express": "UPS_2DAY"}`.',
        ),
        "safety_stock": Param(
            0,
            type="integer",
            minimum=0,
            section=f,
            description_md="Units held back from each SKU's quantity pushed to the store.",
        ),
        "hold_countries": Param(
            [],
            type="array",
            items={"type": "string"},
            section=f,
            description_md="ISO country codes whose orders wait for a person (e.g. `PR`).",
        ),
        "start_date": _text(
            f,
            "First day the flows cover (`YYYY-MM-DD`, UTC); empty = today.",
            None,
        ),
    }

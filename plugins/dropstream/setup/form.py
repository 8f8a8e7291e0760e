"""The trigger form of ``dropstream_setup``: Airflow Params in the order a person thinks.

Every field says where a first-time user finds the value. Secret fields are named so that
Airflow's own redaction (audit log, secrets masker) recognises them (``password``, ``token``,
``private_key``), and they never leave the first task: see ``docs/setup.md``.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param

from dropstream.formats import FORMATS
from dropstream.setup.targets import SECRET_FIELDS, STORE_OPTIONS_FIELD, STORES, WAREHOUSES
from dropstream.setup.targets import applies_to as _applies_to
from dropstream.transports import PROTOCOLS

__all__ = ["SECRET_FIELDS", "setup_params"]

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
#: Form fields holding secrets (``targets.SECRET_FIELDS``, every target's ``secret_fields``):
#: they are staged into an encrypted Connection and scrubbed.


def _readable(names: dict[str, str], values: tuple[str, ...]) -> dict[str, str]:
    return {v: names.get(v, v.replace("_", " ").title()) for v in values}


def _text(section: str, description: str, default: str | None = "", **schema: Any) -> Param:
    kind: Any = "string" if default is not None else ["null", "string"]
    return Param(default, type=kind, section=section, description_md=description, **schema)


def _secret(section: str, description: str, **schema: Any) -> Param:
    return Param(
        "", type="string", format="password", section=section, description_md=description, **schema
    )


def _used(name: str, description: str) -> str:
    """``description`` plus which protocols/platforms read the field (from ``targets``)."""
    targets = STORES if name.startswith("store_") else WAREHOUSES
    return description + _applies_to(name, targets)


def _option_keys() -> str:
    return "; ".join(
        f"**{t.display}**: " + ", ".join(f"`{k}`" for k in t.option_keys)
        for t in STORES.values()
        if t.option_keys
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
            _used(
                "warehouse_host",
                "Server name from the 3PL's onboarding sheet, e.g. "
                "`sftp.3pl.example` (not for S3: use the bucket field).",
            ),
        ),
        "warehouse_port": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            maximum=65535,
            section=w,
            description_md=_used(
                "warehouse_port",
                "Leave empty for the protocol's standard port (SFTP 22, FTP/FTPS 21).",
            ),
        ),
        "warehouse_login": _text(
            w,
            _used("warehouse_login", "User name the 3PL gave you (for S3: the access key id)."),
        ),
        "warehouse_password": _secret(
            w,
            _used(
                "warehouse_password",
                "Password from the 3PL (for S3: the secret access key). Leave empty when you "
                "log in to SFTP with a private key.",
            ),
        ),
        "warehouse_private_key": _text(
            w,
            _used(
                "warehouse_private_key",
                "The private key the 3PL authorised for your user, pasted whole "
                "(`-----BEGIN OPENSSH PRIVATE KEY-----` …). Leave empty to log in with the "
                "password.",
            ),
            format="multiline",
        ),
        "warehouse_private_key_passphrase": _secret(
            w,
            _used("warehouse_private_key_passphrase", "The private key's passphrase, if any."),
        ),
        "warehouse_host_key": _text(
            w,
            _used(
                "warehouse_host_key",
                "The server's public host key, e.g. `ssh-ed25519 AAAA…`. Ask the 3PL, or run "
                "`ssh-keyscan -t ed25519 <host>` and confirm its fingerprint with them.",
            ),
        ),
        "warehouse_pin_presented_key": Param(
            False,
            type="boolean",
            section=w,
            description_md="SFTP only, when the host key above is empty: trust and pin the key "
            "the server presents now (trust on first use). The run log shows its fingerprint; "
            "compare it with the 3PL's.",
        ),
        "warehouse_passive": Param(
            True,
            type="boolean",
            section=w,
            description_md=_used(
                "warehouse_passive",
                "Passive-mode data connections (leave on unless the 3PL says active mode).",
            ),
        ),
        "warehouse_ca_cert": _text(
            w,
            _used(
                "warehouse_ca_cert",
                "The CA certificate(s) that sign the server's certificate, pasted as PEM "
                "(`-----BEGIN CERTIFICATE-----` …). Empty = the system CA store. Not secret.",
            ),
            format="multiline",
        ),
        "warehouse_ca_cert_path": _text(
            w,
            _used("warehouse_ca_cert_path", "Or: the path of such a PEM file on the workers."),
        ),
        "warehouse_cert_fingerprint": _text(
            w,
            _used(
                "warehouse_cert_fingerprint",
                "Pin the server certificate by its SHA-256 (`sha256:AB:CD:…`), e.g. for a "
                "self-signed certificate; a failed test shows the one presented.",
            ),
        ),
        "warehouse_bucket": _text(
            w,
            _used("warehouse_bucket", "The bucket the 3PL exchanges files in (name only)."),
        ),
        "warehouse_region": _text(
            w, _used("warehouse_region", "The bucket's region, e.g. `us-east-1`.")
        ),
        "warehouse_endpoint_url": _text(
            w,
            _used(
                "warehouse_endpoint_url",
                "Only for an S3-compatible store (MinIO, Wasabi, …): its endpoint URL. "
                "Empty = AWS.",
            ),
        ),
        "warehouse_server_side_encryption": Param(
            "",
            type="string",
            enum=["", "AES256", "aws:kms"],
            values_display={
                "": "— none / bucket default —",
                "AES256": "AES256 (SSE-S3)",
                "aws:kms": "aws:kms (SSE-KMS)",
            },
            section=w,
            description_md=_used(
                "warehouse_server_side_encryption",
                "Encryption applied to every object written, if the 3PL's bucket policy "
                "demands one.",
            ),
        ),
        "warehouse_sse_kms_key_id": _text(
            w,
            _used("warehouse_sse_kms_key_id", "With `aws:kms`: the KMS key id or ARN."),
        ),
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
            _used(
                "store_url",
                "The store's (API) address, e.g. `https://acme.myshopify.com` (Shopify admin "
                "→ Settings → Domains shows the `myshopify.com` one).",
            ),
        ),
        "store_login": _text(
            s,
            _used(
                "store_login",
                "The key / client id of platforms with a key *and* a secret; leave empty for "
                "Shopify and BigCommerce.",
            ),
        ),
        "store_access_token": _secret(
            s,
            _used(
                "store_access_token",
                "Shopify: the Admin API access token from Settings → Apps → Develop apps → "
                "your app → API credentials, with scopes read/write orders, merchant-managed "
                "fulfillment orders, inventory and read products. BigCommerce: Settings → "
                "API accounts → the account's access token.",
            ),
        ),
        "store_client_secret": _secret(
            s,
            _used(
                "store_client_secret",
                "WooCommerce: Settings → Advanced → REST API → the key's consumer secret "
                "(read/write). Amazon: Developer Central → your app → LWA credentials. eBay: "
                "developer.ebay.com → Application keys → Cert ID.",
            ),
        ),
        "store_refresh_token": _secret(
            s,
            _used(
                "store_refresh_token",
                "The refresh token the seller's authorisation of your app returned (Amazon: "
                "self-authorise in Seller Central → Apps; eBay: the user consent flow).",
            ),
        ),
        "store_api_version": _text(
            s, _used("store_api_version", "Optional API version, e.g. `2026-10`.")
        ),
        "store_location_id": _text(
            s,
            _used(
                "store_location_id",
                "Optional: the location whose stock the warehouse sets; empty = the store's "
                "first (BigCommerce: default) location.",
            ),
        ),
        "store_marketplace_id": _text(
            s,
            _used(
                "store_marketplace_id",
                "Seller Central → Settings → Account Info; "
                "the marketplace's id (developer docs list them).",
            ),
        ),
        "store_seller_id": _text(
            s,
            _used("store_seller_id", "Seller Central → Settings → Account Info → Merchant Token."),
        ),
        STORE_OPTIONS_FIELD: Param(
            {},
            type="object",
            section=s,
            description_md="Further **non-secret** settings of the store Connection (its "
            f'extras), e.g. `{{"tracking": "note"}}`. Allowed: {_option_keys()}. Secrets '
            "never go here: use the masked fields above.",
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

"""What each store platform and warehouse protocol needs in its Airflow Connection.

One declarative table per target, in the style of astronomer-cosmos profile mappings: which
form fields it reads (``field_mapping``: form field → Connection attribute, or ``extra.<key>``),
which of them it cannot do without (``required_fields``; a tuple entry means "one of these"),
which are secret (``secret_fields``), the non-secret extras the free-form options object may
set (``option_keys``) and extras it always writes (``fixed_extra``).

``form`` describes every field with the targets that use it, ``validate`` checks the required
fields of the chosen platform/protocol and ``connections`` builds the Connection bodies — all
from these tables. Pure data: no Airflow, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Connection attributes a mapping may name besides ``extra.<key>``.
CONNECTION_ATTRIBUTES = ("host", "port", "login", "password", "schema")


@dataclass(frozen=True)
class Target:
    """One platform or protocol: how the form's fields become its Airflow Connection."""

    key: str
    display: str
    conn_type: str
    field_mapping: dict[str, str]  # form field -> "host" | "login" | … | "extra.<key>"
    required_fields: tuple[str | tuple[str, ...], ...] = ()
    secret_fields: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)  # form field -> what it is here
    option_keys: tuple[str, ...] = ()  # non-secret extras the options object may set
    fixed_extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for form_field, where in self.field_mapping.items():
            if where not in CONNECTION_ATTRIBUTES and not where.startswith("extra."):
                raise ValueError(f"{self.key}: {form_field} maps to unknown {where!r}")
        for name in self.secret_fields:
            if name not in self.field_mapping:
                raise ValueError(f"{self.key}: secret field {name} is not mapped")
        for entry in self.required_fields:
            for name in (entry,) if isinstance(entry, str) else entry:
                if name not in self.field_mapping:
                    raise ValueError(f"{self.key}: required field {name} is not mapped")

    @property
    def fields(self) -> tuple[str, ...]:
        """Every form field this target reads."""
        return tuple(self.field_mapping)

    def label(self, form_field: str) -> str:
        return self.labels.get(form_field, form_field)


# --- stores (Airflow Connection type http) ---------------------------------------------------
STORES: dict[str, Target] = {
    "shopify": Target(
        key="shopify",
        display="Shopify",
        conn_type="http",
        field_mapping={
            "store_url": "host",
            "store_access_token": "password",
            "store_api_version": "extra.api_version",
            "store_location_id": "extra.location_id",
            "store_webhook_secret": "extra.webhook_secret",
        },
        required_fields=("store_url", "store_access_token"),
        secret_fields=("store_access_token", "store_webhook_secret"),
        labels={
            "store_url": "the `https://YOUR-SHOP.myshopify.com` address",
            "store_access_token": "the Admin API access token (shpat_…)",
            "store_webhook_secret": "the app's API secret key (Shopify signs webhooks with it)",
            "store_api_version": "API version, e.g. 2026-10",
            "store_location_id": "location id, e.g. gid://shopify/Location/1",
        },
    ),
    "woocommerce": Target(
        key="woocommerce",
        display="WooCommerce",
        conn_type="http",
        field_mapping={
            "store_url": "host",
            "store_login": "login",
            "store_client_secret": "password",
        },
        required_fields=("store_url", "store_login", "store_client_secret"),
        secret_fields=("store_client_secret",),
        labels={
            "store_url": "the site URL",
            "store_login": "the consumer key (ck_…)",
            "store_client_secret": "the consumer secret (cs_…)",
        },
        option_keys=("query_string_auth", "tracking"),
    ),
    "bigcommerce": Target(
        key="bigcommerce",
        display="BigCommerce",
        conn_type="http",
        field_mapping={
            "store_url": "host",
            "store_access_token": "password",
            "store_location_id": "extra.location_id",
        },
        required_fields=("store_url", "store_access_token"),
        secret_fields=("store_access_token",),
        labels={
            "store_url": "`https://api.bigcommerce.com/stores/STORE_HASH`",
            "store_access_token": "the API account access token (X-Auth-Token)",
            "store_location_id": "inventory location id (default 1)",
        },
    ),
    "amazon": Target(
        key="amazon",
        display="Amazon Seller Central",
        conn_type="http",
        field_mapping={
            "store_url": "host",
            "store_login": "login",
            "store_client_secret": "password",
            "store_refresh_token": "extra.refresh_token",
            "store_marketplace_id": "extra.marketplace_id",
            "store_seller_id": "extra.seller_id",
        },
        required_fields=(
            "store_url",
            "store_login",
            "store_client_secret",
            "store_refresh_token",
            "store_marketplace_id",
            "store_seller_id",
        ),
        secret_fields=("store_client_secret", "store_refresh_token"),
        labels={
            "store_url": "the SP-API regional endpoint, e.g. https://sellingpartnerapi-na.amazon.com",
            "store_login": "the LWA client id (amzn1.application-oa2-client.…)",
            "store_client_secret": "the LWA client secret",
            "store_refresh_token": "the seller's LWA refresh token (Atzr|…)",
            "store_marketplace_id": "the marketplace id, e.g. ATVPDKIKX0DER (US)",
            "store_seller_id": "the merchant (seller) id, for inventory",
        },
        option_keys=("token_url",),
    ),
    "ebay": Target(
        key="ebay",
        display="eBay",
        conn_type="http",
        field_mapping={
            "store_url": "host",
            "store_login": "login",
            "store_client_secret": "password",
            "store_refresh_token": "extra.refresh_token",
        },
        required_fields=("store_url", "store_login", "store_client_secret", "store_refresh_token"),
        secret_fields=("store_client_secret", "store_refresh_token"),
        labels={
            "store_url": "the API base, https://api.ebay.com",
            "store_login": "the app's client id (App ID)",
            "store_client_secret": "the app's client secret (Cert ID)",
            "store_refresh_token": "the seller's user refresh token (v^1.1#…)",
        },
        option_keys=("scopes", "token_url"),
    ),
}

# --- warehouses --------------------------------------------------------------------------------
_FTP_FIELDS = {
    "warehouse_host": "host",
    "warehouse_port": "port",
    "warehouse_login": "login",
    "warehouse_password": "password",
    "warehouse_passive": "extra.passive",
}
_FTP_LABELS = {
    "warehouse_host": "server name",
    "warehouse_port": "port (default 21)",
    "warehouse_login": "user name",
    "warehouse_password": "password",
    "warehouse_passive": "passive mode (default on)",
}

WAREHOUSES: dict[str, Target] = {
    "sftp": Target(
        key="sftp",
        display="SFTP",
        conn_type="sftp",
        field_mapping={
            "warehouse_host": "host",
            "warehouse_port": "port",
            "warehouse_login": "login",
            "warehouse_password": "password",
            "warehouse_private_key": "extra.private_key",
            "warehouse_private_key_passphrase": "extra.private_key_passphrase",
            "warehouse_host_key": "extra.host_key",
        },
        required_fields=(
            "warehouse_host",
            "warehouse_login",
            ("warehouse_password", "warehouse_private_key"),
        ),
        secret_fields=(
            "warehouse_password",
            "warehouse_private_key",
            "warehouse_private_key_passphrase",
        ),
        labels={
            "warehouse_host": "server name",
            "warehouse_port": "port (default 22)",
            "warehouse_login": "user name",
            "warehouse_password": "password",
            "warehouse_private_key": "private key",
            "warehouse_private_key_passphrase": "private key passphrase",
            "warehouse_host_key": "pinned host key",
        },
        # only the key given here, never the worker's ~/.ssh
        fixed_extra={"look_for_keys": "false"},
    ),
    "ftp": Target(
        key="ftp",
        display="FTP",
        conn_type="ftp",
        field_mapping=dict(_FTP_FIELDS),
        required_fields=("warehouse_host", "warehouse_login", "warehouse_password"),
        secret_fields=("warehouse_password",),
        labels=dict(_FTP_LABELS),
    ),
    "ftps": Target(
        key="ftps",
        display="FTPS",
        conn_type="ftp",  # the FTP provider registers only "ftp"; the protocol picks TLS
        field_mapping={
            **_FTP_FIELDS,
            "warehouse_ca_cert": "extra.ca_cert",
            "warehouse_ca_cert_path": "extra.ca_cert_path",
            "warehouse_cert_fingerprint": "extra.cert_fingerprint",
        },
        required_fields=("warehouse_host", "warehouse_login", "warehouse_password"),
        secret_fields=("warehouse_password",),
        labels={
            **_FTP_LABELS,
            "warehouse_ca_cert": "CA certificate(s), PEM",
            "warehouse_ca_cert_path": "CA file path on the workers",
            "warehouse_cert_fingerprint": "pinned server certificate (sha256:AB:CD:…)",
        },
    ),
    "s3": Target(
        key="s3",
        display="S3",
        conn_type="aws",
        field_mapping={
            "warehouse_login": "login",
            "warehouse_password": "password",
            "warehouse_bucket": "extra.bucket",
            "warehouse_region": "extra.region_name",
            "warehouse_endpoint_url": "extra.endpoint_url",
            "warehouse_server_side_encryption": "extra.server_side_encryption",
            "warehouse_sse_kms_key_id": "extra.sse_kms_key_id",
        },
        required_fields=("warehouse_login", "warehouse_password", "warehouse_bucket"),
        secret_fields=("warehouse_password",),
        labels={
            "warehouse_login": "access key id (AKIA…)",
            "warehouse_password": "secret access key",
            "warehouse_bucket": "bucket name",
            "warehouse_region": "region, e.g. us-east-1",
            "warehouse_endpoint_url": "endpoint of an S3-compatible store",
            "warehouse_server_side_encryption": "AES256 or aws:kms",
            "warehouse_sse_kms_key_id": "KMS key id (with aws:kms)",
        },
    ),
}

#: Every secret form field of every target.
SECRET_FIELDS: tuple[str, ...] = tuple(
    dict.fromkeys(f for t in (*WAREHOUSES.values(), *STORES.values()) for f in t.secret_fields)
)
#: The free-form object of non-secret store extras (``option_keys``).
STORE_OPTIONS_FIELD = "store_options"


def store_target(platform: str) -> Target | None:
    return STORES.get(platform)


def warehouse_target(protocol: str) -> Target | None:
    return WAREHOUSES.get(protocol)


def used_by(form_field: str, targets: dict[str, Target]) -> list[Target]:
    """The targets that read ``form_field``, in table order."""
    return [t for t in targets.values() if form_field in t.field_mapping]


def applies_to(form_field: str, targets: dict[str, Target]) -> str:
    """`` Used by **WooCommerce**: the consumer key; **eBay**: ….`` for a field's description."""
    users = used_by(form_field, targets)
    if not users:
        return ""
    listed = "; ".join(
        f"**{t.display}**" + (f": {t.labels[form_field]}" if form_field in t.labels else "")
        for t in users
    )
    return f" Used by {listed}."

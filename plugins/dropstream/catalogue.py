"""The catalogue: every store platform, warehouse protocol and file format DropStream knows.

One entry each, read by everything that lists or looks them up: the spec (``dropstream.spec``
checks names and store options), the setup form and its validation (``dropstream.setup``: field
help, required and secret fields, the Airflow Connection each one becomes), the lookups
``dropstream.stores.get_adapter``, ``dropstream.transports.get_transport`` and
``dropstream.formats.get_format``, and the docs (docs/platforms.md says how to add one).

An entry names its implementation as ``"module:Class"`` and ``LazyRegistry.load`` imports it on
first use, so reading the catalogue imports no HTTP, SSH or AWS library: it is read while
Airflow parses DAG files. Pure data otherwise: no Airflow, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dropstream.errors import ConfigurationError

__all__ = [
    "DEFAULT_FOLDERS",
    "FORMATS",
    "PLATFORMS",
    "PROTOCOLS",
    "STORE_FIELDS",
    "Format",
    "FormField",
    "LazyRegistry",
    "Platform",
    "Protocol",
    "StoreOptions",
    "Target",
]

#: Connection attributes a field mapping may name besides ``extra.<key>``.
CONNECTION_ATTRIBUTES = ("host", "port", "login", "password", "schema")

#: Where a warehouse's files are unless the connection says otherwise (every protocol).
DEFAULT_FOLDERS: dict[str, str] = {
    "orders": "/in",
    "shipments": "/out",
    "inventory": "/out",
    "archive": "/archive",
}


# --- entries ---------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Entry:
    """One platform, protocol or format: its name, what people call it, and its class."""

    key: str
    display: str
    implementation: str  # "module:Class", imported on first use (LazyRegistry.load)

    def __post_init__(self) -> None:
        module, sep, name = self.implementation.partition(":")
        if not (module and sep and name):
            raise ValueError(
                f"{self.key}: implementation {self.implementation!r} is not module:Class"
            )


@dataclass(frozen=True, kw_only=True)
class Target(Entry):
    """A platform or protocol with an Airflow Connection: how the setup form's fields become it.

    In the style of astronomer-cosmos profile mappings: which form fields it reads
    (``field_mapping``: form field -> Connection attribute, or ``extra.<key>``), which it cannot
    do without (``required_fields``; a tuple entry means "one of these"), which are secret
    (``secret_fields``), what each field is here (``labels``) and where a person finds it
    (``help``), the non-secret extras the form's options object may set (``option_keys``) and
    extras it always writes (``fixed_extra``).
    """

    conn_type: str
    field_mapping: dict[str, str]
    required_fields: tuple[str | tuple[str, ...], ...] = ()
    secret_fields: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    help: dict[str, str] = field(default_factory=dict)
    option_keys: tuple[str, ...] = ()
    fixed_extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        for form_field, where in self.field_mapping.items():
            if where not in CONNECTION_ATTRIBUTES and not where.startswith("extra."):
                raise ValueError(f"{self.key}: {form_field} maps to unknown {where!r}")
        named = [*self.secret_fields, *self.labels, *self.help]
        for entry in self.required_fields:
            named.extend((entry,) if isinstance(entry, str) else entry)
        for name in named:
            if name not in self.field_mapping:
                raise ValueError(f"{self.key}: field {name} is not in its field_mapping")

    @property
    def fields(self) -> tuple[str, ...]:
        """Every form field this target reads."""
        return tuple(self.field_mapping)

    def label(self, form_field: str) -> str:
        return self.labels.get(form_field, form_field)


class StoreOptions(BaseModel):
    """A platform's ``store.options`` in the registry (non-secret behaviour); none by default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, kw_only=True)
class Platform(Target):
    """A store platform; ``implementation`` is its ``dropstream.stores.StoreAdapter``."""

    options: type[StoreOptions] = StoreOptions

    def option_problems(self, options: Mapping[str, Any]) -> list[str]:
        """What is wrong with ``options`` for this platform, one line per key (empty if valid)."""
        try:
            self.options.model_validate(dict(options))
        except ValidationError as exc:
            known = ", ".join(self.options.model_fields) or "none"
            problems = []
            for error in exc.errors(include_url=False):
                key = ".".join(str(part) for part in error["loc"]) or "options"
                if error["type"] == "extra_forbidden":
                    problems.append(f"'{key}' is not an option of {self.key} (known: {known})")
                else:
                    problems.append(f"'{key}': {error['msg']}")
            return problems
        return []


@dataclass(frozen=True, kw_only=True)
class Protocol(Target):
    """A warehouse protocol; ``implementation`` is its ``dropstream.transports.base.Transport``."""

    choice: str  # how the form's protocol choice shows it
    default_port: int | None = None


@dataclass(frozen=True, kw_only=True)
class Format(Entry):
    """A warehouse file format; ``implementation`` is its ``dropstream.formats.base.FileFormat``
    (its constructor checks its own options)."""


@dataclass(frozen=True)
class FormField:
    """A store field of the setup form; the platforms that read it say what it is for them."""

    name: str
    title: str
    description: str
    secret: bool = False


# --- the lazy registry ---------------------------------------------------------------------
E = TypeVar("E", bound=Entry)


class LazyRegistry(Mapping[str, E], Generic[E]):
    """Entries by name, in the order given; ``load`` imports an entry's class on first use."""

    def __init__(self, kind: str, *entries: E) -> None:
        self.kind = kind
        self._entries = {e.key: e for e in entries}
        if len(self._entries) != len(entries):
            raise ValueError(f"two {kind}s share a name")

    def __getitem__(self, name: str) -> E:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def entry(self, name: str) -> E:
        """The entry ``name``, or a ConfigurationError listing the known ones."""
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries))
            raise ConfigurationError(
                f"{self.kind} {name!r} is not known (known: {known})"
            ) from None

    def load(self, name: str) -> type[Any]:
        """The class of ``name``, imported now (the only import of an implementation)."""
        module_name, _, class_name = self.entry(name).implementation.partition(":")
        cls: type[Any] = getattr(import_module(module_name), class_name)
        return cls


# --- store platforms -------------------------------------------------------------------------
#: The store fields of the setup form, in form order; a platform reads some of them.
STORE_FIELDS: tuple[FormField, ...] = (
    FormField(
        "store_url",
        "Store URL",
        "The store's (API) address, e.g. `https://acme.myshopify.com`.",
    ),
    FormField(
        "store_login",
        "API key / client id",
        "The key or client id of platforms with a key *and* a secret; leave empty for the others.",
    ),
    FormField(
        "store_access_token",
        "Access token",
        "The token of platforms that give one access token.",
        secret=True,
    ),
    FormField(
        "store_client_secret",
        "API secret / client secret",
        "The secret that goes with the key or client id above.",
        secret=True,
    ),
    FormField(
        "store_refresh_token",
        "Refresh token",
        "The refresh token the seller's authorisation of your app returned.",
        secret=True,
    ),
    FormField(
        "store_webhook_secret",
        "Shopify app's API secret key (webhooks)",
        "Only with webhooks on: the key the store signs every webhook with. Other platforms "
        "get a secret generated by setup.",
        secret=True,
    ),
    FormField("store_api_version", "API version", "Optional, e.g. `2026-10`."),
    FormField(
        "store_location_id",
        "Location id",
        "Optional: the location whose stock the warehouse sets; empty = the store's first "
        "(BigCommerce: default; Magento: the `default` source) location.",
    ),
    FormField("store_marketplace_id", "Amazon marketplace id", "The marketplace sold on."),
    FormField(
        "store_seller_id",
        "Amazon seller id / Etsy shop id",
        "The seller's (Amazon) or shop's (Etsy) own id.",
    ),
)


class WooCommerceOptions(StoreOptions):
    tracking: Literal["auto", "extension", "note"] | None = None


class BigCommerceOptions(StoreOptions):
    location_id: int | None = Field(default=None, ge=1)


class AmazonOptions(StoreOptions):
    page_size: int | None = Field(default=None, ge=1, le=100)
    patch_max_skus: int | None = Field(default=None, ge=0)
    feed_poll_seconds: float | None = Field(default=None, ge=0)
    feed_poll_attempts: int | None = Field(default=None, ge=1)


class EbayOptions(StoreOptions):
    page_size: int | None = Field(default=None, ge=1, le=200)


class EtsyOptions(StoreOptions):
    """Etsy reads everything from its Airflow Connection (shop id included): no options."""


class MagentoOptions(StoreOptions):
    source_code: str | None = Field(default=None, min_length=1)  # MSI source (default "default")
    requests_per_second: float | None = Field(default=None, gt=0)  # pace evenly (no header says)


class WalmartOptions(StoreOptions):
    page_size: int | None = Field(default=None, ge=1, le=200)
    feed_threshold: int | None = Field(default=None, ge=0)
    feed_poll_seconds: float | None = Field(default=None, ge=0)
    feed_poll_attempts: int | None = Field(default=None, ge=1)


PLATFORMS: LazyRegistry[Platform] = LazyRegistry(
    "store platform",
    Platform(
        key="amazon",
        display="Amazon Seller Central",
        implementation="adapters.amazon:AmazonAdapter",
        options=AmazonOptions,
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
        help={
            "store_client_secret": "Developer Central → your app → LWA credentials",
            "store_refresh_token": "self-authorise in Seller Central → Apps",
            "store_marketplace_id": "Seller Central → Settings → Account Info",
            "store_seller_id": "Seller Central → Settings → Account Info → Merchant Token",
        },
        option_keys=("token_url",),
    ),
    Platform(
        key="bigcommerce",
        display="BigCommerce",
        implementation="adapters.bigcommerce:BigCommerceAdapter",
        options=BigCommerceOptions,
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
        help={"store_access_token": "Settings → API accounts → the account's access token"},
    ),
    Platform(
        key="ebay",
        display="eBay",
        implementation="adapters.ebay:EbayAdapter",
        options=EbayOptions,
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
        help={
            "store_client_secret": "developer.ebay.com → Application keys → Cert ID",
            "store_refresh_token": "the user consent flow",
        },
        option_keys=("scopes", "token_url"),
    ),
    Platform(
        key="etsy",
        display="Etsy",
        implementation="adapters.etsy:EtsyAdapter",
        options=EtsyOptions,
        conn_type="http",
        field_mapping={
            "store_url": "host",
            "store_login": "login",
            "store_client_secret": "password",
            "store_refresh_token": "extra.refresh_token",
            "store_seller_id": "extra.shop_id",
        },
        required_fields=(
            "store_url",
            "store_login",
            "store_client_secret",
            "store_refresh_token",
            "store_seller_id",
        ),
        secret_fields=("store_client_secret", "store_refresh_token"),
        labels={
            "store_url": "the API base, https://api.etsy.com",
            "store_login": "the app's keystring (its OAuth client id)",
            "store_client_secret": "the app's shared secret (x-api-key is keystring:secret)",
            "store_refresh_token": "the seller's OAuth refresh token (12345678.…)",
            "store_seller_id": "the numeric Etsy shop id",
        },
        help={
            "store_login": "etsy.com/developers/your-apps → the app's keystring",
            "store_client_secret": "etsy.com/developers/your-apps → the app's shared secret",
            "store_refresh_token": "the seller's OAuth connect, scopes transactions_r "
            "transactions_w listings_r listings_w",
            "store_seller_id": "`shop_id` in the answer of `GET /v3/application/users/me` (the "
            "seller's token)",
        },
        option_keys=("token_url",),
    ),
    Platform(
        key="magento",
        display="Magento 2 / Adobe Commerce",
        implementation="adapters.magento:MagentoAdapter",
        options=MagentoOptions,
        conn_type="http",
        field_mapping={
            "store_url": "host",
            "store_access_token": "password",
            "store_location_id": "extra.source_code",
        },
        required_fields=("store_url", "store_access_token"),
        secret_fields=("store_access_token",),
        labels={
            "store_url": "the store's base URL, e.g. https://shop.example.com",
            "store_access_token": "the integration's access token (Bearer)",
            "store_location_id": "MSI source code (default `default`)",
        },
        help={
            "store_access_token": "System → Extensions → Integrations → the integration's Access "
            "Token (resources: Sales → Operations → Orders → Actions → View and Ship, Sales → "
            "Operations → Shipments, Stores → Inventory → Stocks → Source Item Assigning)",
        },
        option_keys=("requests_per_second",),
    ),
    Platform(
        key="shopify",
        display="Shopify",
        implementation="adapters.shopify:ShopifyAdapter",
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
            "store_api_version": "API version, e.g. 2026-10",
            "store_location_id": "location id, e.g. gid://shopify/Location/1",
            "store_webhook_secret": "the app's API secret key (Shopify signs webhooks with it)",
        },
        help={
            "store_url": "Shopify admin → Settings → Domains shows the `myshopify.com` one",
            "store_access_token": "Settings → Apps → Develop apps → your app → API credentials "
            "(scopes: read/write orders, merchant-managed fulfillment orders, inventory, read "
            "products)",
            "store_webhook_secret": "Settings → Apps → Develop apps → your app → API "
            "credentials → API secret key; needed only with webhooks on",
        },
    ),
    Platform(
        key="walmart",
        display="Walmart Marketplace",
        implementation="adapters.walmart:WalmartAdapter",
        options=WalmartOptions,
        conn_type="http",
        field_mapping={
            "store_url": "host",
            "store_login": "login",
            "store_client_secret": "password",
        },
        required_fields=("store_url", "store_login", "store_client_secret"),
        secret_fields=("store_client_secret",),
        labels={
            "store_url": "the API base, https://marketplace.walmartapis.com",
            "store_login": "the API key's client id",
            "store_client_secret": "the API key's client secret",
        },
        help={
            "store_login": "Seller Center → Settings → API Key Management",
            "store_client_secret": "Seller Center → Settings → API Key Management → the key's "
            "client secret (orders and inventory: full access)",
        },
        option_keys=("channel_type",),
    ),
    Platform(
        key="woocommerce",
        display="WooCommerce",
        implementation="adapters.woocommerce:WooCommerceAdapter",
        options=WooCommerceOptions,
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
        help={
            "store_client_secret": "Settings → Advanced → REST API → the key's consumer secret "
            "(read/write)",
        },
        option_keys=("query_string_auth", "tracking"),
    ),
)


# --- warehouse protocols ---------------------------------------------------------------------
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

PROTOCOLS: LazyRegistry[Protocol] = LazyRegistry(
    "warehouse protocol",
    Protocol(
        key="ftp",
        display="FTP",
        choice="FTP (plain, unencrypted)",
        implementation="dropstream.transports.ftp:FTPTransport",
        default_port=21,
        conn_type="ftp",
        field_mapping=dict(_FTP_FIELDS),
        required_fields=("warehouse_host", "warehouse_login", "warehouse_password"),
        secret_fields=("warehouse_password",),
        labels=dict(_FTP_LABELS),
    ),
    Protocol(
        key="ftps",
        display="FTPS",
        choice="FTPS (FTP over TLS)",
        implementation="dropstream.transports.ftp:FTPSTransport",
        default_port=21,
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
    Protocol(
        key="sftp",
        display="SFTP",
        choice="SFTP (SSH file transfer)",
        implementation="dropstream.transports.sftp:SFTPTransport",
        default_port=22,
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
    Protocol(
        key="s3",
        display="S3",
        choice="Amazon S3 (or S3-compatible) bucket",
        implementation="dropstream.transports.s3:S3Transport",
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
)


# --- file formats ----------------------------------------------------------------------------
FORMATS: LazyRegistry[Format] = LazyRegistry(
    "warehouse file format",
    Format(
        key="flat_csv",
        display="Flat CSV (one row per order line)",
        implementation="dropstream.formats.flat_csv:FlatCSV",
    ),
    Format(
        key="header_detail_csv",
        display="Header/detail CSV (PH/PD rows)",
        implementation="dropstream.formats.header_detail_csv:HeaderDetailCSV",
    ),
    Format(
        key="x12",
        display="ANSI X12 EDI (940 / 945 / 846)",
        implementation="dropstream.formats.x12:X12",
    ),
)


def _check_store_fields() -> None:
    """Every store field a platform reads is a field of the form (checked at import)."""
    declared = {f.name for f in STORE_FIELDS}
    for platform in PLATFORMS.values():
        missing = [f for f in platform.field_mapping if f not in declared]
        if missing:
            raise ValueError(f"{platform.key} reads {missing}: declare them in STORE_FIELDS")


_check_store_fields()

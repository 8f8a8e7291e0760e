"""What each store platform and warehouse protocol needs in its Airflow Connection.

The tables themselves are the catalogue's entries (``dropstream.catalogue``: each platform's and
protocol's ``Target`` — field mapping, required, secret and option fields, labels and help);
this module gives setup its views of them. ``form`` describes every field with the targets that
use it, ``validate`` checks the required fields of the chosen platform/protocol and
``connections`` builds the Connection bodies — all from these tables. Pure data: no Airflow,
no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping

from dropstream.catalogue import CONNECTION_ATTRIBUTES, PLATFORMS, PROTOCOLS, Target

__all__ = [
    "CONNECTION_ATTRIBUTES",
    "SECRET_FIELDS",
    "STORES",
    "STORE_OPTIONS_FIELD",
    "WAREHOUSES",
    "Target",
    "applies_to",
    "store_target",
    "used_by",
    "warehouse_target",
]

#: The store platforms' tables, by platform.
STORES: Mapping[str, Target] = PLATFORMS
#: The warehouse protocols' tables, by protocol.
WAREHOUSES: Mapping[str, Target] = PROTOCOLS

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


def used_by(form_field: str, targets: Mapping[str, Target]) -> list[Target]:
    """The targets that read ``form_field``, in catalogue order."""
    return [t for t in targets.values() if form_field in t.field_mapping]


def applies_to(form_field: str, targets: Mapping[str, Target]) -> str:
    """`` Used by **WooCommerce**: the consumer key; **eBay**: ….`` for a field's description:
    what the field is on each target that reads it, and where a person finds it there."""
    users = used_by(form_field, targets)
    if not users:
        return ""
    parts = []
    for t in users:
        said = [t.labels[form_field]] if form_field in t.labels else []
        if form_field in t.help:
            said.append(t.help[form_field])
        parts.append(f"**{t.display}**" + (f": {' — '.join(said)}" if said else ""))
    return f" Used by {'; '.join(parts)}."

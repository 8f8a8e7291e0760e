"""The setup form's fields for the connection's ``rules``, grouped, each with its help text.

Every default is empty: on update an empty field keeps the rule as it is (docs/fulfillment.md
explains each rule).
"""

from __future__ import annotations

from airflow.sdk import Param

WHICH = "Fulfillment flow: which orders go (optional)"
SHAPE = "Fulfillment flow: SKUs and bundles (optional)"
STOCK = "Fulfillment flow: inventory (optional)"

RULE_TITLES: dict[str, str] = {
    "safety_stock": "Safety stock (units)",
    "hold_countries": "Hold orders to these countries",
    "ship_countries": "Ship only to these countries",
    "include_tags": "Send only orders tagged",
    "exclude_tags": "Hold orders tagged",
    "hold_minutes": "Wait before sending (minutes)",
    "sku_map": "SKU map",
    "skip_skus": "SKUs never sent",
    "bundles": "Bundles",
    "address_checks": "Check ship-to addresses",
    "safety_stock_pct": "Safety stock (percent)",
    "subtract_in_flight": "Subtract units sent but not shipped",
    "zero_out_guard_pct": "Suspect snapshot threshold (percent)",
}


def _list(section: str, name: str, description: str) -> Param:
    return Param(
        [],
        type=["array", "null"],
        items={"type": "string"},
        title=RULE_TITLES[name],
        section=section,
        description_md=description,
    )


def rule_params() -> dict[str, Param]:
    """Every ``rules`` key but the ship method (above), grouped, each with its help text.

    Every default is empty: on update an empty field keeps the rule as it is
    (docs/fulfillment.md explains each rule).
    """
    return {
        "include_tags": _list(
            WHICH,
            "include_tags",
            "Store order tags, one per line: only orders carrying one of them are sent; the "
            "others are skipped. Empty = every order.",
        ),
        "exclude_tags": _list(
            WHICH,
            "exclude_tags",
            "Store order tags, one per line: an order carrying one is held for a person, the "
            "reason naming the tag (e.g. `fraud-check`).",
        ),
        "ship_countries": _list(
            WHICH,
            "ship_countries",
            "ISO country codes, one per line (e.g. `US`, `CA`): orders to any other country "
            "are held. Empty = every country.",
        ),
        "hold_countries": _list(
            WHICH,
            "hold_countries",
            "ISO country codes whose orders wait for a person (e.g. `PR`), one per line.",
        ),
        "hold_minutes": Param(
            None,
            type=["null", "integer"],
            minimum=0,
            maximum=7 * 24 * 60,
            title=RULE_TITLES["hold_minutes"],
            section=WHICH,
            description_md="An order is sent only once it is this old, so customers can still "
            "edit or cancel it (e.g. `30`). Until then it waits (it is not held). Empty = 0.",
        ),
        "sku_map": Param(
            None,
            type=["object", "null"],
            title=RULE_TITLES["sku_map"],
            section=SHAPE,
            description_md='Store SKU → the 3PL\'s SKU, e.g. `{"MUG-BLUE": "100234"}`; '
            "stock comes back under the store's SKU.",
        ),
        "skip_skus": _list(
            SHAPE,
            "skip_skus",
            "Store SKUs never sent to the 3PL (e.g. a free insert). Gift cards and digital "
            "products are left out by themselves.",
        ),
        "bundles": Param(
            None,
            type=["object", "null"],
            title=RULE_TITLES["bundles"],
            section=SHAPE,
            description_md="A store SKU sold as a set → its components and units per set, e.g. "
            '`{"GIFT-BOX": {"MUG": 1, "TEA-50G": 2}}`. The 3PL gets the components; their '
            "shipment closes the set's line; the set's stock is what its scarcest component "
            "allows.",
        ),
        "address_checks": Param(
            None,
            type=["null", "boolean"],
            title=RULE_TITLES["address_checks"],
            section=SHAPE,
            description_md="Hold orders whose ship-to lacks a name, street, city, country, a "
            "postal code where the country uses one, a valid US/CA state, or has a field "
            "longer than the file format allows (never cut short). Empty = on.",
        ),
        "safety_stock": Param(
            None,
            type=["null", "integer"],
            minimum=0,
            title=RULE_TITLES["safety_stock"],
            section=STOCK,
            description_md="Units held back from each SKU's quantity pushed to the store "
            "(empty = 0, or unchanged on update).",
        ),
        "safety_stock_pct": Param(
            None,
            type=["null", "number"],
            minimum=0,
            maximum=100,
            title=RULE_TITLES["safety_stock_pct"],
            section=STOCK,
            description_md="Percent of each SKU's quantity held back, rounded up (e.g. `10`). "
            "With units too, the larger wins.",
        ),
        "subtract_in_flight": Param(
            None,
            type=["null", "boolean"],
            title=RULE_TITLES["subtract_in_flight"],
            section=STOCK,
            description_md="For a 3PL that reports stock on hand: subtract the units of orders "
            "sent but not shipped yet before pushing. Empty = off.",
        ),
        "zero_out_guard_pct": Param(
            None,
            type=["null", "number"],
            exclusiveMinimum=0,
            maximum=100,
            title=RULE_TITLES["zero_out_guard_pct"],
            section=STOCK,
            description_md="An inventory file that would set at least this share of the "
            "store's in-stock SKUs to zero (or lists none of them) is not pushed but kept for "
            "approval in `dropstream_actions`. Empty = 50.",
        ),
    }

"""The orders pipeline without I/O: transform (the connection's rules, then the format's own
checks, as ``flows.orders.transform`` does) and write (one order file), for N orders, with the
rules on (bundles, SKU and ship-method maps, tag and country filters, hold period, address checks
with the format's field limits) next to the same loop with no rules. Prints both throughputs and
the time ratio (issue 11: at most 1.5x).

    .venv/bin/python bench/pipeline.py [--orders 5000] [--format header_detail_csv] [--rounds 7]
"""

from __future__ import annotations

import argparse
import io
import itertools
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT / "include"), str(ROOT)]

from dropstream.formats import FORMATS, get_format  # noqa: E402
from dropstream.formats.base import FileFormat  # noqa: E402
from dropstream.models import Address, Order, OrderLine  # noqa: E402
from dropstream.rules.fulfillment import decide  # noqa: E402
from dropstream.spec import Rules  # noqa: E402

PLACED = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
NOW = PLACED + timedelta(hours=2)
RULES = Rules(
    sku_map={"MUG-BLU": "100234", "TEE-L": "200411", "TEA-50G": "300007"},
    ship_method_map={"standard": "UPS_GROUND", "express": "UPS_2DAY"},
    skip_skus=["LEAFLET"],
    bundles={"GIFT-BOX": {"MUG-BLU": 1, "TEA-50G": 2, "LEAFLET": 1}},
    include_tags=["web", "wholesale"],
    exclude_tags=["fraud-check"],
    ship_countries=["US", "CA", "DE"],
    hold_countries=["PR"],
    hold_minutes=30,
    address_checks=True,
)
#: No rules: nothing mapped, no filters, no address checks; the store's ship method goes through.
BARE = Rules(address_checks=False)


def orders(count: int) -> list[Order]:
    ship_to = Address("Ada Buyer", "1 Main St", "Springfield", "97477", "US", state="OR")
    lines = (
        OrderLine("l1", "MUG-BLU", 2, Decimal("12.50"), 1),
        OrderLine("l2", "GIFT-BOX", 1, Decimal("39.00"), 2),
        OrderLine("l3", "TEE-L", 1, Decimal("19.00"), 3),
        OrderLine("l4", "GIFT-25", 1, Decimal("25.00"), 4, requires_shipping=False),
    )
    return [
        Order(f"gid://o/{n}", f"{1000 + n}", PLACED, PLACED, ship_to, lines,
              email="ada@example.com", ship_method="standard", tags=("web",))
        for n in range(count)
    ]  # fmt: skip


def options(name: str) -> dict:
    if name != "x12":
        return {}
    numbers = itertools.count(1)
    return {"sender_id": "DROPSTREAM", "receiver_id": "WH1",
            "control_numbers": lambda _name: next(numbers)}  # fmt: skip


def transform_and_write(batch: list[Order], rules: Rules, fmt: FileFormat) -> tuple[int, int]:
    """What one orders run does to ``batch`` without the ledger: (orders written, bytes)."""
    ready = []
    for order in batch:
        decision = decide(order, rules, not_before=PLACED, now=NOW,
                          address_limits=fmt.address_limits)  # fmt: skip
        if decision.state == "ready" and not fmt.order_problems(decision.order):
            ready.append(decision.order)
    stream = io.BytesIO()
    written = fmt.write_orders(ready, stream, file_name="bench.csv")
    return written, len(stream.getvalue())


def best_seconds(
    batch: list[Order], rulesets: list[Rules], name: str, rounds: int
) -> list[tuple[float, int]]:
    """Best CPU seconds (and file size) of each ruleset, the rounds interleaved: on a shared
    machine, process time and alternation keep other load out of the ratio."""
    best = [float("inf")] * len(rulesets)
    sizes = [0] * len(rulesets)
    for _ in range(rounds):
        for i, rules in enumerate(rulesets):
            fmt = get_format(name, options(name))
            start = time.process_time()
            written, sizes[i] = transform_and_write(batch, rules, fmt)
            best[i] = min(best[i], time.process_time() - start)
            assert written == len(batch), f"{written} of {len(batch)} orders written"
    return list(zip(best, sizes, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--format", choices=sorted(FORMATS), default="header_detail_csv")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    batch = orders(args.orders)
    (bare, bare_size), (ruled, ruled_size) = best_seconds(
        batch, [BARE, RULES], args.format, args.rounds
    )
    print(f"orders transform+write, {args.orders} orders, {args.format}, "
          f"best CPU time of {args.rounds}:")  # fmt: skip
    print(f"  no rules:  {args.orders / bare:>9,.0f} orders/s  ({bare * 1000:.0f} ms, "
          f"{bare_size:,} bytes)")  # fmt: skip
    print(f"  rules on:  {args.orders / ruled:>9,.0f} orders/s  ({ruled * 1000:.0f} ms, "
          f"{ruled_size:,} bytes: bundles expanded)")  # fmt: skip
    ratio = ruled / bare
    verdict = "within" if ratio <= 1.5 else "OVER"
    print(f"  rules cost {ratio:.2f}x the bare time ({verdict} the 1.5x budget)")


if __name__ == "__main__":
    main()

"""Many Shopify emulators in one process, for bench/scale.py (it runs this module as a child
process and talks to the shops over HTTP, as to real stores).

    python -m dropstream.sandbox.shopify.pool COUNT [--order-every SECONDS]

Prints one JSON line per shop, ``{"url": …, "token": …}``, then adds a paid, unfulfilled order
to every shop every ``--order-every`` seconds (0: never) until its standard input closes.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from datetime import UTC, datetime

from dropstream.sandbox.shopify import ShopifyEmulator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("count", type=int)
    parser.add_argument("--order-every", type=float, default=60.0)
    args = parser.parse_args()
    shops = [ShopifyEmulator().start() for _ in range(args.count)]
    for shop in shops:
        print(json.dumps({"url": shop.url, "token": shop.token}), flush=True)
    closed = threading.Event()

    def wait_for_stdin_to_close() -> None:
        sys.stdin.read()
        closed.set()

    threading.Thread(target=wait_for_stdin_to_close, daemon=True).start()
    while not closed.wait(args.order_every or None):
        for shop in shops:
            shop.add_order(updated_at=datetime.now(UTC))
    for shop in shops:
        shop.stop()


if __name__ == "__main__":
    main()

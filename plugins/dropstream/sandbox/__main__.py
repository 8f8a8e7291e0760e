"""``python -m dropstream.sandbox``: run the sandbox store and the simulated 3PL (``make run``).

Both listen on 127.0.0.1. With ``--register-demo`` it also registers them as the connection
``demo`` through the setup DAG and switches its DAGs on (see ``dropstream.sandbox.demo``).
Stops on SIGTERM/SIGINT, saving its state under ``--state-dir``.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from datetime import timedelta
from pathlib import Path

from dropstream.sandbox.demo import demo_form, register_demo
from dropstream.sandbox.shop import WAREHOUSE_STOCK, SandboxShop
from dropstream.sandbox.warehouse import SimulatedWarehouse, WarehouseSettings
from dropstream.setup.api import AirflowAPI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dropstream.sandbox", description=__doc__)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--shop-port", type=int, default=8098)
    parser.add_argument("--ftp-port", type=int, default=2121)
    parser.add_argument("--orders-per-minute", type=float, default=3.0)
    parser.add_argument("--ship-after", type=float, default=20.0, help="seconds")
    parser.add_argument("--register-demo", action="store_true")
    parser.add_argument("--api-url", default="http://127.0.0.1:8080")
    parser.add_argument("--api-user", default="admin")
    parser.add_argument("--api-password-file", type=Path, help="simple auth manager passwords")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    args.state_dir.mkdir(parents=True, exist_ok=True)
    settings = WarehouseSettings(
        root=args.state_dir / "warehouse", port=args.ftp_port, stock=dict(WAREHOUSE_STOCK)
    )
    settings.ship_after = timedelta(seconds=args.ship_after)
    warehouse = SimulatedWarehouse(settings).start()
    shop = SandboxShop(
        args.state_dir,
        port=args.shop_port,
        orders_per_minute=args.orders_per_minute,
        warehouse_state=warehouse.snapshot,
    ).start()
    about = {
        "shop_url": shop.url,
        "page_url": f"{shop.url}/",
        "ftp": f"ftp://127.0.0.1:{warehouse.port}",
        "warehouse_folder": str(settings.root),
    }
    (args.state_dir / "sandbox.json").write_text(json.dumps(about, indent=1))
    logging.info("sandbox running: %s", about)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if args.register_demo:
        password = ""
        if args.api_password_file and args.api_password_file.exists():
            password = json.loads(args.api_password_file.read_text()).get(args.api_user, "")
        api = AirflowAPI(args.api_url, args.api_user, password)
        form = demo_form(shop.url, shop.token, warehouse.port, settings.username, settings.password)
        try:
            register_demo(api, form)
        except Exception:  # noqa: BLE001 - the sandbox keeps serving; the log says why
            logging.exception("could not register the demo connection")
    stop.wait()
    shop.stop()
    warehouse.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

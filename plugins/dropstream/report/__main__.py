"""``python -m dropstream.report reconcile <connection> [--csv FILE]``.

Compares the store's current stock, the last warehouse snapshot and the ledger (pushed, in
flight) for one connection, prints the SKUs that differ and why, and writes them as CSV.
The registry comes from ``--registry FILE`` (the Variable's JSON), else the Variable itself
(``AIRFLOW_VAR_DROPSTREAM_CONNECTIONS`` or the metadata DB); the ledger from
``DROPSTREAM_LEDGER_URL``; the store's credentials from its Airflow Connection.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dropstream.errors import ConfigurationError
from dropstream.registry import parse_registry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dropstream.report", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    rec = commands.add_parser("reconcile", help="store stock vs warehouse snapshot vs ledger")
    rec.add_argument("connection", help="the connection's name (registry key)")
    rec.add_argument("--csv", type=Path, help="also write the differing SKUs to this CSV file")
    rec.add_argument("--registry", type=Path, help="the registry as a JSON file")
    rec.add_argument("--ledger-url", help="SQLAlchemy URL (default: DROPSTREAM_LEDGER_URL)")
    args = parser.parse_args(argv)
    try:
        return _reconcile(args)
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _reconcile(args: argparse.Namespace) -> int:
    from dropstream.ledger import Ledger
    from dropstream.report.reconcile import reconcile, store_stock

    document = json.loads(args.registry.read_text()) if args.registry else _variable()
    registry = parse_registry(document, only=args.connection)
    if args.connection in registry.errors:
        raise registry.errors[args.connection]
    spec = registry.specs.get(args.connection)
    if spec is None:
        raise ConfigurationError(
            f"no connection {args.connection!r} in the registry: "
            f"known: {', '.join(sorted(parse_registry(document).specs)) or 'none'}"
        )
    ledger = Ledger(args.ledger_url)
    try:
        skus = {row["sku"] for row in ledger.warehouse_levels(spec.name)}
        to_store = {w: s for s, w in spec.rules.sku_map.items()}
        stock, why = store_stock(spec, sorted(to_store.get(s, s) for s in skus))
        report = reconcile(spec, ledger, stock)
    finally:
        ledger.close()
    title = f"Stock of connection {spec.name} ({spec.store.platform} store, {spec.warehouse.name})"
    print(title)
    if why:
        print(f"note: {why}")
    if report.empty:
        print(f"all {len(skus)} SKU(s) agree: store, warehouse snapshot and ledger")
    else:
        print(f"{len(report)} of {len(skus)} SKU(s) differ:")
        print(report.to_string(index=False))
    if args.csv:
        report.to_csv(args.csv, index=False)
        print(f"written to {args.csv}")
    return 0


def _variable() -> str | None:
    import os

    if "AIRFLOW_VAR_DROPSTREAM_CONNECTIONS" in os.environ:
        return os.environ["AIRFLOW_VAR_DROPSTREAM_CONNECTIONS"]
    from airflow.models import Variable  # an operator's shell: the metadata DB

    return Variable.get("dropstream_connections", default_var=None)


if __name__ == "__main__":
    sys.exit(main())

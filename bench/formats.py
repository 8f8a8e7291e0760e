"""Warehouse file formats: orders written per second, inventory lines read per second, and the
peak memory of streaming a 1,000,000-line inventory file, for every format.

Each inventory file is generated to a temporary path and read in a fresh interpreter, so the
resident-memory figure (ru_maxrss after reading minus before) belongs to that read alone.
For x12 a "line" is one LIN item (its LIN and QTY segments: the file has 2,000,000+ segments).

    .venv/bin/python bench/formats.py [--lines 1000000] [--orders 5000] [--tracemalloc]
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT / "include"), str(ROOT)]

from dropstream.formats import FORMATS, get_format  # noqa: E402
from dropstream.models import Address, Order, OrderLine  # noqa: E402

WHEN = datetime(2024, 5, 1, 14, 30, tzinfo=UTC)
CSV_INVENTORY = {"header_detail_csv": b"sku,quantity_available,facility,as_of\r\n",
                 "flat_csv": b"sku,qty,facility,as_of\r\n"}  # fmt: skip


def options(name: str) -> dict:
    if name != "x12":
        return {}
    numbers = itertools.count(1)
    return {"sender_id": "DROPSTREAM", "receiver_id": "WH1",
            "control_numbers": lambda _name: next(numbers)}  # fmt: skip


def orders(count: int) -> list[Order]:
    ship_to = Address("Zoë Müller", "Königstraße 12", "Düsseldorf", "40212", "DE", phone="+49 1")
    lines = (OrderLine("l1", "MUG-BLU", 2, Decimal("12.50"), 1),
             OrderLine("l2", "TEE-L", 1, Decimal("19.00"), 2))  # fmt: skip
    return [
        Order(f"gid://o/{n}", f"{1000 + n}", WHEN, WHEN, ship_to, lines, email="z@example.com",
              ship_method="UPS_GROUND", notes="Leave with neighbour")
        for n in range(count)
    ]  # fmt: skip


def orders_per_second(name: str, batch: list[Order], rounds: int = 3) -> float:
    best = float("inf")
    for _ in range(rounds):
        fmt, stream = get_format(name, options(name)), io.BytesIO()
        start = time.perf_counter()
        fmt.write_orders(batch, stream)
        best = min(best, time.perf_counter() - start)
    return len(batch) / best


def write_inventory(name: str, path: Path, lines: int) -> None:
    with path.open("wb") as out:
        if name == "x12":
            out.write(b"ISA*00*          *00*          *ZZ*WH1            *ZZ*DROPSTREAM     "
                      b"*240501*0600*U*00401*000000001*0*P*>~\nGS*IB*WH1*DROPSTREAM*20240501*0600"
                      b"*1*X*004010~\nST*846*0001~\nBIA*00*MM*INV1*20240501*0600~\n")  # fmt: skip
            for start in range(0, lines, 10_000):
                out.write(b"".join(f"LIN**SK*SKU-{n:07d}~\nQTY*33*{n % 50}~\n".encode()
                                   for n in range(start, min(lines, start + 10_000))))  # fmt: skip
            out.write(f"CTT*{lines}~\nSE*{2 * lines + 4}*0001~\nGE*1*1~\nIEA*1*000000001~\n"
                      .encode())  # fmt: skip
            return
        out.write(CSV_INVENTORY[name])
        for start in range(0, lines, 10_000):
            out.write(b"".join(f"SKU-{n:07d},{n % 50},WH1,2024-05-01T06:00:00Z\r\n".encode()
                               for n in range(start, min(lines, start + 10_000))))  # fmt: skip


def read_child(name: str, path: str, traced: bool) -> None:
    """Runs in a fresh interpreter: read the file, print count, seconds and memory as JSON."""
    import tracemalloc

    fmt = get_format(name, options(name))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if traced:
        tracemalloc.start()
    start = time.perf_counter()
    with open(path, "rb") as stream:
        count = sum(1 for _ in fmt.read_inventory(stream, file_name=Path(path).name))
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] if traced else None
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"count": count, "seconds": seconds, "rss_kb": after - before,
                      "traced": peak}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=5_000)
    parser.add_argument(
        "--tracemalloc", action="store_true",
        help="also trace Python allocations (slows reading; the rate is then not comparable)",
    )  # fmt: skip
    parser.add_argument("--child", nargs=2, metavar=("FORMAT", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        read_child(*args.child, traced=args.tracemalloc)
        return
    batch = orders(args.orders)
    print(f"{'format':<18} {'orders/s':>10} {'inv lines/s':>12} {'file MB':>8} "
          f"{'RSS delta MB':>13} {'traced peak MB':>15}")  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        for name in FORMATS:
            written = orders_per_second(name, batch)
            path = Path(folder) / f"inv_{name}.dat"
            write_inventory(name, path, args.lines)
            command = [sys.executable, __file__, "--child", name, str(path)]
            result = json.loads(subprocess.run(
                command + (["--tracemalloc"] if args.tracemalloc else []),
                check=True, capture_output=True, text=True,
            ).stdout)  # fmt: skip
            assert result["count"] == args.lines, result
            traced = f"{result['traced'] / 2**20:.1f}" if result["traced"] is not None else "-"
            print(f"{name:<18} {written:>10,.0f} {args.lines / result['seconds']:>12,.0f} "
                  f"{path.stat().st_size / 2**20:>8.1f} {result['rss_kb'] / 1024:>13.1f} "
                  f"{traced:>15}", flush=True)  # fmt: skip
            path.unlink()


if __name__ == "__main__":
    main()

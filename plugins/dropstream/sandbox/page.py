"""The sandbox page: the demo store's orders and stock beside the simulated warehouse's files.

Plain HTML that refreshes itself every 10 seconds; labelled as a sandbox everywhere.
"""

from __future__ import annotations

from html import escape
from typing import Any

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1f2933;background:#fafafa}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.5rem}
.badge{background:#f59e0b;color:#111;border-radius:4px;padding:2px 8px;font-size:.8rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.85rem;background:#fff}
td,th{border:1px solid #d9dde3;padding:3px 8px;text-align:left;vertical-align:top}
.cols{display:flex;gap:2rem;flex-wrap:wrap}.muted{color:#6b7280}
.cancelled{color:#b91c1c}.fulfilled{color:#047857}.partially_fulfilled{color:#b45309}
"""


def _table(headers: list[str], rows: list[list[Any]], empty: str) -> str:
    if not rows:
        return f'<p class="muted">{escape(empty)}</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render_page(store: dict[str, Any], warehouse: dict[str, Any]) -> str:
    orders = store.get("orders") or []
    order_rows = [
        [
            f"#{o['number']}",
            escape(o["created_at"][11:19]),
            f'<span class="{escape(o["status"])}">{escape(o["status"])}</span>',
            escape(str(o["ship_method"])),
            escape(", ".join(f"{sku} × {qty}" for sku, qty in o["lines"])),
            escape(", ".join(f"{f['company']} {f['number']}" for f in o["fulfillments"])) or "–",
        ]
        for o in orders[:25]
    ]
    store_stock = [[escape(sku), qty] for sku, qty in sorted((store.get("stock") or {}).items())]
    wh_stock = [[escape(sku), qty] for sku, qty in (warehouse.get("stock") or {}).items()]
    received = [
        [escape(f["file"]), escape(f["at"][11:19])]
        for f in reversed(warehouse.get("received_files") or [])
    ]
    shipped = [
        [
            f"#{escape(s['order'])}",
            escape(s["carrier"]),
            escape(s["tracking"]),
            s["units"],
            escape(s["at"][11:19]),
        ]
        for s in reversed(warehouse.get("shipped") or [])
    ]
    waiting = [
        [f"#{escape(w['order'])}", escape(w["due"][11:19])] for w in warehouse.get("waiting") or []
    ]
    outbox = [[escape(name)] for name in warehouse.get("outbox") or []]
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="10">
<title>DropStream sandbox (demo data)</title><style>{_STYLE}</style></head>
<body>
<h1>DropStream sandbox <span class="badge">SANDBOX · demo data only</span></h1>
<p class="muted">A demo Shopify store and a simulated 3PL started by <code>make run</code> for the
connection <code>demo</code>. Nothing here is real. The page refreshes every 10 seconds.</p>
<div class="cols">
<div><h2>Store: orders ({len(orders)}, {store.get("fulfillments", 0)} fulfillments)</h2>
{
        _table(
            ["order", "placed (UTC)", "status", "ship method", "lines", "tracking"],
            order_rows,
            "No orders yet: the shoppers place a few a minute.",
        )
    }</div>
<div><h2>Store: stock shown to shoppers</h2>
{_table(["SKU", "available"], store_stock, "No products.")}</div>
</div>
<div class="cols">
<div><h2>Warehouse: order files taken from /in</h2>
{_table(["file", "at (UTC)"], received, "No order file yet: the orders DAG publishes them.")}
<h2>Warehouse: orders waiting to ship</h2>
{_table(["order", "ships at (UTC)"], waiting, "None waiting.")}</div>
<div><h2>Warehouse: packages shipped</h2>
{_table(["order", "carrier", "tracking", "units", "at (UTC)"], shipped, "Nothing shipped yet.")}
<h2>Warehouse: files waiting in /out</h2>
{_table(["file"], outbox, "None: DropStream has read and archived them.")}</div>
<div><h2>Warehouse: stock on hand</h2>
{_table(["SKU", "on hand"], wh_stock, "No stock.")}</div>
</div>
</body></html>"""

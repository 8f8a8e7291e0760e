"""The three syncs: orders, inventory and tracking, each a flow of extract, transform, load.

``FLOWS[name](ctx)`` is the flow ``name`` over one run's context (``RunContext``); the Airflow
tasks (``dropstream.tasks``) call its steps. The steps' work is in each flow's module.
"""

from __future__ import annotations

from dropstream.flows.common import Flow
from dropstream.flows.context import RunContext
from dropstream.flows.inventory import InventoryFlow
from dropstream.flows.orders import OrdersFlow
from dropstream.flows.tracking import TrackingFlow

__all__ = ["FLOWS", "Flow", "InventoryFlow", "OrdersFlow", "RunContext", "TrackingFlow"]

#: Every flow by name (the names of ``dropstream.spec.FLOWS``, which the DAGs are built from).
FLOWS: dict[str, type[Flow]] = {
    flow.name: flow for flow in (OrdersFlow, InventoryFlow, TrackingFlow)
}

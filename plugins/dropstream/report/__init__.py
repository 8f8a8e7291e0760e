"""Operator reports: ``python -m dropstream.report reconcile <connection>``."""

from __future__ import annotations

from dropstream.report.reconcile import IN_FLIGHT_STATES, reconcile

__all__ = ["IN_FLIGHT_STATES", "reconcile"]

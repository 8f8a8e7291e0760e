"""Fulfillment-flow rules: pure functions over typed values (no I/O, no clock)."""

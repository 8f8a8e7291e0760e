"""The three syncs as plain functions: extract, transform, load for orders, inventory, tracking."""

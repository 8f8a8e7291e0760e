"""A Shopify Admin GraphQL emulator: the sandbox store of ``make run`` and the tests' Shopify."""

from dropstream.sandbox.shopify.emulator import ShopifyEmulator, shopify_connection_json

__all__ = ["ShopifyEmulator", "shopify_connection_json"]

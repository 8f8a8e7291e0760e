"""Strict emulators of the store platforms other than Shopify (which is ``sandbox.shopify``), and
one harness over all of them: the tests' fixtures and the benchmarks run the same code."""

"""The loopback HTTP server the emulators run on lives in the product (the sandbox uses it too)."""

from dropstream.sandbox.http import JSON, LoopbackServer, Reply, free_port

__all__ = ["JSON", "LoopbackServer", "Reply", "free_port"]

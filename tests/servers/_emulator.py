"""How a test runs a platform emulator: started, stopped, and its crashes made failures."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

from dropstream.sandbox.strict import EmulatorCrashed, StrictEmulator

__all__ = ["EmulatorCrashed", "running"]

E = TypeVar("E", bound=StrictEmulator)


@contextmanager
def running(emulator: E) -> Iterator[E]:
    """Serve ``emulator`` for the block; on leaving, raise ``EmulatorCrashed`` if any request
    crashed it (the client only saw a 500, which adapters retry and tests would not notice)."""
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()
    emulator.check_no_crash()

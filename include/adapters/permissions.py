"""Permission probes for a store's connection check: which of the flows' permissions are missing.

Few platforms list a credential's permissions. Where they do not, each permission is proven by a
call that needs it and changes nothing (a write the platform refuses after its permission check,
a validation preview, a read); ``missing_permissions`` runs them and names the refused ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

__all__ = ["Probe", "missing_permissions"]

Probe = tuple[str, Callable[[], object]]  # (the permission as the platform names it, the call)


def missing_permissions(probes: Iterable[Probe], denied: type[Exception]) -> list[str]:
    """The names of the probes refused with ``denied``, in order; other errors propagate."""
    missing = []
    for name, call in probes:
        try:
            call()
        except denied:
            missing.append(name)
    return missing

"""The kit's permission probes: refused probes are named in order, other errors propagate."""

from __future__ import annotations

import pytest

from adapters.permissions import missing_permissions
from dropstream.errors import AuthenticationError, TransientError


class Denied(AuthenticationError):
    pass


def refuse() -> None:
    raise Denied("403")


def test_refused_probes_are_named_in_order_and_every_probe_runs() -> None:
    ran: list[str] = []
    probes = [
        ("write orders", refuse),
        ("read orders", lambda: ran.append("read")),
        ("write inventory", refuse),
    ]
    assert missing_permissions(probes, Denied) == ["write orders", "write inventory"]
    assert ran == ["read"]


def test_other_errors_are_not_taken_for_a_missing_permission() -> None:
    def unreachable() -> None:
        raise TransientError("store unavailable (503)")

    with pytest.raises(TransientError):
        missing_permissions([("write orders", unreachable)], Denied)
    with pytest.raises(AuthenticationError):  # a 401 is bad credentials, not a missing scope
        missing_permissions([("write orders", _raise_401)], Denied)


def _raise_401() -> None:
    raise AuthenticationError("401")

"""What the view says about a connection, from its DAGs' pause flags and the typed search."""

from __future__ import annotations

import pytest

from dropstream.web.summary import enablement, search_numbers


@pytest.mark.parametrize(
    ("paused", "said"),
    [
        ({"orders": False, "inventory": False, "tracking": False}, "Enabled"),
        ({"orders": True, "inventory": True, "tracking": True}, "Disabled"),
        ({"orders": False, "inventory": True, "tracking": True}, "Partly enabled"),
        ({"orders": False, "inventory": False, "tracking": None}, "Partly enabled"),
        ({"orders": True, "inventory": None, "tracking": None}, "Disabled"),
        ({"orders": None, "inventory": None, "tracking": None}, "Not deployed"),
    ],
)
def test_enablement_from_the_three_pause_flags(paused, said):
    assert enablement(paused) == said


def test_search_means_the_store_and_the_warehouse_number():
    assert search_numbers("1042", "AE-") == ["1042", "AE-1042"]
    assert search_numbers(" #1042 ", "AE-") == ["#1042", "1042", "AE-1042"]
    assert search_numbers("AE-1042", "AE-") == ["1042", "AE-1042"]
    assert search_numbers("1042", "") == ["1042"]
    assert search_numbers("   ", "AE-") == []

"""address_problems(): the field at fault named, for every check."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dropstream.rules.address import address_problems
from tests.dropstream.rules._orders import HOME

CASES = [
    ("complete US address", {}, None, []),
    ("no name", {"name": ""}, None, ["ship-to name is empty"]),
    ("no street", {"address1": ""}, None, ["ship-to address1 is empty"]),
    (
        "no country",
        {"country": "", "state": ""},
        None,
        ["ship-to country is empty"],
    ),
    (
        "country not a code",
        {"country": "USA"},
        None,
        ["ship-to country 'USA' is not an ISO 3166-1 alpha-2 code"],
    ),
    (
        "no postal code where one is used",
        {"country": "DE", "state": "", "postal_code": ""},
        None,
        ["ship-to postal_code is empty (needed for DE)"],
    ),
    (
        "no postal code in Hong Kong is fine",
        {"country": "HK", "state": "", "postal_code": ""},
        None,
        [],
    ),  # fmt: skip
    ("lower-case state is fine", {"state": "il"}, None, []),
    ("a state's name is fine (BigCommerce sends names)", {"state": "Oregon"}, None, []),
    (
        "a province's name is fine",
        {"country": "CA", "state": "québec", "postal_code": "H2X"},
        None,
        [],
    ),  # fmt: skip
    (
        "not a state name",
        {"state": "Oregano"},
        None,
        ["ship-to state 'Oregano' is not a US state code (e.g. NY)"],
    ),  # fmt: skip
    ("no US state", {"state": ""}, None, ["ship-to state empty is not a US state code (e.g. NY)"]),
    (
        "bad Canadian province",
        {"country": "CA", "state": "QQ", "postal_code": "H2X 1Y4"},
        None,
        ["ship-to state 'QQ' is not a CA state code (e.g. ON)"],
    ),
    (
        "name and city longer than the file allows",
        {"name": "N" * 61, "city": "C" * 31},
        {"name": 60, "city": 30},
        [
            "ship-to city is 31 characters, the order file allows 30: shorten it in the store",
            "ship-to name is 61 characters, the order file allows 60: shorten it in the store",
        ],
    ),
    ("exactly at the limit", {"address1": "A" * 55}, {"address1": 55}, []),
    ("no limits: any length", {"address1": "A" * 500}, None, []),
]


@pytest.mark.parametrize(("case", "changes", "limits", "problems"), CASES,
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_address_problems(case, changes, limits, problems):
    assert address_problems(replace(HOME, **changes), limits) == problems

"""The exact duplicate-key set the inventory readers use (formats/_csv.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dropstream.formats._csv import KeySet


def _two_keys_with_one_slot_tag() -> tuple[str, str]:
    """Two different keys whose hashes agree in the 32 bits the table keeps (birthday search)."""
    seen: dict[int, str] = {}
    for n in range(2_000_000):
        key = f"WH1\x1fSKU-{n}"
        tag = hash(key.encode()) & 0xFFFFFFFF
        if tag in seen:
            return seen[tag], key
        seen[tag] = key
    raise AssertionError("no 32-bit tag collision in 2,000,000 keys")


def test_keys_whose_hashes_collide_are_still_two_keys():
    first, second = _two_keys_with_one_slot_tag()
    keys = KeySet()
    assert keys.add(first) and keys.add(second)
    assert not keys.add(first) and not keys.add(second)
    assert len(keys) == 2


@given(st.lists(st.text(max_size=300), max_size=200))
def test_it_answers_like_a_set(items):
    keys, reference = KeySet(), set()
    for item in items:
        assert keys.add(item) == (item not in reference)
        reference.add(item)
    assert len(keys) == len(reference)


def test_it_grows_past_its_first_table():
    keys = KeySet()
    assert all(keys.add(f"SKU-{n}") for n in range(5_000))
    assert not any(keys.add(f"SKU-{n}") for n in range(5_000))

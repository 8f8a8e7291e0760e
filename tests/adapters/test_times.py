"""Platform time formats and window filtering (include/adapters/times.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from adapters.times import (
    ISO_NAIVE,
    ISO_OFFSET,
    ISO_Z,
    created_at_or_after,
    epoch_seconds,
    in_window,
    parse_epoch,
    parse_iso,
    query_time,
)

T = datetime(2026, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC)


def test_bounds_are_widened_to_whole_seconds_in_each_platform_format():
    assert query_time(T, ISO_Z) == "2026-03-01T12:00:00Z"
    assert query_time(T, ISO_Z, round_up=True) == "2026-03-01T12:00:01Z"
    assert query_time(T.replace(microsecond=0), ISO_Z, round_up=True) == "2026-03-01T12:00:00Z"
    assert query_time(T, ISO_OFFSET) == "2026-03-01T12:00:00+00:00"
    assert query_time(T, ISO_NAIVE, shift=-1) == "2026-03-01T11:59:59"
    paris = T.astimezone(timezone(timedelta(hours=1)))
    assert query_time(paris, ISO_Z) == "2026-03-01T12:00:00Z"


def test_platform_times_parse_to_aware_utc():
    assert parse_iso("2026-03-01T13:00:00+01:00") == datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert parse_iso("2026-03-01T12:00:00Z") == datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert parse_iso("2026-03-01T12:00:00") == datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_the_window_is_half_open():
    since, until = datetime(2026, 3, 1, 12, tzinfo=UTC), datetime(2026, 3, 1, 13, tzinfo=UTC)
    inside = in_window(since, until, "updated")
    assert inside({"updated": "2026-03-01T12:00:00Z"})
    assert inside({"updated": "2026-03-01T12:59:59.999Z"})
    assert not inside({"updated": "2026-03-01T13:00:00Z"})
    assert not inside({"updated": "2026-03-01T11:59:59Z"})
    created = created_at_or_after(since, "created")
    assert created({"created": "2026-03-01T12:00:00Z"})
    assert not created({"created": "2026-03-01T11:59:59Z"})


def test_epoch_seconds_widen_outward_and_parse_back_to_utc():
    assert epoch_seconds(T) == 1772366400 and epoch_seconds(T, round_up=True) == 1772366401
    whole = T.replace(microsecond=0)
    assert epoch_seconds(whole, round_up=True) == epoch_seconds(whole) == 1772366400
    assert parse_epoch(1772366400) == parse_epoch("1772366400") == whole
    assert parse_epoch(1772366400).tzinfo is UTC

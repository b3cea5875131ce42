"""Local calendar periods: labels, bounds, and exact consecutiveness under the API's rules.

Consecutiveness is checked with ``timewindow.resolve_window``, the server's own reading of a
window, so "the periods add up to the whole window" is checked against what the server
will do with each period's bounds.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workanalytics.client import split_periods
from workanalytics.client.periods import format_wall_clock
from workanalytics.timewindow import resolve_window

ZONES = (
    "America/New_York", "Europe/London", "Australia/Lord_Howe", "America/Nuuk",
    "America/St_Johns", "America/Santiago", "Pacific/Apia", "Asia/Kolkata", "UTC",
    "America/Havana", "Asia/Beirut", "Pacific/Chatham",
)  # fmt: skip


def reading(start: str, end: str, zone: str) -> tuple[int, int]:
    w = resolve_window(start, end, zone, retention_years=0)
    return w.start_ms, w.end_ms


def assert_partition(periods, start: str, end: str, zone: str) -> None:
    """The periods' windows, as the server reads them, tile the whole window exactly."""
    whole = reading(start, end, zone)
    assert periods[0].start_time == start and periods[-1].end_time == end
    readings = [reading(p.start_time, p.end_time, zone) for p in periods]
    assert readings[0][0] == whole[0] and readings[-1][1] == whole[1]
    for (_, end_ms), (next_start_ms, _) in itertools.pairwise(readings):
        assert end_ms == next_start_ms
    for p, (s, e) in zip(periods, readings, strict=True):
        assert (int(p.start.timestamp() * 1000), int(p.end.timestamp() * 1000)) == (s, e)
        assert p.start_time <= p.end_time  # as the API compares them: wall-clock strings


def test_days_of_a_window_clipped_at_both_ends():
    ps = split_periods("2026-03-07 12:00:00", "2026-03-09 06:30:00", "America/New_York", "day")
    assert [p.columns() for p in ps] == [
        ("2026-03-07", "2026-03-07 12:00:00", "2026-03-07 23:59:59"),
        ("2026-03-08", "2026-03-08 00:00:00", "2026-03-08 23:59:59"),
        ("2026-03-09", "2026-03-09 00:00:00", "2026-03-09 06:30:00"),
    ]
    # The spring-forward day has 23 hours, as the server reads it.
    assert ps[1].end - ps[1].start == timedelta(hours=23)
    assert_partition(ps, "2026-03-07 12:00:00", "2026-03-09 06:30:00", "America/New_York")


def test_the_fall_back_day_has_25_hours():
    (p,) = split_periods("2025-11-02 00:00:00", "2025-11-02 23:59:59", "America/New_York", "day")
    assert p.end - p.start == timedelta(hours=25)


def test_iso_weeks_start_on_monday_and_are_labelled_by_iso_year():
    ps = split_periods("2026-12-30 00:00:00", "2027-01-12 23:59:59", "Europe/London", "week")
    assert [p.columns() for p in ps] == [
        ("2026-W53", "2026-12-30 00:00:00", "2027-01-03 23:59:59"),
        ("2027-W01", "2027-01-04 00:00:00", "2027-01-10 23:59:59"),
        ("2027-W02", "2027-01-11 00:00:00", "2027-01-12 23:59:59"),
    ]


def test_months_across_a_year_end():
    ps = split_periods("2025-11-15 08:00:00", "2026-02-01 00:00:00", "Europe/London", "month")
    assert [p.columns() for p in ps] == [
        ("2025-11", "2025-11-15 08:00:00", "2025-11-30 23:59:59"),
        ("2025-12", "2025-12-01 00:00:00", "2025-12-31 23:59:59"),
        ("2026-01", "2026-01-01 00:00:00", "2026-01-31 23:59:59"),
        ("2026-02", "2026-02-01 00:00:00", "2026-02-01 00:00:00"),
    ]


def test_a_day_whose_last_hour_is_skipped_ends_at_its_last_existing_second():
    # America/Nuuk springs forward at 23:00 on Saturday 28 March 2026, straight to Sunday.
    # "23:59:59" does not exist, and the API would read it an hour into Sunday.
    start, end = "2026-03-28 00:00:00", "2026-03-29 23:59:59"
    sat, sun = split_periods(start, end, "America/Nuuk", "day")
    assert sat.end_time == "2026-03-28 22:59:59" and sun.start_time == "2026-03-29 00:00:00"
    assert sat.end == sun.start
    assert (
        reading("2026-03-28 00:00:00", "2026-03-28 23:59:59", "America/Nuuk")[1]
        > reading(sun.start_time, sun.end_time, "America/Nuuk")[0]
    )  # the naive end would overlap Sunday
    assert_partition([sat, sun], start, end, "America/Nuuk")


def test_a_fall_back_across_midnight_moves_the_cut_to_the_first_expressible_minute():
    # St. John's fell back at 00:01 on 2 November 2008: 23:01 .. 00:00:59 happened twice,
    # so no window can end just before the first 00:00:00.
    start, end = "2008-11-01 00:00:00", "2008-11-02 23:59:59"
    sat, sun = split_periods(start, end, "America/St_Johns", "day")
    assert (sat.end_time, sun.start_time) == ("2008-11-02 00:00:59", "2008-11-02 00:01:00")
    assert_partition([sat, sun], start, end, "America/St_Johns")


def test_bad_arguments():
    with pytest.raises(ValueError, match="every"):
        split_periods("2026-01-01 00:00:00", "2026-01-02 00:00:00", "UTC", "hour")
    with pytest.raises(ValueError, match="before"):
        split_periods("2026-01-02 00:00:00", "2026-01-01 00:00:00", "UTC", "day")


def test_a_one_second_window_is_one_period():
    ps = split_periods("2026-01-01 00:00:00", "2026-01-01 00:00:00", "UTC", "month")
    assert [p.columns() for p in ps] == [("2026-01", "2026-01-01 00:00:00", "2026-01-01 00:00:00")]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    zone=st.sampled_from(ZONES),
    start=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 12, 31)),
    hours=st.integers(min_value=0, max_value=24 * 75),
    every=st.sampled_from(["day", "week", "month"]),
)
def test_periods_tile_any_window_exactly(zone, start, hours, every):
    start = start.replace(microsecond=0)
    s, e = format_wall_clock(start), format_wall_clock(start + timedelta(hours=hours, seconds=7))
    periods = split_periods(s, e, zone, every)
    assert_partition(periods, s, e, zone)
    labels = [p.label for p in periods]
    assert labels == sorted(set(labels))  # one period per label, in order


def transition_days(zone: str, first: int = 2000, last: int = 2030):
    """Local dates around which ``zone``'s offset changes (sampled at noon UTC daily)."""
    from datetime import UTC
    from zoneinfo import ZoneInfo

    z = ZoneInfo(zone)
    t = datetime(first, 1, 1, 12, tzinfo=UTC)
    previous = t.astimezone(z).utcoffset()
    while t.year <= last:
        t += timedelta(days=1)
        offset = t.astimezone(z).utcoffset()
        if offset != previous:
            yield t.astimezone(z).date()
            previous = offset


@pytest.mark.parametrize("zone", ZONES)
def test_every_transition_of_a_zone_is_tiled_exactly(zone):
    """Windows of whole days around every offset change 2000-2030, and windows whose
    bounds fall on each hour around it (in gaps and overlaps too)."""
    checked = 0
    for day in transition_days(zone):
        base = datetime.combine(day, datetime.min.time())
        s, e = (
            format_wall_clock(base - timedelta(days=2)),
            format_wall_clock(base + timedelta(days=2, hours=23, minutes=59, seconds=59)),
        )
        assert_partition(split_periods(s, e, zone, "day"), s, e, zone)
        for h in range(-6, 30, 3):
            bound = format_wall_clock(base + timedelta(hours=h, minutes=30))
            far = format_wall_clock(base + timedelta(days=3))
            near = format_wall_clock(base - timedelta(days=3))
            assert_partition(split_periods(bound, far, zone, "day"), bound, far, zone)
            assert_partition(split_periods(near, bound, zone, "day"), near, bound, zone)
        checked += 1
    assert checked > 0 or zone in ("UTC", "Asia/Kolkata")

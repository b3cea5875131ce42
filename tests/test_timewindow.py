"""extension-summary.md §1: the window, DST gaps and overlaps, retention."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workanalytics.timewindow import (
    DAY_MS,
    EMPTY_WINDOW,
    UtcWindow,
    WindowError,
    WindowPlan,
    first_day_of_month,
    plan_window,
    resolve_window,
    retention_cut,
)

from conftest import Leg


def ms(text: str) -> int:
    """Epoch ms of an ISO instant with an offset."""
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def window(start: str, end: str, tz: str, **kw) -> UtcWindow:
    kw.setdefault("retention_years", 0)
    return resolve_window(start, end, tz, **kw)


# --- plain windows --------------------------------------------------------------------------


def test_one_local_day_is_exactly_24_hours_and_includes_its_last_second():
    w = window("2026-03-02 00:00:00", "2026-03-02 23:59:59", "America/New_York")
    assert w.start_ms == ms("2026-03-02T00:00:00-05:00")
    assert w.end_ms == ms("2026-03-03T00:00:00-05:00")


def test_consecutive_days_do_not_overlap():
    d1 = window("2026-06-01 00:00:00", "2026-06-01 23:59:59", "Europe/London")
    d2 = window("2026-06-02 00:00:00", "2026-06-02 23:59:59", "Europe/London")
    assert d1.end_ms == d2.start_ms


def test_first_and_last_millisecond_of_the_window(store_helper):
    w = window("2026-03-01 08:00:00", "2026-03-01 08:59:59", "UTC")
    first, last = w.start_ms, w.end_ms - 1
    legs = [
        Leg(call_id="before", start_time=first - 1, end_time=first + 5000, callee_ext="1"),
        Leg(call_id="first", start_time=first, end_time=first + 5000, callee_ext="2"),
        Leg(call_id="last", start_time=last, end_time=last + 5000, callee_ext="3"),
        Leg(call_id="after", start_time=last + 1, end_time=last + 5000, callee_ext="4"),
    ]
    store_helper.add(legs)
    assert [r["Extension"] for r in store_helper.summary(window=w)] == ["2", "3"]


def test_end_equal_to_start_is_a_one_second_window():
    w = window("2026-03-01 08:00:00", "2026-03-01 08:00:00", "UTC")
    assert w.end_ms - w.start_ms == 1000


def test_quarter_hour_zone_kathmandu():
    w = window("2026-03-01 00:00:00", "2026-03-01 23:59:59", "Asia/Kathmandu")
    assert w.start_ms == ms("2026-02-28T18:15:00+00:00")
    assert w.end_ms == ms("2026-03-01T18:15:00+00:00")


def test_half_hour_zone_adelaide_in_daylight_time():
    w = window("2026-01-15 09:30:00", "2026-01-15 10:29:59", "Australia/Adelaide")
    assert w.start_ms == ms("2026-01-15T09:30:00+10:30")
    assert w.end_ms - w.start_ms == 3_600_000


# --- DST: spring-forward gaps ---------------------------------------------------------------


def test_new_york_spring_forward_day_is_23_hours():
    w = window("2026-03-08 00:00:00", "2026-03-08 23:59:59", "America/New_York")
    assert w.end_ms - w.start_ms == 23 * 3_600_000


def test_gap_time_is_read_with_the_offset_before_the_gap():
    # 02:30 does not exist on 2026-03-08 in New York; read as EST: 07:30Z = 03:30 EDT.
    w = window("2026-03-08 02:30:00", "2026-03-08 05:00:00", "America/New_York")
    assert w.start_ms == ms("2026-03-08T02:30:00-05:00")
    assert w.start_ms == ms("2026-03-08T03:30:00-04:00")


def test_gap_time_as_end_is_also_read_before_the_gap():
    w = window("2026-03-08 01:00:00", "2026-03-08 02:30:00", "America/New_York")
    assert w.end_ms == ms("2026-03-08T02:30:01-05:00")


def test_london_spring_forward_gap():
    w = window("2026-03-29 01:15:00", "2026-03-29 01:44:59", "Europe/London")
    assert w.start_ms == ms("2026-03-29T01:15:00+00:00")
    assert w.end_ms == ms("2026-03-29T01:45:00+00:00")


def test_window_entirely_inside_a_gap_after_its_own_end_is_empty():
    # 02:30 (gap) reads as 03:30 EDT, later than 03:10 EDT: nothing lies between.
    w = window("2026-03-08 02:30:00", "2026-03-08 03:10:00", "America/New_York")
    assert w.is_empty


# --- DST: fall-back overlaps ----------------------------------------------------------------


def test_new_york_fall_back_day_is_25_hours():
    w = window("2026-11-01 00:00:00", "2026-11-01 23:59:59", "America/New_York")
    assert w.end_ms - w.start_ms == 25 * 3_600_000


def test_repeated_hour_start_is_earlier_instant_end_is_later_instant():
    w = window("2026-11-01 01:30:00", "2026-11-01 01:30:00", "America/New_York")
    assert w.start_ms == ms("2026-11-01T01:30:00-04:00")
    assert w.end_ms == ms("2026-11-01T01:30:01-05:00")
    assert w.end_ms - w.start_ms == 3_601_000


def test_london_fall_back_overlap_covers_both_readings():
    w = window("2026-10-25 01:00:00", "2026-10-25 01:59:59", "Europe/London")
    assert w.start_ms == ms("2026-10-25T01:00:00+01:00")
    assert w.end_ms == ms("2026-10-25T02:00:00+00:00")
    assert w.end_ms - w.start_ms == 2 * 3_600_000


def test_legs_in_both_readings_of_a_repeated_hour_count(store_helper):
    w = window("2026-11-01 01:00:00", "2026-11-01 01:59:59", "America/New_York")
    first = ms("2026-11-01T01:10:00-04:00")
    second = ms("2026-11-01T01:10:00-05:00")
    outside = ms("2026-11-01T02:00:00-05:00")
    store_helper.add(
        [
            Leg(call_id="a", start_time=first, end_time=first + 1000),
            Leg(call_id="b", start_time=second, end_time=second + 1000),
            Leg(call_id="c", start_time=outside, end_time=outside + 1000),
        ]
    )
    (row,) = store_helper.summary(window=w)
    assert row["Inbound_Total"] == 2


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "tz", "parameter", "missing"),
    [
        (None, "2026-01-01 00:00:00", "UTC", "startTime", True),
        ("2026-01-01 00:00:00", "", "UTC", "endTime", True),
        ("2026-01-01 00:00:00", "2026-01-01 00:00:00", None, "timeZone", True),
        ("2026-01-01T00:00:00", "2026-01-01 00:00:00", "UTC", "startTime", False),
        ("2026-01-01 00:00", "2026-01-01 00:00:00", "UTC", "startTime", False),
        ("2026-02-30 00:00:00", "2026-03-01 00:00:00", "UTC", "startTime", False),
        ("2026-01-01 24:00:00", "2026-01-02 00:00:00", "UTC", "startTime", False),
        ("2026-01-01 00:00:00", "2026-01-01 00:00:00 ", "UTC", "endTime", False),
        ("2026-01-01 00:00:00", "2026-01-01 00:00:00", "Mars/Olympus", "timeZone", False),
        ("2026-01-01 00:00:00", "2026-01-01 00:00:00", "../../etc/passwd", "timeZone", False),
        ("2026-01-01 00:00:00", "2026-01-01 00:00:00", "america/new_york", "timeZone", False),
        ("2026-01-02 00:00:00", "2026-01-01 23:59:59", "UTC", "endTime", False),
    ],
)
def test_bad_parameters_name_the_parameter(start, end, tz, parameter, missing):
    with pytest.raises(WindowError) as info:
        resolve_window(start, end, tz, retention_years=0)
    assert info.value.parameter == parameter
    assert info.value.missing is missing
    assert info.value.hint


def test_end_before_start_compares_wall_clock_values_even_in_an_overlap():
    # 01:10 is before 01:50 on the clock, although 01:10 EST is after 01:50 EDT.
    with pytest.raises(WindowError):
        resolve_window(
            "2026-11-01 01:50:00", "2026-11-01 01:10:00", "America/New_York", retention_years=0
        )


# --- retention ------------------------------------------------------------------------------


def fixed(text: str):
    instant = datetime.fromisoformat(text)
    return lambda: instant


def test_retention_cut_is_two_calendar_years_in_utc():
    now = datetime(2026, 11, 28, 17, 5, 11, 224000, tzinfo=UTC)
    assert retention_cut(now, 2) == datetime(2024, 11, 28, 17, 5, 11, 224000, tzinfo=UTC)


def test_retention_cut_from_29_february_is_28_february():
    now = datetime(2028, 2, 29, 12, 0, tzinfo=UTC)
    assert retention_cut(now, 1) == datetime(2027, 2, 28, 12, 0, tzinfo=UTC)
    assert retention_cut(now, 4) == datetime(2024, 2, 29, 12, 0, tzinfo=UTC)


def test_window_starting_before_the_cut_starts_at_the_cut():
    clock = fixed("2026-11-28T12:00:00+00:00")
    w = resolve_window("2024-01-01 00:00:00", "2026-01-01 00:00:00", "UTC", clock=clock)
    assert w.start_ms == ms("2024-11-28T12:00:00+00:00")
    assert w.end_ms == ms("2026-01-01T00:00:01+00:00")


def test_window_ending_before_the_cut_is_empty():
    clock = fixed("2026-11-28T12:00:00+00:00")
    w = resolve_window("2023-01-01 00:00:00", "2024-11-28 11:59:59", "UTC", clock=clock)
    assert w == EMPTY_WINDOW and w.is_empty


def test_window_whose_end_second_reaches_the_cut_keeps_that_second():
    clock = fixed("2026-11-28T12:00:00.500+00:00")
    # end + 1 s = 12:00:01 > cut 12:00:00.500: half a second is still served.
    w = resolve_window("2023-01-01 00:00:00", "2024-11-28 12:00:00", "UTC", clock=clock)
    assert (w.start_ms, w.end_ms) == (
        ms("2024-11-28T12:00:00.500+00:00"),
        ms("2024-11-28T12:00:01+00:00"),
    )


def test_retention_is_configurable_and_zero_disables_it():
    clock = fixed("2026-11-28T12:00:00+00:00")
    old = ("2020-01-01 00:00:00", "2020-01-31 23:59:59", "UTC")
    assert resolve_window(*old, clock=clock).is_empty
    assert not resolve_window(*old, clock=clock, retention_years=0).is_empty
    assert not resolve_window(*old, clock=clock, retention_years=7).is_empty
    w = resolve_window(
        "2025-01-01 00:00:00", "2025-12-31 23:59:59", "UTC", clock=clock, retention_years=1
    )
    assert w.start_ms == ms("2025-11-28T12:00:00+00:00")


def test_expired_window_answers_empty_through_the_store(store_helper):
    t = ms("2023-06-01T12:00:00+00:00")
    store_helper.add([Leg(start_time=t, end_time=t + 1000)])
    clock = fixed("2026-11-28T12:00:00+00:00")
    w = resolve_window("2023-06-01 00:00:00", "2023-06-01 23:59:59", "UTC", clock=clock)
    assert store_helper.summary(window=w) == []
    w_all = resolve_window("2023-06-01 00:00:00", "2023-06-01 23:59:59", "UTC", retention_years=0)
    assert len(store_helper.summary(window=w_all)) == 1


@pytest.mark.parametrize(
    ("start", "end", "tz", "parameter"),
    [
        ("0001-01-01 00:00:00", "0001-01-02 00:00:00", "Asia/Tokyo", "startTime"),
        ("9999-12-31 00:00:00", "9999-12-31 23:59:59", "UTC", "endTime"),
        ("9999-12-31 00:00:00", "9999-12-31 23:59:59", "America/New_York", "endTime"),
    ],
)
def test_bounds_at_the_edge_of_the_calendar_are_out_of_range(start, end, tz, parameter):
    with pytest.raises(WindowError) as info:
        resolve_window(start, end, tz, retention_years=0)
    assert info.value.parameter == parameter
    assert "out of range" in info.value.message


def test_only_ascii_digits_are_digits():
    with pytest.raises(WindowError):
        full_width_year = "\uff12\uff10\uff12\uff16"
        resolve_window(
            f"{full_width_year}-01-01 00:00:00", "2026-01-01 00:00:00", "UTC", retention_years=0
        )


# --- cutting a window into rollup pieces ---------------------------------------------------

_MS = st.integers(-400 * DAY_MS, 800 * DAY_MS)


def _pieces_ms(plan: WindowPlan) -> list[tuple[int, int]]:
    """Every piece a plan adds, as a UTC span in ms."""
    spans = [(w.start_ms, w.end_ms) for w in plan.raw]
    spans += [(a * DAY_MS, b * DAY_MS) for a, b in plan.days]
    if plan.months is not None:
        first, end = plan.months
        spans.append((first_day_of_month(first) * DAY_MS, first_day_of_month(end) * DAY_MS))
    return sorted(spans)


@settings(max_examples=300)
@given(a=_MS, b=_MS, take_away=st.booleans())
def test_a_plans_pieces_less_what_it_takes_away_make_up_the_window(a, b, take_away):
    window = UtcWindow(min(a, b), max(a, b))
    plan = plan_window(window, take_away=take_away)
    spans = _pieces_ms(plan)
    taken_away = [(w.start_ms, w.end_ms) for w in plan.raw_less]
    assert all(start < end for start, end in spans + taken_away)
    if window.is_empty:
        assert spans == [] and taken_away == []
        return
    # What is added lies end to end, from at most the window's start to at least its end...
    assert all(prev[1] == nxt[0] for prev, nxt in pairwise(spans))
    assert spans[0][0] <= window.start_ms and spans[-1][1] >= window.end_ms
    # ...and what sticks out is exactly what is taken away.
    sticking_out = [(spans[0][0], window.start_ms), (window.end_ms, spans[-1][1])]
    assert taken_away == [s for s in sticking_out if s[0] < s[1]]
    legs_read = sum(w.end_ms - w.start_ms for w in (*plan.raw, *plan.raw_less))
    if not take_away:  # only whole partial days, inside the window
        assert plan.raw_less == () and legs_read < 2 * DAY_MS
    else:  # at most half a day at each edge, and never more than the window's own legs
        assert legs_read <= min(DAY_MS, window.end_ms - window.start_ms)
        assert all(w.end_ms - w.start_ms <= DAY_MS // 2 for w in plan.raw_less)
    if not plan.days and plan.months is None:
        assert plan.raw == (window,)
    if plan.months is not None:  # whole months are never left as days
        assert all(end - first < 31 for first, end in plan.days)


@pytest.mark.parametrize(
    ("starts_h", "raw_h", "less_h"),
    [(5, 5, 5), (-5.5, 5.5, 5.5), (-12, 24, 0), (0, 0, 0), (11, 11, 11)],
)
def test_a_local_day_reads_the_shorter_side_of_each_edge(starts_h, raw_h, less_h):
    """A day in New York (starting 05:00 UTC) is the UTC day, less its first five hours,
    plus the next day's first five: ten hours of legs instead of twenty-four. A day that
    starts at noon UTC has no shorter side: it is read from legs."""
    day = 20_000 * DAY_MS
    start = day + int(starts_h * 3_600_000)
    plan = plan_window(UtcWindow(start, start + DAY_MS))
    hours = lambda ws: sum(w.end_ms - w.start_ms for w in ws) / 3_600_000  # noqa: E731
    assert (hours(plan.raw), hours(plan.raw_less)) == (raw_h, less_h)


def test_a_window_shorter_than_its_edges_reads_its_own_legs():
    """06:00 to 13:00 would be the day less 6 h and less 11 h: 17 h of legs for 7."""
    day = 20_000 * DAY_MS
    window = UtcWindow(day + 6 * 3_600_000, day + 13 * 3_600_000)
    assert plan_window(window) == WindowPlan((window,), (), None)


def test_a_plan_that_only_adds_reads_each_partial_day_inside_the_window():
    day = 20_000 * DAY_MS
    window = UtcWindow(day + 5 * 3_600_000, day + DAY_MS + 5 * 3_600_000)
    assert plan_window(window, take_away=False) == WindowPlan((window,), (), None)
    month = UtcWindow(day + 5 * 3_600_000, day + 30 * DAY_MS + 5 * 3_600_000)
    plan = plan_window(month, take_away=False)
    assert plan.raw == (
        UtcWindow(month.start_ms, day + DAY_MS),
        UtcWindow(day + 30 * DAY_MS, month.end_ms),
    )
    assert plan.raw_less == ()


@settings(max_examples=100)
@given(a=_MS, b=_MS)
def test_a_plans_span_sql_names_only_its_own_parameters(a, b):
    """Each engine writes a plan's spans by spans_sql and binds parameters(): the two must
    name the same parameters, and a piece without spans must match no row."""
    plan = plan_window(UtcWindow(min(a, b), max(a, b)))
    for piece, spans in (("raw", plan.raw), ("raw_less", plan.raw_less), ("day", plan.days)):
        named: list[str] = []
        sql = plan.spans_sql(piece, lambda name, named=named: named.append(name) or f"${name}")
        assert len(named) == 2 * len(spans)
        assert set(named) <= set(plan.parameters())
        if not spans:
            assert sql == "(1 = 0)"

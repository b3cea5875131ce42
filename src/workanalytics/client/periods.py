"""Local calendar periods (day, ISO week, month) of a window, split so that they add up.

A window ``startTime .. endTime`` in a zone is cut at each local midnight that starts a
period (every midnight for ``day``, Mondays for ``week``, the 1st for ``month``). Each
piece is itself a window in the API's terms, and the pieces are *consecutive* under the
window rules of :mod:`workanalytics.timewindow`: the UTC end of one (its last second plus
one) is exactly the UTC start of the next. So the pieces' additive fields sum to the whole
window's, across daylight-saving changes too.

A piece normally ends at ``YYYY-MM-DD 23:59:59``. When a zone skips the last hour of a day
(America/Nuuk springs forward from 23:00 to 00:00), that wall-clock second does not exist
and the API would read it with the earlier offset, an hour past the next day's start; the
piece then ends at the last second that exists (``22:59:59``). When a fall-back overlap
spans midnight (St. John's changed at 00:01 until 2011), midnight's earlier reading cannot
end any window, so the cut moves to the first minute after it that can (``00:01:00``).
Every cut is checked with ``timewindow``'s own readings; one that cannot be made leaves
two periods as one, under the earlier's label.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from workanalytics.timewindow import wall_clock_end, wall_clock_start

Every = Literal["day", "week", "month"]
EVERY: tuple[str, ...] = ("day", "week", "month")
WALL_CLOCK_FORMAT = "%Y-%m-%d %H:%M:%S"
_SECOND = timedelta(seconds=1)
#: How far past a midnight (minutes) a cut may move when the midnight cannot be written.
_MAX_SHIFT = 180


def format_wall_clock(value: datetime) -> str:
    """``YYYY-MM-DD HH:MM:SS`` (four-digit year even before 1000)."""
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    )


@dataclass(frozen=True)
class Period:
    """One local calendar period of a series, clipped to the requested window."""

    #: ``2026-03-08`` for a day, ``2026-W10`` for an ISO week, ``2026-03`` for a month.
    label: str
    every: str
    #: The window bounds sent for it: wall-clock times in ``time_zone``.
    start_time: str
    end_time: str
    time_zone: str
    #: The instants they stand for: ``[start, end)`` in UTC.
    start: datetime
    end: datetime

    def columns(self) -> tuple[str, str, str]:
        return (self.label, self.start_time, self.end_time)


def _label(day: date, every: str) -> str:
    if every == "day":
        return day.isoformat()
    if every == "week":
        year, week, _ = day.isocalendar()
        return f"{year:04d}-W{week:02d}"
    return f"{day.year:04d}-{day.month:02d}"


def _next_boundary(day: date, every: str) -> date:
    """The first day of the period after the one containing ``day``."""
    if every == "day":
        return day + timedelta(days=1)
    if every == "week":
        return day + timedelta(days=7 - day.weekday())  # the next Monday
    if day.month == 12:
        return date(day.year + 1, 1, 1)
    return date(day.year, day.month + 1, 1)


def _utc_end(local: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant just after a window's last second (the API's ``end + 1 s``)."""
    return wall_clock_end(local, zone) + _SECOND


def _end_before(boundary: datetime, zone: ZoneInfo) -> datetime | None:
    """The wall-clock end of a piece before one starting at ``boundary``, such that the
    two are exactly consecutive; None if no wall-clock time does that."""
    start = wall_clock_start(boundary, zone)
    candidates = (
        boundary - _SECOND,  # 23:59:59, the usual case
        (start - _SECOND).astimezone(zone).replace(tzinfo=None, fold=0),  # last existing second
    )
    for end in candidates:
        if _utc_end(end, zone) == start:
            return end
    return None


def _cut(midnight: datetime, zone: ZoneInfo) -> tuple[datetime, datetime] | None:
    """Where to cut at a local midnight: (end of the piece before, start of the next).

    At the midnight itself when that can be written; else (a fall-back overlap that spans
    midnight, as St. John's had until 2011 with its 00:01 changes) at the first whole
    minute after it that can, up to :data:`_MAX_SHIFT`. None when nothing can.
    """
    for minutes in range(0, _MAX_SHIFT + 1):
        start = midnight + timedelta(minutes=minutes)
        end = _end_before(start, zone)
        if end is not None:
            return end, start
    return None


def split_periods(
    start_time: str | datetime, end_time: str | datetime, time_zone: str | ZoneInfo, every: str
) -> list[Period]:
    """The periods of the window ``start_time .. end_time`` (wall-clock, end second
    included) in ``time_zone``, first to last. Raises ValueError for an unknown ``every``
    or an end before the start."""
    if every not in EVERY:
        raise ValueError(f"every must be one of {', '.join(EVERY)}, got {every!r}")
    zone = time_zone if isinstance(time_zone, ZoneInfo) else ZoneInfo(time_zone)
    start = (
        start_time
        if isinstance(start_time, datetime)
        else datetime.strptime(start_time, WALL_CLOCK_FORMAT)
    )
    end = (
        end_time
        if isinstance(end_time, datetime)
        else datetime.strptime(end_time, WALL_CLOCK_FORMAT)
    )
    start, end = start.replace(tzinfo=None, microsecond=0), end.replace(tzinfo=None, microsecond=0)
    if end < start:
        raise ValueError("endTime is before startTime")

    periods: list[Period] = []
    piece_start, label_day = start, start.date()
    boundary_day = _next_boundary(start.date(), every)
    while True:
        boundary = datetime.combine(boundary_day, datetime.min.time())
        if boundary > end:
            break
        cut = _cut(boundary, zone)
        # A cut is made only where the two pieces are exactly consecutive and non-empty.
        if cut is not None and piece_start <= cut[0] and cut[1] <= end:
            periods.append(_period(label_day, every, piece_start, cut[0], zone))
            piece_start, label_day = cut[1], boundary_day
        boundary_day = _next_boundary(boundary_day, every)
    periods.append(_period(label_day, every, piece_start, end, zone))
    return periods


def _period(day: date, every: str, start: datetime, end: datetime, zone: ZoneInfo) -> Period:
    return Period(
        label=_label(day, every),
        every=every,
        start_time=format_wall_clock(start),
        end_time=format_wall_clock(end),
        time_zone=zone.key,
        start=wall_clock_start(start, zone).astimezone(UTC),
        end=_utc_end(end, zone).astimezone(UTC),
    )

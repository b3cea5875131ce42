"""The report window: ``startTime``/``endTime``/``timeZone`` to UTC instants.

Every rule of ``extension-summary.md`` §1 lives here and nowhere else:

- both bounds are wall-clock times in ``timeZone``; the end second is included, so a window
  is the half-open UTC interval ``[start, end + 1 s)``;
- a wall-clock time inside a spring-forward gap is read with the offset in force before the
  gap; one that occurs twice is read as its earlier instant for the start and its later
  instant for the end, so the window covers every wall-clock second between the bounds;
- only the last ``retention_years`` are served: the cut is ``now`` minus that many calendar
  years in UTC (29 February maps to 28 February); a window is clamped to start at the cut,
  and one that ends at or before it is empty.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

TIME_FORMAT_HINT = "expected YYYY-MM-DD HH:MM:SS"
ZONE_HINT = "expected an IANA time zone such as America/New_York"
DEFAULT_RETENTION_YEARS = 2

_WALL_CLOCK = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})")

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


class WindowError(ValueError):
    """A window parameter is missing or malformed; maps to the API's INVALID_PARAMETER."""

    def __init__(self, parameter: str, message: str, hint: str, *, missing: bool = False):
        super().__init__(message)
        self.parameter = parameter
        self.message = message
        self.hint = hint
        self.missing = missing


@dataclass(frozen=True)
class UtcWindow:
    """Half-open interval of UTC epoch milliseconds: ``start_ms <= t < end_ms``."""

    start_ms: int
    end_ms: int

    @property
    def is_empty(self) -> bool:
        return self.end_ms <= self.start_ms


EMPTY_WINDOW = UtcWindow(0, 0)


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    # Only names from the IANA list reach ZoneInfo: nothing else is ever opened as a file.
    return frozenset(available_timezones())


def parse_zone(name: str | None, parameter: str = "timeZone") -> ZoneInfo:
    if name is None or name == "":
        raise WindowError(parameter, f"{parameter} is required", ZONE_HINT, missing=True)
    if name not in _known_zones():
        raise WindowError(parameter, f"{parameter} is not a known time zone", ZONE_HINT)
    return ZoneInfo(name)


def parse_wall_clock(text: str | None, parameter: str) -> datetime:
    """A naive local datetime from exactly ``YYYY-MM-DD HH:MM:SS``."""
    if text is None or text == "":
        raise WindowError(parameter, f"{parameter} is required", TIME_FORMAT_HINT, missing=True)
    m = _WALL_CLOCK.fullmatch(text)
    if m is None:
        raise WindowError(parameter, f"{parameter} is malformed", TIME_FORMAT_HINT)
    try:
        return datetime(*(int(g) for g in m.groups()))
    except ValueError:
        raise WindowError(
            parameter, f"{parameter} is not a valid date and time", TIME_FORMAT_HINT
        ) from None


def _instants(local: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The two readings of a wall-clock time (fold 0 and fold 1), as UTC."""
    first = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return first, second


def wall_clock_start(local: datetime, zone: ZoneInfo) -> datetime:
    """UTC instant of a window's first second.

    Fold 0 is, per PEP 495, the offset before the transition: the earlier instant of a
    repeated time, and the before-gap reading of a missing one. Both are what §1 asks.
    """
    return _instants(local, zone)[0]


def wall_clock_end(local: datetime, zone: ZoneInfo) -> datetime:
    """UTC instant of a window's last second.

    A repeated time (fold 1 later than fold 0) is read as the later instant; a missing time
    (fold 1 earlier than fold 0) keeps the before-gap reading, as for the start.
    """
    first, second = _instants(local, zone)
    return max(first, second)


def retention_cut(now: datetime, years: int) -> datetime:
    """``now`` minus ``years`` calendar years in UTC; 29 February maps to 28 February."""
    now = now.astimezone(UTC)
    try:
        return now.replace(year=now.year - years)
    except ValueError:  # 29 February into a common year
        return now.replace(year=now.year - years, day=28)


def _ms(instant: datetime) -> int:
    delta = instant - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def resolve_window(
    start_time: str | None,
    end_time: str | None,
    time_zone: str | None,
    *,
    retention_years: int = DEFAULT_RETENTION_YEARS,
    clock: Clock = system_clock,
) -> UtcWindow:
    """Turn the API's three window parameters into a clamped UTC window.

    Raises :class:`WindowError` naming the first bad parameter. Parameters are checked in
    the order the contract lists them, so the same request always names the same one.
    """
    start_local = parse_wall_clock(start_time, "startTime")
    end_local = parse_wall_clock(end_time, "endTime")
    zone = parse_zone(time_zone)
    # Compared as written: "before" is about the wall-clock values the caller sent.
    if end_local < start_local:
        raise WindowError("endTime", "endTime is before startTime", "expected endTime >= startTime")
    try:
        start = wall_clock_start(start_local, zone)
    except OverflowError:  # year 1 east of UTC: before the first representable instant
        raise WindowError("startTime", "startTime is out of range", TIME_FORMAT_HINT) from None
    try:
        end_exclusive = wall_clock_end(end_local, zone) + timedelta(seconds=1)
    except OverflowError:  # the last second of year 9999
        raise WindowError("endTime", "endTime is out of range", TIME_FORMAT_HINT) from None
    window = UtcWindow(_ms(start), _ms(end_exclusive))
    if retention_years > 0:
        cut = _ms(retention_cut(clock(), retention_years))
        if window.end_ms <= cut:
            return EMPTY_WINDOW
        window = UtcWindow(max(window.start_ms, cut), window.end_ms)
    return window


# --- reading a window from rollups ---------------------------------------------------------

DAY_MS = 86_400_000
_EPOCH_DATE = datetime(1970, 1, 1).date()
_FIRST_DAY = (datetime(1, 1, 1).date() - _EPOCH_DATE).days
_LAST_DAY = (datetime(9999, 12, 1).date() - _EPOCH_DATE).days


def month_of_day(day: int) -> int:
    """Months since January 1970 of a UTC day number (days since 1970-01-01)."""
    d = _EPOCH_DATE + timedelta(days=day)
    return (d.year - 1970) * 12 + d.month - 1


def first_day_of_month(month: int) -> int:
    """UTC day number of the first day of a month number."""
    year, index = divmod(month, 12)
    return (datetime(1970 + year, index + 1, 1).date() - _EPOCH_DATE).days


@dataclass(frozen=True)
class WindowPlan:
    """A UTC window as sums the rollups and the legs answer exactly.

    The window is ``days`` (ranges of whole UTC days ``[first, end)``, from the daily rollup)
    and ``months`` (a range of whole calendar months, from the monthly one), plus the legs of
    ``raw``, less the legs of ``raw_less``. An edge of the window that cuts a UTC day is read
    from legs either way: as the part of the day inside the window (in ``raw``), or, when
    that part is the larger, as the whole day from the rollup less the part outside (in
    ``raw_less``). So no edge reads more than half a day of legs: a New York day reads ten
    hours of them instead of twenty-four. Every measure is a sum, so the difference is exact.
    """

    raw: tuple[UtcWindow, ...]
    days: tuple[tuple[int, int], ...]
    months: tuple[int, int] | None
    raw_less: tuple[UtcWindow, ...] = ()

    def parameters(self) -> dict[str, int]:
        """The pieces' bounds as named query parameters: ``raw_start_{i}``/``raw_end_{i}``
        and ``raw_less_start_{i}``/``raw_less_end_{i}`` (ms), ``day_start_{i}``/
        ``day_end_{i}`` and ``month_start``/``month_end``."""
        params: dict[str, int] = {}
        for i, w in enumerate(self.raw):
            params[f"raw_start_{i}"], params[f"raw_end_{i}"] = w.start_ms, w.end_ms
        for i, w in enumerate(self.raw_less):
            params[f"raw_less_start_{i}"], params[f"raw_less_end_{i}"] = w.start_ms, w.end_ms
        for i, (first, end) in enumerate(self.days):
            params[f"day_start_{i}"], params[f"day_end_{i}"] = first, end
        if self.months is not None:
            params["month_start"], params["month_end"] = self.months
        return params

    def spans_sql(self, piece: str, param: Callable[[str], str]) -> str:
        """Whether a row lies in one of the plan's ``piece`` spans (``raw`` and ``raw_less``
        by its ``start_time``, ``day`` by its ``day``), as SQL over the parameters of
        :meth:`parameters`, each written by ``param`` (``$name``, ``%(name)s``...)."""
        column, spans = {
            "raw": ("start_time", self.raw),
            "raw_less": ("start_time", self.raw_less),
            "day": ("day", self.days),
        }[piece]
        within = " OR ".join(
            f"({column} >= {param(f'{piece}_start_{i}')} AND {column} < {param(f'{piece}_end_{i}')})"
            for i in range(len(spans))
        )
        return f"({within or '1 = 0'})"


def plan_window(window: UtcWindow, *, take_away: bool = True) -> WindowPlan:
    """The plan of ``window``; with ``take_away=False``, one that only adds (``raw_less``
    empty), for a store whose rollups may lag its legs while a file is written: taking
    away legs a rollup does not hold yet would show negative counts."""
    if window.is_empty:
        return WindowPlan((), (), None)
    # Whole days from first_day to end_day; each edge rounded to the nearer midnight.
    first_day, start_cut = divmod(window.start_ms, DAY_MS)
    if start_cut and (start_cut * 2 >= DAY_MS or not take_away):
        first_day += 1  # from the next midnight, the day's end read from legs
    end_day, end_cut = divmod(window.end_ms, DAY_MS)
    if end_cut * 2 > DAY_MS and take_away:
        end_day += 1  # to the next midnight, the rest of the day taken away
    if first_day >= end_day:  # no whole day between: legs alone are cheaper
        return WindowPlan((window,), (), None)
    edges = (
        UtcWindow(window.start_ms, first_day * DAY_MS),
        UtcWindow(first_day * DAY_MS, window.start_ms),
        UtcWindow(end_day * DAY_MS, window.end_ms),
        UtcWindow(window.end_ms, end_day * DAY_MS),
    )
    raw = tuple(w for w in edges[0::2] if not w.is_empty)
    raw_less = tuple(w for w in edges[1::2] if not w.is_empty)
    if sum(w.end_ms - w.start_ms for w in raw + raw_less) >= window.end_ms - window.start_ms:
        return WindowPlan((window,), (), None)  # a short window: its own legs are fewer
    # Beyond the calendar (a window of "everything") months stop; days carry the rest.
    first_month = month_of_day(min(max(first_day, _FIRST_DAY), _LAST_DAY))
    if first_day_of_month(first_month) < first_day:
        first_month += 1
    end_month = month_of_day(min(max(end_day, _FIRST_DAY), _LAST_DAY))  # whole before this
    if first_month >= end_month:
        return WindowPlan(raw, ((first_day, end_day),), None, raw_less)
    days = tuple(
        r
        for r in (
            (first_day, first_day_of_month(first_month)),
            (first_day_of_month(end_month), end_day),
        )
        if r[0] < r[1]
    )
    return WindowPlan(raw, days, (first_month, end_month), raw_less)

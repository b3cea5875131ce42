"""Window bounds as the API wants them: wall-clock times of the zone the request names.

Scripts that send a UTC time with ``timeZone=America/New_York`` ask for the wrong hours.
Here every bound is turned into the wall clock of ``time_zone`` before it is sent:

- a timezone-aware ``datetime`` is converted to that zone (``astimezone``);
- a naive ``datetime`` already *is* a wall-clock time in that zone;
- a ``date`` is the day's first second as a start and its last second as an end;
- a string must be exactly ``YYYY-MM-DD HH:MM:SS`` (it is sent unchanged).

Sub-second parts are dropped: the API counts whole seconds. The end bound is inclusive, as
the API reads it (``23:59:59`` ends the day).
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from workanalytics.client.errors import InvalidParameterError
from workanalytics.client.periods import format_wall_clock
from workanalytics.timewindow import WindowError, parse_wall_clock, parse_zone

Bound = datetime | date | str


def zone_of(time_zone: str | ZoneInfo) -> ZoneInfo:
    """The zone of an IANA name (exactly as listed), or an :class:`InvalidParameterError`."""
    if isinstance(time_zone, ZoneInfo):
        return time_zone
    try:
        return parse_zone(time_zone if isinstance(time_zone, str) else None)
    except WindowError as exc:
        raise InvalidParameterError(
            f"invalid parameter timeZone: {exc.message} ({exc.hint})",
            parameter="timeZone",
            hint=exc.hint,
        ) from None


def wall_clock(value: Bound, zone: ZoneInfo, parameter: str) -> str:
    """``value`` as ``YYYY-MM-DD HH:MM:SS`` on the clocks of ``zone``.

    ``parameter`` is ``startTime`` or ``endTime``: it picks the second a ``date`` stands
    for and names the parameter in errors.
    """
    if isinstance(value, datetime):
        local = value.astimezone(zone) if value.tzinfo is not None else value
        return format_wall_clock(local)
    if isinstance(value, date):
        moment = time.min if parameter == "startTime" else time(23, 59, 59)
        return format_wall_clock(datetime.combine(value, moment))
    if isinstance(value, str):
        try:
            parse_wall_clock(value, parameter)
        except WindowError as exc:
            raise InvalidParameterError(
                f"invalid parameter {parameter}: {exc.message} ({exc.hint})",
                parameter=parameter,
                hint=exc.hint,
            ) from None
        return value
    raise InvalidParameterError(
        f"invalid parameter {parameter}: expected a datetime, a date or a "
        f"'YYYY-MM-DD HH:MM:SS' string, got {type(value).__name__}",
        parameter=parameter,
    )


def window(start: Bound, end: Bound, time_zone: str | ZoneInfo) -> tuple[str, str, ZoneInfo]:
    """The three window parameters, checked and converted."""
    zone = zone_of(time_zone)
    return wall_clock(start, zone, "startTime"), wall_clock(end, zone, "endTime"), zone


def pbx_parameter(pbx_ids: str | list[str] | tuple[str, ...]) -> str:
    """``pbxId``: a name, a comma-separated list, ``allpbxes``, or a sequence of names."""
    if isinstance(pbx_ids, str):
        return pbx_ids
    return ",".join(pbx_ids)

"""A daily time in the program's time zone, as a Procrastinate periodic schedule.

Procrastinate reads cron in UTC, while the daily jobs run at a wall-clock time of the program's
time zone (`DAILY_JOBS_AT`, `TIME_ZONE`), whose UTC offset changes with daylight saving. So the
cron lists every UTC time that the local time can fall on over a year (e.g. 03:30 London is
02:30 or 03:30 UTC) and the task keeps only the tick that is that local time today
(`is_daily_tick`): one tick per local day. On the autumn day a local time occurs twice, only the
first counts; a local time inside the spring gap does not exist that day, so pick a time outside
it (`daily_time` refuses one that falls in a gap within the next year).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone


def daily_time(value: str | None = None) -> dt.time:
    """`DAILY_JOBS_AT` ("HH:MM" or "HH:MM:SS") as a time; refuses one skipped by daylight saving
    in the program's time zone within the next year."""
    value = settings.DAILY_JOBS_AT if value is None else value
    try:
        at = dt.time.fromisoformat(value)
    except ValueError:
        raise ImproperlyConfigured(f"DAILY_JOBS_AT: {value!r} is not a time (HH:MM)") from None
    tz = timezone.get_default_timezone()
    today = timezone.localdate()
    for days in range(366):
        local = dt.datetime.combine(today + dt.timedelta(days=days), at, tzinfo=tz)
        round_trip = local.astimezone(dt.UTC).astimezone(tz)
        if round_trip.replace(tzinfo=None) != local.replace(tzinfo=None):
            raise ImproperlyConfigured(
                f"DAILY_JOBS_AT: {value} does not exist on {local.date()} in {tz} "
                "(daylight saving); choose a time outside the change"
            )
    return at


def _utc_times(at: dt.time, tz: zoneinfo.ZoneInfo) -> set[tuple[int, int, int]]:
    today = timezone.localdate()
    times = set()
    for days in range(366):
        local = dt.datetime.combine(today + dt.timedelta(days=days), at, tzinfo=tz)
        utc = local.astimezone(dt.UTC)
        times.add((utc.hour, utc.minute, utc.second))
    return times


def daily_cron(value: str | None = None) -> str:
    """A cron (minute hour * * * second, UTC) ticking at every UTC time the local time can be."""
    at = daily_time(value)
    times = _utc_times(at, timezone.get_default_timezone())
    hours = ",".join(str(h) for h in sorted({h for h, _, _ in times}))
    minutes = ",".join(str(m) for m in sorted({m for _, m, _ in times}))
    seconds = ",".join(str(s) for s in sorted({s for _, _, s in times}))
    return f"{minutes} {hours} * * * {seconds}"


def is_daily_tick(timestamp: int, value: str | None = None) -> bool:
    """Whether this tick (a Unix time) is the daily time in the program's time zone, counting
    only the first occurrence on a day the clocks go back."""
    local = dt.datetime.fromtimestamp(timestamp, timezone.get_default_timezone())
    at = daily_time(value)
    return local.fold == 0 and (local.hour, local.minute, local.second) == (
        at.hour,
        at.minute,
        at.second,
    )


def next_daily_run(after: dt.datetime, value: str | None = None) -> dt.datetime:
    """When the daily jobs next run after `after` (aware), in the program's time zone."""
    tz = timezone.get_default_timezone()
    at = daily_time(value)
    day = after.astimezone(tz).date()
    for offset in range(3):
        candidate = dt.datetime.combine(day + dt.timedelta(days=offset), at, tzinfo=tz)
        if candidate > after:
            return candidate
    raise AssertionError("unreachable: a day has the daily time")

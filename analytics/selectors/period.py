"""The dashboard's period: any range of whole days, and the period it is compared with.

A period is `first`..`last`, both included, calendar days in the program's time zone. The page
asks for it with `?from=YYYY-MM-DD&to=YYYY-MM-DD` or a preset `?days=N` (the N days ending
today); anything unreadable falls back to the last 30 days. The comparison (`?compare=`) is the
period of the same length just before (`previous`) or the same dates a year earlier (`year`;
29 February becomes the 28th), or none.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from analytics.services.rollups import day_bounds
from loyalty.selectors.reports import ReportPeriod

PRESETS = (7, 30, 90, 365)
DEFAULT_DAYS = 30
MAX_DAYS = 3 * 366 + 365  # four years: the page's weekly series stays a few hundred points
COMPARE = ("previous", "year")
ONE_DAY = dt.timedelta(days=1)
EPSILON = dt.timedelta(microseconds=1)


@dataclass(frozen=True)
class Period:
    first: dt.date
    last: dt.date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def report_period(self) -> ReportPeriod:
        """The same days as loyalty's `(start, end]` report period (campaigns, rewards)."""
        start = day_bounds(self.first)[0] - EPSILON
        end = day_bounds(self.last)[1] - EPSILON
        return ReportPeriod(days=self.days, start=start, end=end)

    def previous(self) -> Period:
        return Period(self.first - dt.timedelta(days=self.days), self.first - ONE_DAY)

    def year_earlier(self) -> Period:
        return Period(_year_back(self.first), _year_back(self.last))


def _year_back(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def last_days(days: int, *, today: dt.date | None = None) -> Period:
    today = today or timezone.localdate()
    return Period(today - dt.timedelta(days=days - 1), today)


def _date(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def period_from_query(query, *, today: dt.date | None = None) -> tuple[Period, Period | None]:
    """The period and the comparison period a request's query string asks for."""
    today = today or timezone.localdate()
    first, last = _date(query.get("from")), _date(query.get("to"))
    if first and last and first <= last and (last - first).days < MAX_DAYS:
        period = Period(first, last)
    else:
        try:
            days = int(query.get("days", DEFAULT_DAYS))
        except ValueError:
            days = DEFAULT_DAYS
        period = last_days(days if days in PRESETS else DEFAULT_DAYS, today=today)
    compare = query.get("compare")
    if compare == "previous":
        return period, period.previous()
    if compare == "year":
        return period, period.year_earlier()
    return period, None

"""The daily time in the program's time zone as a UTC cron, across daylight saving."""

import datetime as dt

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from jobs.schedule import daily_cron, daily_time, is_daily_tick, next_daily_run


def _ts(iso: str) -> int:
    return int(dt.datetime.fromisoformat(iso).timestamp())


@override_settings(TIME_ZONE="Europe/London")
def test_the_cron_covers_both_utc_times_of_a_london_time():
    assert daily_cron("03:30") == "30 2,3 * * * 0"


@override_settings(TIME_ZONE="Asia/Shanghai")
def test_a_zone_without_daylight_saving_has_one_utc_time():
    assert daily_cron("03:30:15") == "30 19 * * * 15"


@override_settings(TIME_ZONE="Europe/London")
@pytest.mark.parametrize(
    ("tick", "expected"),
    [
        ("2026-12-05T03:30:00+00:00", True),  # winter: GMT
        ("2026-12-05T02:30:00+00:00", False),
        ("2026-07-05T02:30:00+00:00", True),  # summer: BST = UTC+1
        ("2026-07-05T03:30:00+00:00", False),
        ("2026-07-05T02:30:01+00:00", False),
    ],
)
def test_only_the_tick_at_the_local_time_counts(tick, expected):
    assert is_daily_tick(_ts(tick), "03:30") is expected


@override_settings(TIME_ZONE="Europe/London")
def test_a_time_skipped_by_daylight_saving_is_refused():
    with pytest.raises(ImproperlyConfigured, match=r"01:30 does not exist on 20..-03-.. in Europe"):
        daily_time("01:30")


def test_a_time_that_is_not_a_time_is_refused():
    with pytest.raises(ImproperlyConfigured, match="DAILY_JOBS_AT: '3h30' is not a time"):
        daily_time("3h30")


@override_settings(TIME_ZONE="Asia/Shanghai")
def test_the_next_run_is_today_before_the_time_and_tomorrow_after_it():
    before = dt.datetime.fromisoformat("2026-12-04T03:29:59+08:00")
    after = dt.datetime.fromisoformat("2026-12-04T03:30:00+08:00")

    assert next_daily_run(before, "03:30").isoformat() == "2026-12-04T03:30:00+08:00"
    assert next_daily_run(after, "03:30").isoformat() == "2026-12-05T03:30:00+08:00"

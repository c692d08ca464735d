"""Which morning reports are due, with an explicit "now" (no clock, no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from makhzan.daily_report import CATCH_UP_DAYS, due_dates

LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_due_once_the_local_hour_has_passed_in_beirut_winter_and_summer() -> None:
    # Beirut is UTC+2 in winter, UTC+3 in summer (it does keep daylight saving time).
    last = date(2026, 1, 9)
    assert due_dates(utc(2026, 1, 10, 4, 59), "Asia/Beirut", 7, last, LONG_AGO) == []
    assert due_dates(utc(2026, 1, 10, 5, 0), "Asia/Beirut", 7, last, LONG_AGO) == [date(2026, 1, 10)]
    last = date(2026, 6, 30)
    assert due_dates(utc(2026, 7, 1, 3, 59), "Asia/Beirut", 7, last, LONG_AGO) == []
    assert due_dates(utc(2026, 7, 1, 4, 0), "Asia/Beirut", 7, last, LONG_AGO) == [date(2026, 7, 1)]


def test_once_a_day_a_kept_date_is_never_due_again() -> None:
    now = utc(2026, 1, 10, 20, 0)
    assert due_dates(now, "Asia/Beirut", 7, date(2026, 1, 10), LONG_AGO) == []


def test_the_local_date_follows_the_zone() -> None:
    # 2026-01-10 03:00 UTC: already 05:00 on the 10th in Beirut, still 22:00 on the 9th in New York.
    now = utc(2026, 1, 10, 3, 0)
    assert due_dates(now, "Asia/Beirut", 5, date(2026, 1, 9), LONG_AGO) == [date(2026, 1, 10)]
    assert due_dates(now, "America/New_York", 7, date(2026, 1, 8), LONG_AGO) == [date(2026, 1, 9)]
    assert due_dates(now, "America/New_York", 23, date(2026, 1, 8), LONG_AGO) == []
    # Across the date line: at 11:00 UTC Auckland (UTC+13 in January) is at 00:00 on the 11th.
    assert due_dates(utc(2026, 1, 10, 11, 0), "Pacific/Auckland", 0, date(2026, 1, 10), LONG_AGO) == [
        date(2026, 1, 11)]


def test_missed_days_are_caught_up_but_only_a_week() -> None:
    now = utc(2026, 3, 8, 6, 0)  # 08:00 in Beirut
    assert due_dates(now, "Asia/Beirut", 7, date(2026, 3, 5), LONG_AGO) == [
        date(2026, 3, 6), date(2026, 3, 7), date(2026, 3, 8)]
    caught_up = due_dates(now, "Asia/Beirut", 7, date(2026, 1, 1), LONG_AGO)
    assert len(caught_up) == CATCH_UP_DAYS and caught_up[-1] == date(2026, 3, 8)
    assert due_dates(now, "Asia/Beirut", 7, None, LONG_AGO) == caught_up


def test_never_a_date_before_the_tenant_existed() -> None:
    created = utc(2026, 3, 6, 8, 0)  # 10:00 in Beirut, after that day's 07:00
    now = utc(2026, 3, 8, 6, 0)
    assert due_dates(now, "Asia/Beirut", 7, None, created) == [date(2026, 3, 7), date(2026, 3, 8)]
    assert due_dates(utc(2026, 3, 6, 12, 0), "Asia/Beirut", 7, None, created) == []


def test_an_hour_missing_on_the_spring_forward_day_still_falls_due() -> None:
    # Beirut springs forward on 2026-03-29 at 00:00 -> 01:00; a midnight report still comes that day.
    assert due_dates(utc(2026, 3, 29, 12, 0), "Asia/Beirut", 0, date(2026, 3, 28), LONG_AGO) == [date(2026, 3, 29)]


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError):
        due_dates(datetime(2026, 1, 1), "Asia/Beirut", 7, None, LONG_AGO)

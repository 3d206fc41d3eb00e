"""Business calendars: parsing with error paths and round trip, open segments, elapsed business
time, adding and subtracting it, open and holiday tests; DST in both hemispheres. Pure Python."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sportello.engine import calendars
from sportello.engine.calendars import (
    ALWAYS_OPEN,
    WEEKDAYS,
    Calendar,
    CalendarClock,
    CalendarVersion,
    Holiday,
    SpecialDay,
    add,
    calendar_to_data,
    elapsed,
    holiday_on,
    is_holiday,
    is_open,
    local_hours,
    next_open,
    open_segments,
    parse_calendar,
    parse_calendars,
    version_on,
)
from sportello.engine.schema import RuleSchemaError

H = timedelta(hours=1)
US = timedelta(microseconds=1)
OFFICE = {day: [["09:00", "18:00"]] for day in WEEKDAYS[:5]}
SPLIT = {day: [["09:00", "14:00"], ["15:00", "18:00"]] for day in WEEKDAYS[:5]}


def cal(tz: str = "Europe/Madrid", **version: Any) -> Calendar:
    """A one-version calendar from the data form; 24/7 unless weekly hours are given."""
    if "weekly" not in version:
        version.setdefault("always_open", True)
    return parse_calendar({"key": "c", "name": "C", "time_zone": tz, **version})


def local(tz: str, y: int, m: int, d: int, h: int = 0, mi: int = 0, fold: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=ZoneInfo(tz), fold=fold)


def utc(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=UTC)


# -- DST: whole days -------------------------------------------------------------------------

DST_DAYS = [
    # zone, local date, real hours of the day
    ("Europe/Madrid", date(2026, 3, 29), 23),
    ("Europe/Madrid", date(2026, 10, 25), 25),
    ("America/New_York", date(2026, 3, 8), 23),
    ("America/New_York", date(2026, 11, 1), 25),
    ("America/Sao_Paulo", date(2018, 11, 4), 23),  # at 00:00 the clock jumps to 01:00
    ("America/Sao_Paulo", date(2019, 2, 16), 25),  # at 24:00 the clock goes back to 23:00
    ("Australia/Sydney", date(2026, 10, 4), 23),
    ("Australia/Sydney", date(2026, 4, 5), 25),
]


@pytest.mark.parametrize(("tz", "day", "hours"), DST_DAYS)
def test_a_24_7_day_counts_its_real_hours_on_dst_dates(tz: str, day: date, hours: int) -> None:
    c = cal(tz)
    start = datetime.combine(day, datetime.min.time(), ZoneInfo(tz))
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), ZoneInfo(tz))
    assert elapsed(c, start, end) == hours * H
    assert end.astimezone(UTC) - start.astimezone(UTC) == hours * H


@pytest.mark.parametrize(("tz", "day", "hours"), DST_DAYS)
def test_a_day_open_00_00_to_24_00_counts_its_real_hours_on_dst_dates(tz: str, day: date, hours: int) -> None:
    # Given only that weekday open, all day long
    c = cal(tz, weekly={WEEKDAYS[day.weekday()]: [["00:00", "24:00"]]})
    week_before = datetime.combine(day - timedelta(days=3), datetime.min.time(), UTC)
    # Then the week around it holds exactly that day, as one segment
    segments = list(open_segments(c, week_before, week_before + timedelta(days=7)))
    assert len(segments) == 1
    assert segments[0][1] - segments[0][0] == hours * H
    assert segments[0][0] == datetime.combine(day, datetime.min.time(), ZoneInfo(tz)).astimezone(UTC)


DST_INTERVALS = [
    # zone, local date, interval, UTC start, UTC end
    # spring forward: a start (or end) in the gap is the transition instant
    ("Europe/Madrid", date(2026, 3, 29), ["02:30", "05:00"], utc(2026, 3, 29, 1), utc(2026, 3, 29, 3)),
    ("Europe/Madrid", date(2026, 3, 29), ["01:00", "02:30"], utc(2026, 3, 29, 0), utc(2026, 3, 29, 1)),
    ("America/New_York", date(2026, 3, 8), ["02:30", "04:00"], utc(2026, 3, 8, 7), utc(2026, 3, 8, 8)),
    ("America/Sao_Paulo", date(2018, 11, 4), ["00:00", "02:00"], utc(2018, 11, 4, 3), utc(2018, 11, 4, 4)),
    ("America/Sao_Paulo", date(2018, 11, 3), ["22:00", "24:00"], utc(2018, 11, 4, 1), utc(2018, 11, 4, 3)),
    ("Australia/Sydney", date(2026, 10, 4), ["02:30", "04:00"], utc(2026, 10, 3, 16), utc(2026, 10, 3, 17)),
    # fall back: a start is the first occurrence, an end the last
    ("Europe/Madrid", date(2026, 10, 25), ["01:00", "04:00"], utc(2026, 10, 24, 23), utc(2026, 10, 25, 3)),
    ("Europe/Madrid", date(2026, 10, 25), ["02:30", "05:00"], utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 4)),
    (
        "Europe/Madrid",
        date(2026, 10, 25),
        ["00:00", "02:30"],
        utc(2026, 10, 24, 22),
        utc(2026, 10, 25, 1, 30),
    ),
    (
        "America/New_York",
        date(2026, 11, 1),
        ["00:30", "01:30"],
        utc(2026, 11, 1, 4, 30),
        utc(2026, 11, 1, 6, 30),
    ),
    ("America/Sao_Paulo", date(2019, 2, 16), ["22:00", "24:00"], utc(2019, 2, 17, 0), utc(2019, 2, 17, 3)),
    (
        "America/Sao_Paulo",
        date(2019, 2, 16),
        ["23:30", "24:00"],
        utc(2019, 2, 17, 1, 30),
        utc(2019, 2, 17, 3),
    ),
    ("Australia/Sydney", date(2026, 4, 5), ["02:00", "03:00"], utc(2026, 4, 4, 15), utc(2026, 4, 4, 17)),
]


@pytest.mark.parametrize(("tz", "day", "interval", "start", "end"), DST_INTERVALS)
def test_intervals_on_dst_dates_map_to_real_instants(
    tz: str, day: date, interval: list[str], start: datetime, end: datetime
) -> None:
    c = cal(tz, weekly={WEEKDAYS[day.weekday()]: [interval]})
    around = datetime.combine(day, datetime.min.time(), UTC)
    assert list(open_segments(c, around - 2 * 24 * H, around + 2 * 24 * H)) == [(start, end)]
    assert elapsed(c, around - 2 * 24 * H, around + 2 * 24 * H) == end - start
    assert is_open(c, start)
    assert not is_open(c, end)
    assert not is_open(c, start - US)


def test_two_intervals_meeting_in_the_repeated_hour_join_without_counting_it_twice() -> None:
    # Given Sunday 01:00-02:30 and 02:45-04:00 on Madrid's fall-back date: the first ends at the
    # second 02:30 (01:30 UTC), after the second interval's start (02:45 CEST, 00:45 UTC)
    c = cal(weekly={"sun": [["01:00", "02:30"], ["02:45", "04:00"]]})
    segments = list(open_segments(c, utc(2026, 10, 24), utc(2026, 10, 26)))
    assert segments == [(utc(2026, 10, 24, 23), utc(2026, 10, 25, 3))]
    assert elapsed(c, utc(2026, 10, 24), utc(2026, 10, 26)) == 4 * H


def test_an_interval_wholly_inside_the_spring_forward_gap_is_never_open() -> None:
    c = cal(weekly={"sun": [["02:10", "02:50"]]})
    assert list(open_segments(c, utc(2026, 3, 28), utc(2026, 3, 30))) == []
    assert len(list(open_segments(c, utc(2026, 3, 30), utc(2026, 4, 6)))) == 1  # a week later: 40 min


def test_business_hours_across_a_dst_weekend_count_local_hours() -> None:
    # New York springs forward on Sunday 2026-03-08; Monday opens at 09:00 EDT (13:00 UTC)
    tz = "America/New_York"
    c = cal(tz, weekly=OFFICE)
    friday_5pm = local(tz, 2026, 3, 6, 17)
    assert elapsed(c, friday_5pm, local(tz, 2026, 3, 9, 10)) == 2 * H
    assert add(c, friday_5pm, 2 * H) == utc(2026, 3, 9, 14)
    assert add(c, utc(2026, 3, 9, 14), -2 * H) == utc(2026, 3, 6, 22)
    assert next_open(c, friday_5pm + 2 * H) == utc(2026, 3, 9, 13)


def test_sydney_business_days_around_both_transitions() -> None:
    tz = "Australia/Sydney"
    c = cal(tz, weekly=OFFICE)
    # Friday 2026-04-03 17:00 AEDT (+11) + 2h = Monday 2026-04-06 10:00 AEST (+10)
    assert add(c, local(tz, 2026, 4, 3, 17), 2 * H) == utc(2026, 4, 6, 0)
    # Friday 2026-10-02 17:00 AEST (+10) + 2h = Monday 2026-10-05 10:00 AEDT (+11)
    assert add(c, local(tz, 2026, 10, 2, 17), 2 * H) == utc(2026, 10, 4, 23)


def test_sao_paulo_historical_dst_is_applied() -> None:
    # 2018-11-05 was a Monday in summer time (-02); Brazil dropped DST in 2019, so 2019-11-04 is -03
    tz = "America/Sao_Paulo"
    c = cal(tz, weekly=OFFICE)
    assert next_open(c, utc(2018, 11, 4, 12)) == utc(2018, 11, 5, 11)
    assert next_open(c, utc(2019, 11, 3, 12)) == utc(2019, 11, 4, 12)


def test_a_fall_back_across_midnight_belongs_to_the_date_already_begun() -> None:
    # Antarctica/Casey, 2010-03-05 02:00 (+11) went back to 2010-03-04 23:00 (+08). Friday began
    # at its first 00:00 (13:00 UTC); the hour the clock shows Thursday again is still Friday's.
    c = cal("Antarctica/Casey", weekly={"fri": [["00:00", "24:00"]]})
    assert list(open_segments(c, utc(2010, 3, 3), utc(2010, 3, 8))) == [
        (utc(2010, 3, 4, 13), utc(2010, 3, 5, 16))
    ]
    assert is_open(c, utc(2010, 3, 4, 15, 30))
    assert elapsed(c, utc(2010, 3, 4, 15), utc(2010, 3, 4, 16)) == H
    assert add(c, utc(2010, 3, 4, 15, 30), H / 2) == utc(2010, 3, 4, 16)


# -- weekly hours ----------------------------------------------------------------------------


def test_several_intervals_a_day() -> None:
    c = cal(weekly=SPLIT)
    monday = date(2026, 6, 1)
    assert WEEKDAYS[monday.weekday()] == "mon"
    at = datetime(2026, 6, 1, 13, 30, tzinfo=ZoneInfo("Europe/Madrid"))
    assert add(c, at, H) == local("Europe/Madrid", 2026, 6, 1, 15, 30).astimezone(UTC)
    assert elapsed(c, at - H / 2, at + 5 * H / 2) == 2 * H  # 13:00-16:00 less the lunch hour
    assert not is_open(c, at + H)
    assert next_open(c, at + H) == local("Europe/Madrid", 2026, 6, 1, 15).astimezone(UTC)
    assert is_open(c, local("Europe/Madrid", 2026, 6, 1, 15))
    assert not is_open(c, local("Europe/Madrid", 2026, 6, 1, 14))


def test_weekday_subsets_count_only_their_days() -> None:
    c = cal(weekly={"tue": [["10:00", "12:00"]], "thu": [["10:00", "16:00"]]})
    wednesday = local("Europe/Madrid", 2026, 6, 3, 9)
    assert add(c, wednesday, 7 * H) == local("Europe/Madrid", 2026, 6, 9, 11).astimezone(UTC)
    assert elapsed(c, local("Europe/Madrid", 2026, 6, 1), local("Europe/Madrid", 2026, 6, 8)) == 8 * H


def test_an_interval_to_24_00_joins_the_next_day_from_00_00() -> None:
    tz = "Europe/Madrid"
    c = cal(tz, weekly={"sat": [["18:00", "24:00"]], "sun": [["00:00", "06:00"], ["20:00", "24:00"]]})
    segments = list(open_segments(c, utc(2026, 6, 5), utc(2026, 6, 9)))
    assert segments == [
        (local(tz, 2026, 6, 6, 18).astimezone(UTC), local(tz, 2026, 6, 7, 6).astimezone(UTC)),
        (local(tz, 2026, 6, 7, 20).astimezone(UTC), local(tz, 2026, 6, 8).astimezone(UTC)),
    ]
    assert is_open(c, local(tz, 2026, 6, 7))
    assert not is_open(c, local(tz, 2026, 6, 8))
    assert add(c, local(tz, 2026, 6, 7, 23), H) == local(tz, 2026, 6, 8).astimezone(UTC)


def test_24_7_counts_calendar_time() -> None:
    c = cal("America/New_York")
    a, b = utc(2026, 1, 1, 3, 17), utc(2026, 12, 31, 22, 1)
    assert elapsed(c, a, b) == b - a
    assert add(c, a, b - a) == b
    assert list(open_segments(c, a, b)) == [(a, b)]
    assert next_open(c, a) == a


# -- holidays and special days ---------------------------------------------------------------


def test_a_whole_day_holiday_on_a_dst_date_closes_all_its_25_hours() -> None:
    tz = "Europe/Madrid"
    c = cal(tz, holidays=[{"date": "2026-10-25", "name": "Cambio de hora"}])
    assert elapsed(c, local(tz, 2026, 10, 24), local(tz, 2026, 10, 27)) == 48 * H
    assert list(open_segments(c, local(tz, 2026, 10, 24), local(tz, 2026, 10, 27))) == [
        (utc(2026, 10, 23, 22), utc(2026, 10, 24, 22)),
        (utc(2026, 10, 25, 23), utc(2026, 10, 26, 23)),
    ]
    assert is_holiday(c, local(tz, 2026, 10, 25))
    assert is_holiday(c, local(tz, 2026, 10, 25, 23, 59))
    assert is_holiday(c, local(tz, 2026, 10, 25, 2, 30, fold=1))
    assert not is_holiday(c, local(tz, 2026, 10, 25) - US)
    assert not is_holiday(c, local(tz, 2026, 10, 26))


def test_a_partial_holiday_on_a_dst_date_closes_its_hours_in_real_time() -> None:
    # Closed 00:00 until the second 02:30: 3.5 real hours of a 25-hour day
    tz = "Europe/Madrid"
    c = cal(tz, holidays=[{"date": "2026-10-25", "closed": [["00:00", "02:30"]]}])
    assert elapsed(c, local(tz, 2026, 10, 25), local(tz, 2026, 10, 26)) == 21.5 * H
    assert next_open(c, local(tz, 2026, 10, 25)) == utc(2026, 10, 25, 1, 30)
    assert is_holiday(c, local(tz, 2026, 10, 25, 12))
    holiday = holiday_on(c, local(tz, 2026, 10, 25, 12))
    assert holiday == Holiday(date(2026, 10, 25), None, ((0, 150),))


def test_holidays_skip_business_days() -> None:
    tz = "Europe/Madrid"
    c = cal(tz, weekly=OFFICE, holidays=[{"date": "2026-12-24"}, {"date": "2026-12-25", "name": "Navidad"}])
    # Wednesday 23rd 17:00 + 2h: 1h on Wednesday, then Monday 28th 10:00
    assert add(c, local(tz, 2026, 12, 23, 17), 2 * H) == local(tz, 2026, 12, 28, 10).astimezone(UTC)
    assert add(c, local(tz, 2026, 12, 28, 10), -2 * H) == local(tz, 2026, 12, 23, 17).astimezone(UTC)
    assert not is_open(c, local(tz, 2026, 12, 24, 12))
    assert holiday_on(c, local(tz, 2026, 12, 25)) == Holiday(date(2026, 12, 25), "Navidad")
    assert holiday_on(c, local(tz, 2026, 12, 23)) is None


def test_a_special_day_replaces_the_weekly_hours_and_a_holiday_still_applies() -> None:
    tz = "Europe/Madrid"
    c = cal(
        tz,
        weekly=OFFICE,
        special_days=[
            {"date": "2026-12-20", "name": "Christmas Sunday", "hours": [["10:00", "14:00"]]},
            {"date": "2026-12-21", "hours": []},
            {"date": "2026-12-31", "hours": [["09:00", "13:00"]]},
        ],
        holidays=[{"date": "2026-12-31", "closed": [["12:00", "24:00"]]}],
    )
    assert local_hours(c, date(2026, 12, 20)) == ((600, 840),)
    assert local_hours(c, date(2026, 12, 21)) == ()
    assert local_hours(c, date(2026, 12, 22)) == ((540, 1080),)
    assert local_hours(c, date(2026, 12, 31)) == ((540, 720),)
    assert elapsed(c, local(tz, 2026, 12, 19), local(tz, 2026, 12, 22)) == 4 * H
    assert not is_holiday(c, local(tz, 2026, 12, 20, 12))


# -- versions --------------------------------------------------------------------------------

VERSIONED = {
    "key": "emea",
    "name": "EMEA",
    "time_zone": "Europe/Madrid",
    "versions": [
        {"effective_from": "2026-01-01", "weekly": {day: [["09:00", "17:00"]] for day in WEEKDAYS[:5]}},
        {"effective_from": "2026-07-01", "weekly": {day: [["08:00", "12:00"]] for day in WEEKDAYS[:5]}},
    ],
}


def test_each_local_date_uses_the_version_effective_on_it() -> None:
    tz = "Europe/Madrid"
    c = parse_calendar(VERSIONED)
    # Monday 2026-06-29 to Friday 2026-07-03: two days of 8 h, then three of 4 h
    assert elapsed(c, local(tz, 2026, 6, 29), local(tz, 2026, 7, 4)) == 28 * H
    # Tuesday 30th 16:00 + 3h: one hour on the old hours, then Wednesday 1st 08:00-10:00
    assert add(c, local(tz, 2026, 6, 30, 16), 3 * H) == local(tz, 2026, 7, 1, 10).astimezone(UTC)
    assert add(c, local(tz, 2026, 7, 1, 10), -3 * H) == local(tz, 2026, 6, 30, 16).astimezone(UTC)
    assert version_on(c, date(2026, 6, 30)) == c.versions[0]
    assert version_on(c, date(2026, 7, 1)) == c.versions[1]


def test_the_first_version_also_covers_earlier_dates() -> None:
    c = parse_calendar(VERSIONED)
    assert version_on(c, date(2020, 1, 1)) == c.versions[0]
    assert local_hours(c, date(2025, 12, 29)) == ((540, 1020),)


def test_a_version_boundary_inside_a_long_window_is_counted_on_both_sides() -> None:
    c = parse_calendar(VERSIONED)
    # June: 22 weekdays of 8 h; July: 23 weekdays of 4 h (also summed from each date's hours)
    a, b = local("Europe/Madrid", 2026, 6, 1), local("Europe/Madrid", 2026, 8, 1)
    expected = timedelta(0)
    day = date(2026, 6, 1)
    while day < date(2026, 8, 1):
        expected += sum((timedelta(minutes=e - s) for s, e in local_hours(c, day)), timedelta(0))
        day += timedelta(days=1)
    assert elapsed(c, a, b) == expected == (22 * 8 + 23 * 4) * H


# -- add: directions, boundaries, limits -----------------------------------------------------


def test_add_ends_at_a_closing_instant_and_subtract_at_an_opening_one() -> None:
    tz = "Europe/Madrid"
    c = cal(tz, weekly=OFFICE)
    monday_9 = local(tz, 2026, 6, 1, 9)
    assert add(c, monday_9, 9 * H) == local(tz, 2026, 6, 1, 18).astimezone(UTC)
    assert add(c, local(tz, 2026, 6, 2, 9), -9 * H) == monday_9.astimezone(UTC)
    assert add(c, local(tz, 2026, 6, 1, 10), -2 * H) == local(tz, 2026, 5, 29, 17).astimezone(UTC)


def test_add_zero_returns_the_start_even_when_closed() -> None:
    c = cal(weekly=OFFICE)
    saturday = local("Europe/Madrid", 2026, 6, 6, 11, 7)
    assert add(c, saturday, timedelta(0)) == saturday
    assert add(c, saturday, timedelta(0)).tzinfo is UTC


def test_add_from_a_closed_instant_starts_at_the_next_opening() -> None:
    tz = "Europe/Madrid"
    c = cal(tz, weekly=OFFICE)
    assert add(c, local(tz, 2026, 6, 6, 11), US) == local(tz, 2026, 6, 8, 9).astimezone(UTC) + US


def test_long_durations_cross_many_blocks_of_dates_both_ways() -> None:
    tz = "Europe/Madrid"
    c = cal(tz, weekly=OFFICE, holidays=[{"date": "2026-08-14"}])
    start = local(tz, 2026, 6, 1, 9)
    # 100 business days of 9 h from Monday 1 June 09:00: 20 weeks, plus the holiday
    end = add(c, start, 900 * H)
    assert end == local(tz, 2026, 10, 19, 18).astimezone(UTC)
    assert elapsed(c, start, end) == 900 * H
    assert add(c, end, -900 * H) == start.astimezone(UTC)


def test_a_calendar_with_no_open_hours_is_refused_not_looped_on() -> None:
    # Given Monday hours until 2026, and none at all from then on
    c = parse_calendar(
        {
            "key": "gone",
            "name": "Closed for good",
            "time_zone": "Europe/Madrid",
            "versions": [
                {"weekly": {"mon": [["09:00", "10:00"]]}},
                {"effective_from": "2026-01-01", "weekly": {}},
            ],
        }
    )
    with pytest.raises(ValueError, match="no open time"):
        add(c, utc(2026, 3, 1), H)
    assert next_open(c, utc(2026, 3, 1)) is None
    assert elapsed(c, utc(2026, 3, 1), utc(2030, 3, 1)) == timedelta(0)
    # Walking backwards still finds the last Monday of 2025
    assert add(c, utc(2026, 3, 1), -H) == local("Europe/Madrid", 2025, 12, 29, 9).astimezone(UTC)
    with pytest.raises(ValueError, match="no open time"):
        add(cal(weekly={}), utc(2026, 3, 1), -H)


def test_naive_instants_are_refused() -> None:
    c = cal()
    with pytest.raises(ValueError, match="aware"):
        is_open(c, datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="aware"):
        elapsed(c, utc(2026, 1, 1), datetime(2026, 1, 2))


def test_elapsed_is_negative_backwards() -> None:
    c = cal(weekly=OFFICE)
    a, b = local("Europe/Madrid", 2026, 6, 1, 10), local("Europe/Madrid", 2026, 6, 2, 10)
    assert elapsed(c, b, a) == -elapsed(c, a, b) == -9 * H


def test_the_calendar_clock_counts_business_time() -> None:
    c = cal(weekly=OFFICE)
    clock = CalendarClock(c)
    a = local("Europe/Madrid", 2026, 6, 5, 17)
    assert clock.add(a, 2 * H) == add(c, a, 2 * H)
    monday_10 = a + 65 * H
    assert clock.elapsed(a, monday_10) == elapsed(c, a, monday_10) == 2 * H


def test_the_cached_plan_is_not_part_of_equality() -> None:
    c1, c2 = cal(weekly=OFFICE), cal(weekly=OFFICE)
    is_open(c1, utc(2026, 1, 1))
    assert c1 == c2
    assert hash(c1) == hash(c2)


def test_elapsed_counts_the_minutes_is_open_sees_over_a_dst_week() -> None:
    # Every boundary is on a whole UTC minute, so sampling each minute's start counts exactly
    tz = "America/Sao_Paulo"
    c = cal(
        tz,
        weekly={**SPLIT, "sat": [["00:00", "00:30"], ["22:00", "24:00"]], "sun": [["00:00", "03:00"]]},
        holidays=[{"date": "2019-02-15", "closed": [["10:00", "16:30"]]}],
    )
    a = utc(2019, 2, 13, 17, 11)
    minutes = sum(is_open(c, a + timedelta(minutes=i)) for i in range(7 * 1440))
    assert elapsed(c, a, a + timedelta(days=7)) == timedelta(minutes=minutes)


# -- parsing ---------------------------------------------------------------------------------

DOC_EXAMPLE = (calendars.__doc__ or "").split("`calendar_to_data`):\n\n")[1].split("\n\nChoices")[0]


def test_the_documented_example_parses() -> None:
    c = parse_calendar(yaml.safe_load(DOC_EXAMPLE))
    assert (c.key, c.name, c.time_zone) == ("emea", "EMEA business hours", "Europe/Madrid")
    first, second = c.versions
    assert first.effective_from is None
    assert first.weekly[0] == ((540, 840), (900, 1080))
    assert first.weekly[4] == ((540, 900),)
    assert first.weekly[5] == ()
    assert first.holidays == (
        Holiday(date(2026, 1, 1), "Año Nuevo"),
        Holiday(date(2026, 12, 24), "Nochebuena tarde", ((840, 1440),)),
    )
    assert first.special_days == (SpecialDay(date(2026, 12, 20), ((600, 840),), "Christmas Sunday"),)
    assert second == CalendarVersion(weekly=ALWAYS_OPEN, effective_from=date(2026, 7, 1))
    assert second.always_open


def test_the_data_form_round_trips_through_json() -> None:
    c = parse_calendar(yaml.safe_load(DOC_EXAMPLE))
    assert parse_calendar(json.loads(json.dumps(calendar_to_data(c)))) == c


def test_one_version_without_a_date_is_written_flat_and_24_7_as_always_open() -> None:
    c = cal("UTC", weekly={day: [["00:00", "24:00"]] for day in WEEKDAYS})
    assert calendar_to_data(c) == {"key": "c", "name": "C", "time_zone": "UTC", "always_open": True}
    weekdays = cal("UTC", weekly={"mon": [["09:00", "12:00"], ["13:00", "17:30"]], "tue": []})
    assert calendar_to_data(weekdays)["weekly"] == {"mon": [["09:00", "12:00"], ["13:00", "17:30"]]}


def test_intervals_may_be_written_as_mappings() -> None:
    c = cal(weekly={"mon": [{"start": "09:00", "end": "12:00"}]})
    assert c.versions[0].weekly[0] == ((540, 720),)


def test_dates_are_read_from_yaml_dates_and_json_strings_and_sorted() -> None:
    c = cal(holidays=[{"date": date(2026, 5, 1)}, {"date": "2026-01-01"}])
    assert [h.date for h in c.versions[0].holidays] == [date(2026, 1, 1), date(2026, 5, 1)]


def wrap(**fields: Any) -> list[dict[str, Any]]:
    return [{"key": "c", "name": "C", "time_zone": "Europe/Madrid", **fields}]


PARSE_ERRORS = [
    (
        wrap(weekly={"mon": [["09:00", "10:00"], {"start": "11:00", "end": "10:30"}]}),
        "calendars[0].weekly.mon[1].end",
    ),
    (wrap(weekly={"mon": [["09:00", "10:00"], ["11:00", "11:00"]]}), "calendars[0].weekly.mon[1][1]"),
    (wrap(weekly={"mon": [["25:00", "26:00"]]}), "calendars[0].weekly.mon[0][0]"),
    (wrap(weekly={"mon": [["24:00", "24:00"]]}), "calendars[0].weekly.mon[0][0]"),
    (wrap(weekly={"mon": [["9:00", "10:00"]]}), "calendars[0].weekly.mon[0][0]"),
    (wrap(weekly={"mon": [["09:00", "24:01"]]}), "calendars[0].weekly.mon[0][1]"),
    (wrap(weekly={"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}), "calendars[0].weekly.mon[1][0]"),
    (wrap(weekly={"mon": [["09:00", "12:00"], ["12:00", "13:00"]]}), "calendars[0].weekly.mon[1][0]"),
    (wrap(weekly={"mon": [["13:00", "14:00"], ["09:00", "12:00"]]}), "calendars[0].weekly.mon[1][0]"),
    (wrap(weekly={"mon": ["09:00-18:00"]}), "calendars[0].weekly.mon[0]"),
    (wrap(weekly={"mon": [{"start": "09:00"}]}), "calendars[0].weekly.mon[0].end"),
    (wrap(weekly={"monday": []}), "calendars[0].weekly.monday"),
    (wrap(weekly={"mon": "09:00"}), "calendars[0].weekly.mon"),
    (wrap(), "calendars[0].weekly"),
    (wrap(weekly={}, always_open=True), "calendars[0].always_open"),
    (wrap(always_open=False), "calendars[0].always_open"),
    (wrap(always_open=True, holidays=[{"date": "2026-13-01"}]), "calendars[0].holidays[0].date"),
    (wrap(always_open=True, holidays=[{"date": "1/1/2026"}]), "calendars[0].holidays[0].date"),
    (wrap(always_open=True, holidays=[{"date": datetime(2026, 1, 1)}]), "calendars[0].holidays[0].date"),
    (
        wrap(always_open=True, holidays=[{"date": "2026-01-01"}, {"date": "2026-01-01"}]),
        "calendars[0].holidays[1].date",
    ),
    (
        wrap(always_open=True, holidays=[{"date": "2026-01-01", "closed": []}]),
        "calendars[0].holidays[0].closed",
    ),
    (wrap(always_open=True, holidays=[{"date": "2026-01-01", "name": ""}]), "calendars[0].holidays[0].name"),
    (wrap(always_open=True, holidays=[{"date": "2026-01-01", "open": []}]), "calendars[0].holidays[0].open"),
    (wrap(always_open=True, special_days=[{"date": "2026-01-01"}]), "calendars[0].special_days[0].hours"),
    (wrap(always_open=True, effective_from="2026-01-01"), "calendars[0].effective_from"),
    (wrap(versions=[]), "calendars[0].versions"),
    (wrap(versions=[{"always_open": True}], weekly={}), "calendars[0].weekly"),
    (
        wrap(versions=[{"always_open": True}, {"always_open": True}]),
        "calendars[0].versions[1].effective_from",
    ),
    (
        wrap(
            versions=[
                {"effective_from": "2026-07-01", "always_open": True},
                {"effective_from": "2026-07-01", "always_open": True},
            ]
        ),
        "calendars[0].versions[1].effective_from",
    ),
    (wrap(versions=[{"always_open": True, "weekly": {}}]), "calendars[0].versions[0].always_open"),
    ([{"key": "c", "name": "C", "time_zone": "Mars/Olympus", "always_open": True}], "calendars[0].time_zone"),
    ([{"key": "c", "name": "C", "time_zone": "+01:00", "always_open": True}], "calendars[0].time_zone"),
    (
        [{"key": "c", "name": "C", "time_zone": "../../etc/passwd", "always_open": True}],
        "calendars[0].time_zone",
    ),
    ([{"key": "C!", "name": "C", "time_zone": "UTC", "always_open": True}], "calendars[0].key"),
    ([{"key": "c", "time_zone": "UTC", "always_open": True}], "calendars[0].name"),
    ([*wrap(always_open=True), *wrap(always_open=True)], "calendars[1].key"),
    ({"key": "c"}, "calendars"),
]


@pytest.mark.parametrize(("data", "path"), PARSE_ERRORS)
def test_parse_errors_name_the_bad_part(data: Any, path: str) -> None:
    with pytest.raises(RuleSchemaError) as error:
        parse_calendars(data)
    assert error.value.path == path


# -- properties ------------------------------------------------------------------------------
# Calendars in a DST zone (or UTC) with holidays, special days and sometimes a second version
# near one of the zone's transition dates; instants within 5 days of that date.

ZONE_DATES = [
    ("Europe/Madrid", date(2026, 3, 29)),
    ("Europe/Madrid", date(2026, 10, 25)),
    ("America/New_York", date(2026, 3, 8)),
    ("America/New_York", date(2026, 11, 1)),
    ("America/Sao_Paulo", date(2018, 11, 4)),
    ("America/Sao_Paulo", date(2019, 2, 16)),
    ("Australia/Sydney", date(2026, 4, 5)),
    ("Australia/Sydney", date(2026, 10, 4)),
    ("UTC", date(2026, 2, 28)),
]


def _pairs(points: list[int]) -> list[list[str]]:
    """Sorted distinct half-hour points, paired: intervals neither overlapping nor touching."""
    points = sorted(points)[: len(points) // 2 * 2]
    return [[f"{p // 2:02d}:{p % 2 * 30:02d}" for p in points[i : i + 2]] for i in range(0, len(points), 2)]


HOURS = st.lists(st.integers(0, 48), max_size=6, unique=True).map(_pairs)
SOME_HOURS = st.lists(st.integers(0, 48), min_size=2, max_size=6, unique=True).map(_pairs)
NEAR = st.integers(-4, 4)
VERSION = st.tuples(
    st.lists(HOURS, min_size=7, max_size=7).filter(any),
    st.lists(st.tuples(NEAR, st.none() | SOME_HOURS), max_size=3, unique_by=lambda h: h[0]),
    st.lists(st.tuples(NEAR, HOURS), max_size=2, unique_by=lambda s: s[0]),
)


def _version(around: date, drawn: tuple[Any, ...], effective_from: int | None = None) -> dict[str, Any]:
    weekly, holidays, specials = drawn
    data: dict[str, Any] = {
        "weekly": dict(zip(WEEKDAYS, weekly, strict=True)),
        "holidays": [
            {"date": (around + timedelta(days=n)).isoformat(), **({"closed": closed} if closed else {})}
            for n, closed in holidays
        ],
        "special_days": [{"date": (around + timedelta(days=n)).isoformat(), "hours": h} for n, h in specials],
    }
    if effective_from is not None:
        data["effective_from"] = (around + timedelta(days=effective_from)).isoformat()
    return data


def _calendar(drawn: tuple[Any, ...]) -> tuple[Calendar, datetime]:
    (tz, around), first, second = drawn
    versions = [_version(around, first)]
    if second is not None:
        versions.append(_version(around, second[1], second[0]))
    c = parse_calendar({"key": "p", "name": "P", "time_zone": tz, "versions": versions})
    return c, datetime.combine(around, datetime.min.time(), UTC)


CALENDARS = st.tuples(
    st.sampled_from(ZONE_DATES), VERSION, st.none() | st.tuples(st.integers(-3, 3), VERSION)
).map(_calendar)
OFFSETS = st.integers(-480, 480).map(lambda q: q * timedelta(minutes=15)) | st.integers(
    -5 * 86_400_000_000, 5 * 86_400_000_000
).map(lambda us: us * US)
DURATIONS = st.integers(1, 160).map(lambda q: q * timedelta(minutes=15)) | st.integers(
    1, 10 * 86_400_000_000
).map(lambda us: us * US)


@settings(max_examples=40)
@given(CALENDARS)
def test_round_trip_of_generated_calendars(drawn: tuple[Calendar, datetime]) -> None:
    c, _ = drawn
    assert parse_calendar(json.loads(json.dumps(calendar_to_data(c)))) == c


@settings(max_examples=75)
@given(CALENDARS, OFFSETS, DURATIONS)
def test_add_then_elapsed_gives_the_duration_back_at_the_earliest_instant(
    drawn: tuple[Calendar, datetime], offset: timedelta, d: timedelta
) -> None:
    c, base = drawn
    a = base + offset
    b = add(c, a, d)
    assert b >= a
    assert elapsed(c, a, b) == d
    assert elapsed(c, a, b - US) < d  # no earlier instant will do
    back = add(c, a, -d)
    assert back <= a
    assert elapsed(c, back, a) == d
    assert elapsed(c, back + US, a) < d  # no later instant will do


@settings(max_examples=75)
@given(CALENDARS, OFFSETS, DURATIONS)
def test_there_and_back_lands_on_the_edge_of_the_closed_stretch_around_the_start(
    drawn: tuple[Calendar, datetime], offset: timedelta, d: timedelta
) -> None:
    """For d > 0, `add(add(a, d), -d)` is the LATEST instant n >= a with no business time in
    [a, n): `next_open(a)`, which is `a` itself when open. Mirrored, `add(add(a, -d), d)` is
    the EARLIEST instant p <= a with no business time in [p, a): `a` when business time runs
    right before it, else the end of the last open segment before `a`. So neither lands on `a`
    in general: a closed start moves to the nearest business time on the side walked last."""
    c, base = drawn
    a = base + offset
    there_and_back = add(c, add(c, a, d), -d)
    assert there_and_back == next_open(c, a)
    assert there_and_back >= a
    assert elapsed(c, a, there_and_back) == timedelta(0)
    earlier = add(c, a, -d)
    back_and_there = add(c, earlier, d)
    assert back_and_there <= a
    assert elapsed(c, back_and_there, a) == timedelta(0)
    assert back_and_there == list(open_segments(c, earlier, a))[-1][1]
    assert back_and_there == a or not is_open(c, a - US)


@settings(max_examples=75)
@given(CALENDARS, OFFSETS, OFFSETS, OFFSETS)
def test_elapsed_is_additive_in_any_order(
    drawn: tuple[Calendar, datetime], x: timedelta, y: timedelta, z: timedelta
) -> None:
    c, base = drawn
    a, b, t = base + x, base + y, base + z
    assert elapsed(c, a, b) + elapsed(c, b, t) == elapsed(c, a, t)
    assert elapsed(c, a, b) == -elapsed(c, b, a)


@settings(max_examples=75)
@given(CALENDARS, OFFSETS, OFFSETS, st.lists(OFFSETS, max_size=8))
def test_open_segments_agree_with_is_open_elapsed_and_next_open(
    drawn: tuple[Calendar, datetime], x: timedelta, y: timedelta, probes: list[timedelta]
) -> None:
    c, base = drawn
    a, b = sorted([base + x, base + y])
    segments = list(open_segments(c, a, b))
    assert elapsed(c, a, b) == sum((e - s for s, e in segments), timedelta(0))
    for (_, e1), (s2, _) in itertools.pairwise(segments):
        assert e1 < s2  # sorted, apart: touching ones are joined
    for s, e in segments:
        assert a <= s < e <= b
        assert s.tzinfo is UTC
        assert is_open(c, s)
        assert is_open(c, e - US)
        assert e == b or not is_open(c, e)
        assert s == a or not is_open(c, s - US)
    for t in (base + p for p in probes):
        if a <= t < b:
            assert is_open(c, t) == any(s <= t < e for s, e in segments)
        nxt = next_open(c, t)
        assert nxt is not None
        assert nxt >= t
        assert is_open(c, nxt)
        assert elapsed(c, t, nxt) == timedelta(0)


def _wall_clock_open(c: Calendar, t: datetime) -> bool:
    """An independent reading of the data: open when the local wall time of `t` falls in its
    date's hours (the version's special day or weekday, less a holiday)."""
    wall = t.astimezone(ZoneInfo(c.time_zone))
    day = wall.date()
    version = c.versions[0]
    for v in c.versions:
        if v.effective_from is not None and v.effective_from <= day:
            version = v
    hours = next((s.hours for s in version.special_days if s.date == day), version.weekly[day.weekday()])
    closed: tuple[tuple[int, int], ...] = ()
    for h in version.holidays:
        if h.date == day:
            closed = h.closed or ((0, 1440),)
    second = wall.hour * 3600 + wall.minute * 60 + wall.second
    return any(s * 60 <= second < e * 60 for s, e in hours) and not any(
        s * 60 <= second < e * 60 for s, e in closed
    )


@settings(max_examples=75)
@given(CALENDARS, st.lists(OFFSETS, min_size=1, max_size=20))
def test_is_open_agrees_with_the_wall_clock_outside_repeated_hours(
    drawn: tuple[Calendar, datetime], offsets: list[timedelta]
) -> None:
    """Where a wall time happens once, business hours are just the wall clock; in a repeated
    hour the interval rule (start at the first occurrence, end at the last) decides instead."""
    c, base = drawn
    zone = ZoneInfo(c.time_zone)
    for t in (base + o for o in offsets):
        wall = t.astimezone(zone)
        if wall.replace(fold=1 - wall.fold).astimezone(UTC) != t:
            continue  # a repeated wall time
        assert is_open(c, t) == _wall_clock_open(c, t), (t, wall)

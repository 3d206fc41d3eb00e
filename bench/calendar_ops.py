"""Engine benchmark: business-time arithmetic on one business calendar (no database).

The calendar is a Madrid office, Monday to Friday 09:00-14:00 and 15:00-18:00, with 12 holidays
over 2026 (one of them a partial day) and a version from 2026-07-01 closing Fridays at 15:00.
Each operation runs on inputs drawn with a fixed seed over the year; prints operations per
second, one line per operation:

- add: from a random instant, a duration from 1 business hour to 30 business days (8 h each);
- elapsed: between two random instants up to 60 days apart;
- is_open: at a random instant.

    .venv/bin/python bench/calendar_ops.py [--count 20000] [--seed 7]
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from sportello.engine.calendars import Calendar, add, elapsed, is_open, parse_calendar

WEEKDAY_HOURS = [["09:00", "14:00"], ["15:00", "18:00"]]
HOLIDAYS = [
    {"date": "2026-01-01", "name": "Año Nuevo"},
    {"date": "2026-01-06", "name": "Reyes"},
    {"date": "2026-04-02", "name": "Jueves Santo"},
    {"date": "2026-04-03", "name": "Viernes Santo"},
    {"date": "2026-05-01", "name": "Fiesta del Trabajo"},
    {"date": "2026-05-15", "name": "San Isidro"},
]
HOLIDAYS_LATER = [
    {"date": "2026-08-15", "name": "Asunción"},
    {"date": "2026-10-12", "name": "Fiesta Nacional"},
    {"date": "2026-11-02", "name": "Todos los Santos"},
    {"date": "2026-12-07", "name": "Constitución"},
    {"date": "2026-12-08", "name": "Inmaculada"},
    {"date": "2026-12-24", "name": "Nochebuena tarde", "closed": [["14:00", "24:00"]]},
    {"date": "2026-12-25", "name": "Navidad"},
]
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
YEAR_SECONDS = 365 * 86_400


def make_calendar() -> Calendar:
    weekly = {day: WEEKDAY_HOURS for day in ("mon", "tue", "wed", "thu", "fri")}
    summer = {**weekly, "fri": [["09:00", "15:00"]]}
    return parse_calendar(
        {
            "key": "madrid",
            "name": "Madrid office",
            "time_zone": "Europe/Madrid",
            "versions": [
                {"weekly": weekly, "holidays": HOLIDAYS},
                {"effective_from": "2026-07-01", "weekly": summer, "holidays": HOLIDAYS_LATER},
            ],
        }
    )


def instant(rng: random.Random) -> datetime:
    return YEAR_START + timedelta(seconds=rng.randrange(YEAR_SECONDS), microseconds=rng.randrange(1_000_000))


def measure(name: str, inputs: Sequence[tuple[object, ...]], op: Callable[..., object]) -> None:
    started = time.perf_counter()
    for args in inputs:
        op(*args)
    seconds = time.perf_counter() - started
    print(
        f"{name:8s} {len(inputs) / seconds:>10,.0f} ops/s  ({len(inputs)} ops in {seconds:.3f} s, "
        f"load {os.getloadavg()[0]:.1f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    cal = make_calendar()
    adds = [
        (cal, instant(rng), timedelta(seconds=rng.randrange(3_600, 30 * 8 * 3_600 + 1)))
        for _ in range(args.count)
    ]
    pairs = []
    for _ in range(args.count):
        a = instant(rng)
        pairs.append((cal, a, a + timedelta(seconds=rng.randrange(60 * 86_400))))
    points = [(cal, instant(rng)) for _ in range(args.count)]
    print(
        f"calendar {cal.key}: {cal.time_zone}, {len(cal.versions)} versions, "
        f"{sum(len(v.holidays) for v in cal.versions)} holidays; seed {args.seed}"
    )
    measure("add", adds, add)
    measure("elapsed", pairs, elapsed)
    measure("is_open", points, is_open)


if __name__ == "__main__":
    main()

"""Business-hours calendars and the business-time arithmetic over them: open segments, elapsed
business time, adding (or subtracting) business time, open and holiday tests. Pure Python.

A calendar, as admins write it (YAML or JSON, read by `parse_calendar`, written back by
`calendar_to_data`):

    key: emea
    name: EMEA business hours
    time_zone: Europe/Madrid             # IANA name, never a fixed offset
    versions:                            # oldest first; or the keys of one version right here
      - weekly:                          # local wall time, half-open [start, end); omitted day: closed
          mon: [["09:00", "14:00"], ["15:00", "18:00"]]
          fri: [["09:00", "15:00"]]
        holidays:                        # local dates; a whole day unless `closed` is given
          - {date: 2026-01-01, name: Año Nuevo}
          - {date: 2026-12-24, name: Nochebuena tarde, closed: [["14:00", "24:00"]]}
        special_days:                    # a date's own open hours, in place of the weekly ones
          - {date: 2026-12-20, name: Christmas Sunday, hours: [["10:00", "14:00"]]}
      - effective_from: 2026-07-01       # a local date; only the first version may omit it
        always_open: true                # 24/7, instead of `weekly`

Choices made here (reference: automation-semantics.md §6 and §7.9):
- Times are `HH:MM` from 00:00; an end may be `24:00`, the next day's 00:00. An interval is a
  pair `["09:00", "18:00"]` (written back so) or a mapping `{start: "09:00", end: "18:00"}`.
  A day's intervals are sorted and neither overlap nor touch (touching ones are written as one).
- A partial holiday lists the hours that are CLOSED (`closed`); they are taken out of the day's
  open hours, the special day's when there is one. A holiday without `closed` closes the day.
  Closed hours become instants by the same DST rule as open ones (below), then are removed.
  `is_holiday` is true all the local date long for a whole or a partial holiday.
- The version of a local date is the last one whose `effective_from` is on or before it; the
  first version also covers the dates before its own `effective_from` (a calendar never has a
  stretch with no definition at all).
- `always_open: true` is the shorthand for 00:00-24:00 every day; holidays and special days still
  apply. A version whose weekly hours are 24/7 is written back as `always_open: true`.
- DST (§7.9): a local time in a gap (spring forward) is the first valid instant after it, the
  transition itself; an interval START in a repeated hour (fall back) is its first occurrence,
  an END its last, so a 00:00-24:00 day counts 23 or 25 real hours. 00:00 is the first instant
  of its local date and `24:00` that of the next. Each local date owns the instants from its
  first one to the next date's first one; its open segments are clipped to that, so no instant
  counts twice.
- Instants are aware datetimes in any zone; results are UTC. Arithmetic is exact to the
  microsecond. Nothing loops without end: a search that crosses `HORIZON_DAYS` local dates in a
  row without open time stops (`add` raises ValueError, `next_open` returns None).
- Speed: each local date's open segments (UTC) are computed once per calendar object and kept,
  with running totals over blocks of `BLOCK_DAYS` dates, so `elapsed` and `add` skip whole
  blocks instead of walking day by day (`bench/calendar_ops.py`).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sportello.engine.schema import RuleSchemaError, at, mapping, one_line, sequence

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # date.weekday() order
DAY_MINUTES = 1_440
HORIZON_DAYS = 3 * 366  # local dates in a row without open time before a search gives up
VERSIONS_MAX = 200
DAYS_MAX = 5_000  # holidays, and special days, per version
INTERVALS_MAX = 48  # per day
CALENDARS_MAX = 500

Interval = tuple[int, int]  # minutes since local midnight, [start, end), 0 <= start < end <= 1440
FULL_DAY: tuple[Interval, ...] = ((0, DAY_MINUTES),)
ALWAYS_OPEN: tuple[tuple[Interval, ...], ...] = (FULL_DAY,) * 7
CLOSED_WEEK: tuple[tuple[Interval, ...], ...] = ((),) * 7

_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)|24:00")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_VERSION_KEYS = ("weekly", "always_open", "holidays", "special_days")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)
_US = timedelta(microseconds=1)
_MINUTE = timedelta(minutes=1)
_LAST_ORDINAL = date.max.toordinal() - 1  # a day whose next day still exists
_CACHE_DAYS_MAX = 20_000  # per calendar; the day cache is emptied when it grows past this
BLOCK_DAYS = 32  # dates per block of running open totals, to skip whole blocks in one step


@dataclass(frozen=True, slots=True)
class Holiday:
    date: date
    name: str | None = None
    closed: tuple[Interval, ...] = ()  # empty: the whole day; else the hours that are closed


@dataclass(frozen=True, slots=True)
class SpecialDay:
    date: date
    hours: tuple[Interval, ...]  # the day's open hours, in place of the weekly ones (may be none)
    name: str | None = None


@dataclass(frozen=True, slots=True)
class CalendarVersion:
    weekly: tuple[tuple[Interval, ...], ...] = CLOSED_WEEK  # seven days, Monday first
    holidays: tuple[Holiday, ...] = ()  # sorted by date, one per date
    special_days: tuple[SpecialDay, ...] = ()  # sorted by date, one per date
    effective_from: date | None = None  # a local date; None: since always (first version only)

    @property
    def always_open(self) -> bool:
        return self.weekly == ALWAYS_OPEN


@dataclass(frozen=True, slots=True)
class Calendar:
    """A business calendar. The arithmetic compiles it once, lazily, into `_plan` (not part of
    equality): per-version lookups and a cache of each local date's open segments in UTC."""

    key: str
    name: str
    time_zone: str
    versions: tuple[CalendarVersion, ...]  # oldest first, strictly increasing effective_from
    _plan: _Plan | None = field(default=None, init=False, repr=False, compare=False)


# -- parsing ---------------------------------------------------------------------------------


# Parsing helpers shared by the document parsers (`engine.schema`).
_mapping = mapping
_name = one_line


def _list(data: object, path: str, limit: int) -> list[Any]:
    return sequence(data, path, limit)


def _time_zone(value: object, path: str) -> str:
    if isinstance(value, str) and 0 < len(value) <= 64:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            pass
        else:
            return value
    raise RuleSchemaError(path, "must be an IANA time zone such as Europe/Madrid")


def _date(value: object, path: str) -> date:
    """A date from YAML (`2026-01-01` unquoted) or JSON (`"2026-01-01"`)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise RuleSchemaError(path, "must be a date YYYY-MM-DD")


def _minute(value: object, path: str, *, end: bool) -> int:
    if isinstance(value, str) and _TIME.fullmatch(value) and (end or value != "24:00"):
        hours, minutes = value.split(":")
        return int(hours) * 60 + int(minutes)
    raise RuleSchemaError(path, f"must be a time HH:MM from 00:00 to {'24:00' if end else '23:59'}")


def _interval(value: object, path: str) -> tuple[Interval, str]:
    """One interval and the path of its start (for order errors)."""
    if isinstance(value, list) and len(value) == 2:
        raw_start, raw_end, spath, epath = value[0], value[1], at(path, 0), at(path, 1)
    elif isinstance(value, dict):
        d = _mapping(value, path, ("start", "end"))
        raw_start, raw_end, spath, epath = d["start"], d["end"], at(path, "start"), at(path, "end")
    else:
        raise RuleSchemaError(path, 'must be a pair of times such as ["09:00", "18:00"]')
    start = _minute(raw_start, spath, end=False)
    end = _minute(raw_end, epath, end=True)
    if end <= start:
        raise RuleSchemaError(epath, "must be after the start")
    return (start, end), spath


def _intervals(data: object, path: str) -> tuple[Interval, ...]:
    result: list[Interval] = []
    for i, raw in enumerate(_list(data, path, INTERVALS_MAX)):
        interval, spath = _interval(raw, at(path, i))
        if result and interval[0] <= result[-1][1]:
            raise RuleSchemaError(
                spath, "must be after the end of the previous interval (sorted, not overlapping or touching)"
            )
        result.append(interval)
    return tuple(result)


def _optional_name(d: dict[str, Any], path: str) -> str | None:
    value = d.get("name")
    return None if value is None else _name(value, at(path, "name"))


def _dated(items: Sequence[Holiday | SpecialDay], path: str) -> None:
    seen: dict[date, int] = {}
    for i, item in enumerate(items):
        if item.date in seen:
            raise RuleSchemaError(at(at(path, i), "date"), f"{item.date} is listed twice")
        seen[item.date] = i


def _parse_version(d: dict[str, Any], path: str) -> CalendarVersion:
    if "weekly" in d and "always_open" in d:
        raise RuleSchemaError(at(path, "always_open"), "give either weekly or always_open, not both")
    if "weekly" not in d and "always_open" not in d:
        raise RuleSchemaError(at(path, "weekly"), "is required (or always_open: true)")
    if "always_open" in d:
        if d["always_open"] is not True:
            raise RuleSchemaError(at(path, "always_open"), "must be true (or give weekly hours)")
        weekly = ALWAYS_OPEN
    else:
        wpath = at(path, "weekly")
        w = _mapping(d["weekly"], wpath, (), WEEKDAYS)
        weekly = tuple(_intervals(w[day], at(wpath, day)) if day in w else () for day in WEEKDAYS)
    holidays: list[Holiday] = []
    hpath = at(path, "holidays")
    for i, raw in enumerate(_list(d.get("holidays", []), hpath, DAYS_MAX)):
        ipath = at(hpath, i)
        h = _mapping(raw, ipath, ("date",), ("name", "closed"))
        closed = _intervals(h["closed"], at(ipath, "closed")) if "closed" in h else ()
        if "closed" in h and not closed:
            raise RuleSchemaError(
                at(ipath, "closed"), "must list closed hours (leave it out for a whole day)"
            )
        holidays.append(Holiday(_date(h["date"], at(ipath, "date")), _optional_name(h, ipath), closed))
    _dated(holidays, hpath)
    specials: list[SpecialDay] = []
    spath = at(path, "special_days")
    for i, raw in enumerate(_list(d.get("special_days", []), spath, DAYS_MAX)):
        ipath = at(spath, i)
        s = _mapping(raw, ipath, ("date", "hours"), ("name",))
        specials.append(
            SpecialDay(
                _date(s["date"], at(ipath, "date")),
                _intervals(s["hours"], at(ipath, "hours")),
                _optional_name(s, ipath),
            )
        )
    _dated(specials, spath)
    effective = d.get("effective_from")
    return CalendarVersion(
        weekly=weekly,
        holidays=tuple(sorted(holidays, key=lambda h: h.date)),
        special_days=tuple(sorted(specials, key=lambda s: s.date)),
        effective_from=None if effective is None else _date(effective, at(path, "effective_from")),
    )


def parse_calendar(data: object, *, path: str = "") -> Calendar:
    """Parse one calendar (already decoded from YAML or JSON); raise RuleSchemaError with the path
    of the first error, e.g. `versions[1].weekly.mon[0][1]`."""
    d = _mapping(data, path, ("key", "name", "time_zone"), ("versions", *_VERSION_KEYS))
    key = d["key"]
    if not isinstance(key, str) or not _SLUG.fullmatch(key):
        raise RuleSchemaError(
            at(path, "key"), "must be a key: 1 to 64 of a-z, 0-9, _ and -, starting with a letter or digit"
        )
    name = _name(d["name"], at(path, "name"))
    time_zone = _time_zone(d["time_zone"], at(path, "time_zone"))
    if "versions" in d:
        for k in _VERSION_KEYS:
            if k in d:
                raise RuleSchemaError(at(path, k), "belongs in a version when versions are given")
        vpath = at(path, "versions")
        raws = _list(d["versions"], vpath, VERSIONS_MAX)
        if not raws:
            raise RuleSchemaError(vpath, "must have at least one version")
        versions: list[CalendarVersion] = []
        for i, raw in enumerate(raws):
            ipath = at(vpath, i)
            v = _parse_version(_mapping(raw, ipath, (), ("effective_from", *_VERSION_KEYS)), ipath)
            if i > 0:
                previous = versions[-1].effective_from
                if v.effective_from is None:
                    raise RuleSchemaError(at(ipath, "effective_from"), "is required after the first version")
                if previous is not None and v.effective_from <= previous:
                    raise RuleSchemaError(
                        at(ipath, "effective_from"), "must be after the previous version's effective_from"
                    )
            versions.append(v)
    else:
        versions = [_parse_version(d, path)]
    return Calendar(key=key, name=name, time_zone=time_zone, versions=tuple(versions))


def parse_calendars(data: object, *, path: str = "calendars") -> tuple[Calendar, ...]:
    """Parse a list of calendars with unique keys; error paths such as
    `calendars[0].weekly.mon[1].end`."""
    calendars = tuple(
        parse_calendar(raw, path=at(path, i)) for i, raw in enumerate(_list(data, path, CALENDARS_MAX))
    )
    seen: set[str] = set()
    for i, cal in enumerate(calendars):
        if cal.key in seen:
            raise RuleSchemaError(at(at(path, i), "key"), f"duplicate key {cal.key!r}")
        seen.add(cal.key)
    return calendars


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _intervals_to_data(intervals: tuple[Interval, ...]) -> list[list[str]]:
    return [[_hhmm(s), _hhmm(e)] for s, e in intervals]


def _version_to_data(version: CalendarVersion) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if version.effective_from is not None:
        data["effective_from"] = version.effective_from.isoformat()
    if version.always_open:
        data["always_open"] = True
    else:
        data["weekly"] = {
            day: _intervals_to_data(hours)
            for day, hours in zip(WEEKDAYS, version.weekly, strict=True)
            if hours
        }
    holidays: list[dict[str, Any]] = []
    for h in version.holidays:
        item: dict[str, Any] = {"date": h.date.isoformat()}
        if h.name is not None:
            item["name"] = h.name
        if h.closed:
            item["closed"] = _intervals_to_data(h.closed)
        holidays.append(item)
    specials: list[dict[str, Any]] = []
    for s in version.special_days:
        item = {"date": s.date.isoformat()}
        if s.name is not None:
            item["name"] = s.name
        item["hours"] = _intervals_to_data(s.hours)
        specials.append(item)
    if holidays:
        data["holidays"] = holidays
    if specials:
        data["special_days"] = specials
    return data


def calendar_to_data(calendar: Calendar) -> dict[str, Any]:
    """The data form of a calendar (dates as `YYYY-MM-DD` strings, so JSON can hold it):
    `parse_calendar(calendar_to_data(c)) == c`. One version with no `effective_from` is written
    flat, without `versions`."""
    data: dict[str, Any] = {"key": calendar.key, "name": calendar.name, "time_zone": calendar.time_zone}
    versions = calendar.versions
    if len(versions) == 1 and versions[0].effective_from is None:
        data.update(_version_to_data(versions[0]))
    else:
        data["versions"] = [_version_to_data(v) for v in versions]
    return data


# -- the compiled plan -----------------------------------------------------------------------


class _VersionPlan:
    __slots__ = ("holidays", "special", "weekly")

    def __init__(self, version: CalendarVersion) -> None:
        self.weekly = version.weekly
        self.holidays = {h.date.toordinal(): h for h in version.holidays}
        self.special = {s.date.toordinal(): s.hours for s in version.special_days}


# A local date: its first instant, the next date's first instant, its open segments, their total.
_Day = tuple[int, int, tuple[Interval, ...], int]


class _Plan:
    """A calendar ready for arithmetic: its zone, a version lookup by date ordinal, and each
    local date's open segments in UTC microseconds since the epoch, computed once."""

    __slots__ = ("blocks", "days", "starts", "versions", "zone")

    def __init__(self, calendar: Calendar) -> None:
        if not calendar.versions:
            raise ValueError(f"calendar {calendar.key!r} has no version")
        self.zone = ZoneInfo(calendar.time_zone)
        ordered = sorted(calendar.versions, key=lambda v: v.effective_from or date.min)
        self.versions = [_VersionPlan(v) for v in ordered]
        self.starts = [(v.effective_from or date.min).toordinal() for v in ordered[1:]]
        self.days: dict[int, _Day] = {}
        self.blocks: dict[int, list[int]] = {}

    def version(self, ordinal: int) -> _VersionPlan:
        return self.versions[bisect_right(self.starts, ordinal)]

    def hours(self, ordinal: int) -> tuple[tuple[Interval, ...], Holiday | None]:
        """A local date's hours before holidays (its special day's, else its weekday's) and its
        holiday."""
        v = self.version(ordinal)
        hours = v.special.get(ordinal)
        if hours is None:
            hours = v.weekly[(ordinal + 6) % 7]  # ordinal 1 (0001-01-01) is a Monday
        return hours, v.holidays.get(ordinal)

    def day(self, ordinal: int) -> _Day:
        found = self.days.get(ordinal)
        if found is None:
            if not 1 <= ordinal <= _LAST_ORDINAL:
                raise ValueError("the search left the range of dates Python can represent")
            try:
                found = self._compute(ordinal)
            except OverflowError:
                raise ValueError("the search left the range of dates Python can represent") from None
            if len(self.days) >= _CACHE_DAYS_MAX:
                self.days.clear()
            self.days[ordinal] = found
        return found

    def _compute(self, ordinal: int) -> _Day:
        zone = self.zone
        first = _wall_to_us(zone, ordinal, 0, last=False)
        after = _wall_to_us(zone, ordinal + 1, 0, last=False)
        hours, holiday = self.hours(ordinal)
        segments = _to_utc(zone, ordinal, hours, first, after)
        if holiday is not None and not holiday.closed:
            segments = ()
        elif holiday is not None:  # closed hours are intervals too: converted alike, then taken out
            segments = _subtract(segments, _to_utc(zone, ordinal, holiday.closed, first, after))
        return first, after, segments, sum(e - s for s, e in segments)

    def locate(self, t: int, local: datetime) -> int:
        """The ordinal of the local date owning instant `t` (`local` is t in the zone)."""
        ordinal = local.toordinal()
        while t >= self.day(ordinal)[1]:  # only where a fall back crosses midnight backwards
            ordinal += 1
        return ordinal

    def block(self, number: int) -> list[int]:
        """Running open totals of the `BLOCK_DAYS` dates of a block (ordinals `number *
        BLOCK_DAYS` on): item i is the open time of its first i dates. Dates Python cannot
        represent count as closed."""
        found = self.blocks.get(number)
        if found is None:
            found = [0]
            for ordinal in range(number * BLOCK_DAYS, (number + 1) * BLOCK_DAYS):
                total = self.day(ordinal)[3] if 1 <= ordinal <= _LAST_ORDINAL else 0
                found.append(found[-1] + total)
            if len(self.blocks) >= _CACHE_DAYS_MAX // BLOCK_DAYS:
                self.blocks.clear()
            self.blocks[number] = found
        return found

    def days_total(self, first: int, stop: int) -> int:
        """The open time of the local dates `first` to `stop - 1`, whole."""
        total = 0
        while first < stop:
            number, index = divmod(first, BLOCK_DAYS)
            sums = self.block(number)
            end = min(stop - number * BLOCK_DAYS, BLOCK_DAYS)
            total += sums[end] - sums[index]
            first = number * BLOCK_DAYS + end
        return total


def _to_utc(
    zone: ZoneInfo, ordinal: int, intervals: tuple[Interval, ...], first: int, after: int
) -> tuple[Interval, ...]:
    """A local date's intervals as UTC segments (microseconds) within the date's own instants
    `[first, after)`, joined where an end in a repeated hour runs past the next start."""
    segments: list[Interval] = []
    for start, end in intervals:
        s = first if start == 0 else max(first, _wall_to_us(zone, ordinal, start, last=False))
        e = after if end == DAY_MINUTES else min(after, _wall_to_us(zone, ordinal, end, last=True))
        if s >= e:
            continue  # wholly inside a spring-forward gap
        if segments and s <= segments[-1][1]:
            segments[-1] = (segments[-1][0], max(segments[-1][1], e))
        else:
            segments.append((s, e))
    return tuple(segments)


def _subtract(intervals: tuple[Interval, ...], cuts: tuple[Interval, ...]) -> tuple[Interval, ...]:
    """Sorted disjoint intervals less other sorted disjoint intervals."""
    result: list[Interval] = []
    for start, end in intervals:
        for cs, ce in cuts:
            if ce <= start or cs >= end:
                continue
            if cs > start:
                result.append((start, cs))
            start = max(start, ce)
            if start >= end:
                break
        if start < end:
            result.append((start, end))
    return tuple(result)


def _wall_to_us(zone: ZoneInfo, ordinal: int, minute: int, *, last: bool) -> int:
    """The UTC instant (microseconds since the epoch) of a local wall time: in a gap, the
    transition; in a repeated hour, the first occurrence, or the last when `last`."""
    naive = datetime.fromordinal(ordinal) + minute * _MINUTE
    earlier = naive.replace(tzinfo=zone).utcoffset()  # zoneinfo: fold=0 is the offset before
    later = naive.replace(tzinfo=zone, fold=1).utcoffset()
    assert earlier is not None
    assert later is not None
    if earlier == later:
        return (naive - earlier - _EPOCH_NAIVE) // _US
    if earlier > later:  # fall back: the wall time happens twice
        return (naive - (later if last else earlier) - _EPOCH_NAIVE) // _US
    # Spring forward: the wall time never happens. The transition lies between the instant it
    # would be with the offset after (lo) and with the offset before (hi): find it to the second.
    lo = (naive - later - _EPOCH_NAIVE) // timedelta(seconds=1)
    hi = (naive - earlier - _EPOCH_NAIVE) // timedelta(seconds=1)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, zone).utcoffset() == earlier:
            lo = mid
        else:
            hi = mid
    return hi * 1_000_000


def _compiled(calendar: Calendar) -> _Plan:
    plan = calendar._plan
    if plan is None:
        plan = _Plan(calendar)
        object.__setattr__(calendar, "_plan", plan)
    return plan


def _us(instant: datetime, name: str) -> int:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")
    return (instant - _EPOCH) // _US


def _instant(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


# -- business time ---------------------------------------------------------------------------


def local_hours(calendar: Calendar, day: date) -> tuple[Interval, ...]:
    """The open hours of a local date on its wall clock, in minutes since its midnight (for
    display): the special day's hours or the weekday's, of the version effective on it, less
    its holiday's closed hours."""
    hours, holiday = _compiled(calendar).hours(day.toordinal())
    if holiday is None:
        return hours
    return _subtract(hours, holiday.closed) if holiday.closed else ()


def version_on(calendar: Calendar, day: date) -> CalendarVersion:
    """The version effective on a local date (the first one for dates before every version)."""
    ordered = sorted(calendar.versions, key=lambda v: v.effective_from or date.min)
    return ordered[bisect_right(_compiled(calendar).starts, day.toordinal())]


def open_segments(calendar: Calendar, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The open intervals `[a, b)` in UTC within `[start, end)`, in order; adjacent ones (a day
    open until 24:00 and the next from 00:00) are joined."""
    plan = _compiled(calendar)
    lo, hi = _us(start, "start"), _us(end, "end")
    first = plan.locate(lo, start.astimezone(plan.zone))

    def segments() -> Iterator[tuple[datetime, datetime]]:
        pending: Interval | None = None
        ordinal = first
        while lo < hi:
            day_start, _, segs, _ = plan.day(ordinal)
            if day_start >= hi:
                break
            for s, e in segs:
                s, e = max(s, lo), min(e, hi)
                if s >= e:
                    continue
                if pending is not None and s == pending[1]:
                    pending = (pending[0], e)
                    continue
                if pending is not None:
                    yield _instant(pending[0]), _instant(pending[1])
                pending = (s, e)
            ordinal += 1
        if pending is not None:
            yield _instant(pending[0]), _instant(pending[1])

    return segments()


def _open_between(segments: tuple[Interval, ...], lo: int, hi: int) -> int:
    total = 0
    for s, e in segments:
        s, e = max(s, lo), min(e, hi)
        if s < e:
            total += e - s
    return total


def _elapsed_us(plan: _Plan, lo: int, lo_local: datetime, hi: int, hi_local: datetime) -> int:
    first, last = plan.locate(lo, lo_local), plan.locate(hi, hi_local)
    if first == last:
        return _open_between(plan.day(first)[2], lo, hi)
    return (
        _open_between(plan.day(first)[2], lo, hi)
        + plan.days_total(first + 1, last)
        + _open_between(plan.day(last)[2], lo, hi)
    )


def elapsed(calendar: Calendar, a: datetime, b: datetime) -> timedelta:
    """The business time from `a` to `b`: the open time within `[a, b)`, negative when b < a."""
    plan = _compiled(calendar)
    lo, hi = _us(a, "a"), _us(b, "b")
    a_local, b_local = a.astimezone(plan.zone), b.astimezone(plan.zone)
    if hi < lo:
        return -timedelta(microseconds=_elapsed_us(plan, hi, b_local, lo, a_local))
    return timedelta(microseconds=_elapsed_us(plan, lo, a_local, hi, b_local))


def _no_open_time(calendar: Calendar) -> ValueError:
    return ValueError(
        f"calendar {calendar.key!r} has no open time in {HORIZON_DAYS} local dates in a row: "
        "cannot add business time"
    )


def _forward(calendar: Calendar, plan: _Plan, t: int, ordinal: int, left: int) -> int:
    """The earliest instant after `t` (on local date `ordinal`) with `left` open time between."""
    for s, e in plan.day(ordinal)[2]:
        s = max(s, t)
        if s < e:
            if e - s >= left:
                return s + left
            left -= e - s
    closed_days = 0
    while True:  # skip whole blocks of dates while they hold less than what is left
        ordinal += 1
        number, index = divmod(ordinal, BLOCK_DAYS)
        sums = plan.block(number)
        available = sums[BLOCK_DAYS] - sums[index]
        if available < left:
            left -= available
            closed_days = closed_days + BLOCK_DAYS - index if available == 0 else 0
            if closed_days > HORIZON_DAYS:
                raise _no_open_time(calendar)
            ordinal = (number + 1) * BLOCK_DAYS - 1
            continue
        # The earliest date `end - 1` of the block with the dates from `ordinal` to it holding enough.
        end = bisect_left(sums, sums[index] + left, index + 1)
        left -= sums[end - 1] - sums[index]
        for s, e in plan.day(number * BLOCK_DAYS + end - 1)[2]:
            if e - s >= left:
                return s + left
            left -= e - s
        raise AssertionError("unreachable")  # pragma: no cover


def _backward(calendar: Calendar, plan: _Plan, t: int, ordinal: int, left: int) -> int:
    """The latest instant before `t` (on local date `ordinal`) with `left` open time between."""
    for s, e in reversed(plan.day(ordinal)[2]):
        e = min(e, t)
        if s < e:
            if e - s >= left:
                return e - left
            left -= e - s
    closed_days = 0
    while True:  # skip whole blocks of dates while they hold less than what is left
        ordinal -= 1
        number, index = divmod(ordinal, BLOCK_DAYS)
        sums = plan.block(number)
        available = sums[index + 1]
        if available < left:
            left -= available
            closed_days = closed_days + index + 1 if available == 0 else 0
            if closed_days > HORIZON_DAYS:
                raise _no_open_time(calendar)
            ordinal = number * BLOCK_DAYS
            continue
        # The latest date `start` of the block with the dates from it to `ordinal` holding enough.
        start = bisect_right(sums, available - left, 0, index + 1) - 1
        left -= available - sums[start + 1]
        for s, e in reversed(plan.day(number * BLOCK_DAYS + start)[2]):
            if e - s >= left:
                return e - left
            left -= e - s
        raise AssertionError("unreachable")  # pragma: no cover


def add(calendar: Calendar, start: datetime, duration: timedelta) -> datetime:
    """The instant (UTC) when `duration` of business time has passed after `start`: the earliest
    `t` with `elapsed(start, t) == duration` (a closing instant when the duration ends exactly
    there, not the next opening). A negative duration walks backwards: the latest `t` with
    `elapsed(t, start) == -duration`. Zero returns `start` itself, even when closed.
    Raises ValueError when `HORIZON_DAYS` local dates in a row have no open time."""
    plan = _compiled(calendar)
    t = _us(start, "start")
    left = duration // _US
    if left == 0:
        return start.astimezone(UTC)
    ordinal = plan.locate(t, start.astimezone(plan.zone))
    if left > 0:
        return _instant(_forward(calendar, plan, t, ordinal, left))
    return _instant(_backward(calendar, plan, t, ordinal, -left))


def is_open(calendar: Calendar, at: datetime) -> bool:
    """Whether business time runs at the instant `at` (segments are half-open: open at an
    opening instant, closed at a closing one)."""
    plan = _compiled(calendar)
    t = _us(at, "at")
    segs = plan.day(plan.locate(t, at.astimezone(plan.zone)))[2]
    return any(s <= t < e for s, e in segs)


def holiday_on(calendar: Calendar, at: datetime) -> Holiday | None:
    """The holiday (whole or partial) of the local date of `at`, if any."""
    plan = _compiled(calendar)
    ordinal = plan.locate(_us(at, "at"), at.astimezone(plan.zone))
    return plan.version(ordinal).holidays.get(ordinal)


def is_holiday(calendar: Calendar, at: datetime) -> bool:
    """True for the whole local date of `at` when that date has a holiday, whole or partial
    (Zendesk's "On a holiday?" holds for the entire calendar day)."""
    return holiday_on(calendar, at) is not None


def next_open(calendar: Calendar, at: datetime) -> datetime | None:
    """The first instant at or after `at` when business time runs (`at` itself, in UTC, when
    open); None when `HORIZON_DAYS` local dates in a row from there have no open time."""
    plan = _compiled(calendar)
    t = _us(at, "at")
    ordinal = plan.locate(t, at.astimezone(plan.zone))
    for _ in range(HORIZON_DAYS + 1):
        if ordinal > _LAST_ORDINAL:
            return None
        for s, e in plan.day(ordinal)[2]:
            if e > t:
                return _instant(max(s, t))
        ordinal += 1
    return None


@dataclass(frozen=True, slots=True)
class CalendarClock:
    """A calendar as a clock with `elapsed(a, b)` and `add(start, duration)` (the shape
    `sportello.engine.sla.Clock` asks for)."""

    calendar: Calendar

    def elapsed(self, a: datetime, b: datetime) -> timedelta:
        return elapsed(self.calendar, a, b)

    def add(self, start: datetime, duration: timedelta) -> datetime:
        return add(self.calendar, start, duration)

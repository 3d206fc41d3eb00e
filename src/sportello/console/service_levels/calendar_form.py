"""The business calendar editor's form: what an admin types (name, time zone, a weekly grid of
open intervals, holidays whole or partial) read into the calendar kind's definition, with an
error next to each field in the viewer's language, and back into the values a form shows — so
a form sent back with an error shows exactly what was typed.

The editor changes the calendar's latest version (its weekly hours and holidays); earlier
versions (`effective_from`) and the latest one's special days are kept as they are."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from itertools import pairwise
from typing import Any
from zoneinfo import available_timezones

from django.http import QueryDict
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_LABELS = {
    "mon": gettext_lazy("Monday"),
    "tue": gettext_lazy("Tuesday"),
    "wed": gettext_lazy("Wednesday"),
    "thu": gettext_lazy("Thursday"),
    "fri": gettext_lazy("Friday"),
    "sat": gettext_lazy("Saturday"),
    "sun": gettext_lazy("Sunday"),
}
SLOTS_MIN = 2  # interval slots shown per day (one more than the busiest day, at least this)
SLOTS_MAX = 48
NEW_HOLIDAY_ROWS = 2
HOLIDAYS_MAX = 5_000
_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d|24:00")
_KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_RANGE = re.compile(r"\s*(\d{1,2}:\d{2})\s*[-\u2013]\s*(\d{1,2}:\d{2})\s*")


@cache
def time_zones() -> list[str]:
    """Every IANA zone name, sorted (the editor's searchable list)."""
    return sorted(z for z in available_timezones() if "/" in z or z == "UTC")


@dataclass
class Day:
    code: str
    label: Any
    slots: list[tuple[str, str]]  # (opens, closes) as typed; ("", "") for an empty slot
    error: str = ""

    @property
    def has_hours(self) -> bool:
        return any(s or e for s, e in self.slots)


@dataclass
class HolidayRow:
    date: str = ""
    name: str = ""
    closed: str = ""  # "" for the whole day, else "14:00-24:00, ..."
    remove: bool = False


@dataclass
class CalendarForm:
    """The editor's values (as typed) and errors by field name (`form` for the form's)."""

    key: str = ""
    name: str = ""
    time_zone: str = "UTC"
    is_default: bool = False
    departments: list[int] = field(default_factory=list)
    always_open: bool = False
    days: list[Day] = field(default_factory=list)
    holidays: list[HolidayRow] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    special_days: int = 0  # kept as they are; the page says how many
    versions: int = 1

    @property
    def slot_count(self) -> int:
        return len(self.days[0].slots) if self.days else SLOTS_MIN

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)
        if name.startswith("w-"):
            for day in self.days:
                if f"w-{day.code}" == name:
                    day.error = self.errors[name]

    @property
    def holiday_rows(self) -> list[dict[str, Any]]:
        """Each holiday row with its errors, for the template."""
        return [
            {
                "row": row,
                **{
                    f"{part}_error": self.errors.get(f"h-{i}-{part}", "")
                    for part in ("date", "name", "closed")
                },
            }
            for i, row in enumerate(self.holidays)
        ]


def _latest(definition: dict[str, Any]) -> dict[str, Any]:
    versions = definition.get("versions")
    return versions[-1] if isinstance(versions, list) and versions else definition


def _pad(days: dict[str, list[tuple[str, str]]]) -> list[Day]:
    slots = max([SLOTS_MIN, *(len(v) + 1 for v in days.values())])
    slots = min(slots, SLOTS_MAX)
    return [
        Day(code, DAY_LABELS[code], (days.get(code, []) + [("", "")] * slots)[:slots]) for code in WEEKDAYS
    ]


def _show_end(value: str) -> str:
    return "00:00" if value == "24:00" else value  # a time field cannot hold 24:00: midnight


def form_from_definition(
    definition: dict[str, Any] | None, *, departments: list[int] | None = None, is_default: bool = False
) -> CalendarForm:
    """The form showing a saved calendar (or a new one's defaults: Monday to Friday 9 to 5)."""
    if definition is None:
        nine_to_five = {d: [("09:00", "17:00")] for d in WEEKDAYS[:5]}
        return CalendarForm(days=_pad(nine_to_five), holidays=[HolidayRow() for _ in range(NEW_HOLIDAY_ROWS)])
    latest = _latest(definition)
    weekly = latest.get("weekly") or {}
    days = {d: [(s, _show_end(e)) for s, e in weekly.get(d, [])] for d in WEEKDAYS}
    rows = [
        HolidayRow(h["date"], h.get("name") or "", ", ".join(f"{s}-{e}" for s, e in h.get("closed", [])))
        for h in latest.get("holidays", [])
    ]
    versions = definition.get("versions")
    return CalendarForm(
        key=definition["key"],
        name=definition.get("name", ""),
        time_zone=definition.get("time_zone", "UTC"),
        is_default=is_default,
        departments=list(departments or []),
        always_open=bool(latest.get("always_open")),
        days=_pad(days),
        holidays=rows + [HolidayRow() for _ in range(NEW_HOLIDAY_ROWS)],
        special_days=len(latest.get("special_days", [])),
        versions=len(versions) if isinstance(versions, list) else 1,
    )


def _minutes(value: str) -> int:
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def _time(value: str) -> str | None:
    """`HH:MM` (a single-digit hour padded), or None when it is not a time."""
    value = value.strip()
    if re.fullmatch(r"\d:\d{2}", value):
        value = "0" + value
    return value if _TIME.fullmatch(value) else None


def _check_intervals(pairs: list[tuple[int, int]]) -> bool:
    """True when sorted they neither overlap nor touch."""
    pairs = sorted(pairs)
    return all(a[1] < b[0] for a, b in pairwise(pairs))


def _fmt(m: int) -> str:
    return f"{m // 60:02d}:{m % 60:02d}"


def _read_days(form: CalendarForm, data: QueryDict) -> dict[str, list[list[str]]]:
    weekly: dict[str, list[list[str]]] = {}
    slots = min(max(_int(data.get("slots"), SLOTS_MIN), 1), SLOTS_MAX)
    for code in WEEKDAYS:
        typed: list[tuple[str, str]] = []
        pairs: list[tuple[int, int]] = []
        form.days.append(Day(code, DAY_LABELS[code], typed))
        for i in range(slots):
            start = (data.get(f"w-{code}-{i}-start") or "").strip()
            end = (data.get(f"w-{code}-{i}-end") or "").strip()
            typed.append((start, end))
            if not start and not end:
                continue
            s, e = _time(start), _time(end)
            if not start or not end:
                form.error(f"w-{code}", _("Give both the opening and the closing time."))
            elif s is None or e is None:
                form.error(f"w-{code}", _("Write times as HH:MM, for example 09:00."))
            else:
                lo, hi = _minutes(s), _minutes(e)
                hi = 1440 if hi == 0 else hi  # closing at 00:00: at midnight
                if hi <= lo:
                    form.error(f"w-{code}", _("Each interval must close after it opens."))
                else:
                    pairs.append((lo, hi))
        if pairs and not _check_intervals(pairs):
            form.error(f"w-{code}", _("The intervals of a day must not overlap or touch."))
        if pairs and f"w-{code}" not in form.errors:
            weekly[code] = [[_fmt(a), _fmt(b)] for a, b in sorted(pairs)]
    # one empty slot more than the busiest day, so another interval can be added
    need = max([SLOTS_MIN, *(sum(1 for s, e in d.slots if s or e) + 1 for d in form.days)])
    for d in form.days:
        kept = [p for p in d.slots if p[0] or p[1]]
        d.slots = (kept + [("", "")] * need)[: max(need, len(kept))]
    width = max(len(d.slots) for d in form.days)
    for d in form.days:
        d.slots += [("", "")] * (width - len(d.slots))
    return weekly


def _closed(text: str) -> list[list[str]] | None:
    """`14:00-24:00, ...` as intervals; [] for an empty text (the whole day); None if malformed."""
    if not text.strip():
        return []
    pairs: list[tuple[int, int]] = []
    for part in text.split(","):
        m = _RANGE.fullmatch(part)
        if not m:
            return None
        s, e = _time(m.group(1)), _time(m.group(2))
        if s is None or e is None:
            return None
        lo, hi = _minutes(s), _minutes(e)
        hi = 1440 if hi == 0 else hi
        if hi <= lo:
            return None
        pairs.append((lo, hi))
    if not _check_intervals(pairs):
        return None
    return [[_fmt(a), _fmt(b)] for a, b in sorted(pairs)]


def _read_holidays(form: CalendarForm, data: QueryDict) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    count = min(max(_int(data.get("h-count"), 0), 0), HOLIDAYS_MAX + NEW_HOLIDAY_ROWS)
    for i in range(count):
        row = HolidayRow(
            (data.get(f"h-{i}-date") or "").strip(),
            (data.get(f"h-{i}-name") or "").strip(),
            (data.get(f"h-{i}-closed") or "").strip(),
            data.get(f"h-{i}-remove") == "1",
        )
        if not (row.date or row.name or row.closed):
            continue  # an empty row for a new holiday
        form.holidays.append(row)
        n = len(form.holidays) - 1
        if row.remove:
            continue
        try:
            day = date.fromisoformat(row.date) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", row.date) else None
        except ValueError:
            day = None
        if day is None:
            form.error(f"h-{n}-date", _("Give the date, for example 2026-12-08."))
            continue
        if row.date in seen:
            form.error(f"h-{n}-date", _("This date has a holiday already."))
            continue
        seen[row.date] = n
        closed = _closed(row.closed)
        if closed is None:
            form.error(
                f"h-{n}-closed", _("Write the closed hours as 14:00-18:00 (several separated by commas).")
            )
            continue
        if len(row.name) > 200:
            form.error(f"h-{n}-name", _("At most 200 characters."))
            continue
        item: dict[str, Any] = {"date": row.date}
        if row.name:
            item["name"] = row.name
        if closed:
            item["closed"] = closed
        out.append(item)
    form.holidays += [HolidayRow() for _ in range(NEW_HOLIDAY_ROWS)]
    return sorted(out, key=lambda h: h["date"])


def _int(raw: str | None, default: int) -> int:
    try:
        return int(raw) if raw else default
    except ValueError:
        return default


def form_from_post(
    data: QueryDict, *, current: dict[str, Any] | None, key: str | None
) -> tuple[CalendarForm, dict[str, Any] | None]:
    """The form as sent and, when it has no error, the definition to save: `current` (the
    calendar's saved definition, None for a new one) with its latest version's weekly hours and
    holidays replaced. `key`: the calendar's (None: read from the form, for a new one)."""
    form = CalendarForm(
        key=key if key is not None else (data.get("key") or "").strip(),
        name=(data.get("name") or "").strip(),
        time_zone=(data.get("time_zone") or "").strip(),
        is_default=data.get("is_default") == "1",
        departments=[int(d) for d in data.getlist("departments") if d.isdigit()],
        always_open=data.get("always_open") == "1",
    )
    if current is not None:
        latest = _latest(current)
        form.special_days = len(latest.get("special_days", []))
        versions = current.get("versions")
        form.versions = len(versions) if isinstance(versions, list) else 1
    if not _KEY.fullmatch(form.key):
        form.error(
            "key", _("Use 1 to 64 lowercase letters, digits, “-” or “_”, starting with a letter or digit.")
        )
    if not form.name:
        form.error("name", _("Give the calendar a name."))
    elif len(form.name) > 200 or "\n" in form.name:
        form.error("name", _("At most 200 characters, on one line."))
    if form.time_zone not in time_zones():
        form.error("time_zone", _("Choose a time zone from the list, for example Europe/Rome."))
    weekly = _read_days(form, data)
    holidays = _read_holidays(form, data)
    if form.errors:
        return form, None
    version: dict[str, Any] = {}
    if form.always_open:
        version["always_open"] = True
    else:
        version["weekly"] = weekly
    version["holidays"] = holidays
    if current is None:
        return form, {"key": form.key, "name": form.name, "time_zone": form.time_zone, **version}
    head = {"key": form.key, "name": form.name, "time_zone": form.time_zone}
    latest = dict(_latest(current))
    latest.pop("weekly", None)
    latest.pop("always_open", None)
    latest.update(version)
    if isinstance(current.get("versions"), list) and current["versions"]:
        definition = {**current, **head, "versions": [*current["versions"][:-1], latest]}
    else:
        definition = {**latest, **head}
    return form, definition

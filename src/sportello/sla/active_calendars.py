"""The active business calendars, parsed, and the per-process cache that SLA clocks and the
rules' `clock.in_business_hours` read (saving is `sla.calendars`).

A ticket's calendar is its department's (`CalendarDepartment`), else the desk's default
calendar, else none — then every instant is in business hours. The active calendars are parsed
once per process and kept under the signature of the calendar table (`core.config`, read with
every change's other signatures): a change costs no query for them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sportello.core.config import config_cached
from sportello.engine import calendars as engine
from sportello.engine import sla as engine_sla
from sportello.engine.schema import RuleSchemaError

from .models import BusinessCalendarVersion, CalendarDepartment

logger = logging.getLogger("sportello.sla.calendars")  # where these reads were first


@dataclass(frozen=True, slots=True)
class ActiveCalendars:
    by_key: dict[str, engine.Calendar] = field(default_factory=dict)
    by_department: dict[int, str] = field(default_factory=dict)
    default: str | None = None

    def for_department(self, department_id: int | None) -> engine.Calendar | None:
        key = self.by_department.get(department_id) if department_id is not None else None
        key = key or self.default
        return self.by_key.get(key) if key is not None else None


def _read_active() -> ActiveCalendars:
    by_key: dict[str, engine.Calendar] = {}
    default = None
    rows = BusinessCalendarVersion.objects.filter(calendar__active=True).select_related("calendar")
    for cv in rows:
        if cv.version != cv.calendar.version:
            continue
        try:
            by_key[cv.calendar.key] = engine.parse_calendar(cv.definition)
        except RuleSchemaError:  # pragma: no cover - saved definitions were valid
            logger.error("calendar %s@%s no longer parses", cv.calendar.key, cv.version)
            continue
        if cv.calendar.is_default:
            default = cv.calendar.key
    by_department = dict(
        CalendarDepartment.objects.filter(calendar__active=True).values_list("department_id", "calendar__key")
    )
    return ActiveCalendars(by_key=by_key, by_department=by_department, default=default)


def active_calendars(memo: dict[str, Any] | None = None) -> ActiveCalendars:
    """The active calendars, parsed once per process under their signature."""
    return config_cached("calendars", _read_active, memo)


def calendar_exists(key: str) -> bool:
    return key in active_calendars().by_key


def clocks_for(
    keys: Iterable[str | None], memo: dict[str, Any] | None = None
) -> Mapping[str, engine_sla.Clock]:
    """The clock of each named calendar (calendar time needs none). A calendar gone since a
    clock started counts calendar time, logged: the pipeline never fails on it."""
    calendars = active_calendars(memo).by_key
    out: dict[str, engine_sla.Clock] = {}
    for key in keys:
        if key is None:
            continue
        found = calendars.get(key)
        if found is None:
            logger.warning("calendar %s is not active: its clocks count calendar time", key)
            out[key] = engine_sla.CALENDAR_TIME
        else:
            out[key] = engine.CalendarClock(found)
    return out


def in_business_hours(department_id: int | None, at: datetime, memo: dict[str, Any] | None = None) -> bool:
    """The `clock.in_business_hours` fact: open in the ticket's calendar (no calendar: always)."""
    calendar = active_calendars(memo).for_department(department_id)
    return True if calendar is None else engine.is_open(calendar, at)

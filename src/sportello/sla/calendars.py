"""Business calendars: saving them (immutable versions), national holidays from the `holidays`
package, and the per-process cache that SLA clocks and the rules' `clock.in_business_hours` read.

A ticket's calendar is its department's (`CalendarDepartment`; a department has at most one:
assigning it to a calendar moves it there), else the desk's default calendar, else none — then
every instant is in business hours. The active calendars are parsed once per process and kept
under the signature of the calendar table (`core.config`, read with every change's other
signatures): a change costs no query for them. Every write goes through these services, which
move the signature (version or `updated_at`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from django.db import transaction

from sportello.accounts.models import Department, User
from sportello.accounts.services import require_admin
from sportello.core.errors import Conflict, NotFound, ValidationFailed
from sportello.core.versioning import (
    ConfigKind,
    register_kind,
    version_current,
    version_deactivate,
    version_lock,
    version_save,
)
from sportello.engine import calendars as engine
from sportello.engine.schema import RuleSchemaError

from .active_calendars import (
    ActiveCalendars,
    active_calendars,
    calendar_exists,
    clocks_for,
    in_business_hours,
)
from .models import BusinessCalendar, BusinessCalendarVersion, CalendarDepartment

__all__ = [
    "ActiveCalendars",
    "active_calendars",
    "calendar_deactivate",
    "calendar_definition",
    "calendar_departments",
    "calendar_exists",
    "calendar_holidays",
    "calendar_import_holidays",
    "calendar_save",
    "clocks_for",
    "holidays_lookup",
    "in_business_hours",
]

logger = logging.getLogger(__name__)
YEARS_MAX = 10


# --------------------------------------------------------------------------------------------
# Writing


def _parse(definition: Any) -> engine.Calendar:
    try:
        return engine.parse_calendar(definition)
    except RuleSchemaError as exc:
        raise ValidationFailed(exc.message, field=exc.path or None) from None


def _departments(raw: Any) -> list[Department]:
    if not isinstance(raw, list | tuple) or any(isinstance(d, bool) or not isinstance(d, int) for d in raw):
        raise ValidationFailed("must be a list of department ids", field="departments")
    found = {d.pk: d for d in Department.objects.filter(pk__in=list(raw))}
    missing = [d for d in raw if d not in found]
    if missing:
        raise ValidationFailed(f"no department with id {missing[0]}", field="departments")
    return [found[d] for d in dict.fromkeys(raw)]


@transaction.atomic
def calendar_save(
    *,
    definition: Any,
    actor: User | None,
    now: datetime,
    departments: Sequence[int] | None = None,
    is_default: bool | None = None,
    create: bool | None = None,
    reflow: bool | None = None,
    expected_version: int | None = None,
) -> tuple[BusinessCalendar, bool]:
    """Create the calendar named by `definition["key"]` or save a new version. `expected_version`:
    the version the caller edited; another one current (someone saved meanwhile) is a Conflict
    `stale_version`, nothing written. `departments`:
    the departments whose tickets follow it (replacing the list; a department assigned to
    another calendar moves here); `is_default`: the desk's calendar for the other departments;
    `reflow`: recompute the due instants of the open clocks counting in it (default: the desk's
    `SLA_ON_CHANGE`). Returns the calendar and whether anything was written."""
    require_admin(actor)
    parsed = _parse(definition)
    item = engine.calendar_to_data(parsed)
    chosen = _departments(departments) if departments is not None else None
    calendar = version_lock(CALENDARS, parsed.key)
    if calendar is not None and create:
        raise Conflict(f"a calendar with the key {parsed.key!r} exists", field="key", code="calendar_exists")
    if calendar is None and create is False:
        raise NotFound("calendar not found")
    _check_version(calendar, expected_version)
    new = calendar is None
    current = version_current(CALENDARS, calendar, parsed.key)
    same_definition = current is not None and current == item
    same_departments = chosen is None or (
        not new and {d.pk for d in chosen} == set(
            CalendarDepartment.objects.filter(calendar=calendar).values_list("department_id", flat=True))
    )  # fmt: skip
    same_default = is_default is None or (calendar is not None and is_default == calendar.is_default)
    if calendar is not None and same_definition and same_departments and same_default and calendar.active:
        return calendar, False
    if is_default:
        others = BusinessCalendar.objects.filter(is_default=True)
        if calendar is not None:
            others = others.exclude(pk=calendar.pk)
        others.update(is_default=False, updated_at=now)
    calendar = version_save(
        CALENDARS,
        key=parsed.key,
        definition=item,
        created_by=actor,
        now=now,
        head=calendar,
        current=current,
        fields={"name": parsed.name, **({"is_default": is_default} if is_default is not None else {})},
        touched=True,
    ).head
    if chosen is not None:
        CalendarDepartment.objects.filter(calendar=calendar).exclude(department__in=chosen).delete()
        for department in chosen:
            CalendarDepartment.objects.update_or_create(
                department=department, defaults={"calendar": calendar}
            )
    if not same_definition and not new:
        from .services import reflow_enqueue

        reflow_enqueue(reflow, calendar=calendar.key)
    return calendar, True


def _check_version(calendar: BusinessCalendar | None, expected: int | None) -> None:
    if calendar is not None and expected is not None and calendar.version != expected:
        raise Conflict(
            f"the calendar changed since you loaded it (your version {expected}, now {calendar.version})",
            code="stale_version",
        )


@transaction.atomic
def calendar_deactivate(*, key: str, actor: User | None, now: datetime) -> BusinessCalendar:
    """Stop using a calendar. Refused while an active SLA policy counts in it."""
    from .active_policies import active_policies

    require_admin(actor)
    calendar = version_lock(CALENDARS, key, required=True)
    users = sorted(p.parsed.key for p in active_policies() if p.parsed.calendar == key)
    if users:
        raise Conflict(
            f"SLA policies {', '.join(users)} count business time in this calendar; change them first",
            code="calendar_in_use",
        )
    saved = version_deactivate(
        CALENDARS, key=key, created_by=actor, now=now, head=calendar, fields={"is_default": False}
    )
    if saved.written:
        CalendarDepartment.objects.filter(calendar=calendar).delete()
    return calendar


def _calendar_save_again(
    key: str, head: Any, definition: Any, actor: Any, now: datetime
) -> tuple[BusinessCalendar, bool]:
    return calendar_save(definition=definition, actor=actor, now=now, create=False)


# Business calendars as a versioned configuration kind (`core.versioning`): their departments
# and the desk's default are the head's, beside the versioned definition.
CALENDARS = register_kind(
    ConfigKind(
        name="calendars",
        label="calendar",
        head=BusinessCalendar,
        version=BusinessCalendarVersion,
        parent="calendar",
        save=_calendar_save_again,
        version_on_reactivate=False,
        signature="calendars",
    )
)


def calendar_definition(calendar: BusinessCalendar) -> dict[str, Any]:
    return BusinessCalendarVersion.objects.get(calendar=calendar, version=calendar.version).definition


def calendar_departments(calendar: BusinessCalendar) -> list[int]:
    return sorted(
        CalendarDepartment.objects.filter(calendar=calendar).values_list("department_id", flat=True)
    )


def holidays_lookup(*, country: Any, subdivision: Any = None, years: Any) -> list[dict[str, Any]]:
    """The public holidays of `country` (and `subdivision`) in `years` from the `holidays`
    package, by date: `[{date, name}]`. Refuses a country, subdivision or years it does not know
    (ValidationFailed on `country`, `subdivision` or `years`)."""
    import holidays as holiday_data

    supported = holiday_data.list_supported_countries()
    if not isinstance(country, str) or country.upper() not in supported:
        raise ValidationFailed(
            "must be an ISO 3166-1 alpha-2 country code the holidays data knows", field="country"
        )
    country = country.upper()
    if subdivision is not None and (
        not isinstance(subdivision, str) or subdivision.upper() not in supported[country]
    ):
        raise ValidationFailed(f"must be a subdivision of {country}: {', '.join(supported[country][:30])}",
                               field="subdivision")  # fmt: skip
    if (
        not isinstance(years, list)
        or not years
        or len(years) > YEARS_MAX
        or any(isinstance(y, bool) or not isinstance(y, int) or not 1970 <= y <= 2100 for y in years)
    ):
        raise ValidationFailed(f"must be 1 to {YEARS_MAX} years between 1970 and 2100", field="years")
    found = holiday_data.country_holidays(
        country, subdiv=subdivision.upper() if subdivision else None, years=years
    )
    return [
        {"date": day.isoformat(), "name": str(name)[:200]}
        for day, name in sorted(found.items())
        if isinstance(day, date)
    ]


def calendar_holidays(definition: dict[str, Any]) -> list[dict[str, Any]]:
    """The holidays of a calendar definition's latest version (the one an editor changes)."""
    versions = definition.get("versions")
    target = versions[-1] if isinstance(versions, list) and versions else definition
    return list(target.get("holidays", []))


@transaction.atomic
def calendar_import_holidays(
    *,
    key: str,
    country: Any,
    subdivision: Any = None,
    years: Any,
    actor: User | None,
    now: datetime,
    dates: Sequence[str] | None = None,
    expected_version: int | None = None,
) -> tuple[BusinessCalendar, list[dict[str, Any]]]:
    """Add a country's (and optionally a region's) public holidays for `years` to the latest
    version of the calendar, as whole-day holidays (from the `holidays` package); `dates`: only
    those of these dates (the ones an admin chose from the preview). Dates that already have a
    holiday keep theirs. `expected_version`: as in `calendar_save`. Returns the calendar and the
    holidays added."""
    require_admin(actor)
    calendar = BusinessCalendar.objects.select_for_update().filter(key=key).first()
    if calendar is None:
        raise NotFound("calendar not found")
    found = holidays_lookup(country=country, subdivision=subdivision, years=years)
    _check_version(calendar, expected_version)
    chosen = None if dates is None else set(dates)
    definition = dict(calendar_definition(calendar))
    versions = definition.get("versions")
    target = versions[-1] if isinstance(versions, list) and versions else definition
    existing = {h["date"] for h in target.get("holidays", [])}
    added = [h for h in found if h["date"] not in existing and (chosen is None or h["date"] in chosen)]
    if not added:
        return calendar, []
    target["holidays"] = sorted([*target.get("holidays", []), *added], key=lambda h: h["date"])
    saved, _ = calendar_save(definition=definition, actor=actor, now=now, create=False)
    return saved, added

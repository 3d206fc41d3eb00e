"""The period a report covers, as its filter bar offers it: this week, the last 7, 30 or 90 days,
or custom dates, all in the viewer's time zone.

Days are the viewer's calendar days: "the last 7 days" starts at midnight six days before today
and ends now; "this week" starts at Monday's midnight; custom dates run from the first day's
midnight to the midnight after the last day (never after now). Instants are handed on in UTC.
A period that reads wrong (a date that is not one, the end before the start, a start in the
future) falls back to the default, with the problem named next to its field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from urllib.parse import urlencode

from django.db import models
from django.utils.translation import gettext_lazy as _


class PeriodChoice(models.TextChoices):
    WEEK = "week", _("This week")
    LAST_7 = "7d", _("Last 7 days")
    LAST_30 = "30d", _("Last 30 days")
    LAST_90 = "90d", _("Last 90 days")
    CUSTOM = "custom", _("Custom dates")


DEFAULT = PeriodChoice.LAST_30
DAYS = {PeriodChoice.LAST_7: 7, PeriodChoice.LAST_30: 30, PeriodChoice.LAST_90: 90}


@dataclass(frozen=True, slots=True)
class ReportPeriod:
    """[start, end) in UTC, with what the filter bar shows: the choice and, for custom dates,
    the dates as typed; `errors` by field name ("from", "to")."""

    choice: str
    start: datetime
    end: datetime
    first_day: date  # the local day `start` falls on
    last_day: date  # the local day of the last instant in the period
    typed_from: str = ""
    typed_to: str = ""
    errors: Mapping[str, str] = field(default_factory=dict)

    def query(self) -> str:
        """The period as a query string (no leading "?"), for links that keep it."""
        params = {"period": self.choice}
        if self.choice == PeriodChoice.CUSTOM:
            params |= {"from": self.first_day.isoformat(), "to": self.last_day.isoformat()}
        return urlencode(params)


def _midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _preset(choice: PeriodChoice, *, now: datetime, zone: tzinfo) -> ReportPeriod:
    today = now.astimezone(zone).date()
    if choice == PeriodChoice.WEEK:
        first = today - timedelta(days=today.weekday())
    else:
        first = today - timedelta(days=DAYS[choice] - 1)
    return ReportPeriod(choice=choice, start=_midnight(first, zone), end=now, first_day=first, last_day=today)


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def report_period(params: Mapping[str, str], *, now: datetime, zone: tzinfo) -> ReportPeriod:
    """The period `params` (a request's GET) ask for; see the module docstring."""
    choice = params.get("period") or DEFAULT
    if choice not in PeriodChoice.values:
        choice = DEFAULT
    if choice != PeriodChoice.CUSTOM:
        return _preset(PeriodChoice(choice), now=now, zone=zone)
    typed_from, typed_to = (params.get("from") or "").strip(), (params.get("to") or "").strip()
    first, last = _day(typed_from), _day(typed_to)
    errors: dict[str, str] = {}
    today = now.astimezone(zone).date()
    if first is None:
        errors["from"] = str(_("Enter the first day as a date."))
    elif first > today:
        errors["from"] = str(_("The first day cannot be in the future."))
    if last is None:
        errors["to"] = str(_("Enter the last day as a date."))
    elif first is not None and last < first:
        errors["to"] = str(_("The last day cannot be before the first."))
    if errors or first is None or last is None:
        fallback = _preset(DEFAULT, now=now, zone=zone)
        return ReportPeriod(
            choice=PeriodChoice.CUSTOM,
            start=fallback.start,
            end=fallback.end,
            first_day=fallback.first_day,
            last_day=fallback.last_day,
            typed_from=typed_from,
            typed_to=typed_to,
            errors=errors,
        )
    last = min(last, today)
    end = min(_midnight(last + timedelta(days=1), zone), now)
    return ReportPeriod(
        choice=PeriodChoice.CUSTOM,
        start=_midnight(first, zone),
        end=end,
        first_day=first,
        last_day=last,
        typed_from=typed_from,
        typed_to=typed_to,
    )

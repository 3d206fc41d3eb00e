"""The report pages' filter bar: a period (a preset or two dates) and the dimensions to narrow
to, within the reader's departments. Invalid input falls back to the defaults with its error
shown next to the field."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import Department, Team, User
from sportello.tickets.models import Channel
from sportello.web.labels import CHANNEL_LABELS, PRIORITY_LABELS

from .access import ReportScope
from .dashboard import DAYS_MAX, GROUPS, Filters

PERIODS = [
    ("7d", _("Last 7 days")),
    ("30d", _("Last 30 days")),
    ("90d", _("Last 90 days")),
    ("this_month", _("This month")),
    ("last_month", _("Last month")),
    ("custom", _("Custom dates")),
]
GROUP_LABELS = {
    "department": _("Department"),
    "team": _("Team"),
    "agent": _("Agent"),
    "channel": _("Channel"),
    "priority": _("Priority"),
    "tier": _("Tier"),
}


def period_dates(period: str, today: date) -> tuple[date, date]:
    if period == "30d":
        return today - timedelta(days=29), today
    if period == "90d":
        return today - timedelta(days=89), today
    if period == "this_month":
        return today.replace(day=1), today
    if period == "last_month":
        end = today.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end
    return today - timedelta(days=6), today


class ReportFilterForm(forms.Form):
    period = forms.ChoiceField(label=_("Period"), choices=PERIODS, required=False)
    start = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    department = forms.TypedChoiceField(label=_("Department"), coerce=int, required=False, empty_value=None)
    team = forms.TypedChoiceField(label=_("Team"), coerce=int, required=False, empty_value=None)
    agent = forms.TypedChoiceField(label=_("Agent"), coerce=int, required=False, empty_value=None)
    channel = forms.ChoiceField(label=_("Channel"), required=False)
    priority = forms.ChoiceField(label=_("Priority"), required=False)
    group = forms.ChoiceField(label=_("Break down by"), required=False)

    def __init__(self, data: Any, *, scope: ReportScope) -> None:
        super().__init__(data, label_suffix="")
        departments = Department.objects.filter(scope.q("pk")).order_by("name")
        teams = Team.objects.filter(scope.q("department")).order_by("name")
        agents = User.objects.filter(is_active=True)
        if not scope.everything:
            agents = agents.filter(departments__in=sorted(scope.department_ids or ())).distinct()
        everyone: list[tuple[Any, Any]] = [("", _("All"))]
        choices: dict[str, list[tuple[Any, Any]]] = {
            "department": everyone + [(d.pk, d.name) for d in departments],
            "team": everyone + [(t.pk, t.name) for t in teams],
            "agent": everyone + [(u.pk, u.name or u.email) for u in agents.order_by("name")],
            "channel": everyone + [(c, CHANNEL_LABELS[c]) for c in Channel.values],
            "priority": everyone + [(k, PRIORITY_LABELS[k]) for k in ("low", "normal", "high", "urgent")],
            "group": [(g, GROUP_LABELS[g]) for g in GROUPS],
        }
        for name, options in choices.items():
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)
            field.choices = options

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("period") == "custom":
            start, end = data.get("start"), data.get("end")
            if start is None or end is None:
                self.add_error("start", _("Give both dates of a custom period."))
            elif end < start:
                self.add_error("end", _("The end is before the start."))
            elif (end - start).days + 1 > DAYS_MAX:
                self.add_error("end", _("A period is at most %(days)s days.") % {"days": DAYS_MAX})
        return data

    def filters(self, today: date) -> Filters:
        """The filters asked for (the valid part of them), defaulting to the last 7 days."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})  # the valid fields, when others are not
        period = data.get("period") or "7d"
        if period == "custom" and data.get("start") and data.get("end") and "end" not in self.errors:
            start, end = data["start"], data["end"]
        else:
            start, end = period_dates(period if period != "custom" else "7d", today)
        return Filters(
            start=start,
            end=end,
            department=data.get("department"),
            team=data.get("team"),
            agent=data.get("agent"),
            channel=data.get("channel") or None,
            priority=data.get("priority") or None,
        )

    @property
    def chosen_group(self) -> str:
        self.is_valid()
        return getattr(self, "cleaned_data", {}).get("group") or "department"

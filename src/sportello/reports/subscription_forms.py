"""The form of a scheduled report: how often, which weekday (weekly), at what hour."""

from __future__ import annotations

from django import forms
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext_lazy as _

from .models import Frequency

HOURS = [(h, f"{h:02d}:00") for h in range(24)]


class SubscriptionForm(forms.Form):
    frequency = forms.ChoiceField(label=_("How often"), choices=Frequency.choices, initial=Frequency.DAILY)
    weekday = forms.TypedChoiceField(
        label=_("On (weekly)"), choices=sorted(WEEKDAYS.items()), coerce=int, initial=0, required=False
    )
    hour = forms.TypedChoiceField(
        label=_("At (your time)"),
        choices=HOURS,
        coerce=int,
        initial=8,
        help_text=_("Daily: the day before. Weekly: the week before, Monday to Sunday."),
    )

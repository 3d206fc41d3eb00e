"""Forms of the agent's own pages. They parse input only; writes go through the services."""

from __future__ import annotations

import zoneinfo
from functools import cache
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.utils.translation import gettext_lazy as _

from .models import AgentStatus, User


class _PlainLabels:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


@cache
def time_zone_names() -> list[str]:
    return sorted(zoneinfo.available_timezones() | {"UTC"})


STATUS_LABELS = {
    AgentStatus.ONLINE: _("Online"),
    AgentStatus.AWAY: _("Away"),
    AgentStatus.OFFLINE: _("Offline"),
}


class AvailabilityForm(forms.Form):
    status = forms.ChoiceField(choices=list(STATUS_LABELS.items()))


class ProfileForm(_PlainLabels, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=150)
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    time_zone = forms.CharField(
        label=_("Time zone"),
        max_length=64,
        help_text=_("Type to search, e.g. Europe/Rome. Dates on the Desk are shown in this zone."),
        widget=forms.TextInput(attrs={"list": "time-zones", "autocomplete": "off", "spellcheck": "false"}),
    )
    signature = forms.CharField(
        label=_("Signature"),
        required=False,
        max_length=2_000,
        help_text=_("Plain text added below your public replies."),
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def clean_time_zone(self) -> str:
        name = str(self.cleaned_data["time_zone"]).strip()
        if name not in time_zone_names():
            raise forms.ValidationError(_("Pick a time zone from the list, e.g. Europe/Rome."))
        return name


class TokenForm(_PlainLabels, forms.Form):
    name = forms.CharField(
        label=_("Token name"),
        max_length=100,
        help_text=_("What it is for, e.g. “Reporting script”."),
    )


class PasswordChangeForm(_PlainLabels, forms.Form):
    """The current password and a new one, checked by the desk's password validators. The
    current password is checked by the view, throttled like a sign-in."""

    old_password = forms.CharField(
        label=_("Current password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    new_password1 = forms.CharField(
        label=_("New password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 8 characters, not a common password, and not like your name or address."),
    )
    new_password2 = forms.CharField(
        label=_("New password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, user: User, *args: Any, **kwargs: Any) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        new1, new2 = data.get("new_password1"), data.get("new_password2")
        if new1 and new2 and new1 != new2:
            self.add_error("new_password2", _("The two new passwords differ."))
        elif new1:
            try:
                password_validation.validate_password(new1, self.user)
            except forms.ValidationError as exc:
                self.add_error("new_password1", exc)
        return data

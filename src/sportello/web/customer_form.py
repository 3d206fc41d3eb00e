"""The requester's details as agents edit them on the ticket page (name, phone, language, VIP).
Parsing only; `contact_update` validates and writes."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from sportello.contacts.models import Contact
from sportello.core.forms import choice_field


class ContactForm(forms.Form):
    name = forms.CharField(label=_("Name"), required=False, max_length=200)
    phone = forms.CharField(
        label=_("Phone"),
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
    )
    language = forms.ChoiceField(label=_("Language"))
    vip = forms.BooleanField(label=_("VIP"), required=False)

    def __init__(self, *args: Any, contact: Contact, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {"name": contact.name, "phone": contact.phone, "language": contact.language, "vip": contact.vip},
        )
        kwargs.setdefault("prefix", "contact")
        kwargs.setdefault("label_suffix", "")  # labels without a trailing colon, as on every form
        super().__init__(*args, **kwargs)
        self.contact = contact
        choices: list[tuple[str, str | Promise]] = [(code, name) for code, name in settings.LANGUAGES]
        if contact.language not in dict(choices):
            choices.append((contact.language, contact.language))
        choice_field(self, "language").choices = choices

    def changes(self) -> dict[str, Any]:
        """The `contact_update` arguments: only what changed."""
        c = self.contact
        cd = self.cleaned_data
        current = {"name": c.name, "phone": c.phone, "language": c.language, "vip": c.vip}
        return {k: cd[k] for k in current if cd[k] != current[k]}

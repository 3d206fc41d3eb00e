"""The customer's side of the forms: the requester's details as agents edit them on the ticket
page (name, phone, language, VIP), and the fields of a department's layout as the Desk's new
ticket form and the portal's request form show them (`layout_field`) and hand them to the
services (`layout_values`). Parsing only; the services validate and write."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from sportello.contacts.models import Contact
from sportello.core.forms import choice_field
from sportello.tickets.models import FieldType, LayoutField

LAYOUT_PREFIX = "cf_"  # a layout field's form name: the prefix and the field's key


def layout_option(option: Any) -> tuple[str, str]:
    """A custom field's option as (value, label): its label, else its value made readable."""
    if isinstance(option, dict):
        value = str(option.get("value", ""))
        return value, str(option.get("label") or value.replace("_", " ").capitalize())
    return str(option), str(option).replace("_", " ").capitalize()


def layout_field(row: LayoutField, *, required: bool = False) -> forms.Field:
    """A form field for one row of a department's layout, with the values allowed there.
    `required`: the customer must fill it (a yes/no box never: unticked says "no")."""
    f = row.field
    common: dict[str, Any] = {"label": f.label, "required": required}
    if f.description:
        common["help_text"] = f.description
    options = [layout_option(o) for o in f.options or []]
    if row.allowed_values is not None:
        allowed = set(row.allowed_values)
        options = [(v, label) for v, label in options if v in allowed]
    if f.type == FieldType.PICKLIST:
        return forms.ChoiceField(choices=[("", "—"), *options], **common)
    if f.type == FieldType.MULTI_SELECT:
        return forms.MultipleChoiceField(choices=options, widget=forms.CheckboxSelectMultiple, **common)
    if f.type == FieldType.BOOLEAN:
        return forms.BooleanField(**{**common, "required": False})
    if f.type == FieldType.LONG_TEXT:
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), **common)
    if f.type == FieldType.NUMBER:
        return forms.IntegerField(**common)
    if f.type == FieldType.DECIMAL:
        return forms.DecimalField(**common)
    if f.type == FieldType.DATE:
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    if f.type == FieldType.DATETIME:
        return forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), **common)
    return forms.CharField(max_length=1000, **common)


def layout_value(value: Any) -> Any:
    """A cleaned form value as the services take it (None: nothing given — an empty text, no
    choice, an unticked box)."""
    if value in (None, "", [], False):
        return None
    if isinstance(value, datetime):
        aware = value if value.tzinfo else timezone.make_aware(value)
        return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list):
        return sorted(value)
    return value


def layout_values(rows: Iterable[LayoutField], cleaned_data: Mapping[str, Any]) -> dict[str, Any]:
    """The `custom_fields` a form's layout rows were filled with (only those given)."""
    out: dict[str, Any] = {}
    for row in rows:
        value = layout_value(cleaned_data.get(LAYOUT_PREFIX + row.field.key))
        if value is not None:
            out[row.field.key] = value
    return out


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

"""The portal's forms: parsing only; `portal.services` validates and writes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from sportello.tickets.models import FieldType, LayoutField

CUSTOM_PREFIX = "cf_"


class EmailForm(forms.Form):
    email = forms.EmailField(
        label=_("E-mail address"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class PasswordSignInForm(EmailForm):
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "pw")
        super().__init__(*args, **kwargs)


class PasswordForm(forms.Form):
    password = forms.CharField(
        label=_("New password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=_("The new password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password") and data.get("password2") and data["password"] != data["password2"]:
            self.add_error("password2", _("The two passwords differ."))
        return data


def _option(option: Any) -> tuple[str, str]:
    if isinstance(option, dict):
        value = str(option.get("value", ""))
        return value, str(option.get("label") or value.replace("_", " ").capitalize())
    return str(option), str(option).replace("_", " ").capitalize()


def layout_field(row: LayoutField) -> forms.Field:
    """A form field for one row of the layout customers fill, with the values allowed there."""
    f = row.field
    common: dict[str, Any] = {"label": f.label, "required": bool(row.required_from_customer)}
    if f.description:
        common["help_text"] = f.description
    options = [_option(o) for o in f.options or []]
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


def _api_value(value: Any) -> Any:
    if value in (None, "", []):
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list):
        return sorted(value)
    return value


class RequestForm(forms.Form):
    """A request to a department: who (when not signed in), what, and the layout's fields
    customers fill. Files are read from the request (`attachments`, several)."""

    department = forms.IntegerField(widget=forms.HiddenInput)
    name = forms.CharField(
        label=_("Your name"), max_length=200, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    email = forms.EmailField(
        label=_("Your e-mail address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    subject = forms.CharField(label=_("Subject"), max_length=250)
    description = forms.CharField(
        label=_("Description"),
        max_length=100_000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("What happened, and what you expected. Order numbers help."),
    )

    def __init__(self, *args: Any, rows: list[LayoutField], signed_in: bool, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.rows = rows
        if signed_in:
            del self.fields["name"]
            del self.fields["email"]
        for row in rows:
            self.fields[CUSTOM_PREFIX + row.field.key] = layout_field(row)

    def custom_fields(self) -> dict[str, Any]:
        out = {}
        for row in self.rows:
            value = _api_value(self.cleaned_data.get(CUSTOM_PREFIX + row.field.key))
            if row.field.type == FieldType.BOOLEAN and not value:
                value = None  # a box left unticked says nothing
            if value is not None:
                out[row.field.key] = value
        return out

    def custom_bound(self) -> list[forms.BoundField]:
        return [self[CUSTOM_PREFIX + row.field.key] for row in self.rows]


class ReplyForm(forms.Form):
    body = forms.CharField(
        label=_("Your reply"), required=False, max_length=100_000, widget=forms.Textarea(attrs={"rows": 5})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

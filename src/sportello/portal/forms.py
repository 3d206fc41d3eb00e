"""The portal's forms: parsing only; `portal.services` validates and writes."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from sportello.tickets.models import LayoutField
from sportello.web.customer_form import LAYOUT_PREFIX, layout_field, layout_values

CUSTOM_PREFIX = LAYOUT_PREFIX


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
            self.fields[CUSTOM_PREFIX + row.field.key] = layout_field(
                row, required=bool(row.required_from_customer)
            )

    def custom_fields(self) -> dict[str, Any]:
        return layout_values(self.rows, self.cleaned_data)

    def custom_bound(self) -> list[forms.BoundField]:
        return [self[CUSTOM_PREFIX + row.field.key] for row in self.rows]


class ReplyForm(forms.Form):
    body = forms.CharField(
        label=_("Your reply"), required=False, max_length=100_000, widget=forms.Textarea(attrs={"rows": 5})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

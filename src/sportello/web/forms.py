"""Forms of the agent UI. They parse and validate input only; writes go through the services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


class _PlainLabels:
    """Labels without a trailing colon; the layout sets them apart already."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class LoginForm(_PlainLabels, AuthenticationForm):
    # A plain text field: the account's address decides, not a stricter validator here.
    username = forms.CharField(
        label=_("Email"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("That email and password do not match an active account."),
    }

    def clean(self) -> dict[str, Any]:
        """Parsing only: the sign-in view checks the credentials through the throttled service
        (`accounts.signin`), never the form."""
        return self.cleaned_data

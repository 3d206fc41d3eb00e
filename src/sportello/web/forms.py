"""Forms of the agent UI. They parse and validate input only; writes go through the services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import Department
from sportello.tickets.models import UNRESOLVED_CATEGORIES

from .labels import category_label


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


ASSIGNEE_ANY, ASSIGNEE_ME, ASSIGNEE_NONE = "", "me", "none"


class QueueFilterForm(_PlainLabels, forms.Form):
    department = forms.TypedChoiceField(label=_("Department"), required=False, coerce=int, empty_value=None)
    category = forms.ChoiceField(label=_("Status"), required=False)
    assignee = forms.ChoiceField(
        label=_("Assignee"),
        required=False,
        choices=[(ASSIGNEE_ANY, _("Anyone")), (ASSIGNEE_ME, _("Me")), (ASSIGNEE_NONE, _("Unassigned"))],
    )
    tag = forms.CharField(label=_("Tag"), required=False, max_length=80)

    def __init__(self, *args: Any, departments: list[Department], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].choices = [("", _("All my departments"))] + [
            (d.pk, d.name) for d in departments
        ]
        self.fields["category"].choices = [("", _("All unresolved"))] + [
            (c.value, category_label(c.value)) for c in UNRESOLVED_CATEGORIES
        ]

    def clean_tag(self) -> str:
        return "_".join(self.cleaned_data["tag"].strip().lower().split())

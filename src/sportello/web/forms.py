"""Forms of the agent UI. They parse and validate input only; writes go through the services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import Department, Role, Team, User
from sportello.tickets.models import UNRESOLVED_CATEGORIES, Status, Ticket

from .labels import PRIORITY_BY_VALUE, PRIORITY_LABELS, category_label, status_label


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


class TicketPropertiesForm(_PlainLabels, forms.Form):
    """Status, priority, assignee, team and tags; `version` makes a stale form a Conflict."""

    status = forms.ChoiceField(label=_("Status"))
    priority = forms.ChoiceField(label=_("Priority"))
    assignee = forms.TypedChoiceField(label=_("Assignee"), required=False, coerce=int, empty_value=None)
    team = forms.TypedChoiceField(label=_("Team"), required=False, coerce=int, empty_value=None)
    tags = forms.CharField(
        label=_("Tags"), required=False, help_text=_("Separate tags with commas."), max_length=4000
    )
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)

    def __init__(self, *args: Any, ticket: Ticket, **kwargs: Any) -> None:
        kwargs.setdefault("initial", self.initial_for(ticket))
        super().__init__(*args, **kwargs)
        self.ticket = ticket
        statuses = Status.objects.filter(Q(is_active=True) | Q(pk=ticket.status_id))
        self.fields["status"].choices = [(s.key, status_label(s.key, s.name)) for s in statuses]
        self.fields["priority"].choices = [(k, PRIORITY_LABELS[k]) for k in PRIORITY_BY_VALUE.values()]
        agents = (
            User.objects.filter(is_active=True)
            .exclude(role=Role.LIGHT_AGENT)
            .filter(Q(role=Role.ADMIN) | Q(departments=ticket.department_id) | Q(pk=ticket.assignee_id))
            .distinct()
            .order_by("name", "id")
        )
        self.fields["assignee"].choices = [("", _("Unassigned"))] + [(a.pk, a.name) for a in agents]
        teams = Team.objects.filter(Q(department_id=ticket.department_id) | Q(pk=ticket.team_id))
        self.fields["team"].choices = [("", _("No team"))] + [(t.pk, t.name) for t in teams]

    @staticmethod
    def initial_for(ticket: Ticket) -> dict[str, Any]:
        return {
            "status": ticket.status.key,
            "priority": PRIORITY_BY_VALUE[ticket.priority],
            "assignee": ticket.assignee_id,
            "team": ticket.team_id,
            "tags": ", ".join(t.name for t in ticket.tags.all()),
            "version": ticket.version,
        }

    def clean_tags(self) -> list[str]:
        return [t.strip() for t in self.cleaned_data["tags"].split(",") if t.strip()]

    def changes(self) -> dict[str, Any]:
        """The service input: only what the agent changed, plus the version they saw."""
        data: dict[str, Any] = {"version": self.cleaned_data["version"]}
        current = self.initial_for(self.ticket)
        cd = self.cleaned_data
        if cd["status"] != current["status"]:
            data["status"] = cd["status"]
        if cd["priority"] != current["priority"]:
            data["priority"] = cd["priority"]
        if cd["assignee"] != current["assignee"]:
            data["assignee_id"] = cd["assignee"]
        if cd["team"] != current["team"]:
            data["team_id"] = cd["team"]
        current_tags = sorted(t.name for t in self.ticket.tags.all())
        if sorted(cd["tags"]) != current_tags:
            data["tags"] = cd["tags"]
        return data

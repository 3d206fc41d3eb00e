"""Forms of the queue page. They parse input only; writes go through `queues.services`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from sportello.accounts.models import Department, Team, User
from sportello.automation.models import Macro
from sportello.contacts.models import Contact, Organization
from sportello.core.forms import choice_field
from sportello.tickets.models import Status, StatusCategory
from sportello.web.labels import PRIORITY_BY_VALUE, PRIORITY_LABELS, category_label, status_label

ASSIGNEE_ANY, ASSIGNEE_ME, ASSIGNEE_NONE = "", "me", "none"
# The page's status filter: every status, whatever the view asks for.
STATUS_ANY = "any"


class _PlainLabels:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class QueueFilterForm(_PlainLabels, forms.Form):
    """The page's own filters, on top of the view's condition. A status here replaces the
    status the view asks for, so solved and closed tickets are one choice away."""

    status = forms.ChoiceField(label=_("Status"), required=False)
    department = forms.TypedChoiceField(label=_("Department"), required=False, coerce=int, empty_value=None)
    assignee = forms.ChoiceField(
        label=_("Assignee"),
        required=False,
        choices=[(ASSIGNEE_ANY, _("Anyone")), (ASSIGNEE_ME, _("Me")), (ASSIGNEE_NONE, _("Unassigned"))],
    )
    tag = forms.CharField(label=_("Tag"), required=False, max_length=80)
    # One customer's or one organization's tickets (the ticket page's "See all"): no control of
    # their own, kept as the other filters change, shown as a chip naming them.
    requester = forms.ModelChoiceField(
        label=_("Requester"),
        queryset=Contact.objects.all(),
        required=False,
        widget=forms.HiddenInput,
        error_messages={"invalid_choice": _("That customer no longer exists.")},
    )
    organization = forms.ModelChoiceField(
        label=_("Organization"),
        queryset=Organization.objects.all(),
        required=False,
        widget=forms.HiddenInput,
        error_messages={"invalid_choice": _("That organization no longer exists.")},
    )

    def __init__(self, *args: Any, departments: list[Department], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "department").choices = [("", _("All my departments"))] + [
            (d.pk, d.name) for d in departments
        ]
        choice_field(self, "status").choices = [
            ("", _("As the view says")),
            (STATUS_ANY, _("Any status")),
        ] + [(c.value, category_label(c.value)) for c in StatusCategory]

    def clean_tag(self) -> str:
        return "_".join(self.cleaned_data["tag"].strip().lower().split())


class ViewNameForm(_PlainLabels, forms.Form):
    name = forms.CharField(label=_("View name"), max_length=120)


class ColumnsForm(_PlainLabels, forms.Form):
    columns = forms.MultipleChoiceField(label=_("Columns"), widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args: Any, choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "columns").choices = choices


class BulkAction:
    STATUS, PRIORITY, ASSIGNEE, TEAM, DEPARTMENT = "status", "priority", "assignee", "team", "department"
    ADD_TAGS, REMOVE_TAGS, MACRO = "add_tags", "remove_tags", "macro"


NONE = "none"


class BulkForm(_PlainLabels, forms.Form):
    action = forms.ChoiceField(
        label=_("Change"),
        choices=[
            (BulkAction.STATUS, _("Status")),
            (BulkAction.PRIORITY, _("Priority")),
            (BulkAction.ASSIGNEE, _("Assignee")),
            (BulkAction.TEAM, _("Team")),
            (BulkAction.DEPARTMENT, _("Department")),
            (BulkAction.ADD_TAGS, _("Add tags")),
            (BulkAction.REMOVE_TAGS, _("Remove tags")),
            (BulkAction.MACRO, _("Apply a macro")),
        ],
    )
    status = forms.ChoiceField(label=_("New status"), required=False)
    priority = forms.TypedChoiceField(label=_("New priority"), required=False, coerce=int, empty_value=None)
    assignee = forms.ChoiceField(label=_("New assignee"), required=False)
    team = forms.ChoiceField(label=_("New team"), required=False)
    department = forms.TypedChoiceField(
        label=_("New department"), required=False, coerce=int, empty_value=None
    )
    tags = forms.CharField(
        label=_("Tags"), required=False, max_length=400, help_text=_("Separate tags with commas.")
    )
    macro = forms.ChoiceField(label=_("Macro"), required=False)

    def __init__(
        self,
        *args: Any,
        statuses: list[Status],
        agents: list[User],
        teams: list[Team],
        departments: list[Department],
        macros: list[Macro],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "status").choices = [(s.key, status_label(s.key, s.name)) for s in statuses]
        choice_field(self, "priority").choices = [
            (v, PRIORITY_LABELS[k]) for v, k in PRIORITY_BY_VALUE.items()
        ]
        choice_field(self, "assignee").choices = [(NONE, pgettext_lazy("assignee", "Nobody"))] + [
            (str(a.pk), a.name or a.email) for a in agents
        ]
        choice_field(self, "team").choices = [(NONE, pgettext_lazy("team", "No team"))] + [
            (str(t.pk), f"{t.name} ({t.department.name})") for t in teams
        ]
        choice_field(self, "department").choices = [(d.pk, d.name) for d in departments]
        choice_field(self, "macro").choices = [(m.key, m.name) for m in macros]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        action = data.get("action")
        if action is None:
            return data
        field = {BulkAction.ADD_TAGS: "tags", BulkAction.REMOVE_TAGS: "tags"}.get(action, action)
        if data.get(field) in (None, ""):
            self.add_error(field, _("Choose a value."))
        return data

    def change(self) -> dict[str, Any]:
        """The change as `ticket_update` takes it (not for the macro action)."""
        d = self.cleaned_data
        action = d["action"]

        def ref(value: str) -> int | None:
            return None if value == NONE else int(value)

        if action == BulkAction.STATUS:
            return {"status": d["status"]}
        if action == BulkAction.PRIORITY:
            return {"priority": PRIORITY_BY_VALUE[d["priority"]]}
        if action == BulkAction.ASSIGNEE:
            return {"assignee_id": ref(d["assignee"])}
        if action == BulkAction.TEAM:
            return {"team_id": ref(d["team"])}
        if action == BulkAction.DEPARTMENT:
            return {"department_id": d["department"]}
        tags = [t for t in ("_".join(p.strip().lower().split()) for p in d["tags"].split(",")) if t]
        return {"add_tags" if action == BulkAction.ADD_TAGS else "remove_tags": tags}

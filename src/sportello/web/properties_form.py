"""The ticket's properties form: the standard fields and the department layout's custom fields.

The form parses and validates input only; `changes()` is the `ticket_update` input (API field
names), holding only what the agent changed and the version they saw, so a stale form is a
Conflict. The department decides the layout: a form built for another department (the agent
picked it and has not saved yet) shows that department's fields, teams and agents.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from django import forms
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import Department, Role, Team, User
from sportello.core.forms import choice_field
from sportello.tickets import selectors
from sportello.tickets.models import LayoutField, Requirement, Status, Ticket

from .labels import PRIORITY_BY_VALUE, PRIORITY_LABELS, status_label

CUSTOM_PREFIX = "cf_"
YES, NO = "yes", "no"
DATETIME_INPUT = "%Y-%m-%dT%H:%M"


def custom_name(key: str) -> str:
    """The form field holding custom field `key`."""
    return f"{CUSTOM_PREFIX}{key}"


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format=DATETIME_INPUT, **kwargs)


def _option_labels(row: LayoutField) -> list[tuple[str, str]]:
    """The options this department allows, in the field's order, each with its label."""
    allowed = set(row.allowed_values) if row.allowed_values is not None else None
    return [
        (o["value"], o.get("label") or o["value"])
        for o in row.field.options or []
        if allowed is None or o["value"] in allowed
    ]


def custom_form_field(row: LayoutField, current: Any) -> forms.Field:
    """A form field for one layout row. `current` (the stored value) stays a choice even where
    the layout no longer allows it, so showing the form never changes it silently."""
    field = row.field
    kwargs: dict[str, Any] = {"label": field.label, "required": False}
    if row.required in (Requirement.TO_SOLVE, Requirement.ALWAYS):
        kwargs["help_text"] = (
            _("Required to solve.") if row.required == Requirement.TO_SOLVE else _("Required.")
        )
    if field.type == "text":
        return forms.CharField(max_length=1000, **kwargs)
    if field.type == "long_text":
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), strip=False, **kwargs)
    if field.type == "number":
        return forms.IntegerField(**kwargs)
    if field.type == "decimal":
        decimal = forms.TextInput(attrs={"inputmode": "decimal"})
        return forms.CharField(max_length=64, widget=decimal, **kwargs)
    if field.type == "date":
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"), **kwargs)
    if field.type == "datetime":
        return forms.DateTimeField(widget=DateTimeInput(), input_formats=[DATETIME_INPUT], **kwargs)
    if field.type == "boolean":
        return forms.ChoiceField(choices=[("", "—"), (YES, _("Yes")), (NO, _("No"))], **kwargs)
    choices = _option_labels(row)
    known = {v for v, _label in choices}
    stale = [v for v in (current if isinstance(current, list) else [current]) if v and v not in known]
    # A value the layout no longer allows is kept as a choice, named by its label.
    labels = {o["value"]: o.get("label") or o["value"] for o in field.options or []}
    choices += [(v, labels.get(v, v)) for v in stale if isinstance(v, str)]
    if field.type == "multi_select":
        return forms.MultipleChoiceField(choices=choices, widget=forms.CheckboxSelectMultiple, **kwargs)
    return forms.ChoiceField(choices=[("", "—"), *choices], **kwargs)


def _initial_custom(row: LayoutField, value: Any) -> Any:
    """The stored value as the form field shows it."""
    if value is None:
        return [] if row.field.type == "multi_select" else None
    if row.field.type == "boolean":
        return YES if value else NO
    if row.field.type == "datetime" and isinstance(value, str):
        try:
            return timezone.localtime(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return value
    return value


def _api_custom(row: LayoutField, value: Any) -> Any:
    """The form field's cleaned value as the service takes it (None clears)."""
    kind = row.field.type
    if value in (None, "", []):
        return None
    if kind == "boolean":
        return value == YES
    if kind == "date" and isinstance(value, date):
        return value.isoformat()
    if kind == "datetime" and isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if kind == "multi_select":
        return sorted(value)
    return value


def _to_minute(at: datetime | None) -> datetime | None:
    return at.replace(second=0, microsecond=0) if at is not None else None


@dataclass(frozen=True, slots=True)
class PropertyChoices:
    """What the form offers, when the page has read it already (`web.panels.reads`): every
    status, every department, the active people who may work the ticket (admins, its
    department's people, whose ids are `members`, and its assignee) and the department's teams
    with the ticket's own. They hold for the ticket's department; the form reads its own for
    another one."""

    statuses: Sequence[Status]
    departments: Sequence[Department]
    people: Sequence[User]
    members: AbstractSet[int]
    teams: Sequence[Team]


class TicketPropertiesForm(forms.Form):
    """Status, priority, assignee, team, department, tags, due date (where the ticket has one)
    and the layout's custom fields; `version` makes a stale form a Conflict."""

    status = forms.ChoiceField(label=_("Status"))
    priority = forms.ChoiceField(label=_("Priority"))
    assignee = forms.TypedChoiceField(label=_("Assignee"), required=False, coerce=int, empty_value=None)
    team = forms.TypedChoiceField(label=_("Team"), required=False, coerce=int, empty_value=None)
    # Left out of a post (an older page), the department stays as it is.
    department = forms.TypedChoiceField(label=_("Department"), required=False, coerce=int, empty_value=None)
    tags = forms.CharField(
        label=_("Tags"), required=False, help_text=_("Separate tags with commas."), max_length=4000
    )
    due_at = forms.DateTimeField(
        label=_("Due"), required=False, widget=DateTimeInput(), input_formats=[DATETIME_INPUT]
    )
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)

    def __init__(
        self,
        *args: Any,
        ticket: Ticket,
        user: User,
        department_id: int | None = None,
        layouts: dict[int, list[LayoutField]] | None = None,
        choices: PropertyChoices | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("initial", self.initial_for(ticket))
        kwargs.setdefault("label_suffix", "")  # labels without a trailing colon, as on every form
        super().__init__(*args, **kwargs)
        self.ticket = ticket
        departments = Department.objects.order_by("name", "id") if choices is None else choices.departments
        self.department_id = self._department_choice(department_id, departments)
        statuses: Iterable[Status]
        if choices is not None:
            statuses = [s for s in choices.statuses if s.is_active or s.pk == ticket.status_id]
        else:
            statuses = Status.objects.filter(Q(is_active=True) | Q(pk=ticket.status_id))
        choice_field(self, "status").choices = [(s.key, status_label(s.key, s.name)) for s in statuses]
        self.fields["status"].widget.attrs["data-shortcut"] = "s"
        self.fields["status"].widget.attrs["data-shortcut-label"] = _("Set status")
        self.fields["department"].widget.attrs.update(
            {
                # Picking a department draws its layout at once (nothing is saved yet).
                "hx-post": reverse("web:ticket_properties_form", args=[ticket.pk]),
                "hx-trigger": "change",
                "hx-target": "#properties-form",
                "hx-swap": "outerHTML",
            }
        )
        choice_field(self, "priority").choices = [(k, PRIORITY_LABELS[k]) for k in PRIORITY_BY_VALUE.values()]
        same = self.department_id == ticket.department_id

        def keep(pk: int | None) -> Q:
            # The ticket's own assignee and team stay choices while the department stays.
            return Q(pk=pk) if same and pk is not None else Q(pk__in=[])

        agents: Iterable[User]
        teams: Iterable[Team]
        if choices is not None and same:
            agents = [
                u
                for u in choices.people
                if u.role != Role.LIGHT_AGENT
                and (u.role == Role.ADMIN or u.pk in choices.members or u.pk == ticket.assignee_id)
            ]
            teams = choices.teams
        else:
            agents = (
                User.objects.filter(is_active=True)
                .exclude(role=Role.LIGHT_AGENT)
                .filter(Q(role=Role.ADMIN) | Q(departments=self.department_id) | keep(ticket.assignee_id))
                .distinct()
                .order_by("name", "id")
            )
            teams = Team.objects.filter(Q(department_id=self.department_id) | keep(ticket.team_id))
        assignees = [(a.pk, a.name) for a in agents]
        choice_field(self, "assignee").choices = [("", _("Unassigned")), *assignees]
        self.agent_ids = {a for a, _name in assignees}
        choice_field(self, "team").choices = [("", _("No team"))] + [(t.pk, t.name) for t in teams]
        if ticket.due_at is None:
            del self.fields["due_at"]
        if layouts is None or self.department_id not in layouts:
            layouts = selectors.department_layouts(department_ids=[self.department_id])
        self.layout = layouts.get(self.department_id, [])
        values = ticket.custom_fields or {}
        for row in self.layout:
            name = custom_name(row.field.key)
            self.fields[name] = custom_form_field(row, values.get(row.field.key))
            if name not in self.initial:
                self.initial[name] = _initial_custom(row, values.get(row.field.key))
            if row.field.description:
                self.fields[name].widget.attrs["title"] = row.field.description

    def _department_choice(self, department_id: int | None, departments: Iterable[Department]) -> int:
        """The department whose layout the form shows: the ticket's, or one the agent picked."""
        ticket = self.ticket
        departments = list(departments)
        choice_field(self, "department").choices = [(d.pk, d.name) for d in departments]
        for d in departments:  # the page shows the ticket's department: read it once
            if d.pk == ticket.department_id:
                ticket.department = d
        known = {d.pk: d.name for d in departments}
        self.department_name = known.get(department_id or ticket.department_id, "")
        if department_id is not None and department_id in known:
            return department_id
        self.department_name = known.get(ticket.department_id, "")
        return ticket.department_id

    @staticmethod
    def initial_for(ticket: Ticket) -> dict[str, Any]:
        return {
            "status": ticket.status.key,
            "priority": PRIORITY_BY_VALUE[ticket.priority],
            "assignee": ticket.assignee_id,
            "team": ticket.team_id,
            "department": ticket.department_id,
            "tags": ", ".join(t.name for t in ticket.tags.all()),
            "due_at": timezone.localtime(ticket.due_at) if ticket.due_at else None,
            "version": ticket.version,
        }

    @classmethod
    def redrawn(cls, data: Any, *, ticket: Ticket, user: User) -> TicketPropertiesForm:
        """The form again for the department picked in `data` (not saved yet), with what the
        agent typed kept wherever the new department's form still has that field."""
        try:
            department_id: int | None = int(data.get("department", ""))
        except (TypeError, ValueError):
            department_id = None
        form = cls(ticket=ticket, user=user, department_id=department_id)
        typed: dict[str, Any] = {}
        for name, field in form.fields.items():
            if name not in data:
                if isinstance(field, forms.MultipleChoiceField) and name.startswith(CUSTOM_PREFIX):
                    typed[name] = []
                continue
            multiple = isinstance(field, forms.MultipleChoiceField)
            typed[name] = data.getlist(name) if multiple else data.get(name)
        form.initial.update(typed)
        return form

    def custom_rows(self) -> list[tuple[forms.BoundField, LayoutField]]:
        return [(self[custom_name(r.field.key)], r) for r in self.layout]

    def standard_fields(self) -> list[forms.BoundField]:
        names = ["status", "priority", "assignee", "team", "department", "tags", "due_at"]
        return [self[n] for n in names if n in self.fields]

    def clean_tags(self) -> list[str]:
        return [t.strip() for t in self.cleaned_data["tags"].split(",") if t.strip()]

    def changes(self) -> dict[str, Any]:
        """The service input: only what the agent changed, plus the version they saw."""
        data: dict[str, Any] = {"version": self.cleaned_data["version"]}
        current = self.initial_for(self.ticket)
        cd = self.cleaned_data
        for name, api_name in (
            ("status", "status"),
            ("priority", "priority"),
            ("assignee", "assignee_id"),
            ("team", "team_id"),
            ("department", "department_id"),
        ):
            if name == "department" and cd[name] is None:
                continue
            if cd[name] != current[name]:
                data[api_name] = cd[name]
        if "due_at" in self.fields and cd["due_at"] != _to_minute(current["due_at"]):
            data["due_at"] = cd["due_at"]
        current_tags = sorted(t.name for t in self.ticket.tags.all())
        if sorted(cd["tags"]) != current_tags:
            data["tags"] = cd["tags"]
        values = self.ticket.custom_fields or {}
        custom: dict[str, Any] = {}
        for row in self.layout:
            key = row.field.key
            new = _api_custom(row, cd.get(custom_name(key)))
            old = values.get(key)
            if row.field.type == "multi_select" and isinstance(old, list):
                old = sorted(old) or None
            same_minute = isinstance(new, str) and isinstance(old, str) and new[:16] == old[:16]
            if row.field.type == "datetime" and same_minute:  # the form shows minutes
                continue
            if new != (None if old in ("", []) else old):
                custom[key] = new
        if custom:
            data["custom_fields"] = custom
        return data

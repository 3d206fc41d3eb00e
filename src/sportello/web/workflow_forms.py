"""Forms of the ticket page's workflow panels: a blueprint transition's inputs, a new task, a
tier escalation. They parse input only; the views hand it to the services, and put the services'
refusals back on the form in the agent's language (`transition_problem_message`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime
from typing import Any

from django import forms
from django.db.models import Q
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from sportello.accounts.models import Role, Team, User
from sportello.blueprints.services import TransitionRequest
from sportello.core.forms import choice_field
from sportello.engine import blueprints as bp_engine
from sportello.engine.conditions import FIELDS, FieldType
from sportello.tickets.models import CustomField, Ticket
from sportello.tickets.services import FIELD_NAMES

from .labels import FIELD_LABELS, PRIORITY_BY_VALUE, PRIORITY_LABELS

CUSTOM_PREFIX = "ticket.custom."
NOTE, ATTACHMENT = "note", "attachment"
BLANK = ("", "—")

# A blueprint problem's code -> the sentence the agent reads (`field`: the input's label;
# `transition`: the step's name; `message`: the definition's own message, when it has one).
PROBLEM_MESSAGES = {
    "missing_field": _("Fill in “%(field)s” to perform this step."),
    "invalid_field": _("“%(field)s” is not valid here."),
    "note_required": _("Add a note to perform this step."),
    "attachment_required": _("Attach a file to perform this step."),
    "not_available": _("“%(transition)s” is no longer possible from the ticket's current state."),
    "not_owner": _("You are not one of the people who may perform “%(transition)s”."),
    "condition_false": _("“%(transition)s” is not possible for this ticket as it is now."),
}
INVALID_WITH_REASON = _("“%(field)s” is not valid here: %(message)s")


class _PlainLabels:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


def field_label(path: str, custom: Mapping[str, CustomField]) -> str:
    """An input's label: a custom field's own label, a standard field's translated one."""
    if path.startswith(CUSTOM_PREFIX):
        key = path.removeprefix(CUSTOM_PREFIX)
        found = custom.get(key)
        return found.label if found is not None else key
    name = path.removeprefix("ticket.")
    return str(FIELD_LABELS.get(name, name.replace("_", " ").capitalize()))


def custom_fields_of(
    transitions: Iterable[bp_engine.Transition], known: Mapping[str, CustomField] | None = None
) -> dict[str, CustomField]:
    """The custom fields the transitions ask for, by key (one query; none when none asks, or
    when `known`, those the caller read already, holds them all)."""
    keys = {
        f.field.removeprefix(CUSTOM_PREFIX)
        for t in transitions
        for f in t.during.fields
        if f.field.startswith(CUSTOM_PREFIX)
    }
    found = {k: known[k] for k in keys if k in known} if known else {}
    if keys - found.keys():
        found |= {f.key: f for f in CustomField.objects.filter(key__in=keys - found.keys())}
    return found


def _agents_for(
    ticket: Ticket, people: Iterable[User] | None = None, members: AbstractSet[int] = frozenset()
) -> list[tuple[str, str]]:
    """Active agents who may see the ticket: admins and its department's people. `people`: the
    page's (`web.panels.reads.PageReads.people`: these, whose ids are `members`, and the
    assignee), when it read them already."""
    if people is not None:
        people = [u for u in people if u.role == Role.ADMIN or u.pk in members]
    else:
        people = (
            User.objects.filter(is_active=True)
            .filter(Q(role=Role.ADMIN) | Q(departments=ticket.department_id))
            .distinct()
            .order_by("name", "id")
        )
    return [(str(u.pk), u.name or u.email) for u in people]


class TransitionForm(_PlainLabels, forms.Form):
    """The inputs one transition asks for. Nothing is required here: the service decides (a
    required field already set on the ticket needs no input) and its refusals come back inline."""

    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(
        self,
        *args: Any,
        transition: bp_engine.Transition,
        ticket: Ticket,
        custom: Mapping[str, CustomField],
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("auto_id", f"bp-{transition.key}-%s")
        super().__init__(*args, **kwargs)
        self.transition = transition
        self.ticket = ticket
        self.fields["version"].initial = ticket.version
        self.paths: dict[str, str] = {}  # form field name -> the input's path
        self.required_names: set[str] = set()
        values = ticket.custom_fields or {}
        for i, item in enumerate(transition.during.fields):
            name = f"input_{i}"
            self.paths[name] = item.field
            field = self._field_for(item, custom, ticket)
            field.label = field_label(item.field, custom)
            if item.required:
                self.required_names.add(name)
                field.widget.attrs["aria-required"] = "true"
            if item.message:
                field.help_text = item.message
            self.fields[name] = field
            current: Any  # the field's value as stored: a custom field's JSON value, a column's
            if item.field.startswith(CUSTOM_PREFIX):
                current = values.get(item.field.removeprefix(CUSTOM_PREFIX))
            else:
                current = getattr(ticket, _attribute(item.field), None)
                if item.field == "ticket.priority":
                    current = PRIORITY_BY_VALUE.get(current, current)
            if current not in (None, "", []):
                self.initial[name] = current
        during = transition.during
        if during.note is not None:
            self.fields[NOTE] = forms.CharField(
                label=_("Note"),
                required=False,
                widget=forms.Textarea(attrs={"rows": 3}),
                help_text=_("Added to the ticket as an internal note."),
            )
            if during.note == "required":
                self.required_names.add(NOTE)
                self.fields[NOTE].widget.attrs["aria-required"] = "true"
        if during.attachment is not None:
            self.fields[ATTACHMENT] = forms.FileField(label=_("Attachment"), required=False)
            if during.attachment == "required":
                self.required_names.add(ATTACHMENT)
                self.fields[ATTACHMENT].widget.attrs["aria-required"] = "true"

    def _field_for(
        self, item: bp_engine.FieldInput, custom: Mapping[str, CustomField], ticket: Ticket
    ) -> forms.Field:
        path = item.field
        if path.startswith(CUSTOM_PREFIX):
            found = custom.get(path.removeprefix(CUSTOM_PREFIX))
            kind = found.type if found is not None else "text"
            options = [(o["value"], o.get("label") or o["value"]) for o in (found.options if found else [])]
        else:
            spec = FIELDS.get(path)
            kind = {
                FieldType.NUMBER: "number", FieldType.DATE: "date", FieldType.DATETIME: "datetime",
                FieldType.BOOLEAN: "boolean", FieldType.CHOICE: "picklist", FieldType.ORDINAL: "picklist",
                FieldType.REF: "ref", FieldType.SET: "multi_select",
            }.get(spec.type if spec else FieldType.TEXT, "text")  # fmt: skip
            options = []
            if path == "ticket.priority":
                options = [(k, str(v)) for k, v in PRIORITY_LABELS.items()]
            elif spec is not None and spec.choices:
                options = [(c, c) for c in spec.choices]
        if item.allowed_values is not None:
            options = [o for o in options if o[0] in item.allowed_values] or [
                (v, v) for v in item.allowed_values
            ]
        if kind == "picklist":
            return forms.ChoiceField(required=False, choices=[BLANK, *options])
        if kind == "multi_select":
            return forms.MultipleChoiceField(
                required=False, choices=options, widget=forms.CheckboxSelectMultiple
            )
        if kind == "boolean":
            return forms.ChoiceField(required=False, choices=[BLANK, ("true", _("Yes")), ("false", _("No"))])
        if kind == "ref":
            if path == "ticket.assignee":
                choices = _agents_for(ticket)
            elif path == "ticket.team":
                teams = Team.objects.filter(department_id=ticket.department_id).order_by("name")
                choices = [(str(t.pk), t.name) for t in teams]
            else:
                return forms.IntegerField(required=False, min_value=1)
            return forms.ChoiceField(required=False, choices=[BLANK, *choices])
        if kind == "number" or kind == "decimal":
            return forms.CharField(required=False, widget=forms.TextInput(attrs={"inputmode": "decimal"}))
        if kind == "date":
            return forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
        if kind == "datetime":
            return forms.DateTimeField(
                required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
            )
        if kind == "long_text":
            return forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
        return forms.CharField(required=False)

    def api_name(self, name: str) -> str:
        """A form field's name as the service's problems name it."""
        if name == NOTE:
            return "note"
        if name == ATTACHMENT:
            return "attachment_ids"
        path = self.paths[name]
        if path.startswith(CUSTOM_PREFIX):
            return "custom_fields." + path.removeprefix(CUSTOM_PREFIX)
        ours = path.removeprefix("ticket.")
        return "fields." + next((api for api, f in FIELD_NAMES.items() if f == ours), ours)

    def transition_request(self, attachment_ids: Sequence[int] = ()) -> TransitionRequest:
        """The inputs given (blank ones left out: the ticket's value stands)."""
        fields: dict[str, Any] = {}
        custom: dict[str, Any] = {}
        for name, path in self.paths.items():
            value = _data_form(self.cleaned_data.get(name))
            if value is None:
                continue
            if path.startswith(CUSTOM_PREFIX):
                custom[path.removeprefix(CUSTOM_PREFIX)] = value
            else:
                api = self.api_name(name).removeprefix("fields.")
                fields[api] = int(value) if api.endswith("_id") else value
        note = (self.cleaned_data.get(NOTE) or "").strip() or None
        return TransitionRequest(
            fields=fields, custom_fields=custom, note=note, attachment_ids=tuple(attachment_ids)
        )


def _attribute(path: str) -> str:
    name = path.removeprefix("ticket.")
    return f"{name}_id" if name in ("assignee", "team", "department", "organization", "requester") else name


def _data_form(value: Any) -> Any:
    """A cleaned value as the service reads it (JSON form); None for a blank input."""
    if value in (None, "", []):
        return None
    if value == "true":
        return True
    if value == "false":
        return False
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def transition_problem_message(
    problem: Mapping[str, str], *, form: TransitionForm | None, transition: str, label: str | None
) -> str:
    """One problem of a refused transition, as the agent reads it."""
    code = problem.get("code", "")
    template = PROBLEM_MESSAGES.get(code)
    if template is None:
        return str(problem.get("message", ""))
    if code == "invalid_field":
        own = _own_message(form, problem.get("field", ""))
        if own:
            return str(INVALID_WITH_REASON) % {"field": label or "", "message": own}
    return str(template) % {"field": label or "", "transition": transition}


def _own_message(form: TransitionForm | None, api_field: str) -> str | None:
    """The definition's own message for an input (admins write it for their agents)."""
    if form is None:
        return None
    for i, item in enumerate(form.transition.during.fields):
        if form.api_name(f"input_{i}") == api_field:
            return item.message
    return None


REMINDER_CHOICES = [
    ("", pgettext_lazy("reminder", "No reminder")),
    ("0m", _("At the due time")),
    ("15m", _("15 minutes before")),
    ("1h", _("1 hour before")),
    ("1d", _("1 day before")),
]


class TaskForm(_PlainLabels, forms.Form):
    title = forms.CharField(label=_("Task"), max_length=200)
    assignee = forms.TypedChoiceField(label=_("Assignee"), coerce=int)
    due_at = forms.DateTimeField(
        label=_("Due"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    reminder = forms.ChoiceField(label=_("Reminder"), required=False, choices=REMINDER_CHOICES)

    def __init__(
        self,
        *args: Any,
        ticket: Ticket,
        me: User,
        people: Iterable[User] | None = None,
        members: AbstractSet[int] = frozenset(),
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("auto_id", "task-%s")
        super().__init__(*args, **kwargs)
        choice_field(self, "assignee").choices = _agents_for(ticket, people, members)
        self.fields["assignee"].initial = str(me.pk)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("reminder") and not data.get("due_at"):
            self.add_error("reminder", _("A reminder needs a due date."))
        return data


class EscalateForm(_PlainLabels, forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}))
    to = forms.ChoiceField(label=_("To tier"), required=False)

    def __init__(self, *args: Any, tiers: Sequence[tuple[str, str | Promise]] = (), **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "tier-%s")
        super().__init__(*args, **kwargs)
        if len(tiers) > 1:
            choice_field(self, "to").choices = list(tiers)
        else:
            del self.fields["to"]

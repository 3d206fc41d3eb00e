"""The forms of the Console's desk set-up: departments, custom fields and a department's layout.
They parse only; the services in `accounts.services` and `tickets.fields_services` validate and
write (the same as the API), and their refusals come back inline (`attach`)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.validators import RegexValidator
from django.utils.text import slugify
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from sportello.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from sportello.core.forms import choice_field
from sportello.tickets.fields_services import (
    DESCRIPTION_MAX,
    LABEL_MAX,
    OPTION_LABEL_MAX,
    OPTION_VALUE_MAX,
    OPTIONS_MAX,
    FieldOption,
    LayoutRowSpec,
    field_fingerprint,
)
from sportello.tickets.models import CustomerAccess, CustomField, FieldType, LayoutField, Requirement

CHOICE_TYPES = (FieldType.PICKLIST.value, FieldType.MULTI_SELECT.value)

TYPE_LABELS = {
    FieldType.TEXT.value: _("Text"),
    FieldType.LONG_TEXT.value: _("Long text"),
    FieldType.NUMBER.value: _("Number"),
    FieldType.DECIMAL.value: _("Decimal"),
    FieldType.DATE.value: _("Date"),
    FieldType.DATETIME.value: _("Date and time"),
    FieldType.BOOLEAN.value: _("Yes or no"),
    FieldType.PICKLIST.value: _("Picklist"),
    FieldType.MULTI_SELECT.value: _("Multi-select"),
}

REQUIREMENT_LABELS = {
    Requirement.NONE.value: _("Optional"),
    Requirement.TO_SOLVE.value: _("Required to solve"),
    Requirement.ALWAYS.value: _("Required on every change"),
}
# What the ticket's customer may do with a layout's field.
CUSTOMER_ACCESS_LABELS = {
    CustomerAccess.HIDDEN.value: _("Can't see"),
    CustomerAccess.READ.value: _("Can see"),
    CustomerAccess.EDIT.value: _("Can fill"),
}


def attach(form: forms.Form, exc: DomainError, *, aliases: Mapping[str, str] | None = None) -> int:
    """Put a service's refusal on `form`: next to the field it names (through `aliases`), else
    at the top; the status to answer with. NotFound is for the caller."""
    if isinstance(exc, NotFound):
        raise exc
    name = (aliases or {}).get(exc.field or "", exc.field or "")
    name = name.split(".", 1)[0]
    message = exc.message
    if isinstance(exc, Conflict) and exc.field == "name":
        message = gettext("A department with this name exists already.")
    elif isinstance(exc, Conflict) and exc.field == "key":
        message = gettext("A field with this key exists already.")
    elif isinstance(exc, Conflict) and exc.code == "field_in_use":
        message = gettext("Rules or macros read this field: %(detail)s") % {"detail": exc.message}
    elif isinstance(exc, Conflict) and exc.field == "options":
        message = gettext("A value you removed is still allowed by a layout: %(detail)s") % {
            "detail": exc.message
        }
    elif isinstance(exc, ValidationFailed) and (exc.field or "").startswith("options."):
        index = (exc.field or "").split(".")[1]
        line = int(index) + 1 if index.isdigit() else 0
        message = gettext("Line %(line)s: %(detail)s") % {"line": line, "detail": exc.message}
    if name in form.fields:
        form.add_error(name, message)
    else:
        form.add_error(None, message)
    return exc.status


# --------------------------------------------------------------------------------------------
# Departments


class DepartmentForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    email = forms.EmailField(
        label=_("Reply address"),
        required=False,
        max_length=254,
        help_text=_("The address its tickets are answered from; empty: the desk's own."),
    )
    description = forms.CharField(
        label=_("Description"),
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("What its agents handle; shown to agents."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class DepartmentEditForm(DepartmentForm):
    is_active = forms.BooleanField(
        label=_("Active"),
        required=False,
        help_text=_("An inactive department takes no new tickets; its tickets stay as they are."),
    )
    # The department's fingerprint when the form was drawn: a save over a change made meanwhile
    # is refused (`department_update(expected=...)`).
    seen = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)


# --------------------------------------------------------------------------------------------
# Custom fields

KEY_VALIDATOR = RegexValidator(
    r"^[a-z][a-z0-9_]{0,62}$",
    _("Start with a lower-case letter; use only a-z, 0-9 and _ (at most 63)."),
)
OPTION_LINE = re.compile(r"^(?P<value>[^|]*?)\s*\|\s*(?P<label>.*)$")


def options_text(options: Sequence[Mapping[str, str]]) -> str:
    """A field's options as the form shows them: one a line, `value | Label`."""
    lines = []
    for o in options:
        label = o.get("label") or o["value"]
        lines.append(o["value"] if label == o["value"] else f"{o['value']} | {label}")
    return "\n".join(lines)


def option_value(label: str) -> str:
    """The value an option written as a label alone gets: its slug, with underscores."""
    return slugify(label).replace("-", "_")[:OPTION_VALUE_MAX] or label[:OPTION_VALUE_MAX]


class FieldForm(forms.Form):
    """A custom field: its label, its key and type (fixed once created), its values (one a line,
    `value | Label`, or a label alone whose value is made from it), its help text and place."""

    label = forms.CharField(label=_("Label"), max_length=LABEL_MAX)
    key = forms.CharField(
        label=_("Key"),
        max_length=63,
        validators=[KEY_VALIDATOR],
        help_text=_("How the API, rules and exports name it, e.g. subcategory. It cannot change later."),
    )
    type = forms.ChoiceField(label=_("Type"), help_text=_("It cannot change later."))
    options = forms.CharField(
        label=_("Values"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text=_(
            "Picklists and multi-selects: one value a line, in the order agents see them. "
            "Write “value | Label” to rename a value's label; a label alone makes its value. "
            "Delete a line to retire that value."
        ),
    )
    description = forms.CharField(
        label=_("Help text"),
        required=False,
        max_length=DESCRIPTION_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Shown under the field on the ticket form."),
    )
    position = forms.IntegerField(
        label=_("Position"),
        min_value=0,
        max_value=32_767,
        initial=0,
        help_text=_("Lower numbers come first in the list of fields."),
    )

    def __init__(self, *args: Any, field: CustomField | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        if field is not None:
            kwargs.setdefault(
                "initial",
                {
                    "label": field.label,
                    "key": field.key,
                    "type": field.type,
                    "options": options_text(field.options or []),
                    "description": field.description,
                    "position": field.position,
                    "is_active": field.is_active,
                    "seen": field_fingerprint(field),
                },
            )
        super().__init__(*args, **kwargs)
        self.instance = field
        choice_field(self, "type").choices = [(k, v) for k, v in TYPE_LABELS.items()]
        if field is not None:
            # Key and type are fixed: shown, never sent back.
            for name in ("key", "type"):
                self.fields[name].disabled = True
                self.fields[name].required = False
            self.fields["seen"] = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)
            self.fields["is_active"] = forms.BooleanField(
                label=_("Active"),
                required=False,
                help_text=_("An inactive field leaves every layout and form; stored values stay."),
            )

    @property
    def field_type(self) -> str:
        if self.instance is not None:
            return self.instance.type
        return str(self.cleaned_data.get("type") or self.data.get("type") or "")

    def clean_options(self) -> list[FieldOption]:
        raw = self.cleaned_data.get("options") or ""
        lines = [line.strip() for line in raw.splitlines() if line.strip()]
        if len(lines) > OPTIONS_MAX:
            raise forms.ValidationError(gettext("At most %(n)s values.") % {"n": OPTIONS_MAX})
        options: list[FieldOption] = []
        seen: set[str] = set()
        for i, line in enumerate(lines, start=1):
            m = OPTION_LINE.match(line)
            value, label = (m["value"].strip(), m["label"].strip()) if m else ("", line)
            if m and not value:
                value = option_value(label)
            elif not m:
                value = option_value(line)
            if not value:
                raise forms.ValidationError(gettext("Line %(line)s has no value.") % {"line": i})
            if len(value) > OPTION_VALUE_MAX or len(label) > OPTION_LABEL_MAX:
                raise forms.ValidationError(gettext("Line %(line)s is too long.") % {"line": i})
            if value in seen:
                raise forms.ValidationError(
                    gettext("Line %(line)s repeats the value “%(value)s”.") % {"line": i, "value": value}
                )
            seen.add(value)
            options.append(FieldOption(value=value, label=label or value))
        return options

    def clean(self) -> dict[str, Any]:
        cd = super().clean() or {}
        if "options" in cd:
            kind = self.field_type
            if kind in CHOICE_TYPES and not cd["options"]:
                self.add_error("options", gettext("Give at least one value."))
            elif kind and kind not in CHOICE_TYPES and cd["options"]:
                self.add_error("options", gettext("Only picklists and multi-selects have values."))
        return cd


# --------------------------------------------------------------------------------------------
# A department's layout


@dataclass(slots=True)
class LayoutRowState:
    """One row of the layout as the editor holds it (saved or not)."""

    field: CustomField
    required: str = Requirement.NONE.value
    from_customer: bool = False
    customer_access: str = CustomerAccess.EDIT.value
    limited: bool = False  # only some of the field's values in this department
    allowed: list[str] | None = None  # the values ticked (when limited)
    error: str = ""  # what is wrong with the row's values, shown next to them
    access_error: str = ""  # what is wrong with what the customer may do, shown next to it

    @property
    def key(self) -> str:
        return self.field.key

    @property
    def is_choice(self) -> bool:
        return self.field.type in CHOICE_TYPES

    @property
    def options(self) -> list[tuple[str, str, bool]]:
        """The field's values: (value, label, ticked)."""
        chosen = set(self.allowed or [])
        return [
            (o["value"], o.get("label") or o["value"], not self.limited or o["value"] in chosen)
            for o in self.field.options or []
        ]

    def spec(self) -> LayoutRowSpec:
        allowed = None
        if self.is_choice and self.limited:
            allowed = list(self.allowed or [])
        return LayoutRowSpec(
            field=self.key,
            required=self.required,
            required_from_customer=self.from_customer,
            customer_access=self.customer_access,
            allowed_values=allowed,
        )

    def preview_row(self, position: int) -> LayoutField:
        """An unsaved layout row, as the Desk's forms read one."""
        spec = self.spec()
        row = LayoutField(
            field=self.field,
            required=self.required,
            required_from_customer=self.from_customer,
            customer_access=self.customer_access,
            position=position,
            allowed_values=None if spec.allowed_values is None else list(spec.allowed_values),
        )
        return row


@dataclass(slots=True)
class LayoutEditor:
    """The layout being edited: its rows in order, the active fields that could be added, the
    fingerprint of the saved layout it started from, and the errors of its rows."""

    rows: list[LayoutRowState]
    addable: list[CustomField]
    fingerprint: str
    errors: dict[str, str]
    top_error: str = ""
    add_choice: str = ""  # the field picked in "Add a field", kept while not added yet

    def specs(self) -> list[LayoutRowSpec]:
        return [r.spec() for r in self.rows]

    def preview_rows(self) -> list[LayoutField]:
        return [r.preview_row(i) for i, r in enumerate(self.rows)]


def editor_from_saved(
    rows: Sequence[LayoutField], fields: Sequence[CustomField], fingerprint: str
) -> LayoutEditor:
    """The editor for the layout as saved: its rows whose field is active, in order."""
    active = {f.pk: f for f in fields}
    states = [
        LayoutRowState(
            field=active[r.field_id],
            required=r.required,
            from_customer=r.required_from_customer,
            customer_access=r.customer_access,
            limited=r.allowed_values is not None,
            allowed=list(r.allowed_values) if r.allowed_values is not None else None,
        )
        for r in rows
        if r.field_id in active
    ]
    return _with_addable(states, fields, fingerprint)


def _with_addable(
    states: list[LayoutRowState], fields: Sequence[CustomField], fingerprint: str
) -> LayoutEditor:
    used = {s.key for s in states}
    return LayoutEditor(
        rows=states, addable=[f for f in fields if f.key not in used], fingerprint=fingerprint, errors={}
    )


def editor_from_post(data: Any, fields: Sequence[CustomField]) -> LayoutEditor:
    """The editor as the admin left it: the rows posted (`row`, in order; unknown or repeated
    keys dropped) with their settings, then the one move asked for (`move`: `up:<key>`,
    `down:<key>`, `remove:<key>`) or the field added (`add`, with `do=add`)."""
    by_key = {f.key: f for f in fields}
    states: list[LayoutRowState] = []
    seen: set[str] = set()
    for key in data.getlist("row"):
        field = by_key.get(key)
        if field is None or key in seen:
            continue
        seen.add(key)
        required = data.get(f"req-{key}", Requirement.NONE.value)
        if required not in REQUIREMENT_LABELS:
            required = Requirement.NONE.value
        # Every value ticked and "values added later" too: no limit (null); else the ticked ones.
        known = [o["value"] for o in field.options or []]
        ticked = set(data.getlist(f"val-{key}"))
        limited = field.type in CHOICE_TYPES and not (
            ticked.issuperset(known) and data.get(f"later-{key}") == "on"
        )
        allowed = [v for v in known if v in ticked] if limited else None
        access = data.get(f"access-{key}", CustomerAccess.EDIT.value)
        if access not in CUSTOMER_ACCESS_LABELS:
            access = CustomerAccess.EDIT.value
        states.append(
            LayoutRowState(
                field=field,
                required=required,
                customer_access=access,
                from_customer=data.get(f"cust-{key}") == "on",
                limited=limited,
                allowed=allowed,
            )
        )
    move = str(data.get("move", ""))
    verb, _sep, target = move.partition(":")
    index = next((i for i, s in enumerate(states) if s.key == target), None)
    if index is not None:
        if verb == "up" and index > 0:
            states[index - 1], states[index] = states[index], states[index - 1]
        elif verb == "down" and index < len(states) - 1:
            states[index + 1], states[index] = states[index], states[index + 1]
        elif verb == "remove":
            del states[index]
    if data.get("do") == "add":
        field = by_key.get(str(data.get("add", "")))
        if field is not None and field.key not in {s.key for s in states}:
            states.append(LayoutRowState(field=field))
    editor = _with_addable(states, fields, str(data.get("fingerprint", ""))[:64])
    if data.get("do") != "add":
        editor.add_choice = str(data.get("add", ""))
    for s in states:
        if s.limited and not s.allowed:
            s.error = editor.errors[s.key] = gettext("Tick at least one value of %(label)s.") % {
                "label": s.field.label
            }
        if s.from_customer and s.customer_access != CustomerAccess.EDIT:
            s.access_error = editor.errors[s.key] = gettext(
                "%(label)s can be required of customers only if they can fill it."
            ) % {"label": s.field.label}
    return editor

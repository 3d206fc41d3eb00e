"""Custom-field definitions and department layouts: reads and writes.

A custom field is defined once for the desk (`CustomField`); a department's layout
(`LayoutField` rows) says which fields apply to its tickets, which are required and of whom
(agents: to solve, or on every change; the customer: on the customer's form), in what order,
and, for picklists and multi-selects, which of the field's options the department allows.
The change pipeline reads both when it validates a ticket's custom fields.

Rules kept here:
- a field's `key` is a slug (`^[a-z][a-z0-9_]{0,62}$`) and, like its `type`, never changes:
  stored ticket values and rules refer to it;
- picklist and multi-select fields have at least one option; option values are non-empty and
  unique within the field; other types have no options;
- removing an option that a department's layout explicitly allows (it is listed in that
  layout's `allowed_values`) is refused with a Conflict naming the departments: the admin edits
  those layouts first. Silently narrowing a layout would change which values a department's
  agents may pick without anyone deciding so, and could leave a layout with no allowed value
  at all. Layouts that allow every option (`allowed_values` null) do not block a removal;
- a layout row says what the ticket's customer may do with its field (`customer_access`):
  nothing (`hidden`: agents only), see its value (`read`) or see and fill it (`edit`, the
  default); only a field customers fill may be required of them (`required_from_customer`);
- a layout row's `allowed_values` is null (every option) or a non-empty subset of the field's
  option values, and only choice fields may have one;
- deactivating a field that an active rule or macro reads (a condition, an action or a
  template placeholder) is refused with a Conflict naming them: they would silently stop
  matching; the admin changes them first. Rules therefore only ever read active fields, whose
  key and type are fixed, and may keep their parsed form for as long as they run.

Only admins write; `actor=None` is the system itself (set-up, demo data, tests).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from sportello.accounts.models import Department, Role, User
from sportello.accounts.selectors import valid_pk
from sportello.accounts.services import require_admin
from sportello.accounts.structure import DESK
from sportello.core import clock, config
from sportello.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from sportello.core.snapshots import recording, snapshot_record
from sportello.core.text import clean_text
from sportello.engine.fields import CHOICE_TYPES, FIELD_TYPES

from .models import CustomerAccess, CustomField, LayoutField, Requirement

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
OPTIONS_MAX = 500
OPTION_VALUE_MAX = 100
OPTION_LABEL_MAX = 200
LABEL_MAX = 120
DESCRIPTION_MAX = 10_000
LAYOUT_ROWS_MAX = 200
POSITION_MAX = 32_767


@dataclass(frozen=True, slots=True)
class FieldOption:
    value: str
    label: str = ""


@dataclass(frozen=True, slots=True)
class LayoutRowSpec:
    """One requested layout row. `position` None: the row's place in the request."""

    field: str
    # Agents: "none", "to_solve" (before solving or closing) or "always" (every change of the
    # ticket's fields). `True` / `False` (the flag's earlier form) mean "always" / "none".
    required: str | bool = "none"
    required_from_customer: bool = False  # the customer fills it on the customer's form
    position: int | None = None
    allowed_values: Sequence[str] | None = None
    # What the customer may do with it: "hidden", "read" or "edit" (`CustomerAccess`).
    customer_access: str = CustomerAccess.EDIT


# --------------------------------------------------------------------------------------------
# Reads


def custom_field_list(*, user: User | None, is_active: bool | None = None) -> QuerySet[CustomField]:
    qs = CustomField.objects.all()
    if is_active is not None:
        qs = qs.filter(is_active=is_active)
    return qs


def custom_field_get(*, user: User | None, ref: str) -> CustomField:
    """A field by its numeric id or its key (keys start with a letter, so the two never clash)."""
    field: CustomField | None = None
    if ref.isascii() and ref.isdigit():
        if len(ref) <= 19 and valid_pk(int(ref)):
            field = CustomField.objects.filter(pk=int(ref)).first()
    elif KEY_PATTERN.match(ref):
        field = CustomField.objects.filter(key=ref).first()
    if field is None:
        raise NotFound("custom field not found")
    return field


def department_for_layout(*, user: User, department_id: int) -> Department:
    """The department whose layout `user` asks for: admins read every layout, other agents
    (light agents included) the layouts of their own departments."""
    if not valid_pk(department_id):
        raise NotFound("department not found")
    department = Department.objects.filter(pk=department_id).first()
    if department is None:
        raise NotFound("department not found")
    if user.role != Role.ADMIN and not user.departments.filter(pk=department.pk).exists():
        raise PermissionDenied("you can read the layouts of your own departments only")
    return department


def layout_get(*, department: Department) -> list[LayoutField]:
    return list(LayoutField.objects.filter(department=department).select_related("field"))


def field_fingerprint(field: CustomField) -> str:
    """A short digest of a field's changeable attributes: a form carries the one it was drawn
    from, so a save over a change someone made meanwhile is refused
    (`custom_field_update(expected=...)`)."""
    shape = [field.label, field.options, field.description, field.position, field.is_active]
    return hashlib.sha256(json.dumps(shape).encode()).hexdigest()[:16]


def layout_fingerprint(rows: Sequence[LayoutField]) -> str:
    """A short digest of a layout as saved (its fields, in order, with their requirements,
    customer access and values): a form carries the one it was drawn from, so a save over a
    layout someone else saved meanwhile is refused (`layout_replace(expected=...)`)."""
    shape = [
        [r.field_id, r.required, r.required_from_customer, r.position, r.allowed_values]
        + ([] if r.customer_access == CustomerAccess.EDIT else [r.customer_access])
        for r in sorted(rows, key=lambda r: (r.position, r.pk or 0))
    ]
    return hashlib.sha256(json.dumps(shape).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# Writes


def _key(raw: str) -> str:
    if not isinstance(raw, str) or not KEY_PATTERN.match(raw):
        raise ValidationFailed(
            "must start with a lower-case letter and hold only a-z, 0-9 and _ (at most 63)", field="key"
        )
    return raw


def _type(raw: str) -> str:
    if raw not in FIELD_TYPES:
        raise ValidationFailed(f"must be one of {', '.join(sorted(FIELD_TYPES))}", field="type")
    return raw


def _label(raw: str) -> str:
    return clean_text(raw, field="label", max_length=LABEL_MAX, single_line=True, required=True)


def _position(raw: int, *, field: str) -> int:
    if isinstance(raw, bool) or not 0 <= raw <= POSITION_MAX:
        raise ValidationFailed(f"must be between 0 and {POSITION_MAX}", field=field)
    return raw


def _options(field_type: str, options: Sequence[FieldOption]) -> list[dict[str, str]]:
    if field_type not in CHOICE_TYPES:
        if options:
            raise ValidationFailed(f"a {field_type} field has no options", field="options")
        return []
    if not options:
        raise ValidationFailed(f"a {field_type} field needs at least one option", field="options")
    if len(options) > OPTIONS_MAX:
        raise ValidationFailed(f"at most {OPTIONS_MAX} options", field="options")
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for i, option in enumerate(options):
        value = clean_text(
            option.value, field=f"options.{i}.value", max_length=OPTION_VALUE_MAX, single_line=True
        )
        if not value:
            raise ValidationFailed("must not be empty", field=f"options.{i}.value")
        if value in seen:
            raise ValidationFailed(f"{value!r} is listed twice", field=f"options.{i}.value")
        seen.add(value)
        label = clean_text(
            option.label, field=f"options.{i}.label", max_length=OPTION_LABEL_MAX, single_line=True
        )
        out.append({"value": value, "label": label or value})
    return out


def custom_field_create(
    *,
    actor: User | None,
    key: str,
    label: str,
    type: str,
    options: Sequence[FieldOption] = (),
    description: str = "",
    position: int = 0,
) -> CustomField:
    require_admin(actor)
    key = _key(key)
    field_type = _type(type)
    label = _label(label)
    clean_options = _options(field_type, options)
    description = clean_text(description, field="description", max_length=DESCRIPTION_MAX)
    position = _position(position, field="position")
    if CustomField.objects.filter(key=key).exists():
        raise Conflict(f"a custom field with key {key!r} exists", field="key")
    try:
        with transaction.atomic():
            created = CustomField.objects.create(
                key=key,
                label=label,
                type=field_type,
                options=clean_options,
                description=description,
                position=position,
            )
            snapshot_record("fields", key, actor=actor, now=clock.now())  # tickets.history
            return created
    except IntegrityError:  # created concurrently
        raise Conflict(f"a custom field with key {key!r} exists", field="key") from None


@transaction.atomic
def custom_field_update(
    *,
    actor: User | None,
    field: CustomField,
    key: str | None = None,
    type: str | None = None,
    label: str | None = None,
    options: Sequence[FieldOption] | None = None,
    description: str | None = None,
    position: int | None = None,
    is_active: bool | None = None,
    expected: str | None = None,
) -> CustomField:
    """Change a field; `None` leaves an attribute as it is. `key` and `type` may be sent only
    with their current values. `options` replaces the list (see the module notes on removing
    an option a layout allows). `expected`: the `field_fingerprint` the caller saw; when the
    field changed since, the change is refused (a Conflict "stale_field")."""
    require_admin(actor)
    field = CustomField.objects.select_for_update().get(pk=field.pk)
    if expected is not None and field_fingerprint(field) != expected:
        raise Conflict("the field changed since it was read", code="stale_field")
    if key is not None and key != field.key:
        raise ValidationFailed("a field's key cannot be changed", field="key")
    if type is not None and type != field.type:
        raise ValidationFailed("a field's type cannot be changed", field="type")
    changed: list[str] = []
    if label is not None:
        field.label = _label(label)
        changed.append("label")
    if options is not None:
        clean_options = _options(field.type, options)
        _check_removed_options(field, {o["value"] for o in clean_options})
        field.options = clean_options
        changed.append("options")
    if description is not None:
        field.description = clean_text(description, field="description", max_length=DESCRIPTION_MAX)
        changed.append("description")
    if position is not None:
        field.position = _position(position, field="position")
        changed.append("position")
    if is_active is not None:
        if field.is_active and not is_active:
            _check_unread_by_automation(field)
        field.is_active = is_active
        changed.append("is_active")
    if changed:
        with recording("fields", field.key, actor=actor, now=clock.now()):  # tickets.history
            field.save(update_fields=changed)
    return field


def _check_unread_by_automation(field: CustomField) -> None:
    """Refuse to deactivate a field that active rules or macros read: they would silently stop
    matching (or fail) on every ticket. The admin changes them first."""
    from sportello.automation.selectors import field_readers

    readers = field_readers(field.key)
    if readers:
        shown = ", ".join(readers[:10]) + (f" and {len(readers) - 10} more" if len(readers) > 10 else "")
        raise Conflict(
            f"{field.key} is read by {shown}; change or deactivate them first",
            field="is_active",
            code="field_in_use",
        )


def _check_removed_options(field: CustomField, kept: set[str]) -> None:
    removed = {o["value"] for o in field.options or []} - kept
    if not removed:
        return
    rows = (
        LayoutField.objects.filter(field=field, allowed_values__isnull=False)
        .select_related("department")
        .order_by("department__name")
    )
    for value in sorted(removed):
        departments = [r.department.name for r in rows if value in (r.allowed_values or [])]
        if departments:
            raise Conflict(
                f"cannot remove the option {value!r}: the layout of {', '.join(departments)} allows it; "
                "remove it from that layout first",
                field="options",
            )


@transaction.atomic
def layout_replace(
    *,
    actor: User | None,
    department: Department,
    rows: Sequence[LayoutRowSpec],
    expected: str | None = None,
) -> list[LayoutField]:
    """Replace a department's whole layout with `rows`. Errors name the row: `fields.<i>.field`
    for an unknown or repeated key, `fields.<key>.allowed_values` for a bad value list.
    `expected`: the `layout_fingerprint` of the layout the caller saw; when the saved one
    differs (someone saved meanwhile) the replacement is refused, a Conflict "stale_layout".

    Tickets already in the department keep their values; the new rules apply to them on their
    next change (the pipeline re-checks carried-over values against the layout)."""
    require_admin(actor)
    if len(rows) > LAYOUT_ROWS_MAX:
        raise ValidationFailed(f"a layout holds at most {LAYOUT_ROWS_MAX} fields", field="fields")
    # Serialise concurrent replacements of the same layout.
    Department.objects.select_for_update().filter(pk=department.pk).first()
    if expected is not None and layout_fingerprint(layout_get(department=department)) != expected:
        raise Conflict("the layout changed since it was read", field="fields", code="stale_layout")
    keys = [r.field for r in rows]
    wanted = [k for k in keys if isinstance(k, str) and KEY_PATTERN.match(k)]  # never query with junk
    defs = {f.key: f for f in CustomField.objects.filter(key__in=wanted)}
    seen: set[str] = set()
    new_rows: list[LayoutField] = []
    for i, row in enumerate(rows):
        definition = defs.get(row.field)
        if definition is None:
            raise ValidationFailed(f"no custom field with key {row.field[:60]!r}", field=f"fields.{i}.field")
        if row.field in seen:
            raise ValidationFailed(f"{row.field!r} is listed twice", field=f"fields.{i}.field")
        seen.add(row.field)
        position = i if row.position is None else _position(row.position, field=f"fields.{i}.position")
        access = _customer_access(row.customer_access, field=f"fields.{i}.customer_access")
        if row.required_from_customer and access != CustomerAccess.EDIT:
            raise ValidationFailed(
                f"{row.field} can be required of customers only when customers can fill it",
                field=f"fields.{i}.required_from_customer",
            )
        new_rows.append(
            LayoutField(
                department=department,
                field=definition,
                required=_requirement(row.required, field=f"fields.{i}.required"),
                required_from_customer=bool(row.required_from_customer),
                customer_access=access,
                position=position,
                allowed_values=_allowed_values(definition, row.allowed_values),
            )
        )
    with recording("layouts", department.slug, actor=actor, now=clock.now()):  # tickets.history
        LayoutField.objects.filter(department=department).delete()
        LayoutField.objects.bulk_create(new_rows)
    config.bump(DESK)  # the bulk insert sends no signal (tickets.configuration)
    return layout_get(department=department)


def _requirement(raw: str | bool, *, field: str) -> str:
    if raw is True:
        return Requirement.ALWAYS
    if raw is False:
        return Requirement.NONE
    if raw not in Requirement.values:
        raise ValidationFailed(f"must be one of {', '.join(Requirement.values)}", field=field)
    return str(raw)


def _customer_access(raw: str, *, field: str) -> str:
    if raw not in CustomerAccess.values:
        raise ValidationFailed(f"must be one of {', '.join(CustomerAccess.values)}", field=field)
    return str(raw)


def _allowed_values(definition: CustomField, raw: Sequence[str] | None) -> list[str] | None:
    if raw is None:
        return None
    where = f"fields.{definition.key}.allowed_values"
    if definition.type not in CHOICE_TYPES:
        raise ValidationFailed(
            f"{definition.key} is a {definition.type} field; only picklists and multi-selects "
            "take allowed_values",
            field=where,
        )
    if not raw:
        raise ValidationFailed(
            f"give at least one value of {definition.key}, or null to allow them all", field=where
        )
    options = [o["value"] for o in definition.options or []]
    for value in raw:
        if value not in options:
            shown = value[:60] if isinstance(value, str) else value
            raise ValidationFailed(f"{shown!r} is not an option of {definition.key}", field=where)
    chosen = set(raw)
    return [v for v in options if v in chosen]  # the field's order, without repeats

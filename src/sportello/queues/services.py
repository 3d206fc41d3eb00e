"""Writes of saved views, and bulk changes to tickets from the queue. Every ticket change goes
through the tickets' pipeline (`tickets.services.ticket_update`, `automation.macros`), one ticket
per transaction, so one refused ticket never stops the others."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction

from sportello.accounts.models import Department, Role, User
from sportello.automation import macros
from sportello.core.actors import Via
from sportello.core.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from sportello.core.paging import parse_sort
from sportello.engine.conditions import FieldSpec
from sportello.tickets.models import UNRESOLVED_CATEGORIES
from sportello.tickets.services import ticket_update

from . import conditions
from .columns import COLUMNS_MAX, DEFAULT_COLUMNS, DEFAULT_SORT, REQUIRED_COLUMNS, SORTS, is_column
from .models import SavedView, ViewExtra

NAME_MAX = 120
BULK_MAX = 500

_UNRESOLVED = {
    "field": "ticket.status_category",
    "op": "in",
    "value": [str(c) for c in UNRESOLVED_CATEGORIES],
}

# Solved or closed in the last week: bounded in time, so its count and its pages stay small
# however many tickets a desk has solved.
RECENTLY_SOLVED_DAYS = 7
RECENTLY_SOLVED: dict[str, Any] = {
    "all": [
        {"field": "ticket.status_category", "op": "in", "value": ["solved", "closed"]},
        {"field": "ticket.solved_at", "op": "gte", "value": conditions.days_ago(RECENTLY_SOLVED_DAYS)},
    ]
}

# The views every desk starts with: key, name, condition, extra filter, sort.
DEFAULT_VIEWS: list[tuple[str, str, dict[str, Any], str, str]] = [
    (
        "my-open",
        "My open tickets",
        {"all": [{"field": "ticket.assignee", "op": "is", "value": conditions.ME}, _UNRESOLVED]},
        "",
        "-priority,created",
    ),
    (
        "unassigned",
        "Unassigned in my departments",
        {
            "all": [
                {"field": "ticket.assignee", "op": "absent"},
                {"field": "ticket.department", "op": "in", "value": conditions.MY_DEPARTMENTS},
                _UNRESOLVED,
            ]
        },
        "",
        "-priority,created",
    ),
    ("all-unresolved", "All unresolved", {"all": [_UNRESOLVED]}, "", "-priority,created"),
    (
        "sla-at-risk",
        "At risk and breached",
        {"all": [_UNRESOLVED]},
        ViewExtra.SLA_AT_RISK,
        "-priority,created",
    ),
    (
        "vip",
        "VIP",
        {
            "all": [
                {
                    "any": [
                        {"field": "requester.vip", "op": "is", "value": True},
                        {"field": "organization.vip", "op": "is", "value": True},
                    ]
                },
                _UNRESOLVED,
            ]
        },
        "",
        "-priority,created",
    ),
    (
        "pending",
        "Pending",
        {"field": "ticket.status_category", "op": "is", "value": "pending"},
        "",
        "-updated",
    ),
    (
        "recently-solved",
        "Recently solved",
        RECENTLY_SOLVED,
        "",
        "-updated",
    ),
    (
        "customer-updated",
        "Updated by the customer",
        {"all": [_UNRESOLVED]},
        ViewExtra.CUSTOMER_UPDATED,
        "-updated",
    ),
]
LANDING_VIEW = "all-unresolved"


def saved_view_defaults_ensure(*, now: datetime) -> None:
    """Create the shipped views that are missing (concurrent callers create each once)."""
    rows = [
        SavedView(
            key=key,
            name=name,
            condition=cond,
            extra=extra,
            sort=sort,
            columns=list(DEFAULT_COLUMNS),
            position=i,
            created_at=now,
            updated_at=now,
        )
        for i, (key, name, cond, extra, sort) in enumerate(DEFAULT_VIEWS)
    ]
    SavedView.objects.bulk_create(rows, ignore_conflicts=True)


@dataclass(frozen=True, slots=True)
class ViewInput:
    """What an agent gives for a view; None: keep (on update) or the default (on create)."""

    name: str | None = None
    condition: Any = None
    columns: Sequence[str] | None = None
    sort: str | None = None
    shared: bool = False
    department_id: int | None = None


def _name(raw: str | None) -> str:
    name = " ".join((raw or "").split())
    if not name:
        raise ValidationFailed("give the view a name", field="name")
    if len(name) > NAME_MAX:
        raise ValidationFailed(f"at most {NAME_MAX} characters", field="name")
    return name


def _columns(raw: Sequence[str], custom_keys: set[str]) -> list[str]:
    columns = list(dict.fromkeys(raw))
    for key in columns:
        if not is_column(key, custom_keys):
            raise ValidationFailed(f"unknown column {key[:60]!r}", field="columns")
    if len(columns) > COLUMNS_MAX:
        raise ValidationFailed(f"at most {COLUMNS_MAX} columns", field="columns")
    missing = [k for k in REQUIRED_COLUMNS if k not in columns]
    return [*missing, *columns]


def _sort(raw: str) -> str:
    parse_sort(raw, allowed=SORTS, default=[])  # raises ValidationFailed(field="sort")
    return raw


def _check_may_write(view: SavedView, actor: User) -> None:
    if view.owner_id is None:
        if actor.role != Role.ADMIN:
            raise PermissionDenied("only admins change shared views", field="shared")
    elif view.owner_id != actor.pk:
        raise NotFound("view not found")


def _custom_keys(specs: Mapping[str, FieldSpec]) -> set[str]:
    return {p.removeprefix("ticket.custom.") for p in specs if p.startswith("ticket.custom.")}


@transaction.atomic
def saved_view_create(
    *, actor: User, data: ViewInput, specs: Mapping[str, FieldSpec], now: datetime
) -> SavedView:
    """A personal view of `actor`, or (admins) a shared one, desk-wide or of one department."""
    if data.shared and actor.role != Role.ADMIN:
        raise PermissionDenied("only admins create shared views", field="shared")
    if data.department_id is not None:
        if not data.shared:
            raise ValidationFailed("only a shared view belongs to a department", field="department")
        if not Department.objects.filter(pk=data.department_id, is_active=True).exists():
            raise ValidationFailed("no such department", field="department")
    condition = data.condition if data.condition is not None else {"all": []}
    conditions.validate(condition, specs=specs)
    return SavedView.objects.create(
        name=_name(data.name),
        owner=None if data.shared else actor,
        department_id=data.department_id,
        condition=condition,
        columns=_columns(data.columns if data.columns is not None else DEFAULT_COLUMNS, _custom_keys(specs)),
        sort=_sort(data.sort or DEFAULT_SORT),
        position=100,
        created_at=now,
        updated_at=now,
    )


@transaction.atomic
def saved_view_update(
    *, actor: User, view_id: int, data: ViewInput, specs: Mapping[str, FieldSpec], now: datetime
) -> SavedView:
    """Rename a view, or change its condition, columns or sort (fields left None are kept)."""
    view = SavedView.objects.select_for_update().filter(pk=view_id).first()
    if view is None:
        raise NotFound("view not found")
    _check_may_write(view, actor)
    if data.name is not None:
        view.name = _name(data.name)
    if data.condition is not None:
        conditions.validate(data.condition, specs=specs)
        view.condition = data.condition
    if data.columns is not None:
        view.columns = _columns(data.columns, _custom_keys(specs))
    if data.sort is not None:
        view.sort = _sort(data.sort)
    view.updated_at = now
    view.save(update_fields=["name", "condition", "columns", "sort", "updated_at"])
    return view


@transaction.atomic
def saved_view_delete(*, actor: User, view_id: int) -> None:
    view = SavedView.objects.select_for_update().filter(pk=view_id).first()
    if view is None:
        raise NotFound("view not found")
    _check_may_write(view, actor)
    if view.key:
        raise PermissionDenied("the views shipped with the desk cannot be deleted", field="view")
    view.delete()


# --------------------------------------------------------------------------------------------
# Bulk changes


@dataclass(frozen=True, slots=True)
class BulkFailure:
    ticket_id: int
    code: str  # the domain error's code: conflict, not_found, permission_denied, validation_failed
    message: str
    field: str | None = None


@dataclass(frozen=True, slots=True)
class BulkSummary:
    changed: list[int]
    failed: list[BulkFailure]


def _check_bulk(actor: User, count: int) -> None:
    if actor.role == Role.LIGHT_AGENT:
        raise PermissionDenied("light agents cannot change tickets", field="tickets")
    if count == 0:
        raise ValidationFailed("select at least one ticket", field="tickets")
    if count > BULK_MAX:
        raise ValidationFailed(f"at most {BULK_MAX} tickets at once", field="tickets")


def ticket_bulk_update(
    *, actor: User, targets: Sequence[tuple[int, int]], change: Mapping[str, Any], now: datetime
) -> BulkSummary:
    """Apply `change` (keys of `ticket_update`: status, priority, assignee_id, team_id,
    department_id, add_tags, remove_tags) to each (ticket id, version the agent saw). A ticket
    changed since is reported as stale, never overwritten; each failure keeps its reason."""
    items = list(dict(targets).items())  # repeats: the last version given
    _check_bulk(actor, len(items))
    if not change:
        raise ValidationFailed("choose a change to make", field="change")
    changed: list[int] = []
    failed: list[BulkFailure] = []
    for ticket_id, version in items:
        try:
            ticket_update(
                principal=actor,
                ticket_id=ticket_id,
                via=Via.WEB,
                data={**change, "version": version},
                now=now,
            )
        except DomainError as exc:
            failed.append(
                BulkFailure(ticket_id=ticket_id, code=exc.code, message=exc.message, field=exc.field)
            )
        else:
            changed.append(ticket_id)
    return BulkSummary(changed=changed, failed=failed)


def ticket_bulk_macro(
    *, actor: User, ticket_ids: Sequence[int], macro_key: str, now: datetime
) -> BulkSummary:
    """Apply a macro to each ticket (`automation.macros.macro_apply_bulk`, in its batch size)."""
    ids = list(dict.fromkeys(ticket_ids))
    _check_bulk(actor, len(ids))
    macros.macro_get_for(agent=actor, key=macro_key)  # NotFound before any ticket is touched
    changed: list[int] = []
    failed: list[BulkFailure] = []
    for start in range(0, len(ids), macros.BULK_MAX):
        batch = ids[start : start + macros.BULK_MAX]
        for item in macros.macro_apply_bulk(
            key=macro_key, ticket_ids=batch, agent=actor, via=Via.WEB, now=now
        ):
            if item.ok:
                changed.append(item.ticket_id)
            else:
                failed.append(
                    BulkFailure(
                        ticket_id=item.ticket_id,
                        code=item.code or "error",
                        message=item.message or "",
                        field=item.field,
                    )
                )
    return BulkSummary(changed=changed, failed=failed)

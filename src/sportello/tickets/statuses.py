"""Writes for statuses: create, change, reorder.

A status's `key` never changes (rules, blueprints and the API name statuses by it). The rules
that keep every category usable:

- each category that has a status has exactly one default (a new ticket, or a change to the
  category, takes it): making a status the default makes the category's former default an
  ordinary status; a default is never unset directly — another status is made the default;
- a status's category changes only while no ticket (open or closed) has the status, since
  clocks, queues and reports have counted those tickets in its category; and never while it is
  its category's default;
- a default cannot be deactivated, nor the last active status of its category; an inactive
  status is kept for the tickets that have it and cannot be the default.

A change names the `status_fingerprint` it was drawn from (`expected`): when the status changed
since, it is refused (Conflict `stale_status`). Moves take no fingerprint: each swaps a status
with its neighbour in its category, and concurrent moves serialise on the statuses' row locks.
Every write is recorded in the statuses' history (`tickets.history`).
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime

from django.db import IntegrityError, transaction

from sportello.accounts.models import User
from sportello.accounts.permissions import require_admin
from sportello.accounts.structure import DESK
from sportello.core import config
from sportello.core.errors import Conflict, NotFound, ValidationFailed
from sportello.core.snapshots import recording, snapshot_record
from sportello.core.text import clean_text

from .models import Status, StatusCategory, Ticket

STATUSES = "statuses"  # the history kind (tickets.history)
KEY_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,39}")
NAME_MAX = 80


def status_fingerprint(status: Status) -> str:
    """A short digest of what an edit changes: a form carries it, so a save over a change made
    meanwhile is refused."""
    shape = [status.name, status.category, status.is_default, status.is_active]
    return hashlib.sha256(json.dumps(shape).encode()).hexdigest()[:16]


def _name(raw: str) -> str:
    return clean_text(raw, field="name", max_length=NAME_MAX, single_line=True, required=True).strip()


def _category(raw: str) -> str:
    if raw not in StatusCategory.values:
        raise ValidationFailed(f"must be one of {', '.join(StatusCategory.values)}", field="category")
    return raw


def _locked(status_id: int) -> Status:
    if not 0 < status_id < 2**63:
        raise NotFound("status not found")
    status = Status.objects.select_for_update().filter(pk=status_id).first()
    if status is None:
        raise NotFound("status not found")
    return status


def _lock_category(category: str) -> list[Status]:
    """Every status of `category`, locked: changes to one category's defaults serialise."""
    return list(Status.objects.select_for_update().filter(category=category).order_by("position", "id"))


def _make_default(status: Status, others: list[Status], *, actor: User | None, now: datetime) -> None:
    for other in others:
        if other.pk != status.pk and other.is_default:
            with recording(STATUSES, other.key, actor=actor, now=now):
                Status.objects.filter(pk=other.pk).update(is_default=False)


@transaction.atomic
def status_create(
    *, actor: User | None, key: str, name: str, category: str, is_default: bool = False, now: datetime
) -> Status:
    """A new active status at the end of the order. The first status of a category is its
    default; `is_default` makes it the default in place of the category's former one."""
    require_admin(actor)
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
        raise ValidationFailed(
            "must start with a letter: lower-case letters, digits and _ (at most 40)", field="key"
        )
    name = _name(name)
    category = _category(category)
    if Status.objects.filter(key=key).exists():
        raise Conflict(f"a status with the key {key!r} exists", field="key")
    others = _lock_category(category)
    default = is_default or not any(s.is_default for s in others)
    if default:
        _make_default(Status(pk=None), others, actor=actor, now=now)
    last = Status.objects.order_by("-position").values_list("position", flat=True).first()
    try:
        with transaction.atomic():
            status = Status.objects.create(
                key=key, name=name, category=category, is_default=default, position=(last or 0) + 10
            )
    except IntegrityError:  # created concurrently
        raise Conflict(f"a status with the key {key!r} exists", field="key") from None
    snapshot_record(STATUSES, key, actor=actor, now=now)
    config.bump(DESK)
    return status


@transaction.atomic
def status_update(
    *,
    actor: User | None,
    status_id: int,
    now: datetime,
    expected: str | None = None,
    name: str | None = None,
    category: str | None = None,
    is_default: bool | None = None,
    is_active: bool | None = None,
) -> Status:
    """Change a status; `None` leaves an attribute as it is (the module notes say what is
    refused). `expected`: the `status_fingerprint` the caller saw (Conflict `stale_status`
    when it changed since)."""
    require_admin(actor)
    status = _locked(status_id)
    if expected is not None and status_fingerprint(status) != expected:
        raise Conflict("the status changed since it was read", code="stale_status")
    with recording(STATUSES, status.key, actor=actor, now=now):
        _update(status, actor=actor, now=now, name=name, category=category, is_default=is_default,
                is_active=is_active)  # fmt: skip
    config.bump(DESK)
    return status


def _update(
    status: Status,
    *,
    actor: User | None,
    now: datetime,
    name: str | None,
    category: str | None,
    is_default: bool | None,
    is_active: bool | None,
) -> None:
    changed: list[str] = []
    if name is not None:
        status.name = _name(name)
        changed.append("name")
    if category is not None and _category(category) != status.category:
        if status.is_default:
            raise Conflict(
                "this status is its category's default: make another status the default first",
                field="category",
                code="status_default",
            )
        if Ticket.objects.filter(status_id=status.pk).exists():
            raise Conflict(
                "tickets have this status: its category cannot change (create a new status instead)",
                field="category",
                code="status_in_use",
            )
        status.category = category
        changed.append("category")
    others = _lock_category(status.category)
    if is_active is not None and is_active != status.is_active:
        if not is_active:
            if status.is_default or (is_default is True):
                raise Conflict(
                    "the default status of a category cannot be deactivated: make another status "
                    "the default first",
                    field="is_active",
                    code="status_default",
                )
            if not any(o.is_active for o in others if o.pk != status.pk):
                raise Conflict(
                    "this is the last active status of its category", field="is_active", code="status_last"
                )
        status.is_active = is_active
        changed.append("is_active")
    if is_default is not None and is_default != status.is_default:
        if not is_default:
            raise Conflict(
                "a category keeps a default: make another status the default instead",
                field="is_default",
                code="status_default",
            )
        if not status.is_active:
            raise ValidationFailed("an inactive status cannot be the default", field="is_default")
        _make_default(status, others, actor=actor, now=now)
        status.is_default = True
        changed.append("is_default")
    elif "category" in changed and not any(o.is_default for o in others if o.pk != status.pk):
        status.is_default = True  # the first status of its new category
        changed.append("is_default")
    if changed:
        status.save(update_fields=changed)


@transaction.atomic
def status_move(*, actor: User | None, status_id: int, direction: str, now: datetime) -> list[Status]:
    """Swap a status with its neighbour in its category's order (`direction` "up" or "down";
    nothing at either end: the order that pickers list a category's statuses in). Every
    status is locked first, so concurrent moves apply one after the other; the positions are
    renumbered 10, 20, ... The statuses, in their new order."""
    require_admin(actor)
    if direction not in ("up", "down"):
        raise ValidationFailed("must be up or down", field="direction")
    # Sorted again once locked: on PostgreSQL a locking SELECT that waited for a concurrent
    # move returns the rows' new positions in the order it sorted the old ones in.
    locked = Status.objects.select_for_update().order_by("position", "id")
    rows = sorted(locked, key=lambda s: (s.position, s.pk))
    index = next((i for i, s in enumerate(rows) if s.pk == status_id), None)
    if index is None:
        raise NotFound("status not found")
    category = rows[index].category
    same = [i for i, s in enumerate(rows) if s.category == category]
    at = same.index(index)
    other = at - 1 if direction == "up" else at + 1
    if 0 <= other < len(same):
        j = same[other]
        rows[index], rows[j] = rows[j], rows[index]
    for i, row in enumerate(rows):
        wanted = (i + 1) * 10
        if row.position != wanted:
            row.position = wanted
            Status.objects.filter(pk=row.pk).update(position=wanted)
    config.bump(DESK)
    return rows

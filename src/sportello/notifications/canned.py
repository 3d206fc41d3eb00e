"""Canned responses: an agent's own and those shared with a department, rendered on a ticket
with the same sandbox and context as notifications.

Choices made here:
- One owner holds one canned response per title and language (titles compared without case):
  the composer's picker lists them by title. Creations and renames serialise on the owner's
  row (a lock), so concurrent ones with one title make one response, the others a 409.
- Stale edits: the row has no version number; its fingerprint (`canned_fingerprint`: a hash of
  its texts, owner and `updated_at`) is what an editor loaded. An update or a delete given
  `expected` compares it under the row's lock and refuses a changed row (Conflict
  `stale_canned`), so one of two editors opened on the same text wins.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from django.db import transaction

from sportello.accounts.models import Department, Role, User
from sportello.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from sportello.core.snapshots import recording, snapshot_record
from sportello.core.text import clean_text, text_to_html
from sportello.engine.placeholders import render
from sportello.tickets.selectors import ticket_get_for

from . import selectors
from .context import notification_context
from .models import (
    CannedResponse,
)
from .rendering import BODY_MAX, FALLBACK_LANGUAGE, Rendered, checked_template, primary_language
from .selectors import LANGUAGES, Principal, require_agent_or_admin
from .services import check_language

TITLE_MAX = 200  # a canned response's title


# --------------------------------------------------------------------------------------------
# Canned responses


def _canned_texts(title: Any, body: Any, language: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    if title is not None:
        if not isinstance(title, str):
            raise ValidationFailed("must be a string", field="title")
        out["title"] = clean_text(title, field="title", max_length=TITLE_MAX, single_line=True, required=True)
    if body is not None:
        out["body"] = checked_template(body, field="body", limit=BODY_MAX, required=True)
    if language is not None:
        if language != "":
            check_language(language)
        out["language"] = language
    return out


def _check_may_share(user: User, department: Department) -> None:
    if user.role != Role.ADMIN and not user.is_member_of(department.pk):
        raise PermissionDenied(
            "agents share canned responses with their own departments only", field="department_id"
        )


class _Unset:
    pass


UNSET: Any = _Unset()


def canned_fingerprint(canned: CannedResponse) -> str:
    """What an editor loaded, to refuse its save once the row changed (16 hex digits)."""
    parts = [
        str(canned.pk),
        canned.updated_at.isoformat(),
        canned.title,
        canned.body,
        canned.language,
        str(canned.owner_user_id or ""),
        str(canned.owner_department_id or ""),
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def _check_fresh(canned: CannedResponse, expected: str | None) -> None:
    if expected is not None and canned_fingerprint(canned) != expected:
        raise Conflict(
            "the canned response was changed since you loaded it; reload it and try again",
            field="expected",
            code="stale_canned",
        )


def _owner_of(user: User, department_id: int | None) -> dict[str, Any]:
    """The owner columns: the user's own (no department), or the department, checked and locked
    (its row serialises creations with one title)."""
    if department_id is None:
        User.objects.select_for_update().filter(pk=user.pk).first()
        return {"owner_user": user, "owner_department": None}
    department = Department.objects.select_for_update().filter(pk=department_id, is_active=True).first()
    if department is None:
        raise ValidationFailed(f"no department with id {department_id}", field="department_id")
    _check_may_share(user, department)
    return {"owner_user": None, "owner_department": department}


def _check_title_free(owner: dict[str, Any], title: str, language: str, *, exclude: int | None) -> None:
    taken = CannedResponse.objects.filter(
        owner_user=owner["owner_user"],
        owner_department=owner["owner_department"],
        title__iexact=title,
        language=language,
    )
    if exclude is not None:
        taken = taken.exclude(pk=exclude)
    if taken.exists():
        raise Conflict(
            f"a canned response titled {title!r} exists for this owner and language",
            field="title",
            code="canned_exists",
        )


@transaction.atomic
def canned_create(
    *,
    actor: Principal,
    title: str,
    body: str,
    language: str = "",
    department_id: int | None = None,
    now: datetime,
) -> CannedResponse:
    """A personal canned response (any agent or admin), or one shared with a department (its
    agents and admins)."""
    user = require_agent_or_admin(actor, "canned responses")
    texts = _canned_texts(title, body, language or "")
    owner = _owner_of(user, department_id)
    _check_title_free(owner, texts["title"], texts["language"], exclude=None)
    created = CannedResponse.objects.create(**texts, **owner, created_by=user, created_at=now, updated_at=now)
    # History of the shared ones (notifications.history): a personal one records nothing.
    snapshot_record("canned_responses", str(created.pk), actor=user, now=now)
    return created


def _writable(user: User, canned_id: int) -> CannedResponse:
    canned = selectors.canned_get(principal=user, canned_id=canned_id)
    if user.role == Role.ADMIN:
        return canned
    if canned.owner_department_id is not None:
        _check_may_share(user, canned.owner_department)  # type: ignore[arg-type]
    elif canned.owner_user_id != user.pk:  # pragma: no cover - not visible to others
        raise NotFound("canned response not found")
    return canned


@transaction.atomic
def canned_update(
    *,
    actor: Principal,
    canned_id: int,
    title: str | None = None,
    body: str | None = None,
    language: str | None = None,
    department_id: Any = UNSET,
    expected: str | None = None,
    now: datetime,
) -> CannedResponse:
    """Change a canned response: its owner, the agents of its department, or an admin.
    `department_id`: share it with that department, or (None) make it the actor's own.
    `expected`: the fingerprint the editor loaded (`canned_fingerprint`); Conflict when the
    row changed since. Nothing changed: nothing written."""
    user = require_agent_or_admin(actor, "canned responses")
    _writable(user, canned_id)
    canned = CannedResponse.objects.select_for_update().get(pk=canned_id)
    _check_fresh(canned, expected)
    texts = {k: v for k, v in _canned_texts(title, body, language).items() if getattr(canned, k) != v}
    owner: dict[str, Any] = {}
    moved = department_id is not UNSET and department_id != canned.owner_department_id
    if moved and (department_id is not None or canned.owner_user_id != user.pk):
        owner = _owner_of(user, department_id)
    if not texts and not owner:
        return canned
    # History of the shared ones (notifications.history): a personal one records nothing.
    with recording("canned_responses", str(canned.pk), actor=user, now=now):
        for name, value in {**texts, **owner}.items():
            setattr(canned, name, value)
        if owner or "title" in texts or "language" in texts:
            if not owner:  # the owner's lock, as a creation takes it
                model: Any = Department if canned.owner_department_id is not None else User
                model.objects.select_for_update().filter(
                    pk=canned.owner_department_id or canned.owner_user_id
                ).first()
            current = {"owner_user": canned.owner_user, "owner_department": canned.owner_department}
            _check_title_free(current, canned.title, canned.language, exclude=canned.pk)
        canned.updated_at = now
        canned.save(update_fields=[*texts, *owner, "updated_at"])
    return canned


@transaction.atomic
def canned_delete(*, actor: Principal, canned_id: int, expected: str | None = None) -> None:
    """Delete a canned response (who may change it may delete it); `expected` as for updates."""
    user = require_agent_or_admin(actor, "canned responses")
    _writable(user, canned_id)
    canned = CannedResponse.objects.select_for_update().filter(pk=canned_id).first()
    if canned is None:
        raise NotFound("canned response not found")
    _check_fresh(canned, expected)
    canned.delete()


def canned_render(*, actor: Principal, canned_id: int, ticket_id: int, now: datetime) -> Rendered:
    """A canned response as the agent inserts it into a reply on a ticket they may read: its
    placeholders filled for that ticket (dates in the customer's time zone)."""
    user = require_agent_or_admin(actor, "canned responses")
    canned = selectors.canned_get(principal=user, canned_id=canned_id)
    return _rendered(user, canned.body, canned.language, ticket_id, now)


def canned_render_draft(
    *, actor: Principal, body: Any, language: Any, ticket_id: int, now: datetime
) -> Rendered:
    """A text not saved yet (an editor's draft) rendered as `canned_render` renders a saved one:
    checked as a save checks it (ValidationFailed naming `body` or `language`); nothing is
    written."""
    user = require_agent_or_admin(actor, "canned responses")
    texts = _canned_texts(None, body, language or "")
    return _rendered(user, texts["body"], texts["language"], ticket_id, now)


def _rendered(user: User, body: str, language: str, ticket_id: int, now: datetime) -> Rendered:
    ticket = ticket_get_for(principal=user, ticket_id=ticket_id)
    language = language or primary_language(ticket.requester.language)
    language = language if language in LANGUAGES else FALLBACK_LANGUAGE
    context = notification_context(ticket=ticket, language=language, now=now, agent=user)
    text = render(body, context)
    return Rendered(subject="", text=text, html=text_to_html(text), language=language)

"""Canned responses: an agent's own and those shared with a department, rendered on a ticket
with the same sandbox and context as notifications.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from sportello.accounts.models import Department, Role, User
from sportello.core.errors import NotFound, PermissionDenied, ValidationFailed
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
    owner: dict[str, Any] = {"owner_user": user}
    if department_id is not None:
        department = Department.objects.filter(pk=department_id, is_active=True).first()
        if department is None:
            raise ValidationFailed(f"no department with id {department_id}", field="department_id")
        _check_may_share(user, department)
        owner = {"owner_department": department}
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
    now: datetime,
) -> CannedResponse:
    """Change a canned response: its owner, the agents of its department, or an admin."""
    user = require_agent_or_admin(actor, "canned responses")
    canned = _writable(user, canned_id)
    texts = _canned_texts(title, body, language)
    if not texts:
        return canned
    # History of the shared ones (notifications.history): a personal one records nothing.
    with recording("canned_responses", str(canned.pk), actor=user, now=now):
        for name, value in texts.items():
            setattr(canned, name, value)
        canned.updated_at = now
        canned.save(update_fields=[*texts, "updated_at"])
    return canned


@transaction.atomic
def canned_delete(*, actor: Principal, canned_id: int) -> None:
    user = require_agent_or_admin(actor, "canned responses")
    _writable(user, canned_id).delete()


def canned_render(*, actor: Principal, canned_id: int, ticket_id: int, now: datetime) -> Rendered:
    """A canned response as the agent inserts it into a reply on a ticket they may read: its
    placeholders filled for that ticket (dates in the customer's time zone)."""
    user = require_agent_or_admin(actor, "canned responses")
    canned = selectors.canned_get(principal=user, canned_id=canned_id)
    ticket = ticket_get_for(principal=user, ticket_id=ticket_id)
    language = canned.language or primary_language(ticket.requester.language)
    language = language if language in LANGUAGES else FALLBACK_LANGUAGE
    context = notification_context(ticket=ticket, language=language, now=now, agent=user)
    text = render(canned.body, context)
    return Rendered(subject="", text=text, html=text_to_html(text), language=language)

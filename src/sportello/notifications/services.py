"""Notification templates as admins edit them: save (a version per change), reset to the
shipped default, preview on a ticket. Rendering is `rendering.py`, the hourly limit per
customer `limits.py`, canned responses `canned.py`.

`render_notification` is the one way to turn a template key into an e-mail's subject, text and
HTML: the template in force (an admin's active row, else the shipped default) in the
recipient's language (else English), rendered by the engine's sandbox over the allow-listed
context of `notifications.context`. The subject is one line; in HTML every inserted value is
escaped and an admin's HTML is sanitised after rendering.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import transaction

from sportello.accounts.models import Role, User
from sportello.core.errors import NotFound, PermissionDenied, ValidationFailed
from sportello.core.versioning import ConfigKind, register_kind, version_save
from sportello.tickets.selectors import ticket_get_for

from .context import notification_context
from .defaults import TemplateText, default_text
from .models import (
    NotificationTemplate,
    NotificationTemplateVersion,
)
from .rendering import (
    BODY_MAX,
    FALLBACK_LANGUAGE,
    Rendered,
    checked_template,
    primary_language,
    render_notification,
    render_text,
    template_in_force,
    template_language,
)
from .selectors import LANGUAGES, Principal, require_agent_or_admin

# The same shape as the `template` of a rule's `notify` action (engine.actions).
KEY_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
SUBJECT_MAX = 1_000  # the template's subject


# --------------------------------------------------------------------------------------------
# Editing templates


def _require_admin(actor: Principal) -> User:
    user = require_agent_or_admin(actor, "notification templates")
    if user.role != Role.ADMIN:
        raise PermissionDenied("only admins change notification templates")
    return user


def check_key(key: str) -> str:
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
        raise ValidationFailed("a template key is 1 to 64 of a-z, 0-9, _ . - (lower case)", field="key")
    return key


def check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise ValidationFailed(f"must be one of {', '.join(LANGUAGES)}", field="language")
    return language


def check_texts(*, subject: str | None, body_text: str | None, body_html: str | None) -> None:
    """ValidationFailed (with the field) unless each given text is a valid, bounded template."""
    if subject is not None:
        checked_template(subject, field="subject", limit=SUBJECT_MAX, one_line_only=True)
    if body_text is not None:
        checked_template(body_text, field="body_text", limit=BODY_MAX)
    if body_html is not None:
        checked_template(body_html, field="body_html", limit=BODY_MAX)


@transaction.atomic
def template_save(
    *,
    key: str,
    language: str,
    subject: str,
    body_text: str,
    body_html: str = "",
    active: bool = True,
    actor: Principal,
    now: datetime,
) -> tuple[NotificationTemplate, bool]:
    """An admin's text for (key, language), kept as a new version. Returns the row and whether
    anything was written (the same texts write nothing). A new key may be added."""
    user = _require_admin(actor)
    check_key(key)
    check_language(language)
    subject = checked_template(subject, field="subject", limit=SUBJECT_MAX, required=True, one_line_only=True)
    body_text = checked_template(body_text, field="body_text", limit=BODY_MAX, required=True)
    body_html = checked_template(body_html, field="body_html", limit=BODY_MAX)
    if not isinstance(active, bool):
        raise ValidationFailed("must be true or false", field="active")
    texts = {"subject": subject, "body_text": body_text, "body_html": body_html, "active": active}
    saved = version_save(
        TEMPLATES,
        key=f"{key}/{language}",
        definition=texts,
        created_by=user,
        now=now,
        fields={"updated_by": user},
    )
    return saved.head, saved.written


def _template_lookup(key: str) -> dict[str, Any]:
    name, _, language = key.rpartition("/")
    return {"key": name, "language": language}


def _template_texts(row: NotificationTemplate | NotificationTemplateVersion) -> dict[str, Any]:
    return {
        "subject": row.subject,
        "body_text": row.body_text,
        "body_html": row.body_html,
        "active": row.active,
    }


def _template_save_again(
    key: str, head: Any, definition: Any, actor: Any, now: datetime
) -> tuple[NotificationTemplate, bool]:
    found = _template_lookup(key)
    return template_save(**found, **definition, actor=actor, now=now)


# Notification templates as a versioned configuration kind (`core.versioning`), keyed
# `<key>/<language>`: the head holds the texts in force, and the versions (keyed like it, not
# linked to it) outlive it when the default is restored, so a later save continues the numbering.
TEMPLATES = register_kind(
    ConfigKind(
        name="notification_templates",
        label="notification template",
        head=NotificationTemplate,
        version=NotificationTemplateVersion,
        parent=None,
        save=_template_save_again,
        lookup=_template_lookup,
        head_fields=lambda texts: {k: v for k, v in texts.items() if k != "active"},
        version_fields=dict,
        definition_of=_template_texts,
        active_in_definition=True,
        head_holds_definition=True,
        signature="notification_templates",
        conflict_code="template_conflict",
        conflict_message="the template was changed at the same time; reload and try again",
    )
)


@transaction.atomic
def template_reset(*, key: str, language: str, actor: Principal) -> None:
    """Remove the admin's text for (key, language): the shipped default is used again. Its
    versions are kept. NotFound when there is neither a text nor a default."""
    _require_admin(actor)
    deleted = NotificationTemplate.objects.filter(key=key, language=language).delete()[0]
    if not deleted and default_text(key, language) is None:
        raise NotFound("notification template not found")


def template_preview(
    *,
    principal: Principal,
    key: str,
    ticket_id: int,
    language: str | None = None,
    draft: Mapping[str, str | None] | None = None,
    now: datetime,
) -> tuple[Rendered, str]:
    """The template (or a draft of it) rendered against a ticket the principal may read, and
    where its text came from (`custom`, `default` or `draft`)."""
    user = require_agent_or_admin(principal, "notification templates")
    if language is not None:
        check_language(language)
    texts = {k: v for k, v in (draft or {}).items() if v is not None}
    check_texts(
        subject=texts.get("subject"), body_text=texts.get("body_text"), body_html=texts.get("body_html")
    )
    ticket = ticket_get_for(principal=user, ticket_id=ticket_id)
    preferred = language or ticket.requester.language
    chosen = template_language(key=key, preferred=preferred)
    if chosen is None:
        if not {"subject", "body_text"} <= set(texts):
            raise NotFound("notification template not found")
        check_key(key)
        chosen = primary_language(preferred)
        chosen = chosen if chosen in LANGUAGES else FALLBACK_LANGUAGE
        text = TemplateText(texts["subject"], texts["body_text"], texts.get("body_html", ""))
        context = notification_context(ticket=ticket, language=chosen, now=now)
        subject, body, html = render_text(text=text, context=context)
        return Rendered(subject, body, html, chosen), "draft"
    found = template_in_force(key=key, language=chosen)
    assert found is not None
    rendered = render_notification(key=key, ticket=ticket, language=chosen, now=now, draft=texts)
    return rendered, "draft" if texts else found[1]


# --------------------------------------------------------------------------------------------
# Previews in the Console: on a ticket by its number, or on a built-in sample


def _sample_ticket(*, language: str, now: datetime) -> Any:
    """An unsaved ticket with a customer, a department, a status and an agent, for previews
    when no real ticket is chosen. Never saved: nothing of it reaches the database."""
    from sportello.accounts.models import Department
    from sportello.contacts.models import Contact
    from sportello.tickets.models import Priority, Status, StatusCategory, Ticket

    requester = Contact(
        name="Carla Rossi", email="carla@example.com", language=language, time_zone="Europe/Rome"
    )
    department = Department(name="Support", email="support@example.com")
    status = Status(key="open", name="Open", category=StatusCategory.OPEN)
    ticket = Ticket(number=1042, subject="My order arrived damaged", priority=Priority.HIGH, created_at=now)
    ticket.requester, ticket.department, ticket.status = requester, department, status
    ticket.custom_fields = {}
    return ticket


def template_preview_on(
    *,
    principal: Principal,
    key: str,
    language: str,
    ticket_number: int | None,
    draft: Mapping[str, str | None],
    now: datetime,
) -> Rendered:
    """The draft texts of (key, language) rendered in `language` on ticket number
    `ticket_number` (one the principal may read) or, without one, on a built-in sample ticket
    (a customer Carla Rossi, ticket #1042, agent Sam Sample). ValidationFailed (with the field
    and, for a template the sandbox refuses, the line) for a draft that could not be saved
    either; NotFound for an unknown ticket number."""
    from sportello.tickets.models import Ticket

    user = require_agent_or_admin(principal, "notification templates")
    check_key(key)
    check_language(language)
    texts = {k: v for k, v in draft.items() if v is not None}
    check_texts(
        subject=texts.get("subject"), body_text=texts.get("body_text"), body_html=texts.get("body_html")
    )
    sample_agent = None
    if ticket_number is None:
        ticket = _sample_ticket(language=language, now=now)
        sample_agent = User(name="Sam Sample", signature="Sam Sample\nCustomer care")
    else:
        found = Ticket.objects.filter(number=ticket_number).values_list("pk", flat=True).first()
        if found is None:
            raise NotFound("no ticket has this number", field="ticket")
        ticket = ticket_get_for(principal=user, ticket_id=found)
    text = TemplateText(texts.get("subject", ""), texts.get("body_text", ""), texts.get("body_html", ""))
    context = notification_context(
        ticket=ticket, language=language, now=now, agent=sample_agent,
        message_body="Thank you for writing: a new copy is on its way." if ticket_number is None else None,
    )  # fmt: skip
    subject, body, html = render_text(text=text, context=context)
    return Rendered(subject, body, html, language)

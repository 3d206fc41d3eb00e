"""Rendering notifications, editing their templates, canned responses, and the hourly limit of
automatic notifications to one customer.

`render_notification` is the one way to turn a template key into an e-mail's subject, text and
HTML: the template in force (an admin's active row, else the shipped default) in the
recipient's language (else English), rendered by the engine's sandbox over the allow-listed
context of `notifications.context`. The subject is one line; in HTML every inserted value is
escaped and an admin's HTML is sanitised after rendering.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models.functions import Lower

from sportello.accounts.models import Department, Role, User
from sportello.contacts.models import Contact
from sportello.core import clock
from sportello.core.config import config_cached
from sportello.core.errors import NotFound, PermissionDenied, ValidationFailed
from sportello.core.text import clean_text, sanitize_html, text_to_html
from sportello.core.versioning import ConfigKind, register_kind, version_save
from sportello.engine.placeholders import TEMPLATE_MAX, check_template, render
from sportello.engine.schema import RuleSchemaError
from sportello.tickets.models import Ticket
from sportello.tickets.selectors import ticket_get_for

from . import selectors
from .context import notification_context
from .defaults import TemplateText, default_text
from .models import (
    CannedResponse,
    CustomerNotification,
    NotificationTemplate,
    NotificationTemplateVersion,
)
from .selectors import LANGUAGES, Principal, require_agent_or_admin

FALLBACK_LANGUAGE = "en"
# The same shape as the `template` of a rule's `notify` action (engine.actions).
KEY_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
SUBJECT_MAX = 1_000  # the template's subject
SUBJECT_OUT_MAX = 250  # a rendered subject
BODY_MAX = TEMPLATE_MAX
TITLE_MAX = 200
LIMIT_WINDOW = timedelta(hours=1)
LEDGER_RETENTION = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str
    language: str


# --------------------------------------------------------------------------------------------
# Rendering


def one_line(text: str) -> str:
    """A rendered subject as a header takes it: one line (no CR/LF of any value), bounded."""
    return " ".join(text.split())[:SUBJECT_OUT_MAX]


def render_text(*, text: TemplateText, context: Mapping[str, Any]) -> tuple[str, str, str]:
    """(subject, text, html) of a template over a context."""
    subject = one_line(render(text.subject, context))
    body = render(text.body_text, context)
    if text.body_html.strip():
        html = sanitize_html(render(text.body_html, context, html=True))
    else:
        html = text_to_html(body)
    return subject, body, html


def _overrides(memo: dict[str, Any] | None = None) -> dict[tuple[str, str], TemplateText]:
    """The admins' active templates by (key, language), cached per process under their
    signature (read with every configuration's in one statement per change)."""
    return config_cached(
        "notification_templates",
        lambda: {
            (row.key, row.language): TemplateText(row.subject, row.body_text, row.body_html)
            for row in NotificationTemplate.objects.filter(active=True)
        },
        memo,
    )


def template_in_force(
    *, key: str, language: str, memo: dict[str, Any] | None = None
) -> tuple[TemplateText, str] | None:
    """The text used for (key, language) and where it comes from (`custom` or `default`)."""
    custom = _overrides(memo).get((key, language))
    if custom is not None:
        return custom, "custom"
    default = default_text(key, language)
    return (default, "default") if default is not None else None


def primary_language(tag: str | None) -> str:
    """`es-MX`, `ES`, `es_mx` → `es`."""
    return (tag or "").replace("_", "-").split("-", 1)[0].strip().lower()


def template_language(*, key: str, preferred: str | None, memo: dict[str, Any] | None = None) -> str | None:
    """`preferred` (its primary subtag: `es-MX` is `es`) if `key` has a template in it, else
    English, else another language that has one; None when the key has no template at all."""
    primary = primary_language(preferred)
    order = [primary] if primary in LANGUAGES else []
    order += [FALLBACK_LANGUAGE, *(lang for lang in LANGUAGES if lang != FALLBACK_LANGUAGE)]
    custom = {language for k, language in _overrides(memo) if k == key}
    for language in order:
        if language in custom or default_text(key, language) is not None:
            return language
    return None


def render_notification(
    *,
    key: str,
    ticket: Ticket,
    language: str | None = None,
    extra: Mapping[str, Any] | None = None,
    agent: User | None = None,
    message_body: str | None = None,
    time_zone: str | None = None,
    now: datetime | None = None,
    draft: Mapping[str, str] | None = None,
    memo: dict[str, Any] | None = None,
) -> Rendered:
    """The notification `key` about `ticket`, in `language` (default: the requester's) if the
    key has a template in it, else in English. `agent`, `message_body`, `time_zone`: see
    `context.notification_context`; `draft`: texts (`subject`, `body_text`, `body_html`) used
    instead of the template's. NotFound when the key has no template in any language."""
    chosen = template_language(key=key, preferred=language or ticket.requester.language, memo=memo)
    found = template_in_force(key=key, language=chosen, memo=memo) if chosen is not None else None
    if chosen is None or found is None:
        raise NotFound(f"no notification template {key[:64]!r}")
    text = found[0]
    if draft:
        text = TemplateText(
            subject=draft.get("subject", text.subject),
            body_text=draft.get("body_text", text.body_text),
            body_html=draft.get("body_html", text.body_html),
        )
    context = notification_context(
        ticket=ticket, language=chosen, now=now or clock.now(), time_zone=time_zone, agent=agent,
        message_body=message_body, extra=extra,
    )  # fmt: skip
    subject, body, html = render_text(text=text, context=context)
    return Rendered(subject=subject, text=body, html=html, language=chosen)


def template_exists(*, key: str) -> bool:
    return template_language(key=key, preferred=None) is not None


@dataclass(frozen=True, slots=True)
class Recipient:
    email: str
    language: str
    time_zone: str


def recipient_profiles(*, emails: Iterable[str], requester: Contact) -> dict[str, Recipient]:
    """Language and time zone of each address, by lower-cased address: the requester's from
    their contact; an agent's from their account; another contact's from theirs; any
    other address reads English in UTC. Two queries at most."""
    wanted = [e.lower() for e in emails]
    out: dict[str, Recipient] = {}
    mine = requester.email.lower()
    if mine in wanted:
        out[mine] = Recipient(mine, requester.language, requester.time_zone)
    rest = [e for e in wanted if e not in out]
    if rest:
        for user in User.objects.filter(email__in=rest).only("email", "language", "time_zone"):
            out[user.email] = Recipient(user.email, user.language, user.time_zone)
        rest = [e for e in rest if e not in out]
    if rest:
        contacts = Contact.objects.annotate(address=Lower("email")).filter(address__in=rest)
        for contact in contacts.only("email", "language", "time_zone"):
            e = contact.email.lower()
            out[e] = Recipient(e, contact.language, contact.time_zone)
    for e in wanted:
        out.setdefault(e, Recipient(e, FALLBACK_LANGUAGE, "UTC"))
    return out


def customer_addresses(*, emails: Iterable[str]) -> set[str]:
    """Which of these addresses (lower-cased) belong to contacts (one query)."""
    wanted = {e.lower() for e in emails}
    if not wanted:
        return set()
    found = Contact.objects.annotate(address=Lower("email")).filter(address__in=wanted)
    return set(found.values_list("address", flat=True))


# --------------------------------------------------------------------------------------------
# The hourly limit of automatic notifications to one customer


def customer_notifications_per_hour() -> int:
    return int(settings.SPORTELLO.get("CUSTOMER_NOTIFICATIONS_PER_HOUR", 10))


def customer_notification_allowed(*, email: str, now: datetime) -> bool:
    """Whether one more automatic notification to `email` stays within the hourly limit: fewer
    than `CUSTOMER_NOTIFICATIONS_PER_HOUR` were queued to it in the hour up to `now`. Agents'
    replies are not counted (they are never recorded here)."""
    sent = CustomerNotification.objects.filter(
        email=email.lower(), created_at__gt=now - LIMIT_WINDOW, created_at__lte=now
    ).count()
    return sent < customer_notifications_per_hour()


def customer_notification_record(*, email: str, ticket_number: int | None, now: datetime) -> None:
    """Count an automatic notification queued to `email` (in the caller's transaction: a
    rollback un-counts it)."""
    CustomerNotification.objects.create(email=email.lower(), ticket_number=ticket_number, created_at=now)


def customer_notification_claim(*, email: str, ticket_number: int | None, now: datetime) -> bool:
    """Allowed → recorded and True; over the limit → nothing recorded and False."""
    if not customer_notification_allowed(email=email, now=now):
        return False
    customer_notification_record(email=email, ticket_number=ticket_number, now=now)
    return True


def customer_notifications_prune(*, now: datetime) -> int:
    """Forget ledger rows no limit reads any more."""
    return CustomerNotification.objects.filter(created_at__lt=now - LEDGER_RETENTION).delete()[0]


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


def _template(
    value: str, *, field: str, limit: int, required: bool = False, one_line_only: bool = False
) -> str:
    if not isinstance(value, str):
        raise ValidationFailed("must be a string", field=field)
    if one_line_only and ("\n" in value or "\r" in value):
        raise ValidationFailed("must be one line", field=field)
    value = clean_text(value, field=field, max_length=limit, required=required)
    try:
        check_template(value, path=field)
    except RuleSchemaError as exc:
        raise ValidationFailed(exc.message, field=exc.path) from None
    return value


def check_texts(*, subject: str | None, body_text: str | None, body_html: str | None) -> None:
    """ValidationFailed (with the field) unless each given text is a valid, bounded template."""
    if subject is not None:
        _template(subject, field="subject", limit=SUBJECT_MAX, one_line_only=True)
    if body_text is not None:
        _template(body_text, field="body_text", limit=BODY_MAX)
    if body_html is not None:
        _template(body_html, field="body_html", limit=BODY_MAX)


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
    subject = _template(subject, field="subject", limit=SUBJECT_MAX, required=True, one_line_only=True)
    body_text = _template(body_text, field="body_text", limit=BODY_MAX, required=True)
    body_html = _template(body_html, field="body_html", limit=BODY_MAX)
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
# Canned responses


def _canned_texts(title: Any, body: Any, language: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    if title is not None:
        if not isinstance(title, str):
            raise ValidationFailed("must be a string", field="title")
        out["title"] = clean_text(title, field="title", max_length=TITLE_MAX, single_line=True, required=True)
    if body is not None:
        out["body"] = _template(body, field="body", limit=BODY_MAX, required=True)
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
    return CannedResponse.objects.create(**texts, **owner, created_by=user, created_at=now, updated_at=now)


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

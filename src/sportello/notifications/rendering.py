"""Rendering notifications: `render_notification` is the one way to turn a template key into an
e-mail's subject, text and HTML: the template in force (an admin's active row, else the shipped
default) in the recipient's language (else English), rendered by the engine's sandbox over the
allow-listed context of `notifications.context`. The subject is one line; in HTML every inserted
value is escaped and an admin's HTML is sanitised after rendering.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models.functions import Lower

from sportello.accounts.models import User
from sportello.contacts.models import Contact
from sportello.core import clock
from sportello.core.config import config_cached
from sportello.core.errors import NotFound, ValidationFailed
from sportello.core.text import clean_text, sanitize_html, text_to_html
from sportello.engine.placeholders import TEMPLATE_MAX, check_template, render
from sportello.engine.schema import RuleSchemaError
from sportello.tickets.models import Ticket

from .context import notification_context
from .defaults import TemplateText, default_text
from .models import (
    NotificationTemplate,
)
from .selectors import LANGUAGES

FALLBACK_LANGUAGE = "en"
BODY_MAX = TEMPLATE_MAX  # a template text (subject lines have their own)
SUBJECT_OUT_MAX = 250  # a rendered subject


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
    for_customer: bool = False,
) -> Rendered:
    """The notification `key` about `ticket`, in `language` (default: the requester's) if the
    key has a template in it, else in English. `agent`, `message_body`, `time_zone`,
    `for_customer`: see `context.notification_context`; `draft`: texts (`subject`, `body_text`,
    `body_html`) used instead of the template's. NotFound when the key has no template in any
    language."""
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
        message_body=message_body, extra=extra, for_customer=for_customer, memo=memo,
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
    agent: bool = False  # an agent's account; any other address reads as a customer's


def recipient_profiles(*, emails: Iterable[str], requester: Contact) -> dict[str, Recipient]:
    """Language and time zone of each address, by lower-cased address: the requester's from
    their contact; an agent's from their account (marked `agent`); another contact's from
    theirs; any other address reads English in UTC. Two queries at most."""
    wanted = [e.lower() for e in emails]
    out: dict[str, Recipient] = {}
    mine = requester.email.lower()
    if mine in wanted:
        out[mine] = Recipient(mine, requester.language, requester.time_zone)
    rest = [e for e in wanted if e not in out]
    if rest:
        for user in User.objects.filter(email__in=rest).only("email", "language", "time_zone"):
            out[user.email] = Recipient(user.email, user.language, user.time_zone, agent=True)
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


def checked_template(
    value: str, *, field: str, limit: int, required: bool = False, one_line_only: bool = False
) -> str:
    """A template text as stored: cleaned, at most `limit` characters, checked by the sandbox."""
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

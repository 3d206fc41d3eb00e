"""Reads of notification templates and canned responses, permission-scoped.

Who reads what: admins and agents read notification templates (admins write them); light
agents and customers read neither templates nor canned responses (they do not write to
customers). An agent sees their own canned responses and the shared ones of their
departments; an admin sees their own and every shared one, and may open any by id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.db.models import Q, QuerySet

from sportello.accounts.models import Role, User
from sportello.contacts.models import Contact
from sportello.core.errors import NotFound, PermissionDenied

from .defaults import KEYS, default_text
from .models import CannedResponse, Language, NotificationTemplate, NotificationTemplateVersion

Principal = User | Contact
LANGUAGES: tuple[str, ...] = tuple(Language.values)


def require_agent_or_admin(principal: Principal, what: str) -> User:
    """The principal as an active admin or agent, or PermissionDenied."""
    if (
        not isinstance(principal, User)
        or not principal.is_active
        or principal.role not in (Role.ADMIN, Role.AGENT)
    ):
        raise PermissionDenied(f"only admins and agents use {what}")
    return principal


@dataclass(frozen=True, slots=True)
class TemplateEntry:
    """A (key, language) as the desk has it: an admin's row (`custom`) or the shipped default."""

    key: str
    language: str
    source: str  # custom | default
    active: bool
    subject: str
    body_text: str
    body_html: str
    version: int | None
    updated_at: datetime | None
    updated_by_id: int | None
    has_default: bool
    audience: str
    description: str


def _entry(key: str, language: str, row: NotificationTemplate | None) -> TemplateEntry | None:
    default = default_text(key, language)
    meta = KEYS.get(key)
    entry = partial(
        TemplateEntry,
        key=key,
        language=language,
        has_default=default is not None,
        audience=meta.audience if meta else "",
        description=meta.description if meta else "",
    )
    if row is not None:
        return entry(
            source="custom", active=row.active, subject=row.subject, body_text=row.body_text,
            body_html=row.body_html, version=row.version, updated_at=row.updated_at,
            updated_by_id=row.updated_by_id,
        )  # fmt: skip
    if default is None:
        return None
    return entry(
        source="default", active=True, subject=default.subject, body_text=default.body_text,
        body_html=default.body_html, version=None, updated_at=None, updated_by_id=None,
    )  # fmt: skip


def template_list(*, principal: Principal) -> list[TemplateEntry]:
    """Every shipped key in every language, default or overridden, then the keys admins added,
    in the languages they wrote (one query)."""
    require_agent_or_admin(principal, "notification templates")
    rows = {(r.key, r.language): r for r in NotificationTemplate.objects.all()}
    keys = list(KEYS) + sorted({k for k, _ in rows} - set(KEYS))
    entries = (_entry(k, lang, rows.get((k, lang))) for k in keys for lang in LANGUAGES)
    return [e for e in entries if e is not None]


def template_get(*, principal: Principal, key: str, language: str) -> TemplateEntry:
    require_agent_or_admin(principal, "notification templates")
    row = NotificationTemplate.objects.filter(key=key, language=language).first()
    entry = _entry(key, language, row) if language in LANGUAGES else None
    if entry is None:
        raise NotFound("notification template not found")
    return entry


def template_versions(
    *, principal: Principal, key: str, language: str
) -> QuerySet[NotificationTemplateVersion]:
    """The texts admins saved for (key, language), newest first (empty: never edited)."""
    require_agent_or_admin(principal, "notification templates")
    return NotificationTemplateVersion.objects.filter(key=key, language=language).order_by("-version")


def canned_scope(*, user: User) -> Q:
    """The canned responses `user` sees in lists and may use."""
    if user.role == Role.ADMIN:
        return Q(owner_user=user) | Q(owner_department__isnull=False)
    return Q(owner_user=user) | Q(owner_department__in=user.departments.all())


def canned_list(*, principal: Principal, language: str | None = None) -> QuerySet[CannedResponse]:
    """Mine and the shared ones I see, by title; `language`: those in it or in none."""
    user = require_agent_or_admin(principal, "canned responses")
    qs = CannedResponse.objects.filter(canned_scope(user=user))
    if language:
        qs = qs.filter(language__in=[language, ""])
    return qs.select_related("owner_department").order_by("title", "id")


def canned_get(*, principal: Principal, canned_id: int) -> CannedResponse:
    """One canned response the principal sees (admins: any), else NotFound."""
    user = require_agent_or_admin(principal, "canned responses")
    qs = CannedResponse.objects.all()
    if user.role != Role.ADMIN:
        qs = qs.filter(canned_scope(user=user))
    try:
        return qs.select_related("owner_department").get(pk=canned_id)
    except (CannedResponse.DoesNotExist, ValueError, OverflowError):
        raise NotFound("canned response not found") from None

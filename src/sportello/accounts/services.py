"""Writes for agents, departments, teams and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.utils.text import slugify

from sportello.core.errors import Conflict, NotFound, ValidationFailed

from .models import AgentStatus, ApiToken, Department, Role, Team, User

TOKEN_PREFIX = "spt_"  # noqa: S105 (a public prefix, not a secret)
LAST_USED_RESOLUTION = timedelta(seconds=60)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def department_create(*, name: str, email: str = "", description: str = "") -> Department:
    name = " ".join(name.split())
    if not name:
        raise ValidationFailed("is required", field="name")
    if Department.objects.filter(name__iexact=name).exists():
        raise Conflict(f"a department named {name!r} exists", field="name")
    base = slugify(name)[:50] or "department"
    slug, n = base, 1
    while Department.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return Department.objects.create(name=name, slug=slug, email=email, description=description)


@transaction.atomic
def agent_create(
    *,
    email: str,
    name: str,
    role: Role = Role.AGENT,
    password: str | None = None,
    departments: Iterable[Department] = (),
    language: str = "en",
) -> User:
    email = email.strip().lower()
    if not email or "@" not in email:
        raise ValidationFailed("must be an e-mail address", field="email")
    if User.objects.filter(email__iexact=email).exists():
        raise Conflict(f"an agent with e-mail {email} exists", field="email")
    user = User(email=email, name=name.strip() or email, role=role, language=language)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    user.departments.set(list(departments))
    return user


def agent_set_password(*, user: User, password: str) -> None:
    user.set_password(password)
    user.save(update_fields=["password"])


def agent_set_status(*, user: User, status: AgentStatus, now: datetime) -> User:
    if user.status != status:
        user.status = status
        user.status_changed_at = now
        user.save(update_fields=["status", "status_changed_at"])
    return user


@transaction.atomic
def team_create(*, name: str, department: Department, members: Iterable[User] = (), email: str = "") -> Team:
    name = " ".join(name.split())
    if not name:
        raise ValidationFailed("is required", field="name")
    if Team.objects.filter(department=department, name__iexact=name).exists():
        raise Conflict(f"{department.name} has a team named {name!r}", field="name")
    team = Team.objects.create(name=name, department=department, email=email)
    team.members.set(list(members))
    return team


def token_create(*, user: User, name: str = "", now: datetime) -> tuple[ApiToken, str]:
    """Create a token; return it with its secret, which is never stored and shown only now."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name[:100], prefix=secret[:12], key_hash=_hash(secret), created_at=now
    )
    return token, secret


def token_authenticate(*, secret: str, now: datetime) -> User | None:
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=_hash(secret), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def token_revoke(*, token_id: int, user: User, now: datetime) -> ApiToken:
    token = ApiToken.objects.filter(pk=token_id, user=user).first()
    if token is None:
        raise NotFound("token not found")
    if token.revoked_at is None:
        token.revoked_at = now
        token.save(update_fields=["revoked_at"])
    return token

"""Writes for agents, departments, teams and API tokens.

Every function is keyword-only. Those that an edge calls on behalf of a user take `actor`: the
agent asking, whose permission is checked here; `actor=None` means the system itself (set-up
commands, demo data, tests), which may do anything.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import zoneinfo
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.utils.text import slugify

from sportello.core import clock, extensions, rows
from sportello.core.errors import Conflict, NotFound, ValidationFailed
from sportello.core.snapshots import recording, snapshot_record
from sportello.core.text import clean_text

from .models import AgentStatus, ApiToken, Department, Role, Team, User
from .permissions import require_admin as require_admin

SLUG_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,49}")

TOKEN_PREFIX = "spt_"  # noqa: S105 (a public prefix, not a secret)
LAST_USED_RESOLUTION = timedelta(seconds=60)
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128
LANGUAGE_MAX_LENGTH = 10


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _email(raw: str, *, field: str = "email") -> str:
    email = clean_text(raw, field=field, max_length=254, single_line=True).strip().lower()
    try:
        validate_email(email)
    except DjangoValidationError:
        raise ValidationFailed("must be a valid e-mail address", field=field) from None
    return email


def _optional_email(raw: str, *, field: str = "email") -> str:
    return _email(raw, field=field) if raw.strip() else ""


def _role(raw: str) -> Role:
    if raw not in Role.values:
        raise ValidationFailed(f"must be one of {', '.join(Role.values)}", field="role")
    return Role(raw)


# --------------------------------------------------------------------------------------------
# Departments


def _given_slug(raw: str, *, model: Any, what: str) -> str:
    """A slug asked for (a configuration import keeps the exported one): valid and free."""
    if not isinstance(raw, str) or not SLUG_PATTERN.fullmatch(raw):
        raise ValidationFailed("must be a slug: lower-case letters, digits, - and _", field="slug")
    if model.objects.filter(slug=raw).exists():
        raise Conflict(f"a {what} with the slug {raw!r} exists", field="slug")
    return raw


def department_create(
    *, name: str, email: str = "", description: str = "", actor: User | None = None, slug: str | None = None
) -> Department:
    """A new department. Its slug is `slug` when given, else made from its name (numbered when
    taken); it never changes afterwards."""
    require_admin(actor)
    name = clean_text(name, field="name", max_length=120, single_line=True, required=True)
    email = _optional_email(email)
    description = clean_text(description, field="description", max_length=10_000)
    if Department.objects.filter(name__iexact=name).exists():
        raise Conflict(f"a department named {name!r} exists", field="name")
    if slug is not None:
        slug = _given_slug(slug, model=Department, what="department")
    else:
        base = slugify(name)[:50] or "department"
        slug, n = base, 1
        while Department.objects.filter(slug=slug).exists():
            n += 1
            slug = f"{base}-{n}"
    try:
        with transaction.atomic():
            department = Department.objects.create(name=name, slug=slug, email=email, description=description)
            snapshot_record("departments", department.slug, actor=actor, now=clock.now())  # accounts.history
            return department
    except IntegrityError:  # created concurrently
        raise Conflict(f"a department named {name!r} exists", field="name") from None


def department_fingerprint(department: Department) -> str:
    """A short digest of what an admin sets on a department: a form carries the one it was drawn
    from, so a save over a change someone made meanwhile is refused
    (`department_update(expected=...)`)."""
    shape = [department.name, department.email, department.description, department.is_active]
    return hashlib.sha256(json.dumps(shape).encode()).hexdigest()[:16]


def team_fingerprint(team: Team) -> str:
    """A short digest of a team's name, address and members (as stored): a form carries the one
    it was drawn from (`team_update(expected=...)`)."""
    members = Team.members.through.objects.filter(team_id=team.pk).values_list("user_id", flat=True)
    return team_fingerprint_of(team, member_ids=members)


def team_fingerprint_of(team: Team, *, member_ids: Iterable[int]) -> str:
    """`team_fingerprint` from member ids the caller has read already (no statement)."""
    shape = [team.name, team.email, sorted(member_ids)]
    return hashlib.sha256(json.dumps(shape).encode()).hexdigest()[:16]


def department_update(
    *,
    department: Department,
    actor: User | None,
    name: str | None = None,
    email: str | None = None,
    description: str | None = None,
    is_active: bool | None = None,
    expected: str | None = None,
) -> Department:
    """Change the given attributes; `None` leaves one as it is. The slug never changes.
    `expected`: the `department_fingerprint` the caller saw; when the department changed since,
    nothing is saved (a Conflict "stale", field `expected`)."""
    require_admin(actor)
    changed: list[str] = []
    if name is not None:
        name = clean_text(name, field="name", max_length=120, single_line=True, required=True)
        if Department.objects.filter(name__iexact=name).exclude(pk=department.pk).exists():
            raise Conflict(f"a department named {name!r} exists", field="name")
        department.name = name
        changed.append("name")
    if email is not None:
        department.email = _optional_email(email)
        changed.append("email")
    if description is not None:
        department.description = clean_text(description, field="description", max_length=10_000)
        changed.append("description")
    if is_active is not None:
        department.is_active = is_active
        changed.append("is_active")
    if changed or expected is not None:
        try:
            with recording("departments", department.slug, actor=actor, now=clock.now()):  # accounts.history
                # Under the row's lock: what is stored now, not what the caller loaded.
                if expected is not None:
                    stored = Department.objects.filter(pk=department.pk).first()
                    if stored is None:
                        raise NotFound(f"no department with id {department.pk}")
                    if department_fingerprint(stored) != expected:
                        message = f"department {stored.name!r} was changed meanwhile"
                        raise Conflict(message, field="expected", code="stale")
                if changed:
                    department.save(update_fields=changed)
        except IntegrityError:
            raise Conflict(f"a department named {department.name!r} exists", field="name") from None
    return department


# --------------------------------------------------------------------------------------------
# Agents


def _password(raw: str) -> str:
    password = clean_text(raw, field="password", max_length=PASSWORD_MAX_LENGTH)
    if len(password) < PASSWORD_MIN_LENGTH:
        raise ValidationFailed(f"must be at least {PASSWORD_MIN_LENGTH} characters", field="password")
    return password


@transaction.atomic
def agent_create(
    *,
    email: str,
    name: str,
    role: Role | str = Role.AGENT,
    password: str | None = None,
    departments: Iterable[Department] = (),
    language: str = "en",
    actor: User | None = None,
) -> User:
    """Create an agent. Without a password the agent cannot log in to the web UI until they set
    one through the password-reset link (`/password-reset/`), which an active agent gets with
    or without a password (API tokens still work)."""
    require_admin(actor)
    email = _email(email)
    name = clean_text(name, field="name", max_length=150, single_line=True)
    language = clean_text(language, field="language", max_length=LANGUAGE_MAX_LENGTH, single_line=True)
    role = _role(str(role))
    if User.objects.filter(email__iexact=email).exists():
        raise Conflict(f"an agent with e-mail {email} exists", field="email")
    user = User(email=email, name=name.strip() or email, role=role, language=language or "en")
    if password:
        user.set_password(_password(password))
    else:
        user.set_unusable_password()
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # created concurrently
        raise Conflict(f"an agent with e-mail {email} exists", field="email") from None
    user.departments.set(list(departments))
    snapshot_record("agents", user.email, actor=actor, now=clock.now())  # accounts.history
    return user


def _active_admins_other_than(user: User) -> int:
    """Count the other active admins, locking their rows so that two concurrent demotions
    cannot both see the other as the remaining admin."""
    others = User.objects.select_for_update().filter(role=Role.ADMIN, is_active=True).exclude(pk=user.pk)
    return len(others.values_list("pk", flat=True))


@transaction.atomic
def agent_update(
    *,
    agent: User,
    actor: User | None,
    name: str | None = None,
    role: Role | str | None = None,
    departments: Iterable[Department] | None = None,
    is_active: bool | None = None,
    supervisor: bool | None = None,
) -> User:
    """Change an agent; `None` leaves an attribute as it is. A supervisor reads the reports of
    their departments (`reports.access`).

    The last active admin cannot be demoted or deactivated (nobody could administer the desk).
    An agent who leaves a department also leaves that department's teams.
    """
    require_admin(actor)
    agent = User.objects.select_for_update().get(pk=agent.pk)
    with recording("agents", agent.email, actor=actor, now=clock.now()):  # accounts.history
        return _agent_update(
            agent,
            actor=actor,
            name=name,
            role=role,
            departments=departments,
            is_active=is_active,
            supervisor=supervisor,
        )


def _agent_update(
    agent: User,
    *,
    actor: User | None,
    name: str | None,
    role: Role | str | None,
    departments: Iterable[Department] | None,
    is_active: bool | None,
    supervisor: bool | None = None,
) -> User:
    changed: list[str] = []
    if name is not None:
        agent.name = clean_text(name, field="name", max_length=150, single_line=True, required=True)
        changed.append("name")
    if role is not None:
        new_role = _role(str(role))
        if agent.role == Role.ADMIN and new_role != Role.ADMIN and _active_admins_other_than(agent) == 0:
            raise Conflict("the desk needs at least one active admin", field="role")
        agent.role = new_role
        changed.append("role")
    if is_active is not None:
        if not is_active and agent.role == Role.ADMIN and _active_admins_other_than(agent) == 0:
            raise Conflict("the desk needs at least one active admin", field="is_active")
        agent.is_active = is_active
        changed.append("is_active")
    if supervisor is not None:
        agent.supervisor = bool(supervisor)
        changed.append("supervisor")
    if changed:
        agent.save(update_fields=changed)
    if departments is not None:
        chosen = list(departments)
        agent.departments.set(chosen)
        left = agent.teams.exclude(department__in=chosen)
        for team in left:
            with recording("teams", team.slug, actor=actor, now=clock.now()):  # accounts.history
                team.members.remove(agent)
    return agent


def agent_set_password(*, user: User, password: str) -> None:
    user.set_password(password)
    user.save(update_fields=["password"])


SIGNATURE_MAX_LENGTH = 2_000


def _time_zone(raw: str) -> str:
    name = clean_text(raw, field="time_zone", max_length=64, single_line=True).strip()
    if name not in zoneinfo.available_timezones() and name != "UTC":
        raise ValidationFailed("must be a time zone name such as Europe/Rome", field="time_zone")
    return name


def _language(raw: str) -> str:
    code = clean_text(raw, field="language", max_length=LANGUAGE_MAX_LENGTH, single_line=True).strip()
    codes = [c for c, _ in settings.LANGUAGES]
    if code not in codes:
        raise ValidationFailed(f"must be one of {', '.join(codes)}", field="language")
    return code


@transaction.atomic
def agent_profile_update(
    *,
    agent: User,
    actor: User,
    name: str | None = None,
    language: str | None = None,
    time_zone: str | None = None,
    signature: str | None = None,
) -> User:
    """An agent's own profile (admins may change anyone's): name, interface language, time
    zone, and the plain-text signature of their replies. `None` leaves an attribute as it is."""
    if actor.pk != agent.pk:
        require_admin(actor)
    agent = User.objects.select_for_update().get(pk=agent.pk)
    changed: list[str] = []
    if name is not None:
        agent.name = clean_text(name, field="name", max_length=150, single_line=True, required=True).strip()
        changed.append("name")
    if language is not None:
        agent.language = _language(language)
        changed.append("language")
    if time_zone is not None:
        agent.time_zone = _time_zone(time_zone)
        changed.append("time_zone")
    if signature is not None:
        agent.signature = clean_text(signature, field="signature", max_length=SIGNATURE_MAX_LENGTH).strip()
        changed.append("signature")
    if changed:
        agent.save(update_fields=changed)
    return agent


def agent_set_status(
    *, user: User, status: AgentStatus | str, now: datetime, actor: User | None = None
) -> User:
    """Set an agent online, away or offline: agents set their own status, admins anyone's.
    Round robin reads the status at each decision: only online agents are offered tickets
    (unless a policy assigns to offline agents too); coming online drains waiting backlogs."""
    if actor is not None and actor.pk != user.pk:
        require_admin(actor)
    if status not in AgentStatus.values:
        raise ValidationFailed(f"must be one of {', '.join(AgentStatus.values)}", field="status")
    if user.status != status:
        with transaction.atomic():
            user.status = AgentStatus(status)
            user.status_changed_at = now
            user.save(update_fields=["status", "status_changed_at"])
            if status == AgentStatus.ONLINE:
                for hook in extensions.hooks("agent_online"):  # waiting tickets find their agent
                    hook(agent=user, now=now)
    return user


# --------------------------------------------------------------------------------------------
# Teams


def _check_members(*, department: Department, members: list[User]) -> None:
    """Every member works in the team's department."""
    ids = {m.pk for m in members}
    inside = set(User.objects.filter(pk__in=ids, departments=department).values_list("pk", flat=True))
    outside = sorted(ids - inside)
    if outside:
        raise ValidationFailed(
            f"agent {outside[0]} is not a member of the department {department.name}", field="member_ids"
        )


@transaction.atomic
def team_create(
    *,
    name: str,
    department: Department,
    members: Iterable[User] = (),
    email: str = "",
    actor: User | None = None,
    slug: str | None = None,
) -> Team:
    """A new team of `department`. Its slug is `slug` when given, else `team_slug`'s."""
    require_admin(actor)
    name = clean_text(name, field="name", max_length=120, single_line=True, required=True)
    email = _optional_email(email)
    members = list(members)
    _check_members(department=department, members=members)
    if Team.objects.filter(department=department, name__iexact=name).exists():
        raise Conflict(f"{department.name} has a team named {name!r}", field="name")
    try:
        with transaction.atomic():
            slug = (
                _given_slug(slug, model=Team, what="team")
                if slug is not None
                else team_slug(name=name, department=department)
            )
            team = Team.objects.create(name=name, slug=slug, department=department, email=email)
    except IntegrityError:
        raise Conflict(f"{department.name} has a team named {name!r}", field="name") from None
    team.members.set(members)
    snapshot_record("teams", team.slug, actor=actor, now=clock.now())  # accounts.history
    return team


def team_slug(*, name: str, department: Department) -> str:
    """A new team's slug, unique in the desk: its name's (`tier-1`), else prefixed with its
    department's (`returns-tier-1`), else numbered (`tier-1-2`). It never changes afterwards."""
    base = slugify(name)[:50] or "team"
    for candidate in (base, f"{department.slug}-{base}"[:50]):
        if not Team.objects.filter(slug=candidate).exists():
            return candidate
    n = 2
    while Team.objects.filter(slug=f"{base}-{n}").exists():
        n += 1
    return f"{base}-{n}"


@transaction.atomic
def team_update(
    *,
    team: Team,
    actor: User | None,
    name: str | None = None,
    email: str | None = None,
    members: Iterable[User] | None = None,
    expected: str | None = None,
) -> Team:
    """Change a team; `None` leaves an attribute as it is. `members` replaces the member list.
    A team stays in the department it was created in. `expected`: the `team_fingerprint` the
    caller saw; when the team changed since, nothing is saved (a Conflict "stale")."""
    require_admin(actor)
    with recording("teams", team.slug, actor=actor, now=clock.now()):  # accounts.history
        if expected is not None:
            # Under the row's lock: what is stored now, not what the caller loaded.
            stored = Team.objects.filter(pk=team.pk).first()
            if stored is None:
                raise NotFound(f"no team with id {team.pk}")
            if team_fingerprint(stored) != expected:
                raise Conflict(f"team {stored.name!r} was changed meanwhile", field="expected", code="stale")
        return _team_update(team, name=name, email=email, members=members)


def _team_update(team: Team, *, name: str | None, email: str | None, members: Iterable[User] | None) -> Team:
    changed: list[str] = []
    if name is not None:
        name = clean_text(name, field="name", max_length=120, single_line=True, required=True)
        clash = Team.objects.filter(department_id=team.department_id, name__iexact=name).exclude(pk=team.pk)
        if clash.exists():
            raise Conflict(f"{team.department.name} has a team named {name!r}", field="name")
        team.name = name
        changed.append("name")
    if email is not None:
        team.email = _optional_email(email)
        changed.append("email")
    if changed:
        try:
            with transaction.atomic():
                team.save(update_fields=changed)
        except IntegrityError:
            raise Conflict(f"{team.department.name} has a team named {team.name!r}", field="name") from None
    if members is not None:
        chosen = list(members)
        _check_members(department=team.department, members=chosen)
        team.members.set(chosen)
    return team


# --------------------------------------------------------------------------------------------
# API tokens


def token_create(*, user: User, name: str = "", now: datetime) -> tuple[ApiToken, str]:
    """Create a token; return it with its secret, which is never stored and shown only now."""
    name = clean_text(name, field="name", max_length=100, single_line=True)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, prefix=secret[:12], key_hash=_hash(secret), created_at=now
    )
    return token, secret


def token_authenticate(*, secret: str, now: datetime) -> User | None:
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    # One plain statement on every API request (`core.rows`): the token with its agent.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {rows.select_columns(ApiToken, 't')}, {rows.select_columns(User, 'u')} "  # noqa: S608
            f"FROM {ApiToken._meta.db_table} t JOIN {User._meta.db_table} u ON u.id = t.user_id "
            "WHERE t.key_hash = %s AND t.revoked_at IS NULL AND u.is_active",
            [_hash(secret)],
        )
        found = cursor.fetchone()
    if found is None:
        return None
    split = rows.column_count(ApiToken)
    token = rows.from_row(ApiToken, "t", found[:split])
    user = rows.from_row(User, "u", found[split:])
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return user


def token_revoke(*, token_id: int, user: User, now: datetime) -> ApiToken:
    """Revoke one of `user`'s own tokens. Someone else's token is reported as missing."""
    if not 0 < token_id < 2**63:
        raise NotFound("token not found")
    token = ApiToken.objects.filter(pk=token_id, user=user).first()
    if token is None:
        raise NotFound("token not found")
    if token.revoked_at is None:
        token.revoked_at = now
        token.save(update_fields=["revoked_at"])
    return token


def token_revoke_any(*, token_id: int, actor: User, now: datetime) -> ApiToken:
    """An admin revokes any agent's token (the Console's API tokens page). Revoking a token
    already revoked changes nothing and is no error: it keeps the instant of its first
    revocation, however many requests revoke it at once (one conditional UPDATE decides).
    PermissionDenied unless `actor` is an active admin; NotFound for an unknown id."""
    require_admin(actor)
    if not 0 < token_id < 2**63:
        raise NotFound("token not found")
    ApiToken.objects.filter(pk=token_id, revoked_at__isnull=True).update(revoked_at=now)
    token = ApiToken.objects.select_related("user").filter(pk=token_id).first()
    if token is None:
        raise NotFound("token not found")
    return token


# --------------------------------------------------------------------------------------------
# Invitations: an agent created inactive, who activates their account by choosing a password
# through a link. The link's token is signed (SECRET_KEY) and names the agent and the instant of
# their pending invitation: it works until INVITE_VALID after that instant, once (accepting
# clears the invitation), and no longer after a new invitation replaces it or the agent is
# deactivated (either changes or clears the instant).

INVITE_VALID = timedelta(hours=72)
_INVITE_SALT = "sportello.accounts.invite"


def invite_token(*, agent: User) -> str:
    """The token of the agent's pending invitation (ValueError if none is pending)."""
    if agent.invited_at is None:
        raise ValueError("no invitation is pending")
    signer = signing.Signer(salt=_INVITE_SALT)
    return signer.sign_object([agent.pk, agent.invited_at.isoformat()], compress=True)


def invite_agent(*, token: str, now: datetime, lock: bool = False) -> User:
    """The invited agent a token names, if its invitation is still pending and not expired;
    NotFound otherwise (a forged, expired, used or replaced link all read the same)."""
    try:
        agent_id, invited = signing.Signer(salt=_INVITE_SALT).unsign_object(token)
        invited_at = datetime.fromisoformat(invited)
    except (signing.BadSignature, ValueError, TypeError):
        raise NotFound("this invitation link is not valid") from None
    if not isinstance(agent_id, int) or not 0 < agent_id < 2**63:
        raise NotFound("this invitation link is not valid")
    qs = User.objects.select_for_update() if lock else User.objects.all()
    agent = qs.filter(pk=agent_id, is_active=False, invited_at__isnull=False).first()
    if agent is None or agent.invited_at != invited_at or now - invited_at > INVITE_VALID:
        raise NotFound("this invitation link is not valid")
    return agent


@transaction.atomic
def agent_invite(
    *,
    email: str,
    name: str,
    role: Role | str,
    departments: Iterable[Department] = (),
    language: str = "en",
    actor: User | None,
    now: datetime,
) -> User:
    """Create an agent who cannot sign in yet: inactive, without a password, their invitation
    pending since `now`. They activate themselves with `invite_accept`."""
    agent = agent_create(
        email=email, name=name, role=role, departments=departments, language=_language(language), actor=actor
    )
    with recording("agents", agent.email, actor=actor, now=now):  # accounts.history
        agent.is_active = False
        agent.invited_at = now
        agent.save(update_fields=["is_active", "invited_at"])
    return agent


@transaction.atomic
def agent_invite_renew(*, agent: User, actor: User | None, now: datetime) -> User:
    """A new invitation for an agent whose invitation is pending: the earlier link stops working
    (Conflict if the agent accepted theirs or was deactivated meanwhile)."""
    require_admin(actor)
    agent = User.objects.select_for_update().get(pk=agent.pk)
    if agent.invited_at is None or agent.is_active:
        raise Conflict("this agent has no pending invitation", field="invited_at")
    agent.invited_at = max(now, agent.invited_at + timedelta(microseconds=1))  # always a new link
    agent.save(update_fields=["invited_at"])
    return agent


@transaction.atomic
def invite_accept(*, token: str, password: str, now: datetime) -> User:
    """The invited agent chooses their password: the account is active, the invitation used.
    Of two acceptances at once, the second finds the link used (NotFound)."""
    agent = invite_agent(token=token, now=now, lock=True)
    agent.set_password(_password(password))
    with recording("agents", agent.email, actor=agent, now=now):  # accounts.history
        agent.is_active = True
        agent.invited_at = None
        agent.save(update_fields=["password", "is_active", "invited_at"])
    return agent


@transaction.atomic
def agent_deactivate(*, agent: User, actor: User | None) -> User:
    """Deactivate an agent (or withdraw a pending invitation): they can no longer sign in, their
    API tokens stop working, round robin offers them nothing. Nobody deactivates themself, and
    the desk keeps at least one active admin (Conflict). Deactivating an inactive agent changes
    nothing. Their open tickets are handed back by `tickets.services.agent_deactivate`."""
    require_admin(actor)
    if actor is not None and actor.pk == agent.pk:
        raise Conflict("you cannot deactivate yourself", field="is_active")
    agent = User.objects.select_for_update().get(pk=agent.pk)
    if not agent.is_active and agent.invited_at is None:
        return agent
    if agent.role == Role.ADMIN and agent.is_active and _active_admins_other_than(agent) == 0:
        raise Conflict("the desk needs at least one active admin", field="is_active")
    with recording("agents", agent.email, actor=actor, now=clock.now()):  # accounts.history
        agent.is_active = False
        agent.invited_at = None
        agent.save(update_fields=["is_active", "invited_at"])
    return agent


@transaction.atomic
def agent_reactivate(*, agent: User, actor: User | None) -> User:
    """Let a deactivated agent sign in again (with their old password, or one they set through
    the password-reset link). An agent already active stays so."""
    require_admin(actor)
    agent = User.objects.select_for_update().get(pk=agent.pk)
    if not agent.is_active:
        with recording("agents", agent.email, actor=actor, now=clock.now()):  # accounts.history
            agent.is_active = True
            agent.invited_at = None
            agent.save(update_fields=["is_active", "invited_at"])
    return agent

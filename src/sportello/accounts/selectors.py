"""Reads of departments, agents, teams and API tokens.

Every active agent may read the desk's departments, agents and teams (they pick them when
routing and assigning tickets); tokens are private to their owner, except that admins list
every agent's in the Console. Missing ids raise NotFound.
"""

from __future__ import annotations

import unicodedata
from enum import StrEnum

from django.db.models import Prefetch, QuerySet

from sportello.core.errors import NotFound, ValidationFailed

from .models import AgentStatus, ApiToken, Department, Role, Team, User
from .permissions import require_admin

PK_MAX = 2**63 - 1


def valid_pk(value: int) -> bool:
    """Whether `value` can be a primary key (out-of-range ids would fail in the database)."""
    return not isinstance(value, bool) and 0 < value <= PK_MAX


def department_ids_for(*, user: User) -> list[int] | None:
    """The departments whose tickets `user` works; None means all (admins)."""
    if user.role == Role.ADMIN:
        return None
    return list(user.departments.values_list("pk", flat=True))


def department_list(*, user: User, is_active: bool | None = None) -> QuerySet[Department]:
    qs = Department.objects.all()
    if is_active is not None:
        qs = qs.filter(is_active=is_active)
    return qs


def department_get(*, user: User, department_id: int) -> Department:
    if not valid_pk(department_id):
        raise NotFound("department not found")
    department = Department.objects.filter(pk=department_id).first()
    if department is None:
        raise NotFound("department not found")
    return department


def departments_by_ids(*, ids: list[int], field: str = "department_ids") -> list[Department]:
    """The departments with these ids, in the given order; an unknown id is a 422 on `field`."""
    bad = [i for i in ids if not valid_pk(i)]
    found = {d.pk: d for d in Department.objects.filter(pk__in=[i for i in ids if valid_pk(i)])}
    missing = bad or [i for i in ids if i not in found]
    if missing:
        raise ValidationFailed(f"no department with id {missing[0]}", field=field)
    return list(dict.fromkeys(found[i] for i in ids))


def agent_for_password_reset(*, email: str) -> list[User]:
    """The active agent a password-reset link for `email` goes to (none or one): the address
    compared case-insensitively, as Unicode folds it (no look-alike collides); whether the agent
    has a password yet does not matter. A deactivated agent gets no link."""
    wanted = unicodedata.normalize("NFKC", email).casefold()
    candidates = User.objects.filter(email__iexact=email, is_active=True)
    return [u for u in candidates if unicodedata.normalize("NFKC", u.email).casefold() == wanted]


def _agents() -> QuerySet[User]:
    return User.objects.prefetch_related(Prefetch("departments", queryset=Department.objects.only("pk")))


def agent_list(
    *,
    user: User,
    department_id: int | None = None,
    role: str | None = None,
    status: str | None = None,
    is_active: bool | None = None,
) -> QuerySet[User]:
    qs = _agents()
    if department_id is not None:
        if not valid_pk(department_id):
            raise ValidationFailed("must be a department id", field="department_id")
        qs = qs.filter(departments__pk=department_id)
    if role is not None:
        if role not in Role.values:
            raise ValidationFailed(f"must be one of {', '.join(Role.values)}", field="role")
        qs = qs.filter(role=role)
    if status is not None:
        if status not in AgentStatus.values:
            raise ValidationFailed(f"must be one of {', '.join(AgentStatus.values)}", field="status")
        qs = qs.filter(status=status)
    if is_active is not None:
        qs = qs.filter(is_active=is_active)
    return qs


def agent_get(*, user: User, agent_id: int) -> User:
    if not valid_pk(agent_id):
        raise NotFound("agent not found")
    agent = _agents().filter(pk=agent_id).first()
    if agent is None:
        raise NotFound("agent not found")
    return agent


def agents_by_ids(*, ids: list[int], field: str = "member_ids") -> list[User]:
    """Active agents with these ids, in the given order; an unknown id is a 422 on `field`."""
    bad = [i for i in ids if not valid_pk(i)]
    found = {u.pk: u for u in User.objects.filter(pk__in=[i for i in ids if valid_pk(i)], is_active=True)}
    missing = bad or [i for i in ids if i not in found]
    if missing:
        raise ValidationFailed(f"no active agent with id {missing[0]}", field=field)
    return list(dict.fromkeys(found[i] for i in ids))


def _teams() -> QuerySet[Team]:
    return Team.objects.select_related("department").prefetch_related(
        Prefetch("members", queryset=User.objects.only("pk"))
    )


def team_list(*, user: User, department_id: int | None = None) -> QuerySet[Team]:
    qs = _teams()
    if department_id is not None:
        if not valid_pk(department_id):
            raise ValidationFailed("must be a department id", field="department_id")
        qs = qs.filter(department_id=department_id)
    return qs


def team_get(*, user: User, team_id: int) -> Team:
    if not valid_pk(team_id):
        raise NotFound("team not found")
    team = _teams().filter(pk=team_id).first()
    if team is None:
        raise NotFound("team not found")
    return team


def token_list(*, user: User) -> QuerySet[ApiToken]:
    """The user's own tokens, revoked ones included (their `revoked_at` says so)."""
    return ApiToken.objects.filter(user=user)


class TokenStatus(StrEnum):
    """Which tokens the Console lists: the working ones, the revoked ones, or both."""

    ACTIVE = "active"
    REVOKED = "revoked"
    ALL = "all"


def token_list_all(*, actor: User, status: TokenStatus, owner_id: int | None = None) -> QuerySet[ApiToken]:
    """Every agent's tokens, each with its owner (one statement): admins only (PermissionDenied
    otherwise). `owner_id` narrows to one agent's; an id out of range matches none."""
    require_admin(actor)
    qs = ApiToken.objects.select_related("user")
    if status is TokenStatus.ACTIVE:
        qs = qs.filter(revoked_at__isnull=True)
    elif status is TokenStatus.REVOKED:
        qs = qs.filter(revoked_at__isnull=False)
    if owner_id is not None:
        qs = qs.filter(user_id=owner_id) if valid_pk(owner_id) else qs.none()
    return qs


def token_owners(*, actor: User) -> QuerySet[User]:
    """The agents who hold or held a token, by name (the Console's owner filter): admins only."""
    require_admin(actor)
    return User.objects.filter(pk__in=ApiToken.objects.values("user_id")).order_by("name", "pk")


def token_get_any(*, actor: User, token_id: int) -> ApiToken:
    """Any agent's token with its owner: admins only; NotFound for an unknown id."""
    require_admin(actor)
    token = (
        ApiToken.objects.select_related("user").filter(pk=token_id).first() if valid_pk(token_id) else None
    )
    if token is None:
        raise NotFound("token not found")
    return token


class AgentState(StrEnum):
    """Which agents the Console lists: those who can sign in, those invited who have not yet
    chosen a password, those deactivated, or everyone."""

    ACTIVE = "active"
    INVITED = "invited"
    DEACTIVATED = "deactivated"
    ALL = "all"


def agent_directory(
    *,
    actor: User,
    state: AgentState = AgentState.ALL,
    role: str | None = None,
    department_id: int | None = None,
) -> QuerySet[User]:
    """Every agent with their departments and teams, each by name (three statements): the
    Console's list of agents, admins only. An unknown role or an id out of range matches none."""
    require_admin(actor)
    qs = User.objects.prefetch_related(
        Prefetch("departments", queryset=Department.objects.order_by("name", "pk")),
        Prefetch("teams", queryset=Team.objects.order_by("name", "pk")),
    )
    if state is AgentState.ACTIVE:
        qs = qs.filter(is_active=True)
    elif state is AgentState.INVITED:
        qs = qs.filter(is_active=False, invited_at__isnull=False)
    elif state is AgentState.DEACTIVATED:
        qs = qs.filter(is_active=False, invited_at__isnull=True)
    if role is not None:
        qs = qs.filter(role=role) if role in Role.values else qs.none()
    if department_id is not None:
        qs = qs.filter(departments__pk=department_id) if valid_pk(department_id) else qs.none()
    return qs


def agent_get_any(*, actor: User, agent_id: int) -> User:
    """Any agent, active or not, with their departments and teams: admins only; NotFound."""
    require_admin(actor)
    agent = agent_directory(actor=actor).filter(pk=agent_id).first() if valid_pk(agent_id) else None
    if agent is None:
        raise NotFound("agent not found")
    return agent


def team_directory(*, actor: User) -> QuerySet[Team]:
    """Every team by department and name, with its members by name (two statements): admins."""
    require_admin(actor)
    return (
        Team.objects.select_related("department")
        .prefetch_related(Prefetch("members", queryset=User.objects.order_by("name", "pk")))
        .order_by("department__name", "name", "pk")
    )

"""The history of departments, agents and teams (`core.snapshots`): each is recorded by its
stable key — a department and a team by slug, an agent by e-mail address — as the document the
configuration export writes for it, and restored through `accounts.services`.

An agent's history holds what an admin sets: name, role, departments and whether they may sign
in. Restoring an agent never deactivates them (their open tickets must be handed back, which
the agents page does): a version that would is refused with a Conflict.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sportello.core.errors import Conflict
from sportello.core.snapshots import Definition, SnapshotKind, register_snapshot_kind

from . import services
from .models import Department, Role, Team, User

DEPARTMENTS = "departments"
AGENTS = "agents"
TEAMS = "teams"


def department_definition(d: Department) -> Definition:
    return {
        "slug": d.slug,
        "name": d.name,
        "email": d.email,
        "description": d.description,
        "active": d.is_active,
    }


def _department_read(key: str) -> tuple[str, Definition] | None:
    d = Department.objects.filter(slug=key).first()
    return None if d is None else (d.name, department_definition(d))


def _department_lock(key: str) -> Department | None:
    return Department.objects.select_for_update().filter(slug=key).first()


def _department_apply(key: str, definition: Definition, actor: Any, now: datetime) -> None:
    department = Department.objects.get(slug=key)
    services.department_update(
        department=department,
        actor=actor,
        name=definition["name"],
        email=definition.get("email", ""),
        description=definition.get("description", ""),
        is_active=bool(definition.get("active", True)),
    )


def agent_definition(u: User) -> Definition:
    definition: Definition = {
        "email": u.email,
        "name": u.name,
        "role": u.role,
        "departments": sorted(d.slug for d in u.departments.all()),
        "active": u.is_active,
    }
    if u.supervisor:  # only when set: versions saved before supervisors existed read the same
        definition["supervisor"] = True
    return definition


def _agent_read(key: str) -> tuple[str, Definition] | None:
    u = User.objects.prefetch_related("departments").filter(email=key).first()
    return None if u is None else (u.name or u.email, agent_definition(u))


def _agent_lock(key: str) -> User | None:
    return User.objects.select_for_update().filter(email=key).first()


def _agent_apply(key: str, definition: Definition, actor: Any, now: datetime) -> None:
    agent = User.objects.get(email=key)
    active = bool(definition.get("active", True))
    if agent.is_active and not active:
        raise Conflict(
            "restoring would deactivate this agent: deactivate them from the agents page, "
            "which hands their open tickets back",
            field="is_active",
        )
    departments = list(Department.objects.filter(slug__in=definition.get("departments", [])))
    services.agent_update(
        agent=agent,
        actor=actor,
        name=definition["name"],
        role=definition["role"],
        departments=departments,
        supervisor=bool(definition.get("supervisor", False)),
    )
    if active and not agent.is_active:
        services.agent_reactivate(agent=agent, actor=actor)


def team_definition(t: Team) -> Definition:
    return {
        "slug": t.slug,
        "name": t.name,
        "department": t.department.slug,
        "email": t.email,
        "members": sorted(m.email for m in t.members.all()),
    }


def _team_read(key: str) -> tuple[str, Definition] | None:
    t = Team.objects.select_related("department").prefetch_related("members").filter(slug=key).first()
    return None if t is None else (t.name, team_definition(t))


def _team_lock(key: str) -> Team | None:
    return Team.objects.select_for_update().filter(slug=key).first()


def _team_apply(key: str, definition: Definition, actor: Any, now: datetime) -> None:
    team = Team.objects.select_related("department").get(slug=key)
    members = list(User.objects.filter(email__in=definition.get("members", [])))
    services.team_update(
        team=team, actor=actor, name=definition["name"], email=definition.get("email", ""), members=members
    )


register_snapshot_kind(
    SnapshotKind(
        name=DEPARTMENTS,
        label="department",
        lock=_department_lock,
        read=_department_read,
        existing=lambda: list(Department.objects.order_by("slug").values_list("slug", flat=True)),
        apply=_department_apply,
    )
)
register_snapshot_kind(
    SnapshotKind(
        name=AGENTS,
        label="agent",
        lock=_agent_lock,
        read=_agent_read,
        existing=lambda: list(
            User.objects.filter(role__in=Role.values).order_by("email").values_list("email", flat=True)
        ),
        apply=_agent_apply,
    )
)
register_snapshot_kind(
    SnapshotKind(
        name=TEAMS,
        label="team",
        lock=_team_lock,
        read=_team_read,
        existing=lambda: list(Team.objects.order_by("slug").values_list("slug", flat=True)),
        apply=_team_apply,
    )
)

"""The desk's structure as a per-process cache: departments, teams, the people who work in it
(admins, agents, light agents) and who is a member of which department and team, rebuilt when any process
changes them (`core.config.watch`, signature "desk"; an agent's presence and last sign-in do not
count: they are read where they are shown).

The rows returned are shared by every request of the process: read them, never change them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sportello.core.config import config_cached

from .models import Department, Team, User

DESK = "desk"
# What a save of a user may write without changing the structure (presence, sign-ins).
USER_UNWATCHED = frozenset({"status", "status_changed_at", "last_login", "password"})


@dataclass(frozen=True, slots=True)
class Structure:
    departments: dict[int, Department]  # every department, active or not, by id
    teams: dict[int, Team]  # every team, by id
    users: dict[int, User]  # every user, active or not, in name order (presence: not current)
    member_of: dict[int, frozenset[int]]  # user id -> the departments they are a member of
    teams_of: dict[int, frozenset[int]]  # user id -> the teams they are a member of


def _read() -> Structure:
    member_of: dict[int, set[int]] = {}
    for user_id, department_id in User.departments.through.objects.values_list("user_id", "department_id"):
        member_of.setdefault(user_id, set()).add(department_id)
    teams_of: dict[int, set[int]] = {}
    for team_id, user_id in Team.members.through.objects.values_list("team_id", "user_id"):
        teams_of.setdefault(user_id, set()).add(team_id)
    return Structure(
        departments={d.pk: d for d in Department.objects.order_by("name", "id")},
        teams={t.pk: t for t in Team.objects.order_by("name", "id")},
        users={u.pk: u for u in User.objects.order_by("name", "id")},
        member_of={u: frozenset(ds) for u, ds in member_of.items()},
        teams_of={u: frozenset(ts) for u, ts in teams_of.items()},
    )


def structure(memo: dict[str, Any] | None = None) -> Structure:
    """Departments, teams and memberships as last committed (one signature read per change or
    page; five statements when another process changed them)."""
    return config_cached("desk.structure", _read, memo, signature=DESK)


def department(department_id: Any, memo: dict[str, Any] | None = None) -> Department | None:
    """The department with this id, active or not; None when there is none."""
    return structure(memo).departments.get(department_id) if isinstance(department_id, int) else None


def departments_of(user_id: int, memo: dict[str, Any] | None = None) -> frozenset[int]:
    """The departments `user_id` is a member of (admins: only those they were added to)."""
    return structure(memo).member_of.get(user_id, frozenset())

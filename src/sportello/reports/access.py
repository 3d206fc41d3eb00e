"""Who reads reports, and of which departments: admins read every department's; a supervisor
(an agent with `User.supervisor`) reads their own departments'. Everyone else is refused.

Every report reads through a `ReportScope`, so a supervisor's figures, drill-downs and exports
never include another department's tickets."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from sportello.accounts.models import Role, User
from sportello.core.errors import PermissionDenied


@dataclass(frozen=True, slots=True)
class ReportScope:
    user: User
    # None: every department (an admin).
    department_ids: frozenset[int] | None

    @property
    def everything(self) -> bool:
        return self.department_ids is None

    def allows(self, department_id: int | None) -> bool:
        return self.department_ids is None or department_id in self.department_ids

    def q(self, field: str = "department") -> Q:
        """A filter on `field` (a department foreign key) keeping the scope's departments."""
        if self.department_ids is None:
            return Q()
        return Q(**{f"{field}__in": sorted(self.department_ids)})


def may_read_reports(user: object) -> bool:
    return (
        isinstance(user, User)
        and user.is_active
        and (user.role == Role.ADMIN or (user.role == Role.AGENT and user.supervisor))
    )


def report_scope(user: object) -> ReportScope:
    """The departments `user` reads reports of; PermissionDenied for anyone but admins and
    supervisors."""
    if not may_read_reports(user):
        raise PermissionDenied("only admins and supervisors read reports")
    assert isinstance(user, User)
    if user.role == Role.ADMIN:
        return ReportScope(user=user, department_ids=None)
    return ReportScope(user=user, department_ids=frozenset(user.departments.values_list("pk", flat=True)))

"""Reads of SLA policies and of a ticket's clocks, permission-scoped: admins and agents read
policies; whoever may read a ticket reads its clocks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from sportello.accounts.models import Department, Role, User
from sportello.contacts.models import Contact
from sportello.core.errors import NotFound, PermissionDenied

from .models import (
    BusinessCalendar,
    BusinessCalendarVersion,
    CalendarDepartment,
    SlaPolicy,
    SlaPolicyVersion,
    TierPath,
)


def require_policy_reader(principal: User | Contact) -> None:
    if not isinstance(principal, User) or principal.role not in (Role.ADMIN, Role.AGENT):
        raise PermissionDenied("only admins and agents read SLA policies")


def policy_list(*, principal: User | Contact) -> QuerySet[SlaPolicy]:
    require_policy_reader(principal)
    return SlaPolicy.objects.order_by("position", "key")


def policy_get(*, principal: User | Contact, key: str) -> SlaPolicy:
    require_policy_reader(principal)
    policy = SlaPolicy.objects.filter(key=key).first()
    if policy is None:
        raise NotFound("SLA policy not found")
    return policy


def policy_versions(*, principal: User | Contact, key: str) -> QuerySet[SlaPolicyVersion]:
    return SlaPolicyVersion.objects.filter(policy=policy_get(principal=principal, key=key)).order_by(
        "version"
    )


@dataclass(frozen=True, slots=True)
class CalendarRow:
    """A calendar as the Console lists and edits it: its head, the definition of its current
    version, and the departments following it (by name)."""

    calendar: BusinessCalendar
    definition: dict[str, Any]
    departments: list[Department]

    @property
    def holidays(self) -> int:
        versions = self.definition.get("versions")
        latest = versions[-1] if isinstance(versions, list) and versions else self.definition
        return len(latest.get("holidays", []))


def calendar_rows(*, principal: User | Contact, key: str | None = None) -> list[CalendarRow]:
    """Every calendar (or the one of `key`), active first then by name, with its current
    definition and departments: three statements whatever their number."""
    require_policy_reader(principal)
    heads = BusinessCalendar.objects.order_by("-active", "name", "key")
    if key is not None:
        heads = heads.filter(key=key)
    calendars = list(heads)
    if not calendars:
        return []
    wanted = Q()
    for c in calendars:
        wanted |= Q(calendar_id=c.pk, version=c.version)
    definitions = {v.calendar_id: v.definition for v in BusinessCalendarVersion.objects.filter(wanted)}
    departments: dict[int, list[Department]] = {}
    links = CalendarDepartment.objects.filter(calendar__in=calendars).select_related("department")
    for link in links.order_by("department__name"):
        departments.setdefault(link.calendar_id, []).append(link.department)
    return [CalendarRow(c, definitions.get(c.pk, {}), departments.get(c.pk, [])) for c in calendars]


@dataclass(frozen=True, slots=True)
class PolicyRow:
    """A policy as the Console lists and edits it: its head and its current definition."""

    policy: SlaPolicy
    definition: dict[str, Any]


def policy_rows(*, principal: User | Contact, key: str | None = None) -> list[PolicyRow]:
    """Every policy (or the one of `key`) in match order, active first, with its current
    definition: two statements whatever their number."""
    require_policy_reader(principal)
    heads = SlaPolicy.objects.order_by("-active", "position", "key")
    if key is not None:
        heads = heads.filter(key=key)
    policies = list(heads)
    if not policies:
        return []
    wanted = Q()
    for p in policies:
        wanted |= Q(policy_id=p.pk, version=p.version)
    definitions = {v.policy_id: v.definition for v in SlaPolicyVersion.objects.filter(wanted)}
    return [PolicyRow(p, definitions.get(p.pk, {})) for p in policies]


def tier_path_list(*, principal: User | Contact) -> QuerySet[TierPath]:
    """Every tier path with its department, by name: one statement."""
    require_policy_reader(principal)
    return TierPath.objects.select_related("department").order_by("-active", "name", "key")

"""Reads of SLA policies and of a ticket's clocks, permission-scoped: admins and agents read
policies; whoever may read a ticket reads its clocks."""

from __future__ import annotations

from django.db.models import QuerySet

from sportello.accounts.models import Role, User
from sportello.contacts.models import Contact
from sportello.core.errors import NotFound, PermissionDenied

from .models import SlaPolicy, SlaPolicyVersion


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

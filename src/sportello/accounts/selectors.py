"""Reads of departments, agents and teams."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Department, Role, User


def department_ids_for(*, user: User) -> list[int] | None:
    """The departments whose tickets `user` works; None means all (admins)."""
    if user.role == Role.ADMIN:
        return None
    return list(user.departments.values_list("pk", flat=True))


def department_list(*, user: User) -> QuerySet[Department]:
    return Department.objects.all()

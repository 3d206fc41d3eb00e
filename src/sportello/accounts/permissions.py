"""Role checks that need only the agent's row: importable from any service without the
account services (and what they import)."""

from __future__ import annotations

from sportello.core.errors import PermissionDenied

from .models import Role, User


def require_admin(actor: User | None) -> None:
    """Raise PermissionDenied unless `actor` is an active admin (or the system, `None`)."""
    if actor is not None and not (actor.is_active and actor.role == Role.ADMIN):
        raise PermissionDenied("only admins can do this")

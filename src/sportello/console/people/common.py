"""What the People pages share: the admin asking, the page drawn in the Console's shell, a
number read from the address, and a service's refusal put on a form in the admin's language."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from sportello.core.errors import Conflict, DomainError, ValidationFailed

from ..views import current_admin, render_console
from ..views import int_or_none as int_or_none

me = current_admin
page = render_console


def error_text(exc: DomainError) -> str:
    """A service's refusal about an agent or a team in the admin's language."""
    text = exc.message
    if isinstance(exc, Conflict):
        if "at least one active admin" in text:
            return _("The desk needs at least one active admin: make another agent an admin first.")
        if "cannot deactivate yourself" in text:
            return _("You cannot deactivate yourself; another admin can.")
        if "no pending invitation" in text:
            return _("This agent has no pending invitation any more: they accepted it or were deactivated.")
        if exc.field == "email":
            return _("An agent with this e-mail address already exists.")
    if isinstance(exc, ValidationFailed):
        if exc.field == "email":
            return _("Enter a valid e-mail address.")
        if exc.field == "name":
            return _("Enter a name.")
    return text


def attach(form: Any, exc: DomainError) -> None:
    """Put the refusal next to the field it concerns, else at the top of the form."""
    field = {"is_active": None, "member_ids": "members"}.get(exc.field or "", exc.field)
    form.add_error(field if field in form.fields else None, error_text(exc))

"""Domain errors in, inline HTML out: the one mapping for the agent UI.

A service raises `Conflict`, `ValidationFailed`, `PermissionDenied`; the view hands it to
`attach_error`, which puts a translated message on the form (next to the field it names, or at
the top of the form) and returns the HTTP status to answer with. `NotFound` becomes a 404 page.
"""

from __future__ import annotations

import math

from django import forms
from django.http import Http404, HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from sportello.core.errors import (
    Conflict,
    DomainError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from sportello.engine import fields as cf
from sportello.tickets.models import CustomField

# Service field names (API spelling) -> form field names.
FIELD_ALIASES = {
    "assignee_id": "assignee",
    "team_id": "team",
    "department_id": "department",
    "body": "body",
    "body_html": "body",
    "public": "kind",
}

STALE_VERSION = _("This ticket changed since you opened it; reload the page to see the changes.")
TICKET_CLOSED = _("This ticket is closed and cannot change; open a follow-up ticket instead.")
NOT_ALLOWED = _("You are not allowed to make this change.")
REQUIRED_TO_SOLVE = _("Fill in “%(field)s” before solving this ticket.")
REQUIRED = _("“%(field)s” is required in this department.")
CUSTOM_PREFIX = "custom_fields."


def error_message(exc: DomainError) -> str:
    """A message for the agent, in their language where we know the error's meaning."""
    if isinstance(exc, Conflict):
        if exc.code == "stale_version":
            return str(STALE_VERSION)
        if exc.code == "ticket_closed":
            return str(TICKET_CLOSED)
        return exc.message
    if isinstance(exc, PermissionDenied):
        return str(NOT_ALLOWED)
    if isinstance(exc, ValidationFailed) and (exc.field or "").startswith(CUSTOM_PREFIX):
        # A custom field is not on the form: the message names it by its label.
        key = (exc.field or "").removeprefix(CUSTOM_PREFIX)
        label = CustomField.objects.filter(key=key).values_list("label", flat=True).first() or key
        if exc.message == cf.REQUIRED_TO_SOLVE_MESSAGE:
            return str(REQUIRED_TO_SOLVE) % {"field": label}
        if exc.message == cf.REQUIRED_MESSAGE:
            return str(REQUIRED) % {"field": label}
        return f"{label}: {exc.message}"
    return exc.message


def attach_error(form: forms.Form, exc: DomainError) -> int:
    """Record `exc` on `form` and return the status to answer with. NotFound raises Http404."""
    if isinstance(exc, NotFound):
        raise Http404 from exc
    field = FIELD_ALIASES.get(exc.field or "", exc.field)
    message = error_message(exc)
    if isinstance(exc, ValidationFailed) and field in form.fields:
        form.add_error(field, message)
    else:
        form.add_error(None, message)
    return exc.status


def throttled_message(seconds: int) -> str:
    """Too many failed sign-ins: when to try again, in minutes past two minutes."""
    if seconds < 120:
        return ngettext(
            "Too many failed sign-ins. Try again in %(n)d second.",
            "Too many failed sign-ins. Try again in %(n)d seconds.",
            seconds,
        ) % {"n": seconds}
    minutes = math.ceil(seconds / 60)
    return ngettext(
        "Too many failed sign-ins. Try again in %(n)d minute.",
        "Too many failed sign-ins. Try again in %(n)d minutes.",
        minutes,
    ) % {"n": minutes}


def client_address(request: HttpRequest) -> str:
    """The network address the request came from (the proxy in front sets REMOTE_ADDR)."""
    return str(request.META.get("REMOTE_ADDR") or "")[:45]

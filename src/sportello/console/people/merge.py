"""Merging a duplicate contact into the contact an admin has open: pick the duplicate (searched
by name, e-mail or phone, or among the likely duplicates), read what the merge will move on a
confirmation page (tickets, messages, fields filled), merge. Through
`contacts.services.contact_merge`, the API's service."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from sportello.contacts import selectors, services
from sportello.contacts.models import Contact
from sportello.core import clock
from sportello.core.errors import Conflict, DomainError, NotFound, ValidationFailed

from ..views import admin_required
from .common import me as _me
from .common import page as _render

CANDIDATES_MAX = 20
FIELD_LABELS = {
    "name": gettext_lazy("Name"),
    "email": gettext_lazy("E-mail"),
    "phone": gettext_lazy("Phone"),
    "organization": gettext_lazy("Organization"),
    "language": gettext_lazy("Language"),
    "time_zone": gettext_lazy("Time zone"),
    "vip": gettext_lazy("VIP"),
}


def _contact(request: HttpRequest, contact_id: int) -> Contact:
    try:
        return selectors.contact_get(user=_me(request), contact_id=contact_id)
    except NotFound:
        raise Http404 from None


def merge_error_text(exc: DomainError) -> str:
    if isinstance(exc, Conflict) and exc.code == "contact_merged":
        return _("One of these contacts was merged into another meanwhile: nothing was merged.")
    if isinstance(exc, ValidationFailed) and exc.code == "merge_self":
        return _("A contact cannot be merged into itself.")
    if isinstance(exc, NotFound):
        return _("One of these contacts no longer exists: nothing was merged.")
    return exc.message


@admin_required
@require_http_methods(["GET"])
def contact_merge_pick(request: HttpRequest, contact_id: int) -> HttpResponse:
    """The duplicate to merge into this contact: searched, or among the likely duplicates."""
    target = _contact(request, contact_id)
    q = (request.GET.get("q") or "").strip()[:200]
    found: list[Contact] = []
    if q:
        qs = selectors.contact_list(user=_me(request), q=q).exclude(pk=target.pk)
        found = list(qs.order_by("name", "id")[:CANDIDATES_MAX])
    context = {
        "section": "contacts",
        "contact": target,
        "q": q,
        "found": found,
        "suggested": selectors.contact_duplicates(contact=target),
    }
    return _render(request, "console/people/contact_merge_pick.html", context)


@admin_required
@require_http_methods(["GET", "POST"])
def contact_merge_confirm(request: HttpRequest, contact_id: int, source_id: int) -> HttpResponseBase:
    """What merging `source_id` into `contact_id` moves; POST merges."""
    target = _contact(request, contact_id)
    error = ""
    if request.method == "POST":
        try:
            outcome = services.contact_merge(
                actor=_me(request), source_id=source_id, target_id=target.pk, now=clock.now()
            )
        except DomainError as exc:
            error = merge_error_text(exc)
        else:
            messages.success(
                request, _("Merged into “%(name)s”: the duplicate is gone.") % {"name": str(outcome.target)}
            )
            return redirect("console:contact", contact_id=target.pk)
    try:
        preview = selectors.contact_merge_preview(user=_me(request), source_id=source_id, target_id=target.pk)
    except ValidationFailed:
        return redirect("console:contact_merge", contact_id=target.pk)
    except NotFound:
        if error:  # the duplicate went while the admin confirmed: say so on the picker's page
            messages.error(request, error)
            return redirect("console:contact_merge", contact_id=target.pk)
        raise Http404 from None
    filled = [(FIELD_LABELS[name], _shown(preview.source, name)) for name in preview.filled]
    context: dict[str, Any] = {
        "section": "contacts",
        "contact": target,
        "preview": preview,
        "moves": [line for line in preview.moves if line.count],
        "filled": filled,
        "error": error,
    }
    return _render(
        request, "console/people/contact_merge_confirm.html", context, status=409 if error else 200
    )


def _shown(contact: Contact, name: str) -> str:
    if name == "organization":
        return contact.organization.name if contact.organization is not None else ""
    if name == "vip":
        return _("Yes")
    return str(getattr(contact, name))

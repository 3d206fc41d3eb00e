"""The Console's contacts and organizations: lists searched by name, e-mail, phone or domain,
and their edit pages (contact: name, e-mail, phone, organization, VIP; organization: name,
domains, tier, VIP), through the contacts services the API uses."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import BadRequest
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from sportello.contacts import selectors, services
from sportello.core import paging
from sportello.core.errors import Conflict, DomainError, NotFound, ValidationFailed

from ..views import admin_required
from .common import me as _me
from .common import page as _render
from .forms import TIER_CHOICES, ContactForm, OrganizationForm

PAGE_SIZE = 50
KEYS = [paging.SortKey("name", kind="str"), paging.SortKey("id")]


def _error(form: ContactForm | OrganizationForm, exc: DomainError) -> None:
    field = exc.field if exc.field in form.fields else None
    text = exc.message
    if isinstance(exc, Conflict) and exc.code == "contact_merged":
        text = _("This contact was merged into another meanwhile: nothing was saved.")
    elif isinstance(exc, Conflict) and exc.field == "email":
        text = _("Another contact has this e-mail address.")
    elif isinstance(exc, Conflict) and exc.field == "phone":
        text = _("Another contact without an e-mail address has this phone.")
    elif isinstance(exc, Conflict) and exc.field == "name":
        text = _("Another organization has this name.")
    elif isinstance(exc, Conflict) and exc.field == "domains":
        text = _("One of these domains belongs to another organization: %(detail)s") % {"detail": exc.message}
    elif isinstance(exc, ValidationFailed) and exc.field == "domains":
        text = _("Enter e-mail domains such as acme.com: %(detail)s") % {"detail": exc.message}
    elif isinstance(exc, ValidationFailed) and exc.field in ("email", "phone"):
        text = _("Give an e-mail address, a phone or both.")
    form.add_error(field, text)


def _page(
    request: HttpRequest, qs: QuerySet[Any], name: str
) -> tuple[list[Any], str | None, str | None, str]:
    q = (request.GET.get("q") or "").strip()[:200]
    cursor = request.GET.get("cursor") or None
    try:
        rows, next_cursor = paging.paginate(qs, keys=KEYS, cursor=cursor, limit=PAGE_SIZE)
    except ValidationFailed:
        raise BadRequest("invalid cursor") from None
    base = {"q": q} if q else {}
    here = reverse(name)
    next_url = f"{here}?{urlencode({**base, 'cursor': next_cursor})}" if next_cursor else None
    first_url = f"{here}?{urlencode(base)}" if cursor else None
    return rows, next_url, first_url, q


@admin_required
@require_http_methods(["GET"])
def contact_list(request: HttpRequest) -> HttpResponse:
    """Contacts by name, PAGE_SIZE a page; `q` searches name, e-mail and phone."""
    q = (request.GET.get("q") or "").strip()[:200]
    qs = selectors.contact_list(user=_me(request), q=q or None)
    rows, next_url, first_url, q = _page(request, qs, "console:contacts")
    context = {"section": "contacts", "contacts": rows, "q": q, "next_url": next_url, "first_url": first_url}
    return _render(request, "console/people/contacts.html", context)


@admin_required
@require_http_methods(["GET", "POST"])
def contact_edit(request: HttpRequest, contact_id: int) -> HttpResponseBase:
    try:
        contact = selectors.contact_get(user=_me(request), contact_id=contact_id)
    except NotFound:
        merged_into = selectors.contact_merged_into(contact_id=contact_id)
        if merged_into is not None:  # an old link to a merged contact: the one it became
            return redirect("console:contact", contact_id=merged_into)
        raise Http404 from None
    initial = {
        "name": contact.name,
        "email": contact.email,
        "phone": contact.phone,
        "organization": contact.organization_id,
        "vip": contact.vip,
    }
    form = ContactForm(request.POST if request.method == "POST" else None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.contact_update(
                    contact=contact,
                    actor=_me(request),
                    name=data["name"],
                    email=data["email"],
                    phone=data["phone"],
                    organization=data["organization"],
                    vip=data["vip"],
                )
            except DomainError as exc:
                _error(form, exc)
            else:
                messages.success(request, _("Contact “%(name)s” saved.") % {"name": str(contact)})
                return redirect("console:contact", contact_id=contact.pk)
        status = 422
    context = {
        "section": "contacts",
        "contact": contact,
        "form": form,
        "duplicates": selectors.contact_duplicates(contact=contact),
    }
    return _render(request, "console/people/contact_edit.html", context, status=status)


@admin_required
@require_http_methods(["GET"])
def organization_list(request: HttpRequest) -> HttpResponse:
    """Organizations by name, PAGE_SIZE a page; `q` searches the name."""
    q = (request.GET.get("q") or "").strip()[:200]
    qs = selectors.organization_list(user=_me(request), q=q or None)
    rows, next_url, first_url, q = _page(request, qs, "console:organizations")
    context = {
        "section": "organizations",
        "organizations": rows,
        "tiers": dict(TIER_CHOICES),
        "q": q,
        "next_url": next_url,
        "first_url": first_url,
    }
    return _render(request, "console/people/organizations.html", context)


@admin_required
@require_http_methods(["GET", "POST"])
def organization_edit(request: HttpRequest, organization_id: int) -> HttpResponseBase:
    try:
        organization = selectors.organization_get(user=_me(request), organization_id=organization_id)
    except NotFound:
        raise Http404 from None
    initial = {
        "name": organization.name,
        "domains": "\n".join(organization.domains or []),
        "tier": organization.tier,
        "vip": organization.vip,
    }
    form = OrganizationForm(request.POST if request.method == "POST" else None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.organization_update(
                    organization=organization,
                    actor=_me(request),
                    name=data["name"],
                    domains=data["domains"],
                    tier=data["tier"],
                    vip=data["vip"],
                )
            except DomainError as exc:
                _error(form, exc)
            else:
                messages.success(request, _("Organization “%(name)s” saved.") % {"name": organization.name})
                return redirect("console:organization", organization_id=organization.pk)
        status = 422
    context = {"section": "organizations", "organization": organization, "form": form}
    return _render(request, "console/people/organization_edit.html", context, status=status)

"""The Console's contacts and organizations: lists searched by name, e-mail, phone or domain,
their creation and edit pages (contact: name, e-mail, phone, organization, VIP; organization:
name, domains, tier, VIP), through the contacts services the API uses; a contact's page also
lists their latest satisfaction survey answers (`surveys.selectors.contact_ratings`). An edit form carries the
fingerprint it was drawn from: a save over someone else's change is refused, what was typed kept
and what is saved now shown."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import BadRequest
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_http_methods

from sportello.contacts import selectors, services
from sportello.core import clock, paging
from sportello.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from sportello.surveys.selectors import contact_ratings

from ..views import admin_required
from .common import me as _me
from .common import page as _render
from .forms import TIER_CHOICES, ContactForm, OrganizationForm

PAGE_SIZE = 50
RATINGS_SHOWN = 20  # the contact's latest survey answers on their page
KEYS = [paging.SortKey("name", kind="str"), paging.SortKey("id")]


STALE_TEXT = _lazy(
    "Someone else changed this while you were editing it: nothing was saved. "
    "What you typed is kept below, with what is saved now where it differs."
)


def _error(form: ContactForm | OrganizationForm, exc: DomainError) -> None:
    field = exc.field if exc.field in form.fields and exc.field != "expected" else None
    text = exc.message
    if isinstance(exc, Conflict) and exc.code == "stale":
        text = str(STALE_TEXT)
    elif isinstance(exc, Conflict) and exc.code == "contact_merged":
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
        "language": contact.language,
        "vip": contact.vip,
        "expected": services.contact_fingerprint(contact),
    }
    form = ContactForm(request.POST if request.method == "POST" else None, initial=initial)
    status = 200
    changes: list[dict[str, Any]] = []
    if request.method == "POST":
        if form.is_valid():
            data = dict(form.cleaned_data)
            try:
                services.contact_update(
                    contact=contact,
                    actor=_me(request),
                    name=data["name"],
                    email=data["email"],
                    phone=data["phone"],
                    organization=data["organization"],
                    language=data["language"] or None,
                    vip=data["vip"],
                    expected=data.get("expected") or None,
                )
            except DomainError as exc:
                if isinstance(exc, Conflict) and exc.code == "stale":
                    return _contact_stale(request, form, contact_id, exc)
                _error(form, exc)
                status = 422
            else:
                messages.success(request, _("Contact “%(name)s” saved.") % {"name": str(contact)})
                return redirect("console:contact", contact_id=contact.pk)
        else:
            status = 422
    return _contact_page(request, contact, form, status=status, changes=changes)


def _contact_page(
    request: HttpRequest,
    contact: Any,
    form: ContactForm,
    *,
    status: int = 200,
    changes: list[dict[str, Any]] | None = None,
) -> HttpResponse:
    context = {
        "section": "contacts",
        "contact": contact,
        "form": form,
        "changes": changes or [],
        "duplicates": selectors.contact_duplicates(contact=contact),
        "ratings": contact_ratings(user=_me(request), contact_id=contact.pk, limit=RATINGS_SHOWN),
        "ratings_shown": RATINGS_SHOWN,
        "now": clock.now(),
    }
    return _render(request, "console/people/contact_edit.html", context, status=status)


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _differences(
    form: ContactForm | OrganizationForm, typed: dict[str, Any], saved: dict[str, Any]
) -> list[dict[str, Any]]:
    """The fields whose saved value differs from what the admin typed, with the saved value."""
    changes = []
    for name, theirs in saved.items():
        mine: Any = typed.get(name)
        mine = getattr(mine, "pk", mine)
        if mine == theirs or (mine in (None, "") and theirs in (None, "")):
            continue
        changes.append({"label": form.fields[name].label, "saved": _shown(theirs)})
    return changes


def _contact_stale(
    request: HttpRequest, typed: ContactForm, contact_id: int, exc: DomainError
) -> HttpResponse:
    """A save over someone else's change: what the admin typed stays in the form (now carrying
    the current fingerprint, so saving again overwrites deliberately), with what is saved now
    where it differs."""
    try:
        current = selectors.contact_get(user=_me(request), contact_id=contact_id)
    except NotFound:
        raise Http404 from None
    data = request.POST.copy()
    data["expected"] = services.contact_fingerprint(current)
    form = ContactForm(data)
    form.is_valid()
    form.add_error(None, str(STALE_TEXT))
    saved: dict[str, Any] = {
        "name": current.name,
        "email": current.email,
        "phone": current.phone,
        "organization": current.organization_id,
        "language": current.language,
        "vip": current.vip,
    }
    changes = _differences(form, typed.cleaned_data, saved)
    languages = dict(settings.LANGUAGES)
    for change in changes:
        if change["label"] == form.fields["organization"].label and current.organization is not None:
            change["saved"] = current.organization.name
        if change["label"] == form.fields["language"].label:
            change["saved"] = str(languages.get(current.language, current.language))
    return _contact_page(request, current, form, status=409, changes=changes)


def _taken(
    exc: DomainError, *, email: str = "", phone: str = "", name: str = "", domains: Any = ()
) -> dict[str, str] | None:
    """The contact or organization a refused creation collides with: the field refused, its page
    and its name."""
    if not isinstance(exc, Conflict) or exc.field is None:
        return None
    if exc.field in ("email", "phone"):
        contact = selectors.contact_taking(email=email if exc.field == "email" else "", phone=phone)
        if contact is None:
            return None
        url = reverse("console:contact", args=[contact.pk])
        return {"field": exc.field, "url": url, "name": str(contact)}
    if exc.field in ("name", "domains"):
        org = selectors.organization_taking(
            name=name if exc.field == "name" else "", domains=list(domains) if exc.field == "domains" else []
        )
        if org is None:
            return None
        url = reverse("console:organization", args=[org.pk])
        return {"field": exc.field, "url": url, "name": org.name}
    return None


@admin_required
@require_http_methods(["GET", "POST"])
def contact_create(request: HttpRequest) -> HttpResponseBase:
    """GET: an empty contact form. POST: create through `contact_create`; a taken e-mail address
    (or phone) is refused with a link to the contact that has it."""
    form = ContactForm(request.POST if request.method == "POST" else None)
    del form.fields["expected"]
    status = 200
    taken: dict[str, str] | None = None
    if request.method == "POST":
        if form.is_valid():
            data = dict(form.cleaned_data)
            try:
                contact = services.contact_create(
                    actor=_me(request),
                    name=data["name"],
                    email=data["email"],
                    phone=data["phone"],
                    organization=data["organization"],
                    language=data["language"] or None,
                    vip=data["vip"],
                )
            except DomainError as exc:
                _error(form, exc)
                taken = _taken(exc, email=data["email"], phone=data["phone"])
                status = 422
            else:
                messages.success(request, _("Contact “%(name)s” created.") % {"name": str(contact)})
                return redirect("console:contact", contact_id=contact.pk)
        else:
            status = 422
    context = {"section": "contacts", "form": form, "taken": taken}
    return _render(request, "console/people/contact_new.html", context, status=status)


@admin_required
@require_http_methods(["GET", "POST"])
def organization_create(request: HttpRequest) -> HttpResponseBase:
    """GET: an empty organization form. POST: create through `organization_create`; a taken name
    or domain is refused with a link to the organization that has it."""
    form = OrganizationForm(request.POST if request.method == "POST" else None, initial={"tier": "standard"})
    del form.fields["expected"]
    status = 200
    taken: dict[str, str] | None = None
    if request.method == "POST":
        if form.is_valid():
            data = dict(form.cleaned_data)
            try:
                organization = services.organization_create(
                    actor=_me(request),
                    name=data["name"],
                    domains=data["domains"],
                    tier=data["tier"],
                    vip=data["vip"],
                )
            except DomainError as exc:
                _error(form, exc)
                taken = _taken(exc, name=data["name"], domains=data["domains"])
                status = 422
            else:
                messages.success(request, _("Organization “%(name)s” created.") % {"name": organization.name})
                return redirect("console:organization", organization_id=organization.pk)
        else:
            status = 422
    context = {"section": "organizations", "form": form, "taken": taken}
    return _render(request, "console/people/organization_new.html", context, status=status)


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
        "expected": services.organization_fingerprint(organization),
    }
    form = OrganizationForm(request.POST if request.method == "POST" else None, initial=initial)
    status = 200
    changes: list[dict[str, Any]] = []
    if request.method == "POST":
        if form.is_valid():
            data = dict(form.cleaned_data)
            try:
                services.organization_update(
                    organization=organization,
                    actor=_me(request),
                    name=data["name"],
                    domains=data["domains"],
                    tier=data["tier"],
                    vip=data["vip"],
                    expected=data.get("expected") or None,
                )
            except NotFound:
                raise Http404 from None
            except DomainError as exc:
                if isinstance(exc, Conflict) and exc.code == "stale":
                    current = selectors.organization_get(user=_me(request), organization_id=organization_id)
                    data_copy = request.POST.copy()
                    data_copy["expected"] = services.organization_fingerprint(current)
                    fresh = OrganizationForm(data_copy)
                    fresh.is_valid()
                    fresh.add_error(None, str(STALE_TEXT))
                    tiers = dict(TIER_CHOICES)
                    saved: dict[str, Any] = {
                        "name": current.name,
                        "domains": list(current.domains or []),
                        "tier": current.tier,
                        "vip": current.vip,
                    }
                    changes = _differences(fresh, form.cleaned_data, saved)
                    for change in changes:
                        if change["label"] == fresh.fields["tier"].label:
                            change["saved"] = str(tiers.get(current.tier, current.tier))
                    form, organization, status = fresh, current, 409
                else:
                    _error(form, exc)
                    status = 422
            else:
                messages.success(request, _("Organization “%(name)s” saved.") % {"name": organization.name})
                return redirect("console:organization", organization_id=organization.pk)
        else:
            status = 422
    context = {
        "section": "organizations",
        "organization": organization,
        "form": form,
        "changes": changes,
        "designated_rows": _designated_rows(organization),
    }
    return _render(request, "console/people/organization_edit.html", context, status=status)


DESIGNATED_SHOWN = 100  # the organization's contacts listed for the portal's designation


def _designated_rows(organization: Any) -> list[tuple[Any, bool]]:
    """The organization's contacts (the first 100 by name), each with whether it is a designated
    contact: one who sees the organization's tickets in the customer portal."""
    from sportello.portal.models import DesignatedContact

    contacts = list(organization.contacts.order_by("name", "id")[:DESIGNATED_SHOWN])
    chosen = set(
        DesignatedContact.objects.filter(contact_id__in=[c.pk for c in contacts]).values_list(
            "contact_id", flat=True
        )
    )
    return [(c, c.pk in chosen) for c in contacts]


@admin_required
@require_http_methods(["POST"])
def organization_designated(request: HttpRequest, organization_id: int) -> HttpResponseBase:
    """Make one of the organization's contacts see its tickets in the portal (or no longer)."""
    from sportello.core import clock
    from sportello.portal import services as portal

    try:
        organization = selectors.organization_get(user=_me(request), organization_id=organization_id)
        contact = organization.contacts.get(pk=int(request.POST.get("contact", "")))
    except (NotFound, ValueError, organization.contacts.model.DoesNotExist):
        raise Http404 from None
    designated = request.POST.get("designated") == "1"
    try:
        portal.designated_set(contact=contact, designated=designated, actor=_me(request), now=clock.now())
    except DomainError as exc:  # the contact left the organization meanwhile
        messages.error(request, exc.message)
        return redirect("console:organization", organization_id=organization.pk)
    text = (
        _("%(name)s now sees the organization's requests in the portal.")
        if designated
        else _("%(name)s now sees only their own requests in the portal.")
    )
    messages.success(request, text % {"name": str(contact)})
    return redirect("console:organization", organization_id=organization.pk)

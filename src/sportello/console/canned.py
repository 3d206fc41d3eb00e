"""The Console's canned responses (group Workflows): those shared with departments and the
admin's own; a response's page with its text filled for a chosen ticket; the editor (title,
text with a placeholder picker, language, sharing) with a preview of the unsaved text on a
ticket; and deletion behind a confirmation page.

Every write goes through `notifications.canned` (the API's own services). The row has no
version: the editor and the confirmation page carry its fingerprint (`canned_fingerprint`),
and a save or delete after someone else's change is refused with the typed text kept."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from sportello.accounts.models import Department
from sportello.core import clock
from sportello.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from sportello.notifications import canned as services
from sportello.notifications import selectors as notification_selectors
from sportello.notifications.context import NAMES
from sportello.notifications.models import CannedResponse, Language

from .macros import ticket_numbered
from .views import admin_required, current_admin, render_console

FIELDS = ("title", "body", "language", "shared_with")


@admin_required
@require_http_methods(["GET"])
def canned_list(request: HttpRequest) -> HttpResponse:
    """The canned responses shared with departments, and the admin's own."""
    rows = list(notification_selectors.canned_list(principal=current_admin(request)))
    context = {"section": "canned", "items": rows, "now": clock.now()}
    return render_console(request, "console/macros/canned_list.html", context)


def _canned_or_404(request: HttpRequest, canned_id: int) -> CannedResponse:
    try:
        return notification_selectors.canned_get(principal=current_admin(request), canned_id=canned_id)
    except NotFound:
        raise Http404 from None


@admin_required
@require_http_methods(["GET"])
def canned_detail(request: HttpRequest, canned_id: int) -> HttpResponse:
    """A canned response and (with `?ticket=<number>`) its text filled for that ticket."""
    me = current_admin(request)
    canned = _canned_or_404(request, canned_id)
    context: dict[str, Any] = {
        "section": "canned",
        "canned": canned,
        "now": clock.now(),
        "number": request.GET.get("ticket", "").strip().lstrip("#"),
    }
    status = 200
    if context["number"]:
        ticket = ticket_numbered(context)
        if ticket is None:
            status = 422
        else:
            try:
                context["rendered"] = services.canned_render(
                    actor=me, canned_id=canned.pk, ticket_id=ticket.pk, now=clock.now()
                )
            except DomainError as exc:
                context["preview_error"] = exc.message
    return render_console(request, "console/macros/canned_detail.html", context, status=status)


# --------------------------------------------------------------------------------------------
# The editor

NEW_BODY = "Hello {{ requester.name }},\n\n\n\n{{ agent.name }}"


def _values_of(canned: CannedResponse) -> dict[str, str]:
    return {
        "title": canned.title,
        "body": canned.body,
        "language": canned.language,
        "shared_with": str(canned.owner_department_id or ""),
    }


def _editor(
    request: HttpRequest,
    *,
    canned: CannedResponse | None,
    values: dict[str, str],
    expected: str,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    context = {
        "section": "canned",
        "now": clock.now(),
        "canned": canned,
        "values": values,
        "expected": expected,
        "errors": {},
        "departments": list(Department.objects.filter(is_active=True).order_by("name").only("pk", "name")),
        "languages": Language.choices,
        "placeholders": [(name, help_text) for name, help_text in NAMES.items() if "<" not in name],
        **extra,
    }
    return render_console(request, "console/macros/canned_edit.html", context, status=status)


@admin_required
@require_http_methods(["GET", "POST"])
def canned_new(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        values = {"title": "", "body": NEW_BODY, "language": "", "shared_with": ""}
        return _editor(request, canned=None, values=values, expected="")
    return _post(request, canned=None)


@admin_required
@require_http_methods(["GET", "POST"])
def canned_edit(request: HttpRequest, canned_id: int) -> HttpResponse:
    canned = _canned_or_404(request, canned_id)
    if request.method != "POST":
        return _editor(
            request, canned=canned, values=_values_of(canned), expected=services.canned_fingerprint(canned)
        )
    return _post(request, canned=canned)


def _department_id(raw: str) -> int | None:
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValidationFailed(_("Choose a department, or only you."), field="department_id") from None


def _errors_of(exc: DomainError) -> dict[str, str]:
    field = {"department_id": "shared_with"}.get(exc.field or "", exc.field or "")
    return {field if field in FIELDS else "form": str(exc.message)}


def _post(request: HttpRequest, *, canned: CannedResponse | None) -> HttpResponse:
    """The editor's form: `do=preview` fills the typed text for the ticket numbered `ticket`
    (HTMX: the fragment alone; else the editor with it), else saves it."""
    values = {f: request.POST.get(f, "") for f in FIELDS}
    expected = request.POST.get("expected", "")
    me, now = current_admin(request), clock.now()
    if request.POST.get("do") == "preview":
        context = _preview(request, values)
        if request.headers.get("HX-Request"):
            return render_console(request, "console/macros/_canned_preview.html", context)
        return _editor(request, canned=canned, values=values, expected=expected, **context)
    try:
        department_id = _department_id(values["shared_with"])
        if canned is None:
            saved = services.canned_create(
                actor=me,
                title=values["title"],
                body=values["body"],
                language=values["language"],
                department_id=department_id,
                now=now,
            )
            text = _("Canned response “%(title)s” created.")
        else:
            saved = services.canned_update(
                actor=me,
                canned_id=canned.pk,
                title=values["title"],
                body=values["body"],
                language=values["language"],
                department_id=department_id,
                expected=expected,
                now=now,
            )
            text = _("Canned response “%(title)s” saved.")
    except ValidationFailed as exc:
        return _editor(
            request, canned=canned, values=values, expected=expected, status=422, errors=_errors_of(exc)
        )
    except NotFound:
        return _gone(request)
    except Conflict as exc:
        if exc.code == "stale_canned" and canned is not None:
            fresh = _canned_or_404(request, canned.pk)
            return _editor(
                request,
                canned=fresh,
                values=values,
                expected=services.canned_fingerprint(fresh),  # saving again replaces theirs, knowingly
                status=409,
                stale=fresh,
            )
        return _editor(
            request,
            canned=canned,
            values=values,
            expected=expected,
            status=409,
            errors={
                "title": _(
                    "A canned response with this title and language exists already for this "
                    "department (or for you): choose another title."
                )
            },
        )
    messages.success(request, text % {"title": saved.title})
    return redirect(reverse("console:canned_detail", args=[saved.pk]))


def _gone(request: HttpRequest) -> HttpResponse:
    messages.error(request, _("This canned response was deleted meanwhile."))
    return redirect(reverse("console:canned"))


def _preview(request: HttpRequest, values: dict[str, str]) -> dict[str, Any]:
    context: dict[str, Any] = {
        "tried": "preview",
        "number": request.POST.get("ticket", "").strip().lstrip("#"),
    }
    if not context["number"]:
        context["ticket_error"] = _("Type a ticket number, such as 1024.")
        return context
    ticket = ticket_numbered(context)
    if ticket is None:
        return context
    try:
        context["rendered"] = services.canned_render_draft(
            actor=current_admin(request),
            body=values["body"],
            language=values["language"],
            ticket_id=ticket.pk,
            now=clock.now(),
        )
    except DomainError as exc:
        context["preview_error"] = exc.message
    return context


@admin_required
@require_http_methods(["GET", "POST"])
def canned_delete(request: HttpRequest, canned_id: int) -> HttpResponse:
    """GET: the confirmation page. POST: delete it, unless it changed since that page loaded."""
    canned = _canned_or_404(request, canned_id)
    context: dict[str, Any] = {"section": "canned", "canned": canned, "now": clock.now()}
    if request.method != "POST":
        context["expected"] = services.canned_fingerprint(canned)
        return render_console(request, "console/macros/canned_delete.html", context)
    try:
        services.canned_delete(
            actor=current_admin(request), canned_id=canned.pk, expected=request.POST.get("expected", "")
        )
    except NotFound:
        return _gone(request)
    except Conflict:
        fresh = _canned_or_404(request, canned.pk)
        context.update(canned=fresh, expected=services.canned_fingerprint(fresh), stale=True)
        return render_console(request, "console/macros/canned_delete.html", context, status=409)
    messages.success(request, _("Canned response “%(title)s” deleted.") % {"title": canned.title})
    return redirect(reverse("console:canned"))


urlpatterns = [
    path("canned-responses/", canned_list, name="canned"),
    path("canned-responses/new/", canned_new, name="canned_new"),
    path("canned-responses/<int:canned_id>/", canned_detail, name="canned_detail"),
    path("canned-responses/<int:canned_id>/edit/", canned_edit, name="canned_edit"),
    path("canned-responses/<int:canned_id>/delete/", canned_delete, name="canned_delete"),
]

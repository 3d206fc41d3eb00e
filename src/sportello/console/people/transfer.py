"""The Console's CSV files of customers: the contacts and organizations lists exported as they
are searched (streamed), and contacts imported: upload → preview (the columns found, the first
rows, the rows that would be skipped and why) → the import runs in the worker while its page
shows the progress (polled with HTMX; reloaded by hand without JavaScript) → the report, with
the skipped rows downloadable. Through `contacts.transfer` and `contacts.importing`."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from sportello.contacts import importing, selectors, transfer
from sportello.contacts.models import ContactImport, ImportStatus
from sportello.core import clock
from sportello.core.errors import DomainError, NotFound, ValidationFailed

from ..views import admin_required
from .common import me as _me
from .common import page as _render

FIELD_LABELS = {
    "email": gettext_lazy("E-mail"),
    "name": gettext_lazy("Name"),
    "phone": gettext_lazy("Phone"),
    "organization": gettext_lazy("Organization"),
    "language": gettext_lazy("Language"),
    "time_zone": gettext_lazy("Time zone"),
    "vip": gettext_lazy("VIP"),
}
POLL_SECONDS = 1
SKIPPED_SHOWN = 20  # on the report's page; the CSV has them all
# Why a row is skipped, as the import records it (English, for the CSV report), in the reader's
# language on the pages; a reason of another form is shown as recorded.
REASONS: list[tuple[re.Pattern[str], Any]] = [
    (
        re.compile(r"^(?:email: )?must be a valid e-mail address$"),
        gettext_lazy("The e-mail address is not valid."),
    ),
    (
        re.compile(r"^(?:email: )?no e-mail address and no phone$"),
        gettext_lazy("No e-mail address and no phone."),
    ),
    (
        re.compile(r"^(?:vip: )?vip must be yes or no, not (?P<value>.*)$"),
        gettext_lazy("VIP must be yes or no, not %(value)s."),
    ),
    (
        re.compile(r"^the row is longer than (?P<n>\d+) characters$"),
        gettext_lazy("The row is longer than %(n)s characters."),
    ),
]


def reason_text(reason: str) -> str:
    for pattern, text in REASONS:
        found = pattern.match(reason)
        if found is not None:
            return str(text) % found.groupdict()
    return reason


def _csv(lines: Any, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def _q(request: HttpRequest) -> str | None:
    return (request.GET.get("q") or "").strip()[:200] or None


@admin_required
@require_http_methods(["GET"])
def contact_export(request: HttpRequest) -> StreamingHttpResponse:
    """The contacts the list shows for its search, every page, as CSV."""
    qs = selectors.contact_list(user=_me(request), q=_q(request)).order_by("name", "id")
    return _csv(transfer.contact_csv_lines(qs), "contacts.csv")


@admin_required
@require_http_methods(["GET"])
def organization_export(request: HttpRequest) -> StreamingHttpResponse:
    qs = selectors.organization_list(user=_me(request), q=_q(request)).order_by("name", "id")
    return _csv(transfer.organization_csv_lines(qs), "organizations.csv")


class UploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("CSV file"),
        help_text=gettext_lazy(
            "UTF-8, separated by commas or semicolons, with a first row naming the columns: email, name, "
            "phone, organization, language, time_zone, vip (yes or no). Each contact needs an e-mail "
            "address or a phone."
        ),
    )


def _limits_text() -> str:
    max_bytes, max_rows = transfer.limits()
    return _("At most %(mb)s MB and %(rows)s rows a file.") % {
        "mb": f"{max_bytes / (1024 * 1024):g}",
        "rows": f"{max_rows:,}",
    }


@admin_required
@require_http_methods(["GET", "POST"])
def contact_import(request: HttpRequest) -> HttpResponseBase:
    """Upload a file; a file that can be read goes on to its preview."""
    form = UploadForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            upload = form.cleaned_data["file"]
            max_bytes, _rows = transfer.limits()
            try:
                if upload.size > max_bytes:
                    raise ValidationFailed("too large", field="file", code="too_large")
                imp = transfer.contact_import_upload(
                    actor=_me(request), filename=upload.name or "", data=upload.read(), now=clock.now()
                )
            except DomainError as exc:
                form.add_error("file", _upload_error(exc))
            else:
                return redirect("console:contact_import_show", import_id=imp.pk)
        status = 422
    context = {"section": "contacts", "form": form, "limits": _limits_text()}
    return _render(request, "console/people/contact_import.html", context, status=status)


def _upload_error(exc: DomainError) -> str:
    code = exc.code
    if code == "too_large":
        return _("This file is too large to import at once. %(limits)s Split it and import each part.") % {
            "limits": _limits_text()
        }
    if code == "too_many_rows":
        return _(
            "This file has too many rows to import at once. %(limits)s Split it and import each part."
        ) % {"limits": _limits_text()}
    if code == "not_utf8":
        return _(
            "This file is not UTF-8 text. In your spreadsheet, save it as “CSV UTF-8” and upload it again."
        )
    if code == "empty":
        return _("This file is empty.")
    if code == "no_columns":
        return _(
            "No column for the e-mail address or the phone: name one “email” or “phone” in the first row."
        )
    if code == "not_csv":
        return _("This file cannot be read as CSV: %(detail)s") % {"detail": exc.message}
    return exc.message


def _import(import_id: int) -> ContactImport:
    found = ContactImport.objects.filter(pk=import_id).first()
    if found is None:
        raise Http404
    return found


def _progress_context(imp: ContactImport) -> dict[str, Any]:
    now = clock.now()
    eta = transfer.eta(started_at=imp.started_at, done=imp.done, total=imp.total, now=now)
    percent = round(100 * imp.done / imp.total) if imp.total else 100
    finished = imp.status in (ImportStatus.DONE, ImportStatus.FAILED)
    return {
        "imp": imp,
        "skipped": [(line, reason_text(reason)) for line, reason in imp.skipped[:SKIPPED_SHOWN]],
        "percent": percent if not finished or imp.status == ImportStatus.FAILED else 100,
        "eta_seconds": round(eta.total_seconds()) if eta is not None else None,
        "finished": finished,
        "poll_seconds": POLL_SECONDS,
    }


@admin_required
@require_http_methods(["GET"])
def contact_import_show(request: HttpRequest, import_id: int) -> HttpResponse:
    """The preview of an uploaded file, or the progress and report of its import."""
    imp = _import(import_id)
    context: dict[str, Any] = {"section": "contacts", "limits": _limits_text()}
    if imp.status == ImportStatus.PREVIEW:
        preview = transfer.contact_import_preview(imp)
        mapped = {index: field for field, index in preview.table.mapping.items()}
        context |= {
            "imp": imp,
            "preview": preview,
            "rows": [(line, row, reason_text(error)) for line, row, error in preview.rows],
            "errors": [(line, reason_text(error)) for line, error in preview.errors],
            "columns": [
                (name, FIELD_LABELS[mapped[i]] if i in mapped else None)
                for i, name in enumerate(preview.table.header)
            ],
            "fields": [FIELD_LABELS[f] for f in preview.table.mapping],
            "importable": imp.total - preview.error_count,
        }
        return _render(request, "console/people/contact_import_preview.html", context)
    context |= _progress_context(imp)
    return _render(request, "console/people/contact_import_progress.html", context)


@admin_required
@require_http_methods(["GET"])
def contact_import_progress(request: HttpRequest, import_id: int) -> HttpResponse:
    """The progress fragment the page polls; once the import ended it stops asking."""
    imp = _import(import_id)
    return render(request, "console/people/_import_progress.html", _progress_context(imp))


@admin_required
@require_http_methods(["POST"])
def contact_import_start(request: HttpRequest, import_id: int) -> HttpResponseBase:
    try:
        importing.contact_import_start(actor=_me(request), import_id=import_id, now=clock.now())
    except NotFound:
        raise Http404 from None
    return redirect("console:contact_import_show", import_id=import_id)


@admin_required
@require_http_methods(["GET"])
def contact_import_skipped(request: HttpRequest, import_id: int) -> StreamingHttpResponse:
    imp = _import(import_id)
    return _csv(transfer.skipped_csv_lines(imp), f"contacts-import-{imp.pk}-skipped.csv")

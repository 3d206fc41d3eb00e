"""The Console's "Export and import" page: the whole desk's configuration as one YAML document
(`desk_config`), downloaded, or uploaded (or pasted) and imported after a preview.

Import is two steps, as `sportello config import --dry-run` then without: "Preview" runs the
import as a dry run and shows every change it would make; "Import" runs it for real. The preview
carries a fingerprint of the desk's configuration as it was previewed against; if the desk
changed in between (another admin saved something), the import is not run and the preview is
shown again, computed anew, so an admin never imports changes they have not seen.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_http_methods

from sportello.core import clock
from sportello.core.errors import DomainError
from sportello.engine.rules import DOCUMENT_MAX_BYTES

from . import desk_config
from .views import admin_required, current_admin, render_console

SECTION_LABELS: dict[str, Any] = {
    "departments": gettext_lazy("Departments"),
    "statuses": gettext_lazy("Statuses"),
    "agents": gettext_lazy("Agents"),
    "teams": gettext_lazy("Teams"),
    "fields": gettext_lazy("Custom fields"),
    "layouts": gettext_lazy("Layouts"),
    "calendars": gettext_lazy("Business calendars"),
    "sla_policies": gettext_lazy("SLA policies"),
    "tier_paths": gettext_lazy("Tier paths"),
    "assignment_policies": gettext_lazy("Assignment policies"),
    "macros": gettext_lazy("Macros"),
    "event_rules": gettext_lazy("Event rules"),
    "time_rules": gettext_lazy("Time rules"),
    "blueprints": gettext_lazy("Blueprints"),
    "notification_templates": gettext_lazy("Notification templates"),
    "canned_responses": gettext_lazy("Canned responses"),
}
OUTCOME_LABELS: dict[str, Any] = {
    "created": gettext_lazy("New"),
    "changed": gettext_lazy("Changed"),
    "removed": gettext_lazy("Removed"),
}
CHANGE_LABELS: dict[str, Any] = {
    "added": gettext_lazy("added"),
    "removed": gettext_lazy("removed"),
    "changed": gettext_lazy("changed"),
}
VALUE_SHOWN_MAX = 300


class ImportForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("A configuration file"),
        required=False,
        help_text=gettext_lazy("YAML or JSON, as the export writes it."),
    )
    document = forms.CharField(
        label=gettext_lazy("Or paste the document"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false", "class": "console-code"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("file")
        if upload is not None:
            if upload.size > DOCUMENT_MAX_BYTES:
                raise forms.ValidationError(
                    _("The file is larger than %(limit)s bytes.") % {"limit": DOCUMENT_MAX_BYTES}
                )
            try:
                data["document"] = upload.read().decode("utf-8")
            except UnicodeDecodeError:
                raise forms.ValidationError(_("The file is not UTF-8 text.")) from None
        if not (data.get("document") or "").strip():
            raise forms.ValidationError(_("Choose a file, or paste a document."))
        return data


def desk_fingerprint() -> str:
    """A digest of the desk's whole configuration as exported now."""
    text = json.dumps(desk_config.config_export(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= VALUE_SHOWN_MAX else text[: VALUE_SHOWN_MAX - 1] + "…"


def _preview_rows(report: desk_config.ImportReport) -> list[dict[str, Any]]:
    return [
        {
            "section": SECTION_LABELS.get(item.section, item.section),
            "key": item.key,
            "outcome": item.outcome,
            "outcome_label": OUTCOME_LABELS[item.outcome],
            "changes": [
                {
                    "path": c.path,
                    "kind": c.change,
                    "label": CHANGE_LABELS.get(c.change, c.change),
                    "old": _shown(c.old) if c.change != "added" else None,
                    "new": _shown(c.new) if c.change != "removed" else None,
                }
                for c in item.changes
            ],
        }
        for item in report.items
    ]


def _error_text(exc: DomainError) -> str:
    return f"{exc.field}: {exc.message}" if exc.field else exc.message


def _page(request: HttpRequest, form: ImportForm, *, status: int = 200, **extra: Any) -> HttpResponse:
    counts = {s: len(v) for s, v in desk_config.config_export().items() if isinstance(v, list)}
    context = {
        "section": "config",
        "form": form,
        "sections": [(SECTION_LABELS[s], counts.get(s, 0)) for s in desk_config.SECTIONS],
        **extra,
    }
    return render_console(request, "console/config/page.html", context, status=status)


def _preview(request: HttpRequest, form: ImportForm, text: str, *, stale: bool = False) -> HttpResponse:
    """The dry run of `text`: its changes and a form to import them, or the error that refuses it."""
    try:
        report = desk_config.config_import(
            data=desk_config.load_config_text(text),
            actor=current_admin(request),
            now=clock.now(),
            dry_run=True,
        )
    except DomainError as exc:
        return _page(request, form, status=422, import_error=_error_text(exc))
    return _page(
        request,
        form,
        preview=_preview_rows(report),
        counts=report.counts,
        warnings=report.warnings,
        document=text,
        fingerprint=desk_fingerprint(),
        stale=stale,
    )


@admin_required
@require_http_methods(["GET", "POST"])
def config_page(request: HttpRequest) -> HttpResponse:
    """GET: the page. POST `step=preview` (a file or pasted text): the dry run's changes.
    POST `step=import` (the previewed text and fingerprint): the import, then back to the page."""
    if request.method != "POST":
        return _page(request, ImportForm())
    if request.POST.get("step") == "import":
        text = request.POST.get("document", "")
        form = ImportForm(initial={"document": text})
        if len(text.encode("utf-8", errors="replace")) > DOCUMENT_MAX_BYTES or not text.strip():
            return _page(request, form, status=422, import_error=_("Choose a file, or paste a document."))
        if request.POST.get("fingerprint") != desk_fingerprint():
            return _preview(request, form, text, stale=True)
        try:
            report = desk_config.config_import(
                data=desk_config.load_config_text(text), actor=current_admin(request), now=clock.now()
            )
        except DomainError as exc:
            return _page(request, form, status=422, import_error=_error_text(exc))
        counts = report.counts
        messages.success(
            request,
            _("Configuration imported: %(created)s, %(changed)s, %(unchanged)s.")
            % {
                "created": ngettext("%(n)s item created", "%(n)s items created", counts["created"])
                % {"n": counts["created"]},
                "changed": ngettext("%(n)s changed", "%(n)s changed", counts["changed"])
                % {"n": counts["changed"]},
                "unchanged": ngettext("%(n)s unchanged", "%(n)s unchanged", counts["unchanged"])
                % {"n": counts["unchanged"]},
            },
        )
        return redirect("console:config")
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, form, status=422)
    return _preview(request, form, form.cleaned_data["document"])


@admin_required
@require_http_methods(["GET"])
def config_export(request: HttpRequest) -> HttpResponse:
    """The whole configuration as a YAML file to download."""
    text = desk_config.config_dump(desk_config.config_export())
    response = HttpResponse(text, content_type="application/yaml; charset=utf-8")
    name = f"sportello-config-{clock.now():%Y-%m-%d}.yaml"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


urlpatterns = [
    path("config/", config_page, name="config"),
    path("config/export.yaml", config_export, name="config_export"),
]

"""The Console's customer portal page: the portal on or off, the desk's name, logo and colour
on the customers' pages, their default language, and the departments offered there. The form
carries the settings' version: a save over someone else's change is refused and the current
settings shown. Every write goes through `portal.services.portal_settings_update` (recorded
in the configuration history)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from sportello.accounts.models import Department
from sportello.core import clock
from sportello.core.errors import Conflict, DomainError, ValidationFailed
from sportello.core.forms import choice_field
from sportello.portal import selectors as portal_selectors
from sportello.portal import services
from sportello.portal.models import PortalSettings

from .views import admin_required, current_admin, render_console

LANGUAGE_CHOICES = [("en", "English"), ("es", "Español"), ("it", "Italiano")]


class PortalForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    enabled = forms.BooleanField(
        label=gettext_lazy("The portal is on"),
        required=False,
        help_text=gettext_lazy("Customers sign in and follow their requests; notifications link to them."),
    )
    name = forms.CharField(
        label=gettext_lazy("Desk name"),
        max_length=80,
        help_text=gettext_lazy("Shown in the portal's header."),
    )
    colour = forms.CharField(
        label=gettext_lazy("Colour"),
        max_length=7,
        widget=forms.TextInput(attrs={"type": "color"}),
        help_text=gettext_lazy("The header and the buttons; white text must be readable on it."),
    )
    default_language = forms.ChoiceField(
        label=gettext_lazy("Default language"),
        choices=LANGUAGE_CHOICES,
        help_text=gettext_lazy("For visitors whose browser asks for none of the portal's languages."),
    )
    logo = forms.FileField(
        label=gettext_lazy("Logo"),
        required=False,
        help_text=gettext_lazy("PNG, JPEG or WebP, at most 512 KB."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
    )
    remove_logo = forms.BooleanField(label=gettext_lazy("Remove the logo"), required=False)
    departments = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Departments offered in the portal"),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy(
            "Customers choose among these when they submit a request. Requests already sent to "
            "another department stay visible to their requesters."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        choice_field(self, "departments").choices = [
            (d.pk, d.name) for d in Department.objects.filter(is_active=True).order_by("name", "pk")
        ]


def initial_of(row: PortalSettings) -> dict[str, Any]:
    return {
        "version": row.version,
        "enabled": row.enabled,
        "name": row.name,
        "colour": row.colour,
        "default_language": row.default_language,
        "departments": offered_departments(),
    }


def offered_departments() -> list[int]:
    """The active departments offered in the portal, by id."""
    hidden = portal_selectors.hidden_department_ids()
    return [
        pk
        for pk in Department.objects.filter(is_active=True).values_list("pk", flat=True)
        if pk not in hidden
    ]


def hidden_of(offered: list[int]) -> list[int]:
    """The departments to hide: every department not ticked (inactive ones keep their choice)."""
    active = set(Department.objects.filter(is_active=True).values_list("pk", flat=True))
    kept = portal_selectors.hidden_department_ids() - active
    return sorted((active - set(offered)) | kept)


def _page(request: HttpRequest, form: PortalForm, row: PortalSettings, *, status: int = 200) -> HttpResponse:
    context = {"section": "portal", "form": form, "settings_row": row, "has_logo": bool(row.logo_sha256)}
    return render_console(request, "console/portal.html", context, status=status)


@admin_required
@require_http_methods(["GET", "POST"])
def portal_settings(request: HttpRequest) -> HttpResponseBase:
    row = services.portal_settings_get()
    if request.method != "POST":
        return _page(request, PortalForm(initial=initial_of(row)), row)
    form = PortalForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, form, row, status=422)
    data = form.cleaned_data
    upload = data.get("logo")
    if upload is not None and upload.size > services.LOGO_MAX_BYTES:
        form.add_error("logo", _("The logo must be at most 512 KB."))
        return _page(request, form, row, status=422)
    try:
        services.portal_settings_update(
            actor=current_admin(request),
            version=data["version"],
            enabled=data["enabled"],
            name=data["name"],
            colour=data["colour"],
            default_language=data["default_language"],
            logo=upload.read() if upload is not None else None,
            remove_logo=data["remove_logo"],
            # the boxes were drawn (a form posted without them leaves the departments as they are)
            hidden_departments=hidden_of(data["departments"])
            if request.POST.get("departments_shown")
            else None,
            now=clock.now(),
        )
    except DomainError as exc:
        if isinstance(exc, Conflict) and exc.code == "stale_version":
            current = services.portal_settings_get()
            form.add_error(None, exc.message)
            # what they typed stays; the version becomes the current one, so saving again wins
            data_copy = request.POST.copy()
            data_copy["version"] = str(current.version)
            form.data = data_copy
            return _page(request, form, current, status=409)
        if isinstance(exc, ValidationFailed) and exc.field in form.fields:
            form.add_error(exc.field, exc.message)
        else:
            form.add_error(None, exc.message)
        return _page(request, form, row, status=422)
    messages.success(request, _("The portal's settings are saved."))
    return redirect("console:portal")


urlpatterns = [path("portal/", portal_settings, name="portal")]

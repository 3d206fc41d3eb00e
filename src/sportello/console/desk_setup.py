"""The Console's desk set-up (group Workflows): departments, statuses, custom fields and each
department's layout with a live preview of the ticket form as an agent and as a customer would
see it there. Every write goes through the service the API uses (`accounts.services` for
departments, `tickets.fields_services` for fields and layouts)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from sportello.accounts import selectors as account_selectors
from sportello.accounts import services as account_services
from sportello.accounts.models import Department
from sportello.core import clock
from sportello.core.errors import Conflict, DomainError, NotFound
from sportello.tickets import fields_services
from sportello.tickets.models import CustomerAccess, CustomField, LayoutField
from sportello.web.new_ticket import customer_field as customer_form_field
from sportello.web.properties_form import custom_form_field as agent_form_field

from .desk_forms import (
    CHOICE_TYPES,
    CUSTOMER_ACCESS_LABELS,
    REQUIREMENT_LABELS,
    TYPE_LABELS,
    DepartmentEditForm,
    DepartmentForm,
    FieldForm,
    LayoutEditor,
    attach,
    editor_from_post,
    editor_from_saved,
)
from .views import admin_required, current_admin, render_console

LAYOUT = "console/desk/layout.html"


def _department(request: HttpRequest, department_id: int) -> Department:
    try:
        return account_selectors.department_get(user=current_admin(request), department_id=department_id)
    except NotFound:
        raise Http404 from None


# --------------------------------------------------------------------------------------------
# Departments


def _departments_page(request: HttpRequest, form: DepartmentForm, *, status: int = 200) -> HttpResponse:
    rows = (
        account_selectors.department_list(user=current_admin(request))
        .annotate(layout_count=Count("layout_fields", filter=Q(layout_fields__field__is_active=True)))
        .order_by("name", "id")  # (a model's ordering does not apply to an aggregate's query)
    )
    context = {"section": "departments", "departments": list(rows), "form": form, "now": clock.now()}
    return render_console(request, "console/desk/departments.html", context, status=status)


@admin_required
@require_http_methods(["GET", "POST"])
def departments(request: HttpRequest) -> HttpResponse:
    """GET: every department with its layout's size. POST: a new department."""
    if request.method != "POST":
        return _departments_page(request, DepartmentForm())
    form = DepartmentForm(request.POST)
    if form.is_valid():
        cd = form.cleaned_data
        try:
            department = account_services.department_create(
                name=cd["name"],
                email=cd["email"],
                description=cd["description"],
                actor=current_admin(request),
            )
        except DomainError as exc:
            return _departments_page(request, form, status=attach(form, exc))
        messages.success(
            request,
            _("Department “%(name)s” created. Choose the fields of its tickets in its layout.")
            % {"name": department.name},
        )
        return redirect("console:department_layout", department_id=department.pk)
    return _departments_page(request, form, status=422)


def _department_initial(department: Department) -> dict[str, Any]:
    return {
        "name": department.name,
        "email": department.email,
        "description": department.description,
        "is_active": department.is_active,
        "seen": account_services.department_fingerprint(department),
    }


@admin_required
@require_http_methods(["GET", "POST"])
def department_edit(request: HttpRequest, department_id: int) -> HttpResponse:
    department = _department(request, department_id)
    initial = _department_initial(department)
    status = 200
    changed: list[tuple[Any, Any]] = []
    if request.method != "POST":
        form = DepartmentEditForm(initial=initial)
    else:
        form = DepartmentEditForm(request.POST, initial=initial)
        status = 422
        if form.is_valid():
            values = dict(form.cleaned_data)
            seen = values.pop("seen", "") or None
            try:
                account_services.department_update(
                    department=department, actor=current_admin(request), expected=seen, **values
                )
            except Conflict as exc:
                if exc.code != "stale":
                    status = attach(form, exc)
                else:
                    form, changed = _stale_department(request, department_id)
                    status = 409
            except DomainError as exc:
                status = attach(form, exc)
            else:
                messages.success(request, _("Department “%(name)s” saved.") % {"name": department.name})
                return redirect("console:departments")
    context = {"section": "departments", "department": department, "form": form, "changed": changed}
    return render_console(request, "console/desk/department_edit.html", context, status=status)


def _stale_department(
    request: HttpRequest, department_id: int
) -> tuple[DepartmentEditForm, list[tuple[Any, Any]]]:
    """Someone saved the department since the form was drawn: the form again with what was typed
    (kept, now carrying the stored fingerprint, so saving again replaces theirs) and each
    attribute whose stored value differs from what was typed, with the stored value."""
    current = _department(request, department_id)
    saved = _department_initial(current)
    data = request.POST.copy()
    data["seen"] = saved["seen"]
    form = DepartmentEditForm(data, initial=saved)
    form.is_valid()
    form.add_error(
        None,
        _(
            "Someone saved this department since you opened it. Your changes are still here; "
            "save again to replace theirs."
        ),
    )
    changed: list[tuple[Any, Any]] = [
        (form.fields[name].label, saved[name])
        for name in ("name", "email", "description")
        if str(saved[name] or "").strip() != str(data.get(name, "")).strip()
    ]
    if current.is_active != (data.get("is_active") == "on"):
        changed.append((form.fields["is_active"].label, current.is_active))
    return form, changed


# --------------------------------------------------------------------------------------------
# Custom fields


@admin_required
@require_http_methods(["GET"])
def fields(request: HttpRequest) -> HttpResponse:
    """Every custom field, active first, with how many departments' layouts hold it."""
    rows = (
        fields_services.custom_field_list(user=current_admin(request))
        .annotate(layout_count=Count("layouts"))
        .order_by("-is_active", "position", "id")
    )
    context = {"section": "fields", "fields": list(rows), "type_labels": TYPE_LABELS}
    return render_console(request, "console/desk/fields.html", context)


def _field_page(request: HttpRequest, form: FieldForm, *, status: int = 200) -> HttpResponse:
    context = {"section": "fields", "form": form, "field": form.instance, "choice_types": CHOICE_TYPES}
    return render_console(request, "console/desk/field_form.html", context, status=status)


@admin_required
@require_http_methods(["GET", "POST"])
def field_new(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _field_page(request, FieldForm())
    form = FieldForm(request.POST)
    if not form.is_valid():
        return _field_page(request, form, status=422)
    cd = form.cleaned_data
    try:
        field = fields_services.custom_field_create(
            actor=current_admin(request),
            key=cd["key"],
            label=cd["label"],
            type=cd["type"],
            options=cd["options"],
            description=cd["description"],
            position=cd["position"],
        )
    except DomainError as exc:
        return _field_page(request, form, status=attach(form, exc))
    messages.success(
        request,
        _("Field “%(label)s” created. Add it to a department's layout to show it on its tickets.")
        % {"label": field.label},
    )
    return redirect("console:fields")


@admin_required
@require_http_methods(["GET", "POST"])
def field_edit(request: HttpRequest, field_id: int) -> HttpResponse:
    try:
        field = fields_services.custom_field_get(user=current_admin(request), ref=str(field_id))
    except NotFound:
        raise Http404 from None
    if request.method != "POST":
        return _field_page(request, FieldForm(field=field))
    form = FieldForm(request.POST, field=field)
    if not form.is_valid():
        return _field_page(request, form, status=422)
    cd = form.cleaned_data
    try:
        field = fields_services.custom_field_update(
            actor=current_admin(request),
            field=field,
            label=cd["label"],
            options=cd["options"] if field.type in CHOICE_TYPES else None,
            description=cd["description"],
            position=cd["position"],
            is_active=cd["is_active"],
            expected=cd["seen"] or None,
        )
    except Conflict as exc:
        if exc.code != "stale_field":
            return _field_page(request, form, status=attach(form, exc))
        # Someone saved it meanwhile: what they saved, beside what was typed (kept); saving
        # again replaces it.
        current = fields_services.custom_field_get(user=current_admin(request), ref=str(field_id))
        saved = FieldForm(field=current)
        data = request.POST.copy()
        data["seen"] = fields_services.field_fingerprint(current)
        form = FieldForm(data, field=current)
        form.is_valid()
        form.add_error(
            None,
            _(
                "Someone saved this field since you opened it. Your changes are still here; "
                "save again to replace theirs."
            ),
        )
        # Each attribute whose saved value differs from what was typed, with the saved value.
        changed: list[tuple[Any, Any]] = [
            (form.fields[name].label, saved.initial.get(name))
            for name in ("label", "options", "description", "position")
            if str(saved.initial.get(name) or "").strip() != str(data.get(name, "")).strip()
        ]
        if current.is_active != (data.get("is_active") == "on"):
            changed.append((form.fields["is_active"].label, current.is_active))
        context = {
            "section": "fields",
            "form": form,
            "field": current,
            "choice_types": CHOICE_TYPES,
            "changed": changed,
        }
        return render_console(request, "console/desk/field_form.html", context, status=409)
    except DomainError as exc:
        return _field_page(request, form, status=attach(form, exc))
    messages.success(request, _("Field “%(label)s” saved.") % {"label": field.label})
    return redirect("console:fields")


# --------------------------------------------------------------------------------------------
# A department's layout and its preview


def _active_fields() -> list[CustomField]:
    return list(CustomField.objects.filter(is_active=True).order_by("position", "id"))


def _preview_forms(rows: list[LayoutField]) -> tuple[forms.Form, forms.Form]:
    """The ticket form's custom fields as the Desk draws them for this layout: an agent's (the
    ticket's properties) and a customer's (the fields of a new ticket customers fill, those
    required of the customer marked required)."""
    agent = forms.Form(prefix="agent-preview", label_suffix="")
    customer = forms.Form(prefix="customer-preview", label_suffix="")
    for row in rows:
        agent.fields[row.field.key] = agent_form_field(row, None)
        if row.customer_access != CustomerAccess.EDIT:
            continue  # shown read only, or not at all (`_layout_context`)
        field = customer_form_field(row)
        field.required = row.required_from_customer
        customer.fields[row.field.key] = field
    return agent, customer


def _layout_context(department: Department, editor: LayoutEditor, **extra: Any) -> dict[str, Any]:
    rows = editor.preview_rows()
    agent, customer = _preview_forms(rows)
    return {
        "section": "departments",
        "department": department,
        "editor": editor,
        "requirements": list(REQUIREMENT_LABELS.items()),
        "customer_access": list(CUSTOMER_ACCESS_LABELS.items()),
        "customer_read": [r for r in rows if r.customer_access == CustomerAccess.READ],
        "customer_hidden": [r for r in rows if r.customer_access == CustomerAccess.HIDDEN],
        "type_labels": TYPE_LABELS,
        "agent_preview": agent,
        "customer_preview": customer,
        **extra,
    }


def _saved_editor(
    department: Department, fields: list[CustomField]
) -> tuple[LayoutEditor, list[LayoutField]]:
    saved = fields_services.layout_get(department=department)
    return editor_from_saved(saved, fields, fields_services.layout_fingerprint(saved)), saved


@admin_required
@require_http_methods(["GET", "POST"])
def department_layout(request: HttpRequest, department_id: int) -> HttpResponse:
    """GET: the layout as saved. POST: with `do=save`, save it (refused, with everything kept,
    when someone saved it meanwhile); otherwise the editor and its preview redrawn as the admin
    left them, with the move or addition asked for, nothing saved (HTMX posts this on every
    change and swaps the editor in place)."""
    department = _department(request, department_id)
    fields = _active_fields()
    if request.method != "POST":
        editor, _saved = _saved_editor(department, fields)
        return render_console(request, LAYOUT, _layout_context(department, editor))
    editor = editor_from_post(request.POST, fields)
    if request.POST.get("do") != "save":
        return render_console(request, LAYOUT, _layout_context(department, editor))
    if editor.errors:
        editor.top_error = _("Some rows need a correction; nothing was saved.")
        return render_console(request, LAYOUT, _layout_context(department, editor), status=422)
    # The rows of inactive fields are not edited here; they stay, after the others.
    hidden = [
        fields_services.LayoutRowSpec(
            field=r.field.key,
            required=r.required,
            required_from_customer=r.required_from_customer,
            customer_access=r.customer_access,
            allowed_values=r.allowed_values,
        )
        for r in fields_services.layout_get(department=department)
        if not r.field.is_active
    ]
    try:
        fields_services.layout_replace(
            actor=current_admin(request),
            department=department,
            rows=[*editor.specs(), *hidden],
            expected=editor.fingerprint,
        )
    except Conflict as exc:
        if exc.code != "stale_layout":
            editor.top_error = exc.message
            return render_console(request, LAYOUT, _layout_context(department, editor), status=409)
        current, _saved = _saved_editor(department, fields)
        editor.fingerprint = current.fingerprint
        editor.top_error = _(
            "Someone saved this layout since you opened it. Your changes are still here; "
            "the saved layout is listed below. Save again to replace it with yours."
        )
        return render_console(
            request, LAYOUT, _layout_context(department, editor, saved_now=current.rows), status=409
        )
    except DomainError as exc:
        editor.top_error = exc.message
        return render_console(request, LAYOUT, _layout_context(department, editor), status=exc.status)
    messages.success(request, _("Layout of %(name)s saved.") % {"name": department.name})
    return redirect("console:department_layout", department_id=department.pk)


urlpatterns = [
    path("departments/", departments, name="departments"),
    path("departments/<int:department_id>/", department_edit, name="department_edit"),
    path("departments/<int:department_id>/layout/", department_layout, name="department_layout"),
    path("fields/", fields, name="fields"),
    path("fields/new/", field_new, name="field_new"),
    path("fields/<int:field_id>/", field_edit, name="field_edit"),
]

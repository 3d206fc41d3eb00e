"""The Console's statuses (group Workflows): every status grouped by its category, reordered
within its category with ↑/↓ buttons (keyboard users keep the focus on the button pressed), a
new status, and a status's editor — name, category (while no ticket has it), default of its
category, active — refusing a save over a change made meanwhile. Every write goes through
`tickets.statuses`; each status links to its history."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import BadRequest
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from sportello.core import clock
from sportello.core.errors import Conflict, DomainError, NotFound
from sportello.tickets import statuses as services
from sportello.tickets.models import Status, StatusCategory, Ticket
from sportello.web.labels import CATEGORY_LABELS, status_label

from .desk_forms import attach
from .views import admin_required, current_admin, render_console

KEY_HELP = gettext_lazy(
    "Rules, blueprints and the API name the status by its key: a lower-case letter, then letters, "
    "digits or _. It never changes."
)


def _categories() -> list[tuple[str, str]]:
    return [(c, str(CATEGORY_LABELS[c])) for c in StatusCategory.values]


class StatusForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=services.NAME_MAX)
    category = forms.ChoiceField(
        label=gettext_lazy("Category"),
        help_text=gettext_lazy(
            "Service levels, queues and reports go by the category. It can change only while no "
            "ticket has the status."
        ),
    )
    is_default = forms.BooleanField(
        label=gettext_lazy("Default of its category"),
        required=False,
        help_text=gettext_lazy(
            "A new ticket, or a change to the category, takes its default status. The former "
            "default becomes an ordinary status."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = _categories()  # type: ignore[attr-defined]


class StatusNewForm(StatusForm):
    key = forms.RegexField(
        label=gettext_lazy("Key"),
        regex=services.KEY_PATTERN.pattern + "$",
        max_length=40,
        help_text=KEY_HELP,
        error_messages={"invalid": gettext_lazy("Start with a lower-case letter; use only a-z, 0-9 and _.")},
    )
    field_order = ["key", "name", "category", "is_default"]


class StatusEditForm(StatusForm):
    is_active = forms.BooleanField(
        label=gettext_lazy("Active"),
        required=False,
        help_text=gettext_lazy(
            "An inactive status is kept for the tickets that have it; no one can choose it. A "
            "category's default, or its last active status, stays active."
        ),
    )
    fingerprint = forms.CharField(widget=forms.HiddenInput, required=False)


# --------------------------------------------------------------------------------------------
# The list


def _row(
    status: Status, *, first: bool, last: bool, moved: str | None, direction: str | None
) -> dict[str, Any]:
    """A status as the list shows it; `focus`: the arrow that takes the focus after a move —
    the one pressed, or the other when the status reached the end of its category."""
    focus = None
    if moved == str(status.pk) and direction in ("up", "down"):
        blocked = first if direction == "up" else last
        focus = direction if not blocked else ("down" if direction == "up" else "up")
        if (focus == "up" and first) or (focus == "down" and last):
            focus = None  # alone in its category
    label = status_label(status.key, status.name)
    return {"status": status, "label": label, "first": first, "last": last, "focus": focus}


@admin_required
@require_http_methods(["GET"])
def statuses(request: HttpRequest) -> HttpResponse:
    """Every status, grouped by the category it maps to, in their order, with whether tickets
    have it (one statement for all)."""
    used = Ticket.objects.filter(status_id=OuterRef("pk"))
    rows = list(Status.objects.annotate(used=Exists(used)).order_by("position", "id"))
    moved, direction = request.GET.get("moved"), request.GET.get("dir")
    groups = []
    for category in StatusCategory.values:
        items = [s for s in rows if s.category == category]
        shown = [
            _row(s, first=i == 0, last=i == len(items) - 1, moved=moved, direction=direction)
            for i, s in enumerate(items)
        ]
        groups.append((category, CATEGORY_LABELS[category], shown))
    context = {"section": "statuses", "groups": groups}
    return render_console(request, "console/desk/statuses.html", context)


@admin_required
@require_http_methods(["POST"])
def status_move(request: HttpRequest, status_id: int) -> HttpResponse:
    """Move a status one place up (`direction=up`) or down in its category."""
    direction = request.POST.get("direction")
    if direction not in ("up", "down"):
        raise BadRequest("direction must be up or down")
    try:
        services.status_move(
            actor=current_admin(request), status_id=status_id, direction=direction, now=clock.now()
        )
    except NotFound:
        raise Http404 from None
    # Back to the list with the focus on the button pressed (keyboard users go on pressing).
    return redirect(f"{reverse('console:statuses')}?moved={status_id}&dir={direction}")


# --------------------------------------------------------------------------------------------
# New and edit


@admin_required
@require_http_methods(["GET", "POST"])
def status_new(request: HttpRequest) -> HttpResponse:
    category = request.GET.get("category")
    initial = {"category": category if category in StatusCategory.values else StatusCategory.OPEN}
    status = 200
    if request.method != "POST":
        form = StatusNewForm(initial=initial)
    else:
        form = StatusNewForm(request.POST)
        status = 422
        if form.is_valid():
            cd = form.cleaned_data
            try:
                made = services.status_create(
                    actor=current_admin(request),
                    key=cd["key"],
                    name=cd["name"],
                    category=cd["category"],
                    is_default=cd["is_default"],
                    now=clock.now(),
                )
            except DomainError as exc:
                status = _attach(form, exc)
            else:
                messages.success(request, _("Status “%(name)s” created.") % {"name": made.name})
                return redirect(f"{reverse('console:statuses')}#status-{made.pk}")
    context = {"section": "statuses", "form": form, "status": None}
    return render_console(request, "console/desk/status_edit.html", context, status=status)


def _refusals() -> dict[tuple[str, str], str]:
    """The service's refusals (`tickets.statuses`) by field and code, in the admin's language."""
    return {
        ("category", "status_default"): _(
            "This status is its category's default: make another status the default first."
        ),
        ("category", "status_in_use"): _(
            "Tickets have this status: its category cannot change. Create a new status instead."
        ),
        ("is_active", "status_default"): _(
            "The default status of a category cannot be deactivated: make another status the default first."
        ),
        ("is_active", "status_last"): _("This is the last active status of its category: it stays active."),
        ("is_default", "status_default"): _(
            "A category keeps a default: make another status the default instead."
        ),
    }


def _attach(form: forms.Form, exc: DomainError) -> int:
    if isinstance(exc, Conflict) and exc.field == "key":
        form.add_error("key", _("A status with this key exists already."))
        return 409
    message = _refusals().get((exc.field or "", exc.code or ""))
    if isinstance(exc, Conflict) and message is not None:
        form.add_error(exc.field, message)
        return 409
    return attach(form, exc)


def _initial(status: Status) -> dict[str, Any]:
    return {
        "name": status.name,
        "category": status.category,
        "is_default": status.is_default,
        "is_active": status.is_active,
        "fingerprint": services.status_fingerprint(status),
    }


@admin_required
@require_http_methods(["GET", "POST"])
def status_edit(request: HttpRequest, status_id: int) -> HttpResponse:
    found = Status.objects.filter(pk=status_id).first() if 0 < status_id < 2**63 else None
    if found is None:
        raise Http404
    used = Ticket.objects.filter(status_id=found.pk).exists()
    status = 200
    stale = False
    if request.method != "POST":
        form = StatusEditForm(initial=_initial(found))
    else:
        form = StatusEditForm(request.POST, initial=_initial(found))
        status = 422
        if form.is_valid():
            cd = form.cleaned_data
            try:
                services.status_update(
                    actor=current_admin(request),
                    status_id=found.pk,
                    now=clock.now(),
                    expected=cd["fingerprint"] or None,
                    name=cd["name"],
                    category=cd["category"],
                    is_default=cd["is_default"],
                    is_active=cd["is_active"],
                )
            except NotFound:
                raise Http404 from None
            except Conflict as exc:
                if exc.code == "stale_status":
                    stale, status = True, 409
                    form.add_error(
                        None,
                        _(
                            "Someone changed this status while you were editing it. What is saved now is "
                            "shown below the form; your changes are kept: check them and save again."
                        ),
                    )
                    # Saving again replaces what was saved meanwhile: the form now names it.
                    data = request.POST.copy()
                    data["fingerprint"] = services.status_fingerprint(found)
                    form.data = data
                else:
                    status = _attach(form, exc)
            except DomainError as exc:
                status = _attach(form, exc)
            else:
                messages.success(request, _("Status “%(name)s” saved.") % {"name": cd["name"]})
                return redirect(f"{reverse('console:statuses')}#status-{found.pk}")
    context = {
        "section": "statuses",
        "form": form,
        "status": found,
        "label": status_label(found.key, found.name),
        "category_label": CATEGORY_LABELS[found.category],
        "used": used,
        "stale": stale,
    }
    return render_console(request, "console/desk/status_edit.html", context, status=status)


urlpatterns = [
    path("statuses/", statuses, name="statuses"),
    path("statuses/new/", status_new, name="status_new"),
    path("statuses/<int:status_id>/", status_edit, name="status_edit"),
    path("statuses/<int:status_id>/move/", status_move, name="status_move"),
]

"""The queue page (`web:home`): saved views with live counts on the left, the dense ticket table,
and bulk changes. Views parse input, read through `queues.selectors`, write through
`queues.services`, and render `queues/home.html` or one of its partials."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from sportello.accounts.models import Department, Role, Team, User
from sportello.automation.macros import macro_list_for
from sportello.core import clock
from sportello.core.errors import DomainError, ValidationFailed
from sportello.core.http import HtmxRequest
from sportello.core.paging import SortKey, parse_sort
from sportello.tickets import selectors as ticket_selectors
from sportello.tickets.models import Status, Ticket
from sportello.web.shell import agent_required

from . import selectors, services
from .cells import table_rows
from .columns import CUSTOM, DEFAULT_SORT, SORTS, STANDARD_COLUMNS
from .forms import (
    ASSIGNEE_ME,
    ASSIGNEE_NONE,
    STATUS_ANY,
    BulkAction,
    BulkForm,
    ColumnsForm,
    QueueFilterForm,
    ViewNameForm,
)
from .models import SavedView

PAGE_SIZE = 50
FILTER_PARAMS = ("status", "department", "assignee", "tag", "requester", "organization")


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _may_write(view: SavedView, user: User) -> bool:
    return view.owner_id == user.pk or (view.owner_id is None and user.role == Role.ADMIN)


def _views(user: User, now: datetime) -> list[SavedView]:
    views = selectors.view_list_for(user=user)
    if not any(v.key == services.LANDING_VIEW for v in views):
        services.saved_view_defaults_ensure(now=now)
        views = selectors.view_list_for(user=user)
    return views


def _pick(views: list[SavedView], raw: str | None) -> SavedView:
    if raw:
        for v in views:
            if str(v.pk) == raw:
                return v
    return next((v for v in views if v.key == services.LANDING_VIEW), views[0])


def _without_status(cond: Any) -> Any:
    """The condition without its top-level status-category predicates (the page's status
    filter replaces them)."""

    def is_status(c: Any) -> bool:
        return isinstance(c, dict) and c.get("field") == "ticket.status_category"

    if is_status(cond):
        return {"all": []}
    if isinstance(cond, dict) and isinstance(cond.get("all"), list):
        return {"all": [c for c in cond["all"] if not is_status(c)]}
    return cond


def filters_condition(base: Any, filters: dict[str, Any]) -> Any:
    """`base` (a view's condition) narrowed by the page's filters, in the condition language:
    what "Save as view" stores and what the page shows."""
    items: list[Any] = []
    if filters.get("status"):
        base = _without_status(base)
        if filters["status"] != STATUS_ANY:
            items.append({"field": "ticket.status_category", "op": "is", "value": filters["status"]})
    if filters.get("department"):
        items.append({"field": "ticket.department", "op": "is", "value": int(filters["department"])})
    if filters.get("assignee") == ASSIGNEE_ME:
        items.append({"field": "ticket.assignee", "op": "is", "value": "$me"})
    elif filters.get("assignee") == ASSIGNEE_NONE:
        items.append({"field": "ticket.assignee", "op": "absent"})
    if filters.get("tag"):
        items.append({"field": "ticket.tags", "op": "contains", "value": filters["tag"]})
    for name in ("requester", "organization"):
        if filters.get(name) is not None:
            pk = getattr(filters[name], "pk", filters[name])
            items.append({"field": f"ticket.{name}", "op": "is", "value": int(pk)})
    if not items:
        return base
    return {"all": [base, *items]}


@dataclass
class Listing:
    view: SavedView
    views: list[SavedView]
    ctx: selectors.ViewContext
    form: QueueFilterForm
    sort: str
    keys: list[SortKey]
    # The view as the page shows it: its condition narrowed by the page's filters.
    shown: SavedView
    filtered: bool

    @property
    def qs(self) -> QuerySet[Ticket]:
        """Every ticket of the page's view and filters the agent may see."""
        return selectors.view_tickets(view=self.shown, ctx=self.ctx, query=ticket_selectors.TicketQuery())


def _listing(request: HttpRequest, params: QueryDict, now: datetime) -> Listing:
    user = _user(request)
    views = _views(user, now)
    view = _pick(views, params.get("view"))
    ctx = selectors.view_context(user=user, now=now)
    form = QueueFilterForm(params, departments=list(ctx.department_choices))
    form.is_valid()  # invalid filters are shown with their error and left out
    filters = {k: v for k, v in form.cleaned_data.items() if k in FILTER_PARAMS}
    sort = params.get("sort") or view.sort or DEFAULT_SORT
    try:
        keys = parse_sort(sort, allowed=SORTS, default=[])
    except ValidationFailed:
        sort = view.sort or DEFAULT_SORT
        keys = parse_sort(sort, allowed=SORTS, default=[])
    condition = filters_condition(view.condition, filters)
    shown = SavedView(pk=view.pk, condition=condition, extra=view.extra, sort=sort)
    return Listing(
        view=view,
        views=views,
        ctx=ctx,
        form=form,
        sort=sort,
        keys=keys,
        shown=shown,
        filtered=condition != view.condition,
    )


def _url(params: dict[str, Any]) -> str:
    clean = {k: v for k, v in params.items() if v not in (None, "")}
    return f"{reverse('web:home')}?{urlencode(clean)}" if clean else reverse("web:home")


def _base_params(listing: Listing) -> dict[str, Any]:
    params: dict[str, Any] = {"view": listing.view.pk}
    for name in FILTER_PARAMS:
        value = listing.form.data.get(name, "")
        if value and name not in listing.form.errors:
            params[name] = value
    return params


def _chips(listing: Listing) -> list[dict[str, Any]]:
    """The customer and organization the page is narrowed to, each named, with the page's URL
    without it (the chip's remove link)."""
    out = []
    base = _base_params(listing)
    data = getattr(listing.form, "cleaned_data", {})
    for name, label in (("requester", _("Requester")), ("organization", _("Organization"))):
        chosen = data.get(name)
        if chosen is not None:
            rest = {k: v for k, v in base.items() if k != name}
            out.append({"name": name, "label": label, "value": str(chosen), "remove_url": _url(rest)})
    return out


def _headers(listing: Listing) -> list[dict[str, Any]]:
    """One entry per column: label, sort link and aria-sort."""
    first = listing.sort.split(",")[0].strip()
    current, descending = first.lstrip("-+"), first.startswith("-")
    labels = {f"{CUSTOM}{f.key}": f.label for f in listing.ctx.custom_fields}
    out = []
    for key in _columns(listing):
        label = labels.get(key) or STANDARD_COLUMNS.get(key, key)
        entry: dict[str, Any] = {"key": key, "label": label, "id": key.replace(".", "-")}
        if key in SORTS:
            active = key == current
            next_sort = key if (active and descending) else f"-{key}" if active else _first_direction(key)
            entry["url"] = _url({**_base_params(listing), "sort": next_sort})
            entry["aria_sort"] = ("descending" if descending else "ascending") if active else "none"
        out.append(entry)
    return out


def _first_direction(key: str) -> str:
    # Newest, most urgent first; text and numbers A→Z, 1→9.
    return f"-{key}" if key in ("priority", "updated", "created") else key


def _columns(listing: Listing) -> list[str]:
    custom = {f.key for f in listing.ctx.custom_fields}
    cols = listing.view.columns or []
    return [
        c
        for c in cols
        if c in STANDARD_COLUMNS or (c.startswith(CUSTOM) and c.removeprefix(CUSTOM) in custom)
    ]


def _custom_label(field: Any, value: Any) -> str:
    if value is None or value == "" or value == []:
        return ""
    options = {o.get("value"): o.get("label") or o.get("value") for o in (field.options or [])}
    if isinstance(value, list):
        return ", ".join(str(options.get(v, v)) for v in value)
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    return str(options.get(value, value))


def _sla_state(ticket: Ticket, now: datetime) -> dict[str, Any] | None:
    try:
        sla = ticket.sla
    except Ticket.sla.RelatedObjectDoesNotExist:
        return None
    if sla.breached:
        return {"kind": "breached", "at": sla.next_breach_at}
    if sla.next_breach_at is None:
        return None
    risky = sla.next_breach_at <= now + selectors.AT_RISK_WINDOW
    return {"kind": "warning" if risky else "due", "at": sla.next_breach_at}


def _decorate(tickets: list[Ticket], listing: Listing, now: datetime, tags: dict[int, list[str]]) -> None:
    fields = {f"{CUSTOM}{f.key}": f for f in listing.ctx.custom_fields}
    wanted = [c for c in _columns(listing) if c in fields]
    for t in tickets:
        t.q_tags = tags.get(t.pk, [])  # type: ignore[attr-defined]
        t.q_custom = {  # type: ignore[attr-defined]
            c: _custom_label(fields[c], (t.custom_fields or {}).get(c.removeprefix(CUSTOM))) for c in wanted
        }
        t.q_sla = _sla_state(t, now)  # type: ignore[attr-defined]


def _page_context(
    request: HttpRequest, listing: Listing, now: datetime, counts: dict[int, int] | None = None
) -> dict[str, Any]:
    """`counts`: the sidebar's, when the page shows them (the view's own total is among them
    unless the page's filters narrow it)."""
    cursor = request.GET.get("cursor") or None
    if counts is not None and not listing.filtered:
        total = counts[listing.view.pk]
    else:
        total = selectors.view_count(view=listing.shown, ctx=listing.ctx)

    def page(at: str | None) -> selectors.TicketPage:
        return selectors.view_page(
            view=listing.shown, ctx=listing.ctx, keys=listing.keys, cursor=at, limit=PAGE_SIZE, total=total
        )

    try:
        found = page(cursor)
    except ValidationFailed:
        cursor = None
        found = page(None)
    tickets, next_cursor = found.tickets, found.next_cursor
    _decorate(tickets, listing, now, found.tags)
    base = {**_base_params(listing), "sort": listing.sort if listing.sort != listing.view.sort else ""}
    user = _user(request)
    custom_choices = [(f"{CUSTOM}{f.key}", f.label) for f in listing.ctx.custom_fields]
    columns_form = ColumnsForm(
        initial={"columns": _columns(listing)},
        choices=[(k, str(v)) for k, v in STANDARD_COLUMNS.items()] + custom_choices,
    )
    headers = _headers(listing)
    may_bulk = user.role != Role.LIGHT_AGENT
    chips = _chips(listing)
    return {
        "view": listing.view,
        "views": listing.views,
        "form": listing.form,
        "tickets": tickets,
        "columns": headers,
        "rows": table_rows(tickets, headers, now=now, may_bulk=may_bulk),
        "total": total,
        "next_url": _url({**base, "cursor": next_cursor}) if next_cursor else None,
        "first_url": _url(base) if cursor else None,
        "base_params": base,
        "chips": chips,
        # The view the sidebar marks as current: none while the page is narrowed to a customer
        # or an organization (the page is then theirs, not the view's).
        "side_view": None if chips else listing.view,
        "scoped": user.role != Role.ADMIN,
        "may_write_view": _may_write(listing.view, user),
        "may_bulk": may_bulk,
        "columns_form": columns_form,
        "name_form": ViewNameForm(),
        "bulk_max": services.BULK_MAX,
        "now": now,
    }


@agent_required
@require_GET
def home(request: HtmxRequest) -> HttpResponse:
    now = clock.now()
    listing = _listing(request, request.GET, now)
    template = "queues/home.html"
    counts = None
    if request.htmx and not request.htmx.history_restore_request and request.htmx.target == "queue":
        template = "queues/home.html#queue"
    else:
        counts = selectors.view_counts(views=listing.views, ctx=listing.ctx)
    context = _page_context(request, listing, now, counts)
    if counts is not None:
        context["counts"] = counts
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


@agent_required
@require_GET
def counts(request: HttpRequest) -> HttpResponseBase:
    """The sidebar's views with their counts. An ETag over the counts lets the browser's
    revalidation answer 304 when nothing changed."""
    now = clock.now()
    user = _user(request)
    views = _views(user, now)
    ctx = selectors.view_context(user=user, now=now)
    numbers = selectors.view_counts(views=views, ctx=ctx)
    current = request.GET.get("view") or ""
    tag = hashlib.sha256(
        repr((current, request.LANGUAGE_CODE, [(v.pk, v.name, numbers[v.pk]) for v in views])).encode()
    ).hexdigest()[:32]
    etag = f'"{tag}"'
    if request.headers.get("If-None-Match") == etag:
        response: HttpResponseBase = HttpResponse(status=304)
    else:
        # No view asked for: the page is narrowed to a customer or an organization, none is marked.
        side_view = _pick(views, current) if current else None
        response = render(
            request, "queues/home.html#sidebar", {"views": views, "counts": numbers, "side_view": side_view}
        )
    response["ETag"] = etag
    patch_cache_control(response, private=True, no_cache=True)
    patch_vary_headers(response, ["HX-Request", "Cookie", "Accept-Language"])
    return response


# --------------------------------------------------------------------------------------------
# Saved views


def _back(request: HttpRequest, view_id: int | None = None) -> str:
    params: dict[str, str | int] = {k: request.POST.get(k, "") for k in (*FILTER_PARAMS, "sort")}
    if view_id is not None:
        params = {"view": view_id}
    elif request.POST.get("view"):
        params["view"] = request.POST["view"]
    return _url(params)


def _error(request: HttpRequest, exc: DomainError) -> None:
    messages.error(request, _("The view was not saved: %(reason)s") % {"reason": exc.message})


@agent_required
@require_POST
def view_create(request: HttpRequest) -> HttpResponse:
    """ "Save as view": the current view's condition narrowed by the page's filters, its
    columns and the current sort, as a personal view (admins may share it)."""
    now = clock.now()
    user = _user(request)
    form = ViewNameForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the view a name."))
        return redirect(_back(request))
    listing = _listing(request, request.POST, now)
    shared = request.POST.get("shared") == "1"
    data = services.ViewInput(
        name=form.cleaned_data["name"],
        condition=filters_condition(listing.view.condition, listing.form.cleaned_data),
        columns=listing.view.columns,
        sort=listing.sort,
        shared=shared,
    )
    try:
        created = services.saved_view_create(actor=user, data=data, specs=listing.ctx.specs, now=now)
    except DomainError as exc:
        _error(request, exc)
        return redirect(_back(request))
    if listing.view.extra:
        created.extra = listing.view.extra
        created.save(update_fields=["extra"])
    messages.success(request, _("View “%(name)s” saved.") % {"name": created.name})
    return redirect(_back(request, created.pk))


@agent_required
@require_POST
def view_rename(request: HttpRequest, view_id: int) -> HttpResponse:
    now = clock.now()
    user = _user(request)
    form = ViewNameForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the view a name."))
        return redirect(_back(request, view_id))
    ctx = selectors.view_context(user=user, now=now)
    try:
        services.saved_view_update(
            actor=user,
            view_id=view_id,
            data=services.ViewInput(name=form.cleaned_data["name"]),
            specs=ctx.specs,
            now=now,
        )
    except DomainError as exc:
        _error(request, exc)
    return redirect(_back(request, view_id))


@agent_required
@require_POST
def view_columns(request: HttpRequest, view_id: int) -> HttpResponse:
    now = clock.now()
    user = _user(request)
    ctx = selectors.view_context(user=user, now=now)
    chosen = request.POST.getlist("columns")
    try:
        services.saved_view_update(
            actor=user, view_id=view_id, data=services.ViewInput(columns=chosen), specs=ctx.specs, now=now
        )
    except DomainError as exc:
        _error(request, exc)
    return redirect(_back(request) if request.POST.get("view") else _back(request, view_id))


@agent_required
@require_POST
def view_delete(request: HttpRequest, view_id: int) -> HttpResponse:
    try:
        services.saved_view_delete(actor=_user(request), view_id=view_id)
    except DomainError as exc:
        messages.error(request, _("The view was not deleted: %(reason)s") % {"reason": exc.message})
        return redirect(_back(request, view_id))
    messages.success(request, _("View deleted."))
    return redirect(reverse("web:home"))


# --------------------------------------------------------------------------------------------
# Bulk


def _bulk_form(user: User, data: QueryDict | None = None) -> BulkForm:
    agents = list(User.objects.filter(is_active=True).exclude(role=Role.LIGHT_AGENT).order_by("name", "id"))
    return BulkForm(
        data,
        prefix="bulk",
        statuses=list(Status.objects.filter(is_active=True).order_by("position", "id")),
        agents=agents,
        teams=list(Team.objects.select_related("department").order_by("name", "id")),
        departments=list(Department.objects.filter(is_active=True).order_by("name")),
        macros=list(macro_list_for(agent=user)),
    )


@agent_required
@require_GET
def bulk_panel(request: HttpRequest) -> HttpResponse:
    """The bulk controls, loaded when the agent first selects a row."""
    return render(request, "queues/_bulk.html", {"bulk_form": _bulk_form(_user(request))})


def _targets(request: HttpRequest, now: datetime) -> list[tuple[int, int]]:
    """(ticket id, version) to change: the rows ticked, with the version each row showed, or
    every ticket of the view and filters (`all=1`), at their current versions."""
    if request.POST.get("all") == "1":
        listing = _listing(request, request.POST, now)
        rows = listing.qs.order_by("id").values_list("pk", "version")[: services.BULK_MAX + 1]
        return [(int(pk), int(v)) for pk, v in rows]
    out = []
    for raw in request.POST.getlist("ticket"):
        pk, _sep, version = raw.partition(":")
        if pk.isdigit() and version.isdigit():
            out.append((int(pk), int(version)))
    return out


REASONS = {
    "stale_version": lambda m: _("changed by someone else after the list was loaded; not overwritten"),
    "not_found": lambda m: _("not found, or you may not see it"),
    "permission_denied": lambda m: _("you may not make this change (%(detail)s)") % {"detail": m},
    "validation_failed": lambda m: _("refused: %(detail)s") % {"detail": m},
}


@agent_required
@require_POST
def bulk(request: HttpRequest) -> HttpResponse:
    now = clock.now()
    user = _user(request)
    form = _bulk_form(user, request.POST)
    context: dict[str, Any] = {"bulk_max": services.BULK_MAX}
    if not form.is_valid():
        context["errors"] = [e for errs in form.errors.values() for e in errs]
        return render(request, "queues/_bulk_result.html", context, status=422)
    targets = _targets(request, now)
    try:
        if form.cleaned_data["action"] == BulkAction.MACRO:
            summary = services.ticket_bulk_macro(
                actor=user,
                ticket_ids=[pk for pk, _v in targets],
                macro_key=form.cleaned_data["macro"],
                now=now,
            )
        else:
            summary = services.ticket_bulk_update(actor=user, targets=targets, change=form.change(), now=now)
    except DomainError as exc:
        message = exc.message
        if exc.field == "tickets" and len(targets) > services.BULK_MAX:
            message = _("At most %(max)s tickets can be changed at once; narrow the view first.") % {
                "max": services.BULK_MAX
            }
        elif exc.field == "tickets" and not targets:
            message = _("Select at least one ticket.")
        elif exc.code == "permission_denied":
            message = _("You may not change tickets in bulk.")
        context["errors"] = [message]
        return render(request, "queues/_bulk_result.html", context, status=exc.status)
    failed_ids = [f.ticket_id for f in summary.failed]
    visible = Ticket.objects.filter(ticket_selectors.ticket_scope(principal=user), pk__in=failed_ids)
    numbers = dict(visible.values_list("pk", "number"))
    context["summary"] = summary
    context["failures"] = [
        {
            "ticket_id": f.ticket_id,
            "number": numbers.get(f.ticket_id),
            "code": f.code,
            "reason": REASONS.get(f.code, lambda m: m)(f.message),
        }
        for f in summary.failed
    ]
    response = render(request, "queues/_bulk_result.html", context)
    response["HX-Trigger"] = "queues:changed"
    return response

"""The report pages under `/reports/`: admins and supervisors (`reports.access`).

- `/reports/`: the dashboard — tiles beside the previous period, volume and backlog, times per
  day, SLA compliance per target, satisfaction, a breakdown by a dimension; each chart with its
  numbers as a table and a CSV link, every number a link to its tickets.
- `/reports/tickets/`: the tickets behind a number (`drill.py`), with CSV.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from sportello.accounts.models import Role, User
from sportello.automation.facts import field_specs
from sportello.core import clock
from sportello.core.errors import Conflict, DomainError, NotFound
from sportello.queues import services as queue_services

from . import drill, subscriptions
from .forms import GROUP_LABELS, ReportFilterForm
from .models import Frequency, PauseReason, ReportSubscription
from .overview import SLA_LABELS, filters_params, group_labels, report_context
from .rollups import zone
from .shell import render_report, reports_required, scope_of
from .subscription_forms import SubscriptionForm


def _context(request: HttpRequest) -> dict[str, Any]:
    scope = scope_of(request)
    form = ReportFilterForm(request.GET or None, scope=scope)
    today = timezone.localdate(timezone=zone())
    return {**report_context(scope, form.filters(today), form.chosen_group), "form": form}


@reports_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    context = _context(request)
    status = 422 if context["form"].is_bound and not context["form"].is_valid() else 200
    context["subscribe_form"] = _subscription_form()
    return render_report(request, "reports/dashboard.html", context, tab="reports:dashboard", status=status)


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_response(name: str, header: list[str], rows: Iterable[list[Any]]) -> StreamingHttpResponse:
    """A CSV download, streamed; cells that a spreadsheet would run as a formula are quoted."""
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield "\ufeff" + writer.writerow(header)
        for row in rows:
            yield writer.writerow([_safe(v) for v in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    response["Cache-Control"] = "private, no-store"
    return response


def _safe(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@reports_required
@require_GET
def dashboard_csv(request: HttpRequest, table: str) -> StreamingHttpResponse | HttpResponse:
    context = _context(request)
    f = context["filters"]
    stem = f"{table}-{f.start.isoformat()}-{f.end.isoformat()}"
    if table == "days":
        header = [
            _("Day"),
            _("Created"),
            _("Solved"),
            _("Backlog"),
            _("First reply, average"),
            _("Response time, average"),
            _("Time to resolution, average"),
        ]
        rows = [
            [
                d["label"],
                d["created"],
                d["solved"],
                d["backlog"],
                d["first_reply"],
                d["response"],
                d["resolution"],
            ]
            for d in context["days"]
        ]
    elif table == "breakdown":
        header = [
            str(context["group_label"]),
            _("Created"),
            _("Solved"),
            _("First reply, average"),
            _("Response time, average"),
            _("Time to resolution, average"),
            _("Reopen rate"),
            _("One-touch resolution"),
        ]
        rows = [
            [
                g["name"],
                g["created"],
                g["solved"],
                g["first_reply"],
                g["response"],
                g["resolution"],
                g["reopen_rate"],
                g["one_touch"],
            ]
            for g in context["group_rows"]
        ]
    elif table == "sla":
        header = [_("Target"), _("Finished"), _("Breached"), _("Compliance"), _("Previous period")]
        rows = [
            [r["label"], r["finished"], r["breached"], r["compliance"], r["previous"]]
            for r in context["sla_rows"]
        ]
    else:
        return HttpResponse(status=404)
    return csv_response(stem, [str(h) for h in header], rows)


@reports_required
@require_POST
def tickets_view(request: HttpRequest) -> HttpResponse:
    """ "Open in the Desk": the drill-down's tickets as a personal view of the reader (their
    numbers, so the view keeps the tickets the figure counted), then the Desk's queue on it."""
    scope = scope_of(request)
    form = ReportFilterForm(request.POST, scope=scope)
    f = drill.narrowed(form.filters(timezone.localdate(timezone=zone())), request.POST)
    metric = request.POST.get("metric", "")
    if metric not in drill.METRICS:
        return HttpResponse(status=404)
    listing = drill.tickets(scope, f, metric, sla=request.POST.get("sla") or None)
    numbers = list(listing.all().values_list("number", flat=True)[: drill.VIEW_TICKETS_MAX + 1])
    back = f"{reverse('reports:tickets')}?{request.POST.get('query', '')}"
    if not numbers or len(numbers) > drill.VIEW_TICKETS_MAX:
        messages.error(
            request,
            _("A view holds at most %(max)s tickets: narrow the period or the filters.")
            % {"max": f"{drill.VIEW_TICKETS_MAX:,}"},
        )
        return redirect(back)
    user = scope.user
    now = clock.now()
    name = f"{drill.METRICS[metric]} · {date_format(f.start, 'M j')}\u2013{date_format(f.end, 'M j')}"
    data = queue_services.ViewInput(name=name[:120], condition=drill.view_condition(sorted(numbers)))
    try:
        created = queue_services.saved_view_create(actor=user, data=data, specs=field_specs(), now=now)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    messages.success(request, _("View “%(name)s” saved.") % {"name": created.name})
    return redirect(f"{reverse('web:home')}?view={created.pk}")


@reports_required
@require_GET
def tickets(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    scope = scope_of(request)
    form = ReportFilterForm(request.GET or None, scope=scope)
    today = timezone.localdate(timezone=zone())
    f = drill.narrowed(form.filters(today), request.GET)
    metric = request.GET.get("metric", "")
    if metric not in drill.METRICS:
        return render_report(
            request,
            "reports/tickets.html",
            {"error": _("Choose a figure on the dashboard."), "form": form},
            tab="reports:dashboard",
            status=404,
        )
    listing = drill.tickets(scope, f, metric, sla=request.GET.get("sla") or None)
    if request.GET.get("format") == "csv":
        return csv_response(
            f"tickets-{metric}-{f.start.isoformat()}-{f.end.isoformat()}",
            [str(h) for h in drill.CSV_HEADER],
            drill.csv_rows(listing.all()),
        )
    page = drill.page(listing, request.GET.get("page"))
    back = f"{reverse('reports:dashboard')}?{urlencode(filters_params(f))}"
    query = request.GET.copy()
    query.pop("page", None)
    return render_report(
        request,
        "reports/tickets.html",
        {
            "form": form,
            "filters": f,
            "metric_label": drill.METRICS[metric],
            "sla_label": SLA_LABELS.get(request.GET.get("sla") or "", ""),
            "page": page,
            "back_url": back,
            "csv_url": f"?{query.urlencode()}&format=csv",
            "query": query.urlencode(),
            "view_fields": [(k, v) for k, values in query.lists() for v in values if k != "format"],
            "view_max": drill.VIEW_TICKETS_MAX,
        },
        tab="reports:dashboard",
    )


# -- scheduled reports ---------------------------------------------------------------------------

SUBSCRIPTION_ID = "sub-%s"


def _subscription_form(data: Any = None, *, initial: dict[str, Any] | None = None) -> SubscriptionForm:
    return SubscriptionForm(data, initial=initial, auto_id=SUBSCRIPTION_ID)


def _form_error(form: SubscriptionForm, exc: DomainError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


@reports_required
@require_POST
def subscribe(request: HttpRequest) -> HttpResponse:
    """ "E-mail me this report": the dashboard's current filters, sent daily or weekly."""
    form = _subscription_form(request.POST)
    user = _user(request)
    if form.is_valid():
        try:
            subscriptions.subscription_create(
                actor=user,
                subscriber=user,
                frequency=form.cleaned_data["frequency"],
                weekday=form.cleaned_data["weekday"] or 0,
                hour=form.cleaned_data["hour"],
                filters={k: request.POST.get(k, "") for k in subscriptions.FILTER_KEYS},
                group=request.POST.get("group", "") or "department",
                now=clock.now(),
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Scheduled: this report will be e-mailed to you."))
            return redirect("reports:subscriptions")
    return render_report(
        request,
        "reports/subscription_form.html",
        {"form": form, "action": reverse("reports:subscribe"), "hidden": _hidden(request.POST)},
        tab="reports:subscriptions",
        status=422,
    )


def _hidden(data: Any) -> list[tuple[str, str]]:
    return [(k, str(data.get(k))) for k in (*subscriptions.FILTER_KEYS, "group") if data.get(k)]


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


@reports_required
@require_GET
def subscription_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    rows = subscriptions.subscriptions_for(user)
    return render_report(
        request,
        "reports/subscriptions.html",
        {"rows": _rows(rows), "everyone": user.role == Role.ADMIN},
        tab="reports:subscriptions",
    )


DELIVERY_LABELS = {
    "": gettext_lazy("Not sent yet"),
    "pending": gettext_lazy("Being sent"),
    "sent": gettext_lazy("Sent"),
    "failed": gettext_lazy("Could not be delivered"),
    "parked": gettext_lazy("Could not be delivered; retried on request"),
}


def _rows(listed: list[subscriptions.Listed]) -> list[dict[str, Any]]:
    """The list's rows; the filters' names read with one statement per dimension."""
    values: dict[str, set[Any]] = {}
    for item in listed:
        for key, value in item.subscription.filters.items():
            if key in GROUP_LABELS:
                values.setdefault(key, set()).add(value)
    names = {key: group_labels(key, sorted(found, key=str)) for key, found in values.items()}
    return [_row(item, names) for item in listed]


def _row(listed: subscriptions.Listed, names: dict[str, dict[Any, str]] | None = None) -> dict[str, Any]:
    s = listed.subscription
    hour = f"{s.hour:02d}:00"
    if s.frequency == Frequency.WEEKLY:
        when = _("Weekly, %(day)s at %(hour)s") % {"day": WEEKDAYS[s.weekday], "hour": hour}
    else:
        when = _("Daily at %(hour)s") % {"hour": hour}
    if names is None:
        names = {k: group_labels(k, [v]) for k, v in s.filters.items() if k in GROUP_LABELS}
    # in the filter bar's order (PostgreSQL's jsonb keeps keys in an order of its own)
    described = [f"{label}: {names[k][s.filters[k]]}" for k, label in GROUP_LABELS.items() if k in s.filters]
    return {
        "s": s,
        "when": when,
        "filters": "; ".join(described) or _("Everything the subscriber reads"),
        "group": GROUP_LABELS.get(s.group, s.group),
        "paused": PauseReason(s.paused_reason).label if not s.active and s.paused_reason else "",
        "delivery": DELIVERY_LABELS.get(listed.delivery_status, listed.delivery_status),
        "failed": listed.delivery_status in ("failed", "parked") or bool(s.last_error),
        "error": s.last_error or listed.delivery_error,
        "last": listed.delivery,
    }


def _managed(request: HttpRequest, pk: int) -> ReportSubscription:
    try:
        return subscriptions.subscription_get_for_user(user=_user(request), subscription_id=pk)
    except NotFound:
        raise Http404 from None


@reports_required
def subscription_edit(request: HttpRequest, pk: int) -> HttpResponse:
    s = _managed(request, pk)
    initial = {"frequency": s.frequency, "weekday": s.weekday, "hour": s.hour}
    form = _subscription_form(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            subscriptions.subscription_update(
                actor=_user(request),
                subscription_id=s.pk,
                frequency=form.cleaned_data["frequency"],
                weekday=form.cleaned_data["weekday"] or 0,
                hour=form.cleaned_data["hour"],
                now=clock.now(),
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Scheduled report saved."))
            return redirect("reports:subscriptions")
    return render_report(
        request,
        "reports/subscription_form.html",
        {"form": form, "action": reverse("reports:subscription_edit", args=[s.pk]), "subscription": s},
        tab="reports:subscriptions",
        status=422 if form.is_bound else 200,
    )


@reports_required
@require_POST
def subscription_pause(request: HttpRequest, pk: int) -> HttpResponse:
    s = _managed(request, pk)
    active = request.POST.get("active") == "1"
    try:
        subscriptions.subscription_set_active(
            actor=_user(request), subscription_id=s.pk, active=active, now=clock.now()
        )
    except Conflict:
        messages.error(request, _("It cannot be resumed: the subscriber no longer reads reports."))
    else:
        messages.success(request, _("Scheduled report resumed.") if active else _("Scheduled report paused."))
    return redirect("reports:subscriptions")


@reports_required
def subscription_delete(request: HttpRequest, pk: int) -> HttpResponse:
    s = _managed(request, pk)
    if request.method == "POST":
        subscriptions.subscription_delete(actor=_user(request), subscription_id=s.pk, now=clock.now())
        messages.success(request, _("Scheduled report deleted."))
        return redirect("reports:subscriptions")
    return render_report(
        request,
        "reports/subscription_delete.html",
        {"row": _row(subscriptions.Listed(s, None, "", ""))},
        tab="reports:subscriptions",
    )


@reports_required
@require_POST
def subscription_send(request: HttpRequest, pk: int) -> HttpResponse:
    s = _managed(request, pk)
    user = _user(request)
    try:
        subscriptions.subscription_send_preview(actor=user, subscription_id=s.pk, now=clock.now())
    except Conflict:
        messages.error(request, _("It cannot be sent: the subscriber no longer reads reports."))
    else:
        messages.success(request, _("A preview is on its way to %(email)s.") % {"email": user.email})
    return redirect("reports:subscriptions")


@csrf_exempt  # the signed link is the only credential (a mail client may POST it, RFC 8058)
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """The mail's one-click link: GET asks to confirm, POST unsubscribes. No sign-in: the
    signed link is the permission."""
    try:
        s = subscriptions.subscription_for_token(token)
    except NotFound:
        return render(request, "reports/unsubscribe.html", {"gone": True}, status=404)
    if request.method == "POST":
        try:
            subscriptions.subscription_unsubscribe(token=token, now=clock.now())
        except NotFound:
            return render(request, "reports/unsubscribe.html", {"gone": True}, status=404)
        return render(request, "reports/unsubscribe.html", {"done": True})
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET", "POST"])
    return render(request, "reports/unsubscribe.html", {"row": _row(subscriptions.Listed(s, None, "", ""))})

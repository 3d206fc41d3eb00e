"""The agent UI: the queue, the ticket page and its two forms. Server-rendered; HTMX requests
get the template partial they need. Views parse input, fetch with an access check, call one
service and present the result; domain errors become inline messages (`web.errors`)."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget

from sportello.accounts import signin
from sportello.accounts.models import Department, Role, User
from sportello.core import clock
from sportello.core.actors import Via
from sportello.core.errors import DomainError, NotFound, ValidationFailed
from sportello.core.paging import SortKey, paginate
from sportello.tickets import permissions, selectors, services
from sportello.tickets.models import UNRESOLVED_CATEGORIES, AuthorKind, CustomField, Message, Ticket

from .errors import attach_error, client_address, throttled_message
from .forms import ASSIGNEE_ME, ASSIGNEE_NONE, LoginForm, QueueFilterForm, ReplyForm, TicketPropertiesForm
from .timeline import changes

PAGE_SIZE = 25
# The queue's order: most urgent first, then oldest first.
QUEUE_KEYS = [SortKey("priority", descending=True), SortKey("created_at", kind="datetime"), SortKey("id")]

View = Callable[..., HttpResponse]


def agent_required(view: View) -> View:
    """Signed-in agents only; HTMX requests from an expired session reload into the login page.
    Dates are shown in the agent's own time zone."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            if request.htmx:
                back = request.htmx.current_url_abs_path or reverse("web:home")
                return HttpResponseClientRedirect(redirect_to_login(back).url)
            return redirect_to_login(request.get_full_path())
        try:
            timezone.activate(zoneinfo.ZoneInfo(request.user.time_zone))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            timezone.activate(zoneinfo.ZoneInfo("UTC"))
        try:
            return view(request, *args, **kwargs)
        finally:
            timezone.deactivate()

    return wrapper


class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        """The form has parsed the credentials; they are checked here, throttled per account and
        per client address (`accounts.signin`). Signing in switches the interface to the agent's
        own language, unless they already picked one in this browser."""
        try:
            user = signin.signin_authenticate(
                request=self.request,
                email=form.cleaned_data["username"],
                password=form.cleaned_data["password"],
                address=client_address(self.request),
                now=clock.now(),
            )
        except signin.SignInThrottled as exc:
            form.add_error(None, throttled_message(exc.retry_after))
            response = self.form_invalid(form)
            response.status_code = 429
            response["Retry-After"] = str(exc.retry_after)
            return response
        if user is None:
            form.add_error(None, form.error_messages["invalid_login"])
            return self.form_invalid(form)
        form.user_cache = user
        response = super().form_valid(form)
        language = form.get_user().language
        if settings.LANGUAGE_COOKIE_NAME not in self.request.COOKIES and language in dict(settings.LANGUAGES):
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                language,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                samesite="Lax",
                secure=self.request.is_secure(),
            )
        return response


login_view = LoginView.as_view()
logout_view = auth_views.LogoutView.as_view(next_page=reverse_lazy("web:login"))


# --------------------------------------------------------------------------------------------
# The queue


def _departments_of(user: User) -> list[Department]:
    qs = Department.objects.filter(is_active=True)
    if user.role != Role.ADMIN:
        qs = qs.filter(agents=user)
    return list(qs.order_by("name"))


def _queue(user: User, filters: dict[str, Any]) -> QuerySet[Ticket]:
    assignee = filters.get("assignee")
    category = filters.get("category")
    department = filters.get("department")
    query = selectors.TicketQuery(
        categories=(category,) if category else tuple(UNRESOLVED_CATEGORIES),
        department_id=int(department) if department else None,
        assignee_id=user.pk if assignee == ASSIGNEE_ME else None,
        unassigned=assignee == ASSIGNEE_NONE,
        tag=filters.get("tag") or None,
    )
    return selectors.ticket_query(principal=user, query=query).select_related(
        "department", "assignee", "requester", "organization"
    )


@agent_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    now = clock.now()
    user: User = request.user  # type: ignore[assignment]
    form = QueueFilterForm(request.GET, departments=_departments_of(user))
    form.is_valid()  # invalid filters are shown with their error and left out
    cursor = request.GET.get("cursor") or None
    qs = _queue(user, form.cleaned_data)
    try:
        tickets, next_cursor = paginate(qs, keys=QUEUE_KEYS, cursor=cursor, limit=PAGE_SIZE)
    except ValidationFailed:
        cursor = None
        tickets, next_cursor = paginate(qs, keys=QUEUE_KEYS, cursor=None, limit=PAGE_SIZE)
    more_url = None
    if next_cursor:
        params = request.GET.copy()
        params["cursor"] = next_cursor
        more_url = f"{reverse('web:home')}?{params.urlencode()}"
    context = {"form": form, "tickets": tickets, "more_url": more_url, "now": now}
    template = "web/home.html"
    if request.htmx and not request.htmx.history_restore_request:
        template = "web/home.html#rows" if cursor else "web/home.html#queue"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


# --------------------------------------------------------------------------------------------
# The ticket page


def _ticket_for(request: HttpRequest, ticket_id: int) -> Ticket:
    try:
        return selectors.ticket_get_for(principal=request.user, ticket_id=ticket_id)  # type: ignore[arg-type]
    except NotFound:
        raise Http404 from None


def _custom_fields(ticket: Ticket) -> list[tuple[str, str]]:
    values = ticket.custom_fields or {}
    if not values:
        return []
    rows = []
    for field in CustomField.objects.filter(key__in=values.keys()):
        value = values[field.key]
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        elif isinstance(value, bool):
            value = "✓" if value else "✗"
        rows.append((field.label, "" if value is None else str(value)))
    return rows


def _conversation(user: User, ticket: Ticket) -> list[Message]:
    """The messages, each agent reply with how its e-mail fared (`delivery`, or None)."""
    from sportello.channels.services import delivery_states

    messages = list(selectors.message_list(principal=user, ticket=ticket))
    states = delivery_states([m.pk for m in messages if m.public and m.author_kind == AuthorKind.AGENT])
    for m in messages:
        m.delivery = states.get(m.pk)  # type: ignore[attr-defined]
    return messages


def _ticket_context(
    request: HttpRequest,
    ticket: Ticket,
    *,
    now: datetime,
    reply_form: ReplyForm | None = None,
    properties_form: TicketPropertiesForm | None = None,
) -> dict[str, Any]:
    user: User = request.user  # type: ignore[assignment]
    may_edit = permissions.can_edit_fields(user)
    return {
        "ticket": ticket,
        "now": now,
        "may_edit": may_edit,
        "conversation": _conversation(user, ticket),
        "changes": changes(selectors.event_list(principal=user, ticket=ticket)),
        "custom_fields": _custom_fields(ticket),
        # The layout's fields agents must fill before solving, still empty (mail cannot fill them).
        "fields_to_fill": [r.field.label for r in selectors.ticket_fields_to_fill(ticket=ticket)],
        "tags": [t.name for t in ticket.tags.all()],
        "reply_form": reply_form or ReplyForm(may_reply_publicly=may_edit),
        "properties_form": properties_form or (TicketPropertiesForm(ticket=ticket) if may_edit else None),
    }


@agent_required
@require_GET
def ticket_detail(request: HttpRequest, ticket_id: int) -> HttpResponse:
    now = clock.now()
    ticket = _ticket_for(request, ticket_id)
    return render(request, "web/ticket.html", _ticket_context(request, ticket, now=now))


def _changed(request: HttpRequest, ticket_id: int, *, now: datetime) -> HttpResponse:
    """After a successful change: HTMX gets the refreshed ticket, a plain form post a redirect."""
    if not request.htmx:
        return redirect("web:ticket", ticket_id=ticket_id)
    ticket = _ticket_for(request, ticket_id)
    return render(request, "web/ticket.html#ticket", _ticket_context(request, ticket, now=now))


def _refused(
    request: HttpRequest, ticket: Ticket, *, now: datetime, partial: str, status: int, **forms: Any
) -> HttpResponse:
    """A refused change: the form again, with its errors inline, in place of the form."""
    context = _ticket_context(request, ticket, now=now, **forms)
    if not request.htmx:
        return render(request, "web/ticket.html", context, status=status)
    response = render(request, f"web/ticket.html#{partial}", context, status=status)
    return reswap(retarget(response, f"#{partial.replace('_', '-')}"), "outerHTML")


@agent_required
@require_POST
def ticket_reply(request: HttpRequest, ticket_id: int) -> HttpResponse:
    now = clock.now()
    ticket = _ticket_for(request, ticket_id)
    user: User = request.user  # type: ignore[assignment]
    form = ReplyForm(request.POST, may_reply_publicly=permissions.can_edit_fields(user))
    status = 422
    if form.is_valid():
        try:
            services.message_add(
                principal=user,
                ticket_id=ticket.pk,
                via=Via.WEB,
                body=form.cleaned_data["body"],
                body_html="",
                public=form.public,
                attachment_ids=[],
                version=None,
                now=now,
            )
        except DomainError as exc:
            status = attach_error(form, exc)
        else:
            return _changed(request, ticket.pk, now=now)
    return _refused(request, ticket, now=now, partial="reply_form", status=status, reply_form=form)


@agent_required
@require_POST
def ticket_properties(request: HttpRequest, ticket_id: int) -> HttpResponse:
    now = clock.now()
    ticket = _ticket_for(request, ticket_id)
    form = TicketPropertiesForm(request.POST, ticket=ticket)
    status = 422
    if form.is_valid():
        try:
            services.ticket_update(
                principal=request.user,  # type: ignore[arg-type]
                ticket_id=ticket.pk,
                via=Via.WEB,
                data=form.changes(),
                now=now,
            )
        except DomainError as exc:
            status = attach_error(form, exc)
        else:
            return _changed(request, ticket.pk, now=now)
    return _refused(request, ticket, now=now, partial="properties_form", status=status, properties_form=form)

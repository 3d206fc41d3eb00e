"""The agent UI: the queue, the ticket page and its two forms. Server-rendered; HTMX requests
get the template partial they need. Views parse input, fetch with an access check, call one
service and present the result; domain errors become inline messages (`web.errors`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse, reverse_lazy
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from sportello.accounts import signin
from sportello.accounts.models import Department, Role, User
from sportello.core import clock
from sportello.core.errors import ValidationFailed
from sportello.core.paging import SortKey, paginate
from sportello.tickets import selectors
from sportello.tickets.models import UNRESOLVED_CATEGORIES, Ticket

from .errors import client_address, throttled_message
from .forms import ASSIGNEE_ME, ASSIGNEE_NONE, LoginForm, QueueFilterForm
from .shell import agent_required

PAGE_SIZE = 25
# The queue's order: most urgent first, then oldest first.
QUEUE_KEYS = [SortKey("priority", descending=True), SortKey("created_at", kind="datetime"), SortKey("id")]


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

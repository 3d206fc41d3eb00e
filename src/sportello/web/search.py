"""The Desk's search: the top-bar box submits here. A ticket number jumps to the ticket; words
give a page of results with highlighted snippets, filters in the URL and numbered pages.

Permissions are the API's (`tickets.search`): the same scope (`selectors.ticket_scope`), and
internal notes searched for agents only. Snippets arrive escaped with `<mark>` around matches;
they are cleaned once more here so nothing but the marks can ever reach the page."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

import nh3
from django import forms
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from sportello.accounts.models import Department, Role, User
from sportello.core import clock
from sportello.core.errors import ValidationFailed
from sportello.core.forms import choice_field
from sportello.tickets import search as ticket_search
from sportello.tickets.models import StatusCategory, Ticket
from sportello.tickets.selectors import ticket_scope

from .labels import category_label
from .shell import agent_required

PAGE_SIZE = 20
PAGES_MAX = ticket_search.OFFSET_MAX // PAGE_SIZE + 1
ASSIGNEE_ME, ASSIGNEE_NONE = "me", "none"
PERIOD_RANGE = "range"
PERIOD_DAYS = {"7": 7, "30": 30, "365": 365}
_NUMBER = re.compile(r"#?\s*(\d{1,18})")


class SearchForm(forms.Form):
    """The query and its filters, all from the URL. Invalid filters are shown and left out."""

    q = forms.CharField(label=_("Search tickets"), required=False, max_length=ticket_search.QUERY_MAX_CHARS)
    department = forms.TypedChoiceField(label=_("Department"), required=False, coerce=int, empty_value=None)
    category = forms.ChoiceField(label=_("Status"), required=False)
    assignee = forms.ChoiceField(label=_("Assignee"), required=False)
    period = forms.ChoiceField(
        label=_("Created"),
        required=False,
        choices=[
            ("", _("Any time")),
            ("7", _("In the last 7 days")),
            ("30", _("In the last 30 days")),
            ("365", _("In the last year")),
            (PERIOD_RANGE, _("Between dates…")),
        ],
    )
    created_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    created_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    page = forms.IntegerField(required=False, min_value=1, max_value=PAGES_MAX, widget=forms.HiddenInput)

    def __init__(self, *args: Any, departments: list[Department], agents: list[User], **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        choice_field(self, "department").choices = [("", _("All my departments"))] + [
            (d.pk, d.name) for d in departments
        ]
        choice_field(self, "category").choices = [("", _("Any status"))] + [
            (c.value, category_label(c.value)) for c in StatusCategory
        ]
        choice_field(self, "assignee").choices = [
            ("", _("Anyone")),
            (ASSIGNEE_ME, _("Me")),
            (ASSIGNEE_NONE, _("Unassigned")),
        ] + [(str(a.pk), a.name) for a in agents]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("created_from"), data.get("created_to")
        if data.get("period") == PERIOD_RANGE and start and end and end < start:
            self.add_error("created_to", _("The end date is before the start date."))
        return data

    def value(self, name: str) -> Any:
        """A filter's clean value; None when it is missing or invalid."""
        return self.cleaned_data.get(name) if hasattr(self, "cleaned_data") else None


def _departments_of(user: User) -> list[Department]:
    qs = Department.objects.filter(is_active=True)
    if user.role != Role.ADMIN:
        qs = qs.filter(agents=user)
    return list(qs.order_by("name"))


def _assignable_agents(user: User, departments: list[Department]) -> list[User]:
    qs = User.objects.filter(is_active=True).exclude(role=Role.LIGHT_AGENT)
    if user.role != Role.ADMIN:
        qs = qs.filter(Q(role=Role.ADMIN) | Q(departments__in=departments)).distinct()
    return list(qs.order_by("name", "id"))


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def _period(form: SearchForm, now: datetime) -> tuple[datetime | None, datetime | None]:
    """The creation period as [from, before) instants; days are the agent's own."""
    period = form.value("period")
    if period in PERIOD_DAYS:
        return now - timedelta(days=PERIOD_DAYS[period]), None
    if period == PERIOD_RANGE and "created_to" not in form.errors:
        start, end = form.value("created_from"), form.value("created_to")
        return (
            _start_of(start) if start else None,
            _start_of(end + timedelta(days=1)) if end else None,
        )
    return None, None


def _ticket_by_number(user: User, q: str) -> int | None:
    match = _NUMBER.fullmatch(q.strip())
    if match is None:
        return None
    return (
        Ticket.objects.filter(ticket_scope(principal=user), number=int(match.group(1)))
        .values_list("pk", flat=True)
        .first()
    )


def _page_url(params: dict[str, Any], page: int) -> str:
    kept = {k: v for k, v in params.items() if v not in (None, "") and k != "page"}
    if page > 1:
        kept["page"] = page
    return "?" + urlencode(kept)


def _safe_snippet(snippet: str) -> str:
    return nh3.clean(snippet, tags={"mark"}, attributes={})


@agent_required
@require_GET
def search(request: HttpRequest) -> HttpResponse:
    now = clock.now()
    user: User = request.user  # type: ignore[assignment]
    departments = _departments_of(user)
    form = SearchForm(request.GET, departments=departments, agents=_assignable_agents(user, departments))
    form.is_valid()  # invalid filters are shown with their error and left out
    q = (form.value("q") or "").strip()
    page = form.value("page") or 1
    context: dict[str, Any] = {
        "form": form,
        "q": q,
        "typed": request.GET.get("q", "")[: ticket_search.QUERY_MAX_CHARS * 2],  # shown back as typed
        "now": now,
        "page": page,
        "results": None,
    }
    if q and page == 1:
        ticket_id = _ticket_by_number(user, q)
        if ticket_id is not None:
            return redirect("web:ticket", ticket_id=ticket_id)
    if q and "q" not in form.errors:
        assignee = form.value("assignee") or ""
        created_from, created_before = _period(form, now)
        category = form.value("category")
        try:
            results = ticket_search.ticket_search_results(
                principal=user,
                q=q,
                categories=[category] if category else None,
                department_id=form.value("department"),
                assignee_id=user.pk
                if assignee == ASSIGNEE_ME
                else (int(assignee) if assignee.isdigit() else None),
                unassigned=assignee == ASSIGNEE_NONE,
                created_from=created_from,
                created_before=created_before,
                limit=PAGE_SIZE,
                offset=(page - 1) * PAGE_SIZE,
            )
        except ValidationFailed:
            form.add_error("q", _("Give at least one word to search for (a word with letters or digits)."))
        else:
            params = {name: request.GET.get(name, "") for name in form.fields}
            first = (page - 1) * PAGE_SIZE + 1
            context.update(
                results=results,
                rows=[(hit.ticket, _safe_snippet(hit.snippet)) for hit in results.hits],
                first=first,
                last=first + len(results.hits) - 1,
                previous_url=_page_url(params, page - 1) if page > 1 else None,
                next_url=_page_url(params, page + 1) if results.next_offset is not None else None,
                filtered=any(form.value(name) for name in ("department", "category", "assignee", "period")),
                clear_url=_page_url({"q": q}, 1),
            )
    return render(request, "web/search.html", context)

"""Reading surveys: a ticket's satisfaction for rules, the survey of a ticket for the Desk and the
portal, a contact's past ratings, and the satisfaction metrics (CSAT, CES, NPS) by group."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import (
    Avg,
    Case,
    CharField,
    Count,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from sportello.accounts import structure
from sportello.accounts.models import Role, User
from sportello.core.errors import NotFound, PermissionDenied, ValidationFailed
from sportello.tickets.models import Ticket

from .models import Satisfaction, Survey, SurveyState

MEMO_KEY = "surveys.rating"  # services.MEMO_KEY
STORED_KEY = "surveys.stored"  # + the ticket's id: its stored satisfaction, read once per change


def ticket_satisfaction(ticket: Ticket, memo: dict[str, Any] | None = None) -> tuple[str, int | None, bool]:
    """The `ticket.satisfaction`, `ticket.satisfaction_score` and `event.rated` facts: the
    rating this change records (`memo`), else the stored one (one query, kept in the change's
    `memo`: the rules' facts are built again after each action that changes the ticket, and no
    action changes the survey). `satisfaction_expressions` is the same in SQL."""
    if memo is not None and MEMO_KEY in memo:
        label, score = memo[MEMO_KEY]
        return label, score, True
    if ticket.pk is None:
        return Satisfaction.UNOFFERED.value, None, False
    stored_key = f"{STORED_KEY}.{ticket.pk}"
    if memo is not None and stored_key in memo:
        return memo[stored_key]  # type: ignore[no-any-return]
    row = Survey.objects.filter(ticket_id=ticket.pk).values_list("state", "satisfaction", "rating").first()
    found: tuple[str, int | None, bool]
    if row is None or row[0] == SurveyState.PENDING:
        found = (Satisfaction.UNOFFERED.value, None, False)
    elif row[0] == SurveyState.OFFERED:
        found = (Satisfaction.OFFERED.value, None, False)
    else:
        found = (row[1], row[2], False)
    if memo is not None:
        memo[stored_key] = found
    return found


def satisfaction_expressions() -> tuple[Any, Any]:
    """`ticket_satisfaction` in SQL (`automation.facts.satisfaction_sql`): the expressions of
    `ticket.satisfaction` and `ticket.satisfaction_score` over the outer query's ticket
    (`OuterRef("pk")`), each a scalar subquery on the ticket's one survey (its unique
    `ticket_id`). No survey, or one waiting to be sent: "unoffered" and NULL; offered: "offered"
    and NULL; answered: the stored satisfaction and rating."""
    survey = Survey.objects.filter(ticket_id=OuterRef("pk"))
    label = survey.annotate(
        fact=Case(
            When(state=SurveyState.PENDING, then=Value(Satisfaction.UNOFFERED.value)),
            When(state=SurveyState.OFFERED, then=Value(Satisfaction.OFFERED.value)),
            default=F("satisfaction"),
            output_field=CharField(),
        )
    ).values("fact")[:1]
    score = survey.exclude(state__in=[SurveyState.PENDING, SurveyState.OFFERED]).values("rating")[:1]
    return (
        Coalesce(Subquery(label), Value(Satisfaction.UNOFFERED.value), output_field=CharField()),
        Subquery(score, output_field=IntegerField()),
    )


def survey_of_ticket(*, ticket_id: int) -> Survey | None:
    """A ticket's survey (the caller checked the ticket's access)."""
    return Survey.objects.filter(ticket_id=ticket_id).first()


def survey_for_contact(*, contact_id: int, number: int) -> Survey:
    """The offered survey of the contact's ticket `number`; NotFound otherwise (missing, someone
    else's, not offered)."""
    found = (
        Survey.objects.select_related("ticket")
        .filter(ticket__number=number, ticket__requester_id=contact_id)
        .exclude(state=SurveyState.PENDING)
        .first()
    )
    if found is None or ("portal" not in (found.channels or []) and not found.emailed):
        raise NotFound("survey not found")
    return found


def contact_ratings(*, user: User, contact_id: int, limit: int = 20) -> list[Survey]:
    """A contact's answered surveys with their tickets, newest answer first, `limit` at most, in
    one query: those of the departments `user` may see (admins: all; as `panel_ratings`)."""
    qs = Survey.objects.select_related("ticket").filter(
        ticket__requester_id=contact_id, answered_at__isnull=False
    )
    if user.role != Role.ADMIN:
        qs = qs.filter(department_id__in=list(structure.departments_of(user.pk)))
    return list(qs.order_by("-answered_at", "-id")[:limit])


# --------------------------------------------------------------------------------------------
# Metrics

GROUPS = {"department": "department_id", "agent": "agent_id", "tier": "tier"}


@dataclass(frozen=True, slots=True)
class SatisfactionRow:
    group: Any  # a department or agent id, a tier name; None: no agent / no tier
    offered: int
    responses: int
    response_rate: float | None  # % of offered that were answered
    csat: float | None  # % good of answered
    ces: float | None  # average, 1..7
    nps: float | None  # % promoters minus % detractors of the NPS answers
    nps_responses: int


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def satisfaction_metrics(
    *, user: User, group_by: str, since: datetime | None, until: datetime | None
) -> list[SatisfactionRow]:
    """CSAT, CES and NPS of the surveys offered in [since, until), by department, agent or tier;
    admins see every department, agents theirs (light agents: none)."""
    column = GROUPS.get(group_by)
    if column is None:
        raise ValidationFailed("must be department, agent or tier", field="group_by")
    if user.role == Role.LIGHT_AGENT:
        raise PermissionDenied("light agents do not read metrics")
    qs = Survey.objects.filter(offered_at__isnull=False)
    if user.role != Role.ADMIN:
        qs = qs.filter(department_id__in=list(structure.departments_of(user.pk)))
    if since is not None:
        qs = qs.filter(offered_at__gte=since)
    if until is not None:
        qs = qs.filter(offered_at__lt=until)
    answered = Q(answered_at__isnull=False)
    rows = (
        qs.values(column)
        .annotate(
            offered=Count("id"),
            responses=Count("id", filter=answered),
            good=Count("id", filter=answered & Q(satisfaction=Satisfaction.GOOD)),
            ces_avg=Avg("ces", filter=Q(ces__isnull=False)),
            nps_n=Count("id", filter=Q(nps__isnull=False)),
            promoters=Count("id", filter=Q(nps__gte=9)),
            detractors=Count("id", filter=Q(nps__lte=6)),
        )
        .order_by(column)
    )
    out = []
    for r in rows:
        nps = None
        if r["nps_n"]:
            nps = round(100.0 * (r["promoters"] - r["detractors"]) / r["nps_n"], 1)
        out.append(
            SatisfactionRow(
                group=r[column] if r[column] != "" else None,
                offered=r["offered"],
                responses=r["responses"],
                response_rate=_pct(r["responses"], r["offered"]),
                csat=_pct(r["good"], r["responses"]),
                ces=round(float(r["ces_avg"]), 2) if r["ces_avg"] is not None else None,
                nps=nps,
                nps_responses=r["nps_n"],
            )
        )
    return out


def portal_prompt(*, contact_id: int, ticket_id: int, now: datetime) -> dict[str, Any] | None:
    """What `surveys/_portal_prompt.html` shows on the contact's ticket page (`survey_prompt`):
    None when the ticket has no survey offered to them in the portal."""
    from . import links

    survey = Survey.objects.filter(ticket_id=ticket_id, ticket__requester_id=contact_id).first()
    if survey is None or survey.state == SurveyState.PENDING or "portal" not in (survey.channels or []):
        return None
    labels = links.rating_labels(survey.scale)
    return {
        "answered": survey.answered_at is not None,
        "open": links.is_open(survey, now),
        "label": labels.get(survey.rating or 0, ""),
        "comment": survey.comment,
        "url": links.survey_url(survey),
        "choices": [{"label": label, "url": links.rate_url(survey, v)} for v, label in labels.items()],
    }


@dataclass(frozen=True, slots=True)
class PanelRatings:
    """The customer panel's satisfaction: this ticket's survey, the requester's past ratings."""

    current: Survey | None
    past: list[Survey]


def panel_ratings(*, ticket: Ticket, user: User, limit: int = 5) -> PanelRatings:
    """This ticket's survey and the requester's latest answered surveys on other tickets this
    user may see (their departments; admins all), in one query."""
    scope = Q(ticket__requester_id=ticket.requester_id, answered_at__isnull=False)
    if user.role != Role.ADMIN:
        scope &= Q(department_id__in=list(structure.departments_of(user.pk)))
    rows = list(
        Survey.objects.select_related("ticket")
        .filter(Q(ticket_id=ticket.pk) | scope)
        .order_by("-answered_at", "-id")[: limit + 1]
    )
    current = next((s for s in rows if s.ticket_id == ticket.pk), None)
    past = [s for s in rows if s.ticket_id != ticket.pk][:limit]
    return PanelRatings(current=current, past=past)

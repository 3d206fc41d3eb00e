"""Satisfaction surveys: armed when a ticket is solved, sent by a timer, answered by the customer.

Arming (`survey_on_change`, the pipeline's `saved` phase, `surveys.extension`): a ticket that
enters the solved category in a department whose policy is on — not a ticket merged away, not one
tagged `spam` — gets its `Survey` row (the attribution of this solve: agent, team, department,
tier, blueprint state) and a `send` timer at solve + the policy's delay. Leaving the solved
category for an unresolved one before the timer fires disarms it; solving again re-arms it (and
refreshes the attribution). A ticket has one survey, sent at most once and reminded at most
once (`SurveyFiring` is unique per ticket and step): once offered, a reopened and re-solved
ticket is not surveyed again — the survey already offered stays answerable within its window.

Sending (the `survey` timer kind, `core.timers`): the timer re-checks that the ticket is still
solved (or closed, not merged, not spam) and that the department's policy is still on, then
offers the survey: the answer window starts, the e-mail (`survey_request`, in the requester's
language, with one signed link per rating) is written to the outbox when the policy's channels
include e-mail and the requester has an address, and the reminder is armed when the policy asks
for one. The reminder (`survey_reminder`) is sent only while the survey is unanswered and open.

Answering (`survey_answer`): one answer per ticket, changeable within the window (the last one
counts). An answer that changes nothing writes nothing (a link clicked twice). Every answer or
change is a `rating` event of the ticket, made by the customer through the pipeline, so event
rules see it (`ticket.satisfaction`, `ticket.satisfaction_score`, `event.rated`); on a closed
ticket it is recorded as an event beside the ticket (no rule runs on closed tickets).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.utils import translation

from sportello.core import config
from sportello.core import timers as mechanism
from sportello.core.actors import Actor, ActorKind, Via
from sportello.core.errors import Conflict, ValidationFailed
from sportello.core.text import clean_text
from sportello.core.timers import Round, TimerKind, register_timer_kind
from sportello.notifications.rendering import render_notification, template_language
from sportello.outbox import services as outbox
from sportello.tickets.change import NewRecord
from sportello.tickets.locks import ticket_lock
from sportello.tickets.models import EventKind, StatusCategory, Ticket

from .links import is_open, rate_url, rating_labels, survey_url
from .models import (
    Satisfaction,
    Scale,
    Survey,
    SurveyChannel,
    SurveyFiring,
    SurveyPolicy,
    SurveyState,
    SurveyStep,
    SurveyTimer,
)

if TYPE_CHECKING:
    from sportello.tickets.context import Context

SPAM_TAG = "spam"
MEMO_KEY = "surveys.rating"  # the rating a change records, for the rules of that change
COMMENT_MAX = 5_000
SCALE_VALUES = {Scale.GOOD_BAD: (1, 2), Scale.FIVE: (1, 2, 3, 4, 5)}
CES_RANGE = range(1, 8)
NPS_RANGE = range(0, 11)
RESOLVED = (StatusCategory.SOLVED, StatusCategory.CLOSED)


def satisfaction_of(scale: str, rating: int) -> str:
    """good / bad / neutral: good_bad is 2 good, 1 bad; five is 4 to 5 good, 3 neutral, 1 to 2 bad."""
    if scale == Scale.GOOD_BAD:
        return Satisfaction.GOOD if rating == 2 else Satisfaction.BAD
    if rating >= 4:
        return Satisfaction.GOOD
    return Satisfaction.NEUTRAL if rating == 3 else Satisfaction.BAD


# --------------------------------------------------------------------------------------------
# Policies in force (cached per process, rebuilt when a policy is saved: `core.config.watch`)


def active_policies(memo: dict[str, Any] | None = None) -> dict[int, SurveyPolicy]:
    """The enabled policies by department id."""

    def build() -> dict[int, SurveyPolicy]:
        return {p.department_id: p for p in SurveyPolicy.objects.filter(enabled=True)}

    return config.config_cached("survey_policies", build, memo, signature="survey_policies")


# --------------------------------------------------------------------------------------------
# Arming, from the pipeline


def survey_on_change(ctx: Context) -> None:
    """A change of a ticket's status category: arm or disarm its survey (see the module doc)."""
    ticket = ctx.ticket
    before = ctx.before.get("status_category")
    after = ticket.status_category
    if before == after:
        return
    if after == StatusCategory.SOLVED:
        _solved(ctx)
    elif before == StatusCategory.SOLVED and after != StatusCategory.CLOSED:
        SurveyTimer.objects.filter(ticket_id=ticket.pk, step=SurveyStep.SEND).delete()
    if after == StatusCategory.CLOSED and ticket.merged_into_id is not None:
        SurveyTimer.objects.filter(ticket_id=ticket.pk).delete()


def _solved(ctx: Context) -> None:
    ticket = ctx.ticket
    if ticket.merged_into_id is not None or SPAM_TAG in ctx.tags:
        return
    policy = active_policies(ctx.memo).get(ticket.department_id)
    if policy is None:
        return
    survey = None if ctx.created else Survey.objects.filter(ticket_id=ticket.pk).first()
    if survey is not None and survey.state != SurveyState.PENDING:
        return  # offered already: one survey per ticket
    values = {
        "scale": policy.scale,
        "ask_ces": policy.ask_ces,
        "ask_nps": policy.ask_nps,
        "channels": list(policy.channels),
        "solved_at": ctx.now,
        "department_id": ticket.department_id,
        "agent_id": ticket.assignee_id,
        "team_id": ticket.team_id,
        "tier": _tier(ticket),
        "blueprint_state": _blueprint_state(ticket),
    }
    if survey is None:
        Survey.objects.create(ticket=ticket, **values)
    else:
        Survey.objects.filter(pk=survey.pk).update(**values)
    due = ctx.now + timedelta(minutes=policy.delay_minutes)
    mechanism.arm(
        SURVEY_TIMERS,
        scope={"ticket_id": ticket.pk, "step": SurveyStep.SEND},
        wanted=[SurveyTimer(ticket=ticket, step=SurveyStep.SEND, due_at=due)],
        new=ctx.created,
    )


def _tier(ticket: Ticket) -> str:
    from sportello.sla.models import TicketTier

    return TicketTier.objects.filter(ticket_id=ticket.pk).values_list("tier", flat=True).first() or ""


def _blueprint_state(ticket: Ticket) -> str:
    try:
        run = ticket.blueprint_run  # read with the locked ticket
    except ObjectDoesNotExist:
        return ""
    return run.state if run is not None else ""


# --------------------------------------------------------------------------------------------
# Sending, from the timer


def _fire(timer: SurveyTimer, rnd: Round) -> str:
    if rnd.already_fired(timer):
        rnd.drop(timer)
        return "already_fired"
    survey = (
        Survey.objects.select_for_update()
        .select_related("ticket__requester", "ticket__department", "ticket__status")
        .filter(ticket_id=timer.ticket_id)
        .first()
    )
    ticket = survey.ticket if survey is not None else None
    if (
        survey is None
        or ticket is None
        or ticket.status_category not in RESOLVED
        or ticket.merged_into_id is not None
    ):
        rnd.drop(timer)  # reopened or merged meanwhile: a later solve arms it again
        return "stale"
    firing = rnd.record(
        timer, SurveyFiring(ticket_id=timer.ticket_id, step=timer.step, fired_at=rnd.now, outcome="pending")
    )
    if timer.step == SurveyStep.SEND:
        firing.outcome = _send(survey, now=rnd.now, memo=rnd.memo)
    else:
        firing.outcome = _remind(survey, now=rnd.now)
    return firing.outcome


def _send(survey: Survey, *, now: datetime, memo: dict[str, Any]) -> str:
    ticket = survey.ticket
    if ticket.tags.filter(name=SPAM_TAG).exists():
        return "skipped: spam"
    policy = active_policies(memo).get(ticket.department_id)
    if policy is None:
        return "skipped: the department's policy is off"
    channels = list(policy.channels)
    email = SurveyChannel.EMAIL in channels and bool(ticket.requester.email)
    if not email and SurveyChannel.PORTAL not in channels:
        return "skipped: the requester has no e-mail address"
    survey.scale, survey.ask_ces, survey.ask_nps, survey.channels = (
        policy.scale,
        policy.ask_ces,
        policy.ask_nps,
        channels,
    )
    survey.state = SurveyState.OFFERED
    survey.offered_at = now
    survey.expires_at = now + timedelta(days=policy.window_days)
    survey.emailed = email
    survey.save()
    if email:
        _mail(survey, key="survey_request", now=now)
        if policy.reminder_hours:
            mechanism.arm(
                SURVEY_TIMERS,
                scope={"ticket_id": ticket.pk, "step": SurveyStep.REMIND},
                wanted=[
                    SurveyTimer(
                        ticket=ticket,
                        step=SurveyStep.REMIND,
                        due_at=now + timedelta(hours=policy.reminder_hours),
                    )
                ],
            )
    return "sent" if email else "offered in the portal"


def _remind(survey: Survey, *, now: datetime) -> str:
    if survey.answered_at is not None:
        return "skipped: answered"
    if not is_open(survey, now):
        return "skipped: closed"
    if not survey.ticket.requester.email:
        return "skipped: the requester has no e-mail address"
    survey.reminded_at = now
    survey.save(update_fields=["reminded_at"])
    _mail(survey, key="survey_reminder", now=now)
    return "sent"


def _mail(survey: Survey, *, key: str, now: datetime) -> None:
    ticket = survey.ticket
    requester = ticket.requester
    language = template_language(key=key, preferred=requester.language) or "en"
    with translation.override(language):
        labels = rating_labels(survey.scale)
    choices = [{"label": label, "url": rate_url(survey, value)} for value, label in labels.items()]
    extra = {"links": {"survey": survey_url(survey)}, "survey": {"choices": choices}}
    rendered = render_notification(
        key=key, ticket=ticket, language=language, extra=extra, now=now, for_customer=True
    )
    outbox.outbox_add(
        kind="email",
        ticket=ticket,
        change_id=uuid.uuid4(),
        dedupe_key=f"survey:{key}:{survey.pk}",
        payload={
            "to": [requester.email],
            "subject": rendered.subject,
            "body": rendered.text,
            **({"html": rendered.html} if rendered.html else {}),
            "language": rendered.language,
            "ticket_number": ticket.number,
            "template": key,
        },
        now=now,
    )


def survey_fire_due(*, now: datetime, limit: int = mechanism.ROUND_MAX) -> list[str]:
    """Send the surveys and reminders due at `now` (`core.timers`)."""
    return mechanism.fire_due(SURVEY_TIMERS, now=now, limit=limit)


def survey_poll(now: datetime) -> datetime | None:
    return mechanism.poll(SURVEY_TIMERS, now)


SURVEY_TIMERS = TimerKind(
    name="survey",
    model=SurveyTimer,
    fire=lambda timer, rnd: _fire(timer, rnd),
    key=("ticket_id", "step"),
    firing=SurveyFiring,
    lock=Ticket,
    describe=lambda t: f"satisfaction survey: {t.step} on ticket {t.ticket_id}",
)


def register() -> None:
    from sportello.automation import facts
    from sportello.core.worker import register_poller

    from . import history  # noqa: F401  (the policies' history)
    from .selectors import satisfaction_expressions, ticket_satisfaction

    config.watch("survey_policies", SurveyPolicy)
    register_timer_kind(SURVEY_TIMERS)
    register_poller("surveys", survey_poll)
    facts.satisfaction_of = ticket_satisfaction
    facts.satisfaction_sql = satisfaction_expressions


# --------------------------------------------------------------------------------------------
# Answering


@dataclass(frozen=True, slots=True)
class Answer:
    rating: int
    comment: str = ""
    ces: int | None = None
    nps: int | None = None


def _check_answer(survey: Survey, answer: Answer) -> Answer:
    allowed = SCALE_VALUES[Scale(survey.scale)]
    if isinstance(answer.rating, bool) or answer.rating not in allowed:
        raise ValidationFailed(f"must be one of {', '.join(map(str, allowed))}", field="rating")
    comment = clean_text(answer.comment or "", field="comment", max_length=COMMENT_MAX).strip()
    ces, nps = answer.ces, answer.nps
    if ces is not None and (not survey.ask_ces or isinstance(ces, bool) or ces not in CES_RANGE):
        raise ValidationFailed("must be a whole number from 1 to 7", field="ces")
    if nps is not None and (not survey.ask_nps or isinstance(nps, bool) or nps not in NPS_RANGE):
        raise ValidationFailed("must be a whole number from 0 to 10", field="nps")
    return Answer(rating=answer.rating, comment=comment, ces=ces, nps=nps)


def _answer_data(s: Survey) -> dict[str, Any]:
    return {
        "rating": s.rating,
        "scale": s.scale,
        "satisfaction": s.satisfaction,
        "comment": s.comment,
        "ces": s.ces,
        "nps": s.nps,
    }


def survey_answer(
    *,
    survey: Survey,
    rating: int,
    comment: str = "",
    ces: int | None = None,
    nps: int | None = None,
    via: Via = Via.PORTAL,
    now: datetime,
) -> tuple[Survey, bool]:
    """Record the customer's answer (the last one counts): (the survey, whether it changed).
    Conflict when the survey is not open (not offered yet, or its window ended); nothing is
    written then, nor when the answer is the one already recorded."""
    from sportello.tickets import pipeline

    with transaction.atomic():
        ticket = ticket_lock(ticket_id=survey.ticket_id, related=("requester",))  # the change's lock first
        row = Survey.objects.select_for_update().get(pk=survey.pk)
        if not is_open(row, now):
            raise Conflict("this survey is closed", code="survey_closed")
        answer = _check_answer(row, Answer(rating=rating, comment=comment, ces=ces, nps=nps))
        if row.answered_at is not None and (row.rating, row.comment, row.ces, row.nps) == (
            answer.rating,
            answer.comment,
            answer.ces,
            answer.nps,
        ):
            return row, False
        old = _answer_data(row) if row.answered_at is not None else None
        row.rating, row.comment, row.ces, row.nps = answer.rating, answer.comment, answer.ces, answer.nps
        row.satisfaction = satisfaction_of(row.scale, answer.rating)
        row.state = SurveyState.ANSWERED
        row.answered_at = now
        row.answered_via = str(via)
        row.answers += 1
        row.save()
        new = _answer_data(row)
        field = "changed" if old is not None else "answered"
        requester = ticket.requester
        actor = Actor(
            kind=ActorKind.CONTACT, id=requester.pk, label=str(requester)[:200], principal=requester
        )
        if ticket.status_category == StatusCategory.CLOSED:
            mutation = pipeline.Mutation(
                actor=actor,
                via=via,
                cause="survey",
                records=(NewRecord(kind=EventKind.RATING, field=field, new=new, old=old),),
                authorised=True,
            )
        else:

            def record(ctx: Context) -> None:
                ctx.memo[MEMO_KEY] = (row.satisfaction, row.rating)
                ctx.record(EventKind.RATING, field, new=new, old=old)

            mutation = pipeline.Mutation(actor=actor, via=via, cause="survey", automation=record)
        pipeline.ticket_apply(ticket_id=row.ticket_id, mutation=mutation, now=now)
    return row, True

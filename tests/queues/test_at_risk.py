""" "At risk and breached": the unresolved tickets whose SLA needs someone now — a clock breached
(met late or still running), or a running clock due within the hour — with clocks moved by the
pipeline and breaches stamped by the worker's timers, as on a live desk. A solved ticket's breach
is history (the reports keep it), not work: it leaves the view when solved and comes back when
the customer reopens it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from sportello.core.actors import Actor, ActorKind, Via
from sportello.queues import selectors
from sportello.sla import timers
from sportello.sla.models import TicketSla
from sportello.sla.services import policy_save
from sportello.tickets import pipeline
from sportello.tickets.models import Ticket
from sportello.tickets.pipeline import Mutation, NewMessage

TWO_HOURS = {
    "key": "everyone",
    "name": "Everyone",
    "position": 10,
    "when": {"all": []},
    "targets": {"first_response": {"normal": {"within": "2h"}}, "resolution": {"normal": {"within": "3d"}}},
}


@pytest.fixture
def policy(desk: Any, frozen_clock: datetime) -> None:
    policy_save(definition=TWO_HOURS, actor=desk.admin, now=frozen_clock - timedelta(days=1))


def _open(desk: Any, subject: str, at: datetime) -> Ticket:
    return pipeline.ticket_create(
        actor=Actor(ActorKind.CONTACT, desk.alice.pk, desk.alice.name),
        via=Via.EMAIL,
        subject=subject,
        requester_id=desk.alice.pk,
        department_id=desk.books.pk,
        description=NewMessage(body="Where is my parcel?"),
        now=at,
    ).ticket


def _change(ticket: Ticket, actor: Actor, at: datetime, **kw: Any) -> None:
    pipeline.ticket_apply(ticket_id=ticket.pk, mutation=Mutation(actor=actor, via=Via.WEB, **kw), now=at)


def _at_risk(user: Any, now: datetime) -> tuple[int, set[str]]:
    """The view's count in the sidebar, and the subjects its filter selects."""
    views = selectors.view_list_for(user=user)
    view = next(v for v in views if v.key == "sla-at-risk")
    ctx = selectors.view_context(user=user, now=now)
    count = selectors.view_counts(views=views, ctx=ctx)[view.pk]
    rows = Ticket.objects.filter(selectors.view_filter(view=view, ctx=ctx))
    return count, set(rows.values_list("subject", flat=True))


def test_breached_and_soon_due_unresolved_tickets_are_at_risk_solved_ones_are_not(
    desk: Any, browser: Any, policy: None, frozen_clock: datetime
) -> None:
    now = frozen_clock
    agent = Actor(ActorKind.AGENT, desk.agent.pk, desk.agent.name)
    customer = Actor(ActorKind.CONTACT, desk.alice.pk, desk.alice.name)
    browser(desk.agent).get("/")  # the shipped views exist from the first visit
    # given tickets whose first response is due 2 hours after they came in
    unanswered = _open(desk, "Unanswered for three hours", now - timedelta(hours=3))
    late = _open(desk, "Answered late", now - timedelta(hours=3))
    solved = _open(desk, "Solved late", now - timedelta(hours=3))
    _open(desk, "Due in 30 minutes", now - timedelta(minutes=90))
    _open(desk, "Due in 90 minutes", now - timedelta(minutes=30))
    answered = _open(desk, "Answered in time", now - timedelta(hours=1))
    # when the worker stamps the breaches that fell due, then agents act on some tickets
    assert {f.outcome for f in timers.sla_fire_due(now=now - timedelta(minutes=50))} == {"applied"}
    _change(late, agent, now - timedelta(minutes=40), message=NewMessage(body="Sorry, on it", public=True))
    _change(solved, agent, now - timedelta(minutes=30), fields={"status": "solved"})
    _change(answered, agent, now - timedelta(minutes=20), message=NewMessage(body="Here it is", public=True))
    # then the breached unresolved tickets (met late or not) and the one due within the hour are
    # at risk; the solved one's breach is history; the answered and the later one are not
    expected = {"Unanswered for three hours", "Answered late", "Due in 30 minutes"}
    assert _at_risk(desk.agent, now) == (3, expected)
    rows = {r.ticket.subject: r for r in TicketSla.objects.select_related("ticket")}
    assert {s for s, r in rows.items() if r.breached} == {
        "Unanswered for three hours",
        "Answered late",
        "Solved late",
    }
    assert [s for s, r in rows.items() if not r.unresolved] == ["Solved late"]
    # when the customer writes back to the solved ticket, it reopens and is at risk again
    _change(solved, customer, now, message=NewMessage(body="It still has not come"))
    assert TicketSla.objects.get(ticket=solved).unresolved is True
    assert _at_risk(desk.agent, now) == (4, expected | {"Solved late"})
    # and half an hour on, the one due in 90 minutes is within the hour too
    assert _at_risk(desk.agent, now + timedelta(minutes=31))[1] == expected | {
        "Solved late",
        "Due in 90 minutes",
    }
    # while an agent of another department counts none of them
    browser(desk.outsider).get("/")
    assert _at_risk(desk.outsider, now)[0] == 0
    assert TicketSla.objects.get(ticket=unanswered).unresolved is True

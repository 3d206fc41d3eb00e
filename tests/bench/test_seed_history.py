"""The bench seeder's ticket histories (bench/seed.py) against the real pipeline and worker: the
same conversation, made through `pipeline.ticket_create` / `ticket_apply` with the worker firing
the SLA warnings and breaches at their instants, leaves the anchors, the SLA clocks and the timers
that the seeder computes and COPYs."""

from __future__ import annotations

import importlib.util
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sportello.accounts.models import User
from sportello.contacts.services import contact_update
from sportello.core.actors import Actor, ActorKind, Via
from sportello.demo.service_levels import SHOP_HOURS, STANDARD, VIP
from sportello.notifications.services import template_save
from sportello.outbox.models import OutboxMessage, OutboxStatus
from sportello.outbox.services import outbox_deliver
from sportello.sla import timers
from sportello.sla.calendars import calendar_save
from sportello.sla.models import SlaFiring, SlaTimer, TicketSla
from sportello.sla.services import policy_save
from sportello.tickets import pipeline
from sportello.tickets.audit import opening_value
from sportello.tickets.models import Message, Status, Ticket, TicketEvent
from sportello.tickets.pipeline import Mutation, NewMessage
from testing import recorded


def _load_seeder() -> Any:
    path = Path(__file__).resolve().parents[2] / "bench" / "seed.py"
    spec = importlib.util.spec_from_file_location("bench_seed", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_seed"] = module
    spec.loader.exec_module(module)
    return module


seed = _load_seeder()
Posted, Step = seed.Posted, seed.Step

MON = datetime(2026, 11, 30, tzinfo=UTC)  # Monday; the shop's hours are 08-12 and 13-17 UTC


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return MON + timedelta(days=day, hours=hour, minutes=minute)


@pytest.fixture
def service_levels(desk: Any) -> None:
    """The demo desk's calendar and SLA policies; Alice belongs to Acme, a VIP organization."""
    calendar_save(definition=SHOP_HOURS, is_default=True, actor=desk.admin, now=MON)
    for definition in (VIP, STANDARD):
        policy_save(definition=definition, actor=desk.admin, now=MON)
    contact_update(contact=desk.alice, actor=desk.admin, organization=desk.acme)


def through_pipeline(desk: Any, contact: Any, steps: list[Any], *, priority: str, now: datetime) -> Ticket:
    """Each step as one change through the pipeline at its instant; between them and up to `now`
    the worker fires the SLA warnings and breaches due (escalations are left armed: their
    actions are what the seeder does not replay)."""
    customer = Actor(ActorKind.CONTACT, contact.pk, contact.name)
    actors = {
        "contact": customer,
        "agent": Actor(ActorKind.AGENT, desk.agent.pk, desk.agent.name),
        "system": Actor(ActorKind.SYSTEM, None, "auto-close"),
    }
    first, *rest = steps
    ticket = pipeline.ticket_create(
        actor=customer,
        via=Via.EMAIL,
        subject="The parcel never came",
        requester_id=contact.pk,
        department_id=desk.books.pk,
        description=NewMessage(body="Where is it?"),
        fields={"priority": priority},
        now=first.at,
    ).ticket
    for step in rest:
        fire_due(ticket, before=step.at)
        fields: dict[str, Any] = {}
        if step.status is not None:
            fields["status"] = step.status
        if step.assignee is not None:
            fields["assignee"] = step.assignee
        message = None
        if step.message is not None:
            message = NewMessage(body=f"A {step.message} at {step.at:%H:%M}", public=step.message != "note")
        actor = actors[step.actor]
        via = Via.EMAIL if step.actor == "contact" else Via.SYSTEM if step.actor == "system" else Via.WEB
        pipeline.ticket_apply(
            ticket_id=ticket.pk,
            mutation=Mutation(actor=actor, via=via, fields=fields, message=message),
            now=step.at,
        )
    fire_due(ticket, before=now, inclusive=True)
    return Ticket.objects.get(pk=ticket.pk)


def fire_due(ticket: Ticket, *, before: datetime, inclusive: bool = False) -> None:
    while True:
        due = SlaTimer.objects.filter(ticket=ticket).exclude(key__contains=":escalation:")
        due = due.filter(due_at__lte=before) if inclusive else due.filter(due_at__lt=before)
        timer = due.order_by("due_at", "id").first()
        if timer is None:
            return
        fired = timers.sla_fire(timer_id=timer.pk, now=timer.due_at)
        assert fired is not None
        assert fired.outcome in ("applied", "stale")


def seeded(ticket: Ticket, steps: list[Any], *, now: datetime) -> Any:
    """What the seeder computes for the same steps and ticket."""
    contact, org = ticket.requester, ticket.organization
    categories = dict(Status.objects.values_list("key", "category"))
    sla = seed.sla_desk_load()
    facts = seed.ticket_facts(
        ticket={f: getattr(ticket, f) for f in ("number", "subject", "priority", "channel", "department_id",
                                                "team_id", "requester_id", "organization_id", "custom_fields",
                                                "created_at")},
        requester=(contact.email, contact.name, contact.vip, contact.language),
        organization=(org.name, org.tier, org.vip) if org is not None else None,
        tags=list(ticket.tags.values_list("name", flat=True)),
        specs=sla.specs,
    )  # fmt: skip
    return seed.replay(
        steps,
        priority=seed.PRIORITY_NAME[ticket.priority],
        categories=categories,
        facts=facts,
        sla=sla,
        now=now,
    )


def assert_same(ticket: Ticket, history: Any, *, now: datetime) -> None:
    # The anchors, instants and counters the pipeline kept.
    assert {a: getattr(ticket, a) for a in seed.ANCHORS} == history.anchors
    assert (ticket.first_response_at, ticket.solved_at, ticket.closed_at) == (
        history.first_response_at, history.solved_at, history.closed_at)  # fmt: skip
    assert (ticket.message_count, ticket.customer_message_count, ticket.agent_reply_count) == (
        history.message_count, history.customer_message_count, history.agent_reply_count)  # fmt: skip
    # Each firing was a change of its own (a version, `updated_at`): what the seeder leaves out.
    firings = list(SlaFiring.objects.filter(ticket=ticket).order_by("fired_at"))
    assert ticket.version == history.version + len(firings)
    assert ticket.updated_at == max([history.updated_at, *(f.fired_at for f in firings)])
    # The clocks, as stored.
    row = TicketSla.objects.get(ticket=ticket)
    clocks = history.clocks
    assert (row.policy_id, row.policy_version, row.next_breach_at, row.breached) == (
        clocks.policy_id, clocks.policy_version, clocks.next_breach_at, clocks.breached)  # fmt: skip
    assert row.updated_at == clocks.updated_at
    assert row.state == clocks.state
    # Armed: the timers due after now. Due before: fired (or, for escalations, left armed here).
    armed = set(SlaTimer.objects.filter(ticket=ticket).values_list("key", "due_at"))
    assert {(k, due) for k, due in armed if due > now} == set(clocks.timers)
    fired = {(f.key, f.due_at) for f in firings}
    assert set(clocks.fired) <= fired | {(k, due) for k, due in armed if due <= now}
    assert {(k, due) for k, due in armed if due <= now} <= set(clocks.fired)


def test_a_late_first_reply_breaches_then_the_reply_that_asks_sets_pending(
    desk: Any, service_levels: None
) -> None:
    # Given Bob's normal ticket on Monday 08:30, answered on Tuesday 09:00 (8 business hours
    # are over at 08:30), a follow-up, and the agent's reply that asks him something
    messages = [Posted(at(0, 8, 30), "contact"), Posted(at(1, 9), "reply"), Posted(at(1, 12), "contact"),
                Posted(at(1, 15), "reply")]  # fmt: skip
    steps = seed.ticket_steps(
        created=at(0, 8, 30), messages=messages, status="pending", category="pending",
        assignee=desk.agent.pk, solved_at=None, closed_at=None, updated_at=at(1, 15),
    )  # fmt: skip
    assert steps == [
        Step(at(0, 8, 30), "contact", "contact", status="new"),
        Step(at(1, 9), "agent", "reply", status="open", assignee=desk.agent.pk),
        Step(at(1, 12), "contact", "contact"),
        Step(at(1, 15), "agent", "reply", status="pending"),
    ]
    now = at(4, 12)
    # When it happens through the pipeline, the worker firing the warning and the breach
    ticket = through_pipeline(desk, desk.bob, steps, priority="normal", now=now)
    # Then the seeder's history is the pipeline's
    history = seeded(ticket, steps, now=now)
    assert_same(ticket, history, now=now)
    assert (history.clocks.breached, history.clocks.next_breach_at) == (True, None)  # paused while pending
    assert SlaFiring.objects.filter(ticket=ticket).count() == 2  # the first response's warning and breach


def test_an_unanswered_vip_ticket_breaches_its_first_response_and_keeps_its_resolution_timers(
    desk: Any, service_levels: None
) -> None:
    # Given Alice's urgent ticket at 10:00, and only an internal note at 12:00
    steps = seed.ticket_steps(
        created=at(0, 10), messages=[Posted(at(0, 10), "contact"), Posted(at(0, 12), "note")], status="new",
        category="new", assignee=None, solved_at=None, closed_at=None, updated_at=at(0, 12),
    )  # fmt: skip
    now = at(0, 13)
    ticket = through_pipeline(desk, desk.alice, steps, priority="urgent", now=now)
    history = seeded(ticket, steps, now=now)
    assert_same(ticket, history, now=now)
    # Then the first response (1 hour) breached at 11:00, stamped by its timer (the note moved no
    # clock); the resolution (a day, 24 business hours) runs on until Thursday 10:00
    assert history.clocks.updated_at == at(0, 11)
    assert history.clocks.next_breach_at == at(3, 10)
    assert sorted(k for k, _ in history.clocks.timers) == [
        "resolution:1:breach:0", "resolution:1:escalation:0", "resolution:1:warning:0"]  # fmt: skip
    assert ("first_response:1:escalation:0", at(0, 11)) in history.clocks.fired


def test_a_closed_ticket_has_its_clocks_fulfilled_and_no_timer(desk: Any, service_levels: None) -> None:
    messages = [Posted(at(0, 9), "contact"), Posted(at(0, 10), "reply"), Posted(at(0, 14), "contact"),
                Posted(at(0, 15), "reply"), Posted(at(0, 15), "note")]  # fmt: skip
    steps = seed.ticket_steps(
        created=at(0, 9), messages=messages, status="closed", category="closed", assignee=desk.agent.pk,
        solved_at=at(1, 9), closed_at=at(5, 9), updated_at=at(5, 9),
    )  # fmt: skip
    assert [s.status for s in steps[-2:]] == ["solved", "closed"]
    now = at(7, 12)
    ticket = through_pipeline(desk, desk.bob, steps, priority="high", now=now)
    history = seeded(ticket, steps, now=now)
    assert_same(ticket, history, now=now)
    assert (history.clocks.timers, history.clocks.fired, history.clocks.next_breach_at) == ((), (), None)
    assert {c["status"] for c in history.clocks.state["clocks"]} == {"fulfilled"}


def test_a_vip_waits_past_the_next_response_then_the_ticket_is_put_on_hold(
    desk: Any, service_levels: None
) -> None:
    # Alice's follow-up at 09:00 starts a next response of 4 hours; the agent puts the ticket on
    # hold at 14:00 without answering
    messages = [Posted(at(2, 8), "contact"), Posted(at(2, 8, 20), "reply"), Posted(at(2, 9), "contact")]
    steps = seed.ticket_steps(
        created=at(2, 8), messages=messages, status="on_hold", category="on_hold", assignee=desk.agent.pk,
        solved_at=None, closed_at=None, updated_at=at(2, 14),
    )  # fmt: skip
    assert steps[-1] == Step(at(2, 14), "agent", status="on_hold")
    now = at(3, 9)
    ticket = through_pipeline(desk, desk.alice, steps, priority="normal", now=now)
    history = seeded(ticket, steps, now=now)
    assert_same(ticket, history, now=now)
    breached = [c for c in history.clocks.state["clocks"] if c["breached_at"] is not None]
    assert [(c["metric"], c["breached_at"], c["status"]) for c in breached] == [
        ("next_response", "2026-12-02T13:00:00Z", "paused")]  # fmt: skip
    assert history.clocks.updated_at == at(2, 14)


def test_an_open_ticket_breaches_its_resolution_after_the_last_change(
    desk: Any, service_levels: None
) -> None:
    messages = [Posted(at(0, 8), "contact"), Posted(at(0, 9), "reply"), Posted(at(0, 10), "contact")]
    steps = seed.ticket_steps(
        created=at(0, 8), messages=messages, status="open", category="open", assignee=desk.agent.pk,
        solved_at=None, closed_at=None, updated_at=at(0, 10),
    )  # fmt: skip
    now = at(21, 12)
    ticket = through_pipeline(desk, desk.bob, steps, priority="normal", now=now)
    history = seeded(ticket, steps, now=now)
    assert_same(ticket, history, now=now)
    # 5 days (120 business hours) from Monday 08:00: Friday 17:00 two weeks later
    assert (history.clocks.breached, history.clocks.updated_at) == (True, at(18, 17))
    assert history.clocks.timers == ()


def test_a_seeded_opening_carries_the_values_the_pipeline_records(desk: Any) -> None:
    # Given Bob's ticket opened by e-mail through the pipeline
    steps = [Step(at(0, 9), "contact", "contact", status="new")]
    ticket = through_pipeline(desk, desk.bob, steps, priority="high", now=at(0, 9))
    opening = TicketEvent.objects.get(ticket=ticket, kind="created")
    message = Message.objects.get(ticket=ticket)
    # When the seeder writes the same opening
    values = seed.opening_values(
        subject=ticket.subject, status="new", categories=dict(Status.objects.values_list("key", "category")),
        priority="high", channel=ticket.channel, department=desk.books.pk, team=None, requester=desk.bob.pk,
        organization=None, custom={}, tags=[],
    )  # fmt: skip
    # Then its values and message are the pipeline's
    seeded = opening_value(number=ticket.number, values=values, message_id=message.pk, author_kind="contact")
    assert seeded["values"] == recorded(opening)["values"]
    assert seeded == opening.new_value


def test_a_seeded_reply_e_mail_is_the_row_the_pipeline_queues_and_the_worker_sends(desk: Any) -> None:
    # Given a template for agents' replies that reads what the pipeline's context gives (all but
    # the SLA clock, which the seeder leaves out), and an agent with a signature
    template_save(
        key="agent_reply", language="en",
        subject="[#{{ ticket.number }}] {{ ticket.subject }} - {{ ticket.status_name }}",
        body_text=(
            "{{ message.body }}\n-- {{ agent.name }}: {{ agent.signature }}\n"
            "{{ ticket.status }} {{ ticket.priority }} {{ ticket.priority_name }} {{ ticket.department }} "
            "{{ ticket.created_at }} {{ ticket.url }}\n"
            "{{ requester.name }} {{ requester.email }} {{ requester.language }}\n"
            "{{ department.name }} {{ department.email }} {{ links.ticket }} {{ links.agent_ticket }}\n"
        ),
        actor=desk.admin, now=MON,
    )  # fmt: skip
    User.objects.filter(pk=desk.agent.pk).update(signature="Bruno, at the book desk")
    # and Bob's ticket answered, followed up and answered again with "Send and set Pending"
    messages = [Posted(at(0, 9), "contact"), Posted(at(0, 10), "reply"), Posted(at(0, 11), "contact"),
                Posted(at(0, 12), "note"), Posted(at(0, 13), "reply")]  # fmt: skip
    steps = seed.ticket_steps(
        created=at(0, 9), messages=messages, status="pending", category="pending", assignee=desk.agent.pk,
        solved_at=None, closed_at=None, updated_at=at(0, 13),
    )  # fmt: skip
    ticket = through_pipeline(desk, desk.bob, steps, priority="high", now=at(0, 13))
    # When the worker sends each reply's e-mail a few seconds after it was written
    queued = OutboxMessage.objects.filter(ticket=ticket, kind="email").order_by("id")
    assert [item.dedupe_key.split(":")[0] for item in queued] == ["reply", "reply"]
    for item in queued:
        assert outbox_deliver(outbox_id=item.pk, now=item.created_at + seed.SENT_AFTER) == OutboxStatus.SENT

    # Then the seeder writes the same rows, given the same ticket and replies, each with the
    # status its history gives it (open, then pending)
    mail = seed.mail_desk_load()
    requester = ticket.requester
    seeded_ticket = seed.mail_ticket(
        mail, ticket_id=ticket.pk, number=ticket.number, subject=ticket.subject, priority=ticket.priority,
        department=ticket.department_id, assignee=ticket.assignee_id, custom=ticket.custom_fields,
        requester=(requester.pk, requester.email, requester.name, requester.language, requester.time_zone),
        created=ticket.created_at,
    )  # fmt: skip
    posted = iter(Message.objects.filter(ticket=ticket).order_by("created_at", "id"))
    columns = [c.strip() for c in seed.OUTBOX_COLS.split(",")]
    status = ""
    seen = []
    for step in steps:
        status = step.status or status
        message = next(posted) if step.message is not None else None
        if step.message != "reply":
            continue
        assert message is not None
        row = dict(zip(columns, seed.reply_mail(
            mail, seeded_ticket, status=status, message_id=message.pk, body_text=message.body_text,
            body_html=message.body_html, agent_id=message.author_agent_id, at=message.created_at,
            change_id=message.change_id,
        ), strict=True))  # fmt: skip
        row["payload"] = json.loads(row["payload"])
        written: dict[str, Any] = dict(OutboxMessage.objects.values().get(dedupe_key=f"reply:{message.pk}"))
        assert row["delivery_id"].version == 4
        assert {c: row[c] for c in columns if c != "delivery_id"} == {
            c: written[c] for c in columns if c != "delivery_id"
        }
        # the columns it leaves to their defaults are empty on the row the worker left
        assert {c: v for c, v in written.items() if c not in columns} == {
            "id": written["id"], "lease_until": None, "window_start": None, "parked_at": None
        }  # fmt: skip
        seen.append((status, row["payload"]["subject"]))
    assert seen == [("open", f"[#{ticket.number}] The parcel never came - Open"),
                    ("pending", f"[#{ticket.number}] The parcel never came - Pending")]  # fmt: skip

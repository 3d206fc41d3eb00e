"""`sportello demo`: a believable desk, loaded through the real services and pipeline."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from testing import built_once

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def _load() -> str:
    from sportello.core import clock

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(clock, "now", lambda: NOW)
        out = StringIO()
        call_command("demo", tickets=60, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture(scope="module")
def _demo(
    django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The demo desk, loaded once for the module (about a minute): each test sees it exactly as
    loaded (`testing.built_once`)."""
    with built_once(django_db_blocker, files=tmp_path_factory.mktemp("demo"), build=_load) as output:
        yield output


@pytest.fixture
def demo(_demo: str, db: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """The demo desk, at the moment it was loaded; what `sportello demo` printed."""
    from sportello.core import clock

    monkeypatch.setattr(clock, "now", lambda: NOW)
    return _demo


def test_demo_builds_departments_agents_of_every_role_and_customers_in_three_languages_once(
    demo: str,
) -> None:
    from sportello.accounts.models import Department, Role, Team, User
    from sportello.contacts.models import Contact, Organization
    from sportello.tickets.models import LayoutField, Ticket

    # then six departments, each with an e-mail address and teams
    departments = {d.name: d for d in Department.objects.all()}
    assert set(departments) == {
        "Returns",
        "Exchanges",
        "Billing",
        "Technical Support",
        "Books",
        "Electronics",
    }
    assert all(d.email.endswith("@shop.example") for d in departments.values())
    assert Team.objects.filter(department=departments["Technical Support"], name="Replacements").exists()
    assert all(d.teams.exists() for d in departments.values())
    # and agents of every role, light agents included
    roles = {role: User.objects.filter(role=role).count() for role in Role.values}
    assert roles[Role.ADMIN] in (1, 2)
    assert roles[Role.LIGHT_AGENT] == 2
    assert roles[Role.AGENT] >= 8
    assert all(d.agents.filter(role=Role.AGENT).exists() for d in departments.values())
    # and customers in English, Spanish and Italian, some VIP, many in organizations
    assert Contact.objects.count() == 150
    assert set(Contact.objects.values_list("language", flat=True)) == {"en", "es", "it"}
    assert Contact.objects.filter(vip=True).exists()
    assert Contact.objects.filter(organization__isnull=False).count() > 50
    assert Organization.objects.filter(vip=True).exists()
    # and a layout where Books and Electronics allow different subcategories
    books = LayoutField.objects.get(department=departments["Books"], field__key="subcategory")
    electronics = LayoutField.objects.get(department=departments["Electronics"], field__key="subcategory")
    assert books.allowed_values is not None
    assert "novels" in books.allowed_values
    assert electronics.allowed_values is not None
    assert "novels" not in electronics.allowed_values
    # which agents must fill before solving (the demo's solved tickets all have one)
    assert (books.required, electronics.required) == ("to_solve", "to_solve")
    for ticket in Ticket.objects.filter(
        department__in=[departments["Books"], departments["Electronics"]],
        status_category__in=["solved", "closed"],
    ):
        assert ticket.custom_fields.get("subcategory"), ticket.pk
    # when it runs again, then it says so and adds nothing
    out = StringIO()
    call_command("demo", tickets=60, stdout=out, stderr=StringIO())
    assert "already loaded" in out.getvalue()
    assert Ticket.objects.count() == 60
    assert Department.objects.count() == 6


def test_demo_tickets_have_conversations_and_an_audit_trail(demo: str) -> None:
    from django.tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    from sportello.outbox.models import OutboxMessage, OutboxStatus
    from sportello.tickets.models import Message, StatusCategory, Ticket, TicketEvent

    tickets = list(Ticket.objects.all())
    assert len(tickets) == 60
    assert sorted(t.number for t in tickets) == list(range(1, 61))
    # no ticket without a requester, a first message or a "created" event
    assert not Ticket.objects.filter(requester__isnull=True).exists()
    assert not Ticket.objects.filter(messages__isnull=True).exists()
    assert TicketEvent.objects.filter(kind="created").count() == 60
    for t in tickets:
        assert t.message_count == Message.objects.filter(ticket=t).count()
        assert NOW - timedelta(days=61) < t.created_at < NOW
    # conversations go back and forth, with internal notes, in the requester's language
    assert Message.objects.filter(author_kind="agent", public=True).count() > 60
    assert Message.objects.filter(author_kind="contact").count() > 60
    assert Message.objects.filter(public=False).exists()
    assert set(Ticket.objects.values_list("requester__language", flat=True)) == {"en", "es", "it"}
    assert Message.objects.filter(body_text__contains="Hola").exists()
    assert Message.objects.filter(body_text__contains="Ciao").exists()
    # statuses look like a real desk: most tickets done, some still being worked
    categories = set(Ticket.objects.values_list("status_category", flat=True))
    assert StatusCategory.CLOSED in categories
    assert len(categories) >= 3
    done = Ticket.objects.filter(status_category__in=["solved", "closed"]).count()
    assert done > 40
    # first responses come within hours
    answered = Ticket.objects.filter(first_response_at__isnull=False)
    assert answered.count() > 50
    assert all(
        t.first_response_at is not None and t.first_response_at - t.created_at < timedelta(hours=36)
        for t in answered
    )
    # the trail records who did what: customers, agents and the system's auto-close
    actors = set(TicketEvent.objects.values_list("actor_kind", flat=True))
    assert {"contact", "agent", "system"} <= actors
    assert TicketEvent.objects.filter(field="status", new_value="closed", actor_kind="system").exists()
    assert TicketEvent.objects.filter(kind="tags").exists()
    # replies in the past are history: nothing is left for the worker to send
    assert OutboxMessage.objects.exists()
    assert not OutboxMessage.objects.filter(status=OutboxStatus.PENDING).exists()
    assert not DBTaskResult.objects.filter(status=TaskResultStatus.READY).exists()


def test_the_demo_desk_comes_with_sample_automation_that_acts_from_now_on(demo: str) -> None:
    from sportello.accounts.models import Department, Team
    from sportello.automation.models import AssignmentPolicy, Macro, Rule
    from sportello.contacts.models import Contact
    from sportello.core.actors import Actor, ActorKind, Via
    from sportello.tickets import pipeline
    from sportello.tickets.models import TicketEvent
    from sportello.tickets.pipeline import NewMessage

    # then rules, a policy and macros are there; the time rule waits to be switched on
    assert "sample automation: 6 event rules" in demo
    active = dict(Rule.objects.values_list("key", "active"))
    assert active == {"acknowledge-email": True, "urgent-wording": True, "phone-heats-up": True,
                      "returns-round-robin": True, "notify-assignee": True, "notify-team": True,
                      "idle-team-reminder": False}  # fmt: skip
    assert AssignmentPolicy.objects.filter(key="returns-round-robin", active=True).exists()
    assert set(Macro.objects.values_list("key", flat=True)) == {
        "ask-order-number",
        "refund-approved",
        "reset-steps",
    }
    # and the history was not rewritten by them: no demo event is a rule's
    assert not TicketEvent.objects.filter(actor_kind="rule").exists()
    # when a customer writes to Returns now, the ticket goes round robin and the agent is told
    customer = Contact.objects.order_by("id").first()
    assert customer is not None

    def write(department: str, body: str) -> pipeline.Outcome:
        return pipeline.ticket_create(
            actor=Actor(ActorKind.CONTACT, customer.pk, customer.name),
            via=Via.EMAIL,
            subject="Help",
            requester_id=customer.pk,
            department_id=Department.objects.get(name=department).pk,
            description=NewMessage(body=body),
            now=NOW + timedelta(minutes=5),
        )

    out = write("Returns", "I need this sorted, it is URGENT please")
    assert out.ticket.assignee_id is not None
    assert (out.ticket.priority, sorted(out.tags)) == (3, ["urgent_wording"])
    causes = set(TicketEvent.objects.filter(change_id=out.change_id).values_list("cause", flat=True))
    assert {"rule:returns-round-robin@1", "rule:urgent-wording@1"} <= causes
    from sportello.outbox.models import OutboxMessage

    [mail] = OutboxMessage.objects.filter(change_id=out.change_id, payload__rule="notify-assignee@1")
    assert out.ticket.assignee is not None
    assert mail.payload["to"] == [out.ticket.assignee.email]
    # and the phone that heats up goes to Replacements
    out = write("Technical Support", "Since yesterday the phone heats up when charging")
    assert out.ticket.team_id == Team.objects.get(name="Replacements").pk
    assert OutboxMessage.objects.filter(change_id=out.change_id, payload__rule="notify-team@1").exists()


def test_the_demo_desk_comes_with_service_levels_that_apply_from_now_on(demo: str) -> None:
    from django.db.models import Q

    from sportello.accounts.models import Department, Role, Team, User
    from sportello.blueprints.models import TicketBlueprint
    from sportello.contacts.models import Contact
    from sportello.core.actors import Actor, ActorKind, Via
    from sportello.sla.models import BusinessCalendar, TicketSla
    from sportello.sla.tiers import ticket_escalate, ticket_tier
    from sportello.tickets import pipeline
    from sportello.tickets.models import Ticket
    from sportello.tickets.pipeline import NewMessage

    # then a default calendar with Italy's holidays, two policies, a tier path and a blueprint
    assert "service levels: 1 business calendar, 2 SLA policies, 1 tier path, 1 blueprint" in demo
    calendar = BusinessCalendar.objects.get(key="shop-hours")
    assert calendar.is_default
    # and the demo's history has no clocks: the policies apply from now on
    assert not TicketSla.objects.exists()
    support = Department.objects.get(name="Technical Support")
    when = NOW + timedelta(minutes=5)  # Monday 16:05 in Rome: the office is open until 18:00

    def write(customer: Contact, department: Department) -> Ticket:
        return pipeline.ticket_create(
            actor=Actor(ActorKind.CONTACT, customer.pk, customer.name),
            via=Via.EMAIL,
            subject="Help",
            requester_id=customer.pk,
            department_id=department.pk,
            description=NewMessage(body="My order never arrived."),
            now=when,
        ).ticket

    # when a VIP customer writes, the first answer is due within the hour, around the clock
    vip = Contact.objects.filter(vip=True).order_by("id").first()
    assert vip is not None
    clocks = TicketSla.objects.get(ticket=write(vip, support))
    assert clocks.policy is not None
    assert (clocks.policy.key, clocks.next_breach_at) == ("vip", when + timedelta(hours=1))
    # and anyone else's within 8 office hours (09-13, 14-18): 1h55m today, then 4h and 2h05m
    # tomorrow, so Tuesday at 16:05 in Rome
    regular = (
        Contact.objects.filter(vip=False)
        .filter(Q(organization__isnull=True) | Q(organization__vip=False))
        .order_by("id")
        .first()
    )
    assert regular is not None
    ticket = write(regular, support)
    clocks = TicketSla.objects.get(ticket=ticket)
    assert clocks.policy is not None
    assert (clocks.policy.key, clocks.next_breach_at) == ("standard", when + timedelta(hours=24))
    # and a Technical Support ticket starts at tier 1 (setup help) and escalates to replacements
    found = ticket_tier(ticket)
    assert found is not None
    assert found[1].key == "t1"
    agent = User.objects.filter(role=Role.AGENT, departments=support).order_by("id").first()
    assert agent is not None
    ticket_escalate(actor=agent, ticket_id=ticket.pk, reason="It needs a replacement", now=when)
    ticket.refresh_from_db()
    assert ticket.team_id == Team.objects.get(department=support, name="Replacements").pk
    # and a ticket tagged `rma` enters the warranty replacement process
    rma = pipeline.ticket_create(
        actor=Actor(ActorKind.AGENT, agent.pk, agent.name),
        via=Via.API,
        subject="Replacement for a faulty phone",
        requester_id=regular.pk,
        department_id=support.pk,
        description=NewMessage(body="The microphone does not work."),
        tags=("rma",),
        now=when,
    ).ticket
    run = TicketBlueprint.objects.get(ticket=rma)
    assert (run.blueprint.key, run.state, run.active) == ("warranty-replacement", "diagnosis", True)


def test_the_demo_desk_receives_mail_at_its_department_addresses_and_acknowledges_it(
    demo: str, attachment_store: Any
) -> None:
    from email.message import EmailMessage

    from sportello.channels.inbound import mail_ingest
    from sportello.channels.models import Mailbox
    from sportello.outbox.models import OutboxMessage
    from sportello.tickets.models import Ticket

    # then every department's address is a mailbox
    assert "6 mailboxes" in demo
    assert set(Mailbox.objects.values_list("address", flat=True)) == {
        "returns@shop.example", "exchanges@shop.example", "billing@shop.example",
        "support@shop.example", "books@shop.example", "electronics@shop.example",
    }  # fmt: skip
    # when a Spanish-speaking newcomer writes to Returns
    m = EmailMessage()
    m["From"] = "Lucía Pérez <lucia@correo.example>"
    m["To"] = "returns@shop.example"
    m["Subject"] = "Devolución"
    m["Message-ID"] = "<demo-1@correo.example>"
    m.set_content("Hola, quiero devolver un libro.")
    m["Content-Language"] = "es"  # after the content: set_content drops Content-* headers
    result = mail_ingest(raw=m.as_bytes(), via="mta", now=NOW + timedelta(minutes=5))
    # then a Returns ticket is opened and acknowledged with the shipped template
    assert result.ticket_id is not None
    ticket = Ticket.objects.get(pk=result.ticket_id)
    assert (ticket.department.name, ticket.channel) == ("Returns", "email")
    [ack] = OutboxMessage.objects.filter(ticket=ticket, payload__rule="acknowledge-email@1")
    assert ack.payload["to"] == ["lucia@correo.example"]
    # in her language, which the message declared
    assert ack.payload["subject"] == f"[#{ticket.number}] Hemos recibido su solicitud: Devolución"

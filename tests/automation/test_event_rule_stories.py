"""Event rules through the real pipeline: the stories of the automation issue, end to end."""

from __future__ import annotations

from typing import Any

import pytest

from sportello.accounts.models import Role
from sportello.accounts.services import agent_create, team_create
from sportello.automation.models import RuleKind, RuleTrace
from sportello.automation.services import rule_save
from sportello.core.actors import Actor, ActorKind, Via
from sportello.outbox.models import OutboxMessage
from sportello.tickets import pipeline
from sportello.tickets.models import CustomField, Message, TicketEvent
from sportello.tickets.pipeline import Mutation, NewMessage
from testing import recorded


def event_rule(desk: Any, now: Any, **definition: Any) -> Any:
    rule, _ = rule_save(kind=RuleKind.EVENT, definition=definition, created_by=desk.admin, now=now)
    return rule


def open_ticket(desk: Any, now: Any, *, subject: str, body: str, channel: str = "email", **kw: Any) -> Any:
    return pipeline.ticket_create(
        actor=Actor(ActorKind.CONTACT, desk.alice.pk, "Alice"),
        via=Via.EMAIL,
        subject=subject,
        requester_id=desk.alice.pk,
        department_id=desk.books.pk,
        description=NewMessage(body=body),
        fields={"channel": channel, **kw.pop("fields", {})},
        now=now,
        **kw,
    )


@pytest.fixture
def replacements(desk: Any) -> Any:
    return team_create(name="Replacements", department=desk.books, members=[desk.agent])


def test_phone_heats_up_gets_high_priority_and_the_replacements_team(
    desk: Any, now: Any, replacements: Any
) -> None:
    # given a rule on the body of the customer's message
    rule = event_rule(
        desk,
        now,
        key="overheating",
        name="Overheating phones",
        when={"all": [{"field": "message.body", "op": "contains", "value": "the phone heats up"}]},
        actions=[
            {"set": {"field": "ticket.priority", "value": "high"}},
            {"assign": {"team": replacements.pk}},
        ],
    )
    # when a customer writes it
    out = open_ticket(desk, now, subject="Hot phone", body="Since yesterday The phone heats up a lot.")
    # then the ticket is high priority and with the Replacements team
    ticket = out.ticket
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.team_id) == (3, replacements.pk)
    # and each change is recorded under the rule and its version, after the opening that
    # carries the priority the ticket opened with (the default)
    opening = TicketEvent.objects.get(ticket=ticket, kind="created")
    assert (opening.actor_kind, opening.actor_id, opening.via) == ("contact", desk.alice.pk, "email")
    assert recorded(opening)["values"]["priority"] == "normal"
    assert "team" not in recorded(opening)["values"]
    events = TicketEvent.objects.filter(ticket=ticket, kind="field", field__in=["priority", "team"])
    assert sorted(
        (e.field, e.actor_kind, e.actor_id, e.cause, e.via, e.old_value, e.new_value) for e in events
    ) == [
        ("priority", "rule", rule.pk, "rule:overheating@1", "rule", "normal", "high"),
        ("team", "rule", rule.pk, "rule:overheating@1", "rule", None, replacements.pk),
    ]
    # and the trace says why
    trace = RuleTrace.objects.get(change_id=out.change_id)
    assert [(r["rule"], r["pass"], r["outcome"]) for r in trace.trace["rules"]] == [
        ("overheating", 1, "fired")
    ]
    predicate = trace.trace["rules"][0]["predicates"][0]
    assert (predicate["field"], predicate["result"]) == ("message.body", True)


def test_routing_to_named_agents(desk: Any, now: Any) -> None:
    caterina = agent_create(
        email="caterina@desk.test", name="Caterina", role=Role.AGENT, departments=[desk.books]
    )
    miriam = agent_create(email="miriam@desk.test", name="Miriam", role=Role.AGENT, departments=[desk.books])
    adebayo = agent_create(
        email="adebayo@desk.test", name="Adebayo", role=Role.AGENT, departments=[desk.books]
    )
    from sportello.tickets.fields_services import LayoutRowSpec, custom_field_create, layout_replace

    custom_field_create(actor=desk.admin, key="product_code", label="Product code", type="text")
    layout_replace(actor=desk.admin, department=desk.books, rows=[LayoutRowSpec(field="product_code")])
    event_rule(
        desk,
        now,
        key="chat",
        name="Chat to Caterina",
        position=1,
        when={"field": "ticket.channel", "op": "is", "value": "chat"},
        actions=[{"assign": {"agent": caterina.pk}}],
    )
    event_rule(
        desk,
        now,
        key="xt372",
        name="XT372 to Miriam",
        position=2,
        when={"field": "ticket.custom.product_code", "op": "is", "value": "XT372"},
        actions=[{"assign": {"agent": miriam.pk}}],
    )
    event_rule(
        desk,
        now,
        key="refund",
        name="Refunds to Adebayo",
        position=3,
        when={"field": "ticket.subject", "op": "contains", "value": "refund"},
        actions=[{"assign": {"agent": adebayo.pk}}],
    )

    chat = open_ticket(desk, now, subject="Hello", body="hi", channel="chat").ticket
    product = open_ticket(
        desk, now, subject="Broken", body="x", custom_fields={"product_code": "XT372"}
    ).ticket
    refund = open_ticket(desk, now, subject="Refund please", body="x").ticket
    other = open_ticket(desk, now, subject="Question", body="x").ticket
    assert [chat.assignee_id, product.assignee_id, refund.assignee_id, other.assignee_id] == [
        caterina.pk,
        miriam.pk,
        adebayo.pk,
        None,
    ]


def test_a_ticket_assigned_to_a_team_notifies_the_team(desk: Any, now: Any) -> None:
    event_rule(
        desk,
        now,
        key="team-assigned",
        name="Tell the team",
        when={"field": "ticket.team", "op": "changed"},
        actions=[
            {
                "notify": {
                    "to": ["team"],
                    "subject": "Ticket #{{ ticket.number }} is yours",
                    "body": "{{ ticket.subject }} was assigned to your team: {{ links.agent_ticket }}",
                }
            }
        ],
    )
    ticket = open_ticket(desk, now, subject="Lost parcel", body="x").ticket
    assert not OutboxMessage.objects.filter(ticket=ticket, kind="email").exists()
    pipeline.ticket_apply(
        ticket_id=ticket.pk,
        mutation=Mutation(
            actor=Actor(ActorKind.AGENT, desk.agent.pk, "Bruno"), via=Via.API, fields={"team": desk.team.pk}
        ),
        now=now,
    )
    (mail,) = OutboxMessage.objects.filter(ticket=ticket, kind="email")
    assert mail.payload["to"] == ["bruno@desk.test"]
    assert mail.payload["subject"] == f"Ticket #{ticket.number} is yours"
    assert (
        mail.payload["body"]
        == f"Lost parcel was assigned to your team: http://127.0.0.1:8000/tickets/{ticket.pk}/"
    )


def test_a_failing_action_rolls_back_its_rule_and_is_traced(desk: Any, now: Any) -> None:
    # given a rule that sets the priority, then assigns an agent of another department
    event_rule(
        desk,
        now,
        key="bad",
        name="Bad",
        when={"field": "ticket.subject", "op": "present"},
        actions=[
            {"set": {"field": "ticket.priority", "value": "urgent"}},
            {"assign": {"agent": desk.outsider.pk}},
            {"note": {"body": "never written"}},
        ],
    )
    out = open_ticket(desk, now, subject="Hi", body="x")
    ticket = out.ticket
    ticket.refresh_from_db()
    # then nothing of the rule stays, and the ticket is still created
    assert (ticket.priority, ticket.assignee_id) == (2, None)
    assert not Message.objects.filter(ticket=ticket, public=False).exists()
    trace = RuleTrace.objects.get(change_id=out.change_id).trace
    assert trace["errored"] == ["bad"], trace
    assert [a["outcome"] for a in trace["rules"][0]["actions"]] == ["changed", "error", "skipped"]


def test_rules_see_each_other_and_notes_are_written(desk: Any, now: Any) -> None:
    event_rule(
        desk,
        now,
        key="a-urgent",
        name="Urgent VIP",
        position=1,
        when={"field": "organization.vip", "op": "is", "value": True},
        actions=[{"set": {"field": "ticket.priority", "value": "urgent"}}],
    )
    event_rule(
        desk,
        now,
        key="b-note",
        name="Note urgent",
        position=2,
        when={"field": "ticket.priority", "op": "changed_to", "value": "urgent"},
        actions=[{"note": {"body": "Urgent: {{ ticket.subject }}"}}, {"add_tags": ["escalated"]}],
    )
    from sportello.contacts.services import contact_update

    contact_update(contact=desk.alice, actor=desk.admin, organization=desk.acme)
    out = open_ticket(desk, now, subject="Down", body="x")
    note = Message.objects.get(ticket=out.ticket, public=False)
    assert note.body_text == "Urgent: Down"
    assert out.tags == ["escalated"]
    ev = TicketEvent.objects.get(ticket=out.ticket, kind="message", field="internal")
    assert (ev.actor_kind, ev.cause) == ("rule", "rule:b-note@1")


def test_a_rule_capped_at_one_firing_per_ticket_fires_once(desk: Any, now: Any) -> None:
    # given a rule that adds a note on every update, capped at one firing per ticket
    event_rule(desk, now, key="first-touch", name="First touch", max_fires_per_ticket=1,
               when={"field": "ticket.priority", "op": "changed"},
               actions=[{"note": {"body": "Priority changed"}}])  # fmt: skip
    ticket = open_ticket(desk, now, subject="Slow", body="x").ticket  # the default priority: fires
    agent = Actor(ActorKind.AGENT, desk.agent.pk, "Bruno")
    # when the priority changes twice more
    for priority in ("high", "urgent"):
        pipeline.ticket_apply(
            ticket_id=ticket.pk,
            mutation=Mutation(actor=agent, via=Via.API, fields={"priority": priority}),
            now=now,
        )
    # then the rule fired once in all
    assert Message.objects.filter(ticket=ticket, public=False).count() == 1


def test_a_change_no_rule_acted_on_stores_a_compact_trace_of_why(desk: Any, now: Any) -> None:
    # given an active rule that does not match
    event_rule(desk, now, key="chat-only", name="Chat only",
               when={"all": [{"field": "ticket.subject", "op": "present"},
                             {"field": "ticket.channel", "op": "is", "value": "chat"}]},
               actions=[{"add_tags": ["chat"]}])  # fmt: skip
    # when a ticket arrives by e-mail
    out = open_ticket(desk, now, subject="Hello", body="x")
    # then no rule acted, and the change keeps why: the rule and the part of it that failed
    assert out.tags == []
    trace = RuleTrace.objects.get(change_id=out.change_id)
    assert (trace.ticket_id, trace.quiet, trace.trace["fired"], trace.trace["rules"]) == (
        out.ticket.pk,
        True,
        [],
        [],
    )
    assert trace.trace["considered"] == [["chat-only", 1, "not_matched", "when.all[1]"]]


def test_rules_read_the_organization_whether_they_name_it_in_a_condition_or_a_template(
    desk: Any, now: Any
) -> None:
    # given Alice of Acme (gold), a rule conditioned on the tier and one quoting it in a note
    from sportello.contacts.services import contact_update

    contact_update(contact=desk.alice, actor=desk.admin, organization=desk.acme)
    event_rule(desk, now, key="gold", name="Gold", position=1,
               when={"field": "organization.tier", "op": "is", "value": "gold"},
               actions=[{"add_tags": ["gold"]}])  # fmt: skip
    out = open_ticket(desk, now, subject="Hi", body="x")
    # then the condition saw the tier (no rule renders anything here)
    assert out.tags == ["gold"]
    # and when a rule renders a template, the organization is there too
    note = {"note": {"body": "Customer of {{ organization.name }} ({{ organization.tier }})"}}
    event_rule(desk, now, key="note", name="Note", position=2,
               when={"field": "ticket.tags", "op": "contains", "value": "gold"}, actions=[note])  # fmt: skip
    out = open_ticket(desk, now, subject="Again", body="x")
    assert Message.objects.get(ticket=out.ticket, public=False).body_text == "Customer of Acme (gold)"


def test_a_custom_field_that_rules_or_macros_read_cannot_be_deactivated(desk: Any, now: Any) -> None:
    from sportello.automation.macros import macro_create
    from sportello.automation.services import rule_deactivate
    from sportello.core.errors import Conflict
    from sportello.tickets.fields_services import custom_field_create, custom_field_update

    code = custom_field_create(actor=desk.admin, key="product_code", label="Product code", type="text")
    custom_field_create(actor=desk.admin, key="product", label="Product", type="text")
    event_rule(desk, now, key="xt", name="XT",
               when={"field": "ticket.custom.product_code", "op": "is", "value": "XT372"},
               actions=[{"add_tags": ["xt"]}])  # fmt: skip
    macro_create(
        definition={
            "key": "quote",
            "name": "Quote",
            "visibility": {"scope": "everyone"},
            "actions": [{"note": {"body": "Code {{ ticket.custom.product_code }}"}}],
        },
        actor=desk.admin,
        now=now,
    )
    # a field whose key merely starts the same is not read by them
    product = CustomField.objects.get(key="product")
    custom_field_update(actor=desk.admin, field=product, is_active=False)
    # when the admin deactivates the field they read, it is refused, naming both
    with pytest.raises(Conflict) as exc:
        custom_field_update(actor=desk.admin, field=code, is_active=False)
    assert (exc.value.field, exc.value.code) == ("is_active", "field_in_use")
    assert "rule xt" in exc.value.message
    assert "macro quote" in exc.value.message
    code.refresh_from_db()
    assert code.is_active
    # once the rule is deactivated and the macro changed, the field can go
    rule_deactivate(key="xt", created_by=desk.admin, now=now)
    from sportello.automation.macros import macro_update

    macro_update(
        key="quote",
        definition={
            "key": "quote",
            "name": "Quote",
            "visibility": {"scope": "everyone"},
            "actions": [{"note": {"body": "No code"}}],
        },
        actor=desk.admin,
        now=now,
    )
    assert custom_field_update(actor=desk.admin, field=code, is_active=False).is_active is False

"""The pipeline's extensions: one ordered list in settings, loaded once, called phase by phase;
plug-ins take part in a change through the change context only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings

from sportello.automation import action_registry
from sportello.core import extensions
from sportello.core.actors import Actor, ActorKind, Via
from sportello.engine import actions as act
from sportello.tickets import pipeline
from sportello.tickets.change import Author
from sportello.tickets.context import Context
from sportello.tickets.models import EventKind, TicketEvent
from sportello.tickets.pipeline import Mutation, NewMessage
from testing import NOW

EXTENSIONS = [
    "sportello.automation.extension.EventRules",
    "sportello.sla.extension.SlaClocks",
    "sportello.sla.extension.Tiers",
    "sportello.blueprints.extension.Blueprints",
    "sportello.automation.extension.TimeRuleTimers",
    "sportello.surveys.extension.Surveys",
    "sportello.notifications.extension.ReplyMail",
    "sportello.outbox.extension.Outbox",
    "sportello.automation.extension.Assignment",
    "sportello.inbox.extension.AgentNotifications",
    "sportello.kb.extension.ArticleLinks",
    "sportello.reports.extension.Rollups",
]


def names(hooks: tuple[Any, ...]) -> list[str]:
    return [type(h.__self__).__name__ for h in hooks]


@pytest.fixture
def fresh_extensions() -> Iterator[None]:
    extensions.forget()
    yield
    extensions.forget()


def test_the_extension_list_and_its_order_are_pinned() -> None:
    assert settings.SPORTELLO_TICKET_EXTENSIONS == EXTENSIONS


def test_each_phase_calls_the_extensions_that_define_it_in_the_list_order(fresh_extensions: None) -> None:
    assert names(extensions.hooks("before_write")) == ["EventRules", "SlaClocks", "Blueprints"]
    assert names(extensions.hooks("saved")) == ["TimeRuleTimers", "Surveys"]
    assert names(extensions.hooks("written")) == ["ReplyMail", "Outbox", "ArticleLinks", "Rollups"]
    assert names(extensions.hooks("after_write")) == ["Assignment", "AgentNotifications"]
    assert names(extensions.hooks("agent_online")) == ["Assignment"]
    assert names(extensions.hooks("before_rules")) == ["Tiers"]
    assert names(extensions.hooks("after_rules")) == ["Tiers"]
    assert names(extensions.hooks("rule_actions")) == ["Tiers"]


@pytest.mark.django_db
def test_loading_the_extensions_reads_nothing_from_the_database_and_happens_once(
    fresh_extensions: None, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(0):
        first = extensions.loaded()
        extensions.hooks("before_write")
    assert extensions.loaded() is first  # one instance of each, for the process


def test_the_tier_escalation_is_a_registered_rule_action(fresh_extensions: None) -> None:
    from sportello.sla.extension import escalate_tier

    assert action_registry.handler_for(act.EscalateTier(reason="needs a specialist")) is escalate_tier
    assert action_registry.handler_for(act.Stop()) is None


class Recording:
    """A test extension: what each phase saw."""

    seen: list[tuple[str, Any]] = []

    def before_write(self, ctx: Context) -> None:
        self.seen.append(("before_write", ctx.ticket.pk))
        ctx.record(EventKind.NOTIFICATION, "tested", new={"phase": "before_write"})
        ctx.emit(
            {"kind": "webhook", "dedupe_key": f"test:{ctx.change_id}", "payload": {"url": "https://x.test"}}
        )

    def saved(self, ctx: Context) -> None:
        self.seen.append(("saved", ctx.ticket.pk is not None))
        ctx.after_write(lambda: self.seen.append(("queued", None)))

    def written(self, ctx: Context) -> None:
        self.seen.append(("written", TicketEvent.objects.filter(change_id=ctx.change_id).count() > 0))

    def after_write(self, ctx: Context) -> None:
        self.seen.append(("after_write", sorted(c.field for c in ctx.changes)))


@pytest.mark.django_db
def test_a_listed_extension_takes_part_in_every_phase_in_order(desk: Any, fresh_extensions: None) -> None:
    # Given a recording extension appended to the list
    settings_list = [*EXTENSIONS, f"{__name__}.Recording"]
    Recording.seen = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(settings, "SPORTELLO_TICKET_EXTENSIONS", settings_list)
        extensions.forget()
        # When a ticket is opened
        outcome = pipeline.ticket_create(
            actor=Actor(kind=ActorKind.AGENT, id=desk.agent.pk, label=desk.agent.email),
            via=Via.API,
            subject="Missing pages",
            requester_id=desk.alice.pk,
            department_id=desk.books.pk,
            description=NewMessage(body="Pages 30-40 are blank."),
            now=NOW,
        )
    # Then it saw the phases in order: nothing written before, the row at `saved`, the events
    # at `written`, the queued work before `after_write`, which knows what changed
    assert [p for p, _ in Recording.seen] == ["before_write", "saved", "written", "queued", "after_write"]
    assert [seen for _, seen in Recording.seen[:3]] == [None, True, True]
    assert "subject" in Recording.seen[4][1]
    # And its record is an event of the change, by the mutation's actor and way in
    event = TicketEvent.objects.get(change_id=outcome.change_id, kind=EventKind.NOTIFICATION, field="tested")
    assert (event.new_value, event.actor_kind, event.actor_id, event.via) == (
        {"phase": "before_write"},
        "agent",
        desk.agent.pk,
        "api",
    )
    # And its effect went to the outbox with the change
    from sportello.outbox.models import OutboxMessage

    assert OutboxMessage.objects.filter(change_id=outcome.change_id, kind="webhook").count() == 1


RULE = Author(actor=Actor(kind=ActorKind.RULE, id=7, label="Urgent VIPs"), cause="rule:vip@3")


class VipRule:
    """A test extension: raises the priority and notes why, as a rule."""

    def before_write(self, ctx: Context) -> None:
        if ctx.created:
            return
        assert ctx.change(author=RULE, fields={"priority": "urgent"}) == ["priority"]
        ctx.note(author=RULE, body="Escalated for a VIP.")


@pytest.mark.django_db
def test_an_automatic_change_is_audited_under_its_author(desk: Any, fresh_extensions: None) -> None:
    # Given an extension that changes the priority as a rule
    agent = Actor(kind=ActorKind.AGENT, id=desk.agent.pk, label=desk.agent.email)
    ticket = pipeline.ticket_create(
        actor=agent,
        via=Via.API,
        subject="Missing pages",
        requester_id=desk.alice.pk,
        department_id=desk.books.pk,
        description=NewMessage(body="Pages 30-40 are blank."),
        now=NOW,
    ).ticket
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(settings, "SPORTELLO_TICKET_EXTENSIONS", [*EXTENSIONS, f"{__name__}.VipRule"])
        extensions.forget()
        # When an agent changes the subject
        mutation = Mutation(actor=agent, via=Via.API, fields={"subject": "Blank pages"})
        outcome = pipeline.ticket_apply(ticket_id=ticket.pk, mutation=mutation, now=NOW + timedelta(hours=1))
    # Then the agent's change is the agent's, the priority and the note are the rule's
    rows = TicketEvent.objects.filter(change_id=outcome.change_id).order_by("id")
    assert [(e.kind, e.field, e.actor_kind, e.actor_id, e.via, e.cause) for e in rows] == [
        ("field", "subject", "agent", desk.agent.pk, "api", ""),
        ("field", "priority", "rule", 7, "rule", "rule:vip@3"),
        ("message", "internal", "rule", 7, "rule", "rule:vip@3"),
    ]

"""A new ticket's opening is one `created` event carrying its initial values and first message;
what automation changed as it opened stays an event of its own under the rule. The history reads
it exactly as it reads an opening recorded one event per field (tickets opened by earlier
versions): the same lines, the same filters."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from sportello.automation.models import RuleKind
from sportello.automation.services import rule_save
from sportello.tickets.audit import expand
from sportello.tickets.models import EventKind, Message, TicketEvent
from sportello.web.timeline import changes


@pytest.fixture
def urgent_on_vip(desk: Any, now: Any) -> Any:
    """A rule that makes a ticket tagged `vip` urgent as it opens."""
    rule, _ = rule_save(
        kind=RuleKind.EVENT,
        definition={
            "key": "vip-urgent",
            "name": "VIP is urgent",
            "on": ["ticket.created"],
            "when": {"all": [{"field": "ticket.tags", "op": "contains", "value": "vip"}]},
            "actions": [{"set": {"field": "ticket.priority", "value": "urgent"}}],
        },
        created_by=desk.admin,
        now=now,
    )
    return rule


def _history_lines(html: str) -> list[str]:
    start = html.index('id="events-title"')
    section = html[start : html.index("</section>", start)]
    items = re.findall(r'<ul class="event-rows">(.*?)</ul>', section, flags=re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", item).split()) for item in items]


def _store_as_earlier_versions(ticket: Any) -> None:
    """The ticket's opening stored as earlier versions stored it: its `created` event replaced by
    the bare one, one event per initial value and the message's event (same change, actor, way
    in, instant), ahead of the change's other events."""
    events = list(TicketEvent.objects.filter(ticket=ticket).order_by("id"))
    TicketEvent.objects.filter(ticket=ticket).delete()
    for e in events:
        e.pk = None
    TicketEvent.objects.bulk_create(expand(events))


def test_a_new_ticket_is_one_opening_event_with_its_values_and_the_rule_change_apart(
    desk: Any,
    now: Any,
    layouts: None,
    urgent_on_vip: Any,
    open_ticket: Callable[..., Any],
    browser: Callable[..., Any],
) -> None:
    # given a rule that makes VIP tickets urgent as they open
    # when an agent opens a ticket for Alice with tags, a custom field and a normal priority
    ticket = open_ticket(
        "Torn cover",
        by=desk.agent,
        tags=["vip", "damaged"],
        custom_fields={"order_number": "A-1001"},
        team_id=desk.team.pk,
    )
    events = list(TicketEvent.objects.filter(ticket=ticket).order_by("id"))
    message = Message.objects.get(ticket=ticket)
    # then the change holds exactly one `created` event carrying every initial value and the
    # description, under the agent
    opening_change = [e for e in events if e.change_id == events[0].change_id]
    created = [e for e in opening_change if e.kind == EventKind.CREATED]
    assert len(created) == 1
    (opening,) = created
    assert (opening.actor_kind, opening.actor_id, opening.via, opening.field, opening.old_value) == (
        "agent",
        desk.agent.pk,
        "web",
        "",
        None,
    )
    assert opening.new_value == {
        "number": ticket.number,
        "values": {
            "channel": "web",
            "custom_fields.order_number": "A-1001",
            "department": desk.books.pk,
            "organization": desk.acme.pk,
            "priority": "normal",
            "requester": desk.alice.pk,
            "status": "new",
            "status_category": "new",
            "subject": "Torn cover",
            "tags": ["damaged", "vip"],
            "team": desk.team.pk,
        },
        "message": {"message_id": message.pk, "author_kind": "contact", "public": True},
    }
    # and no event per initial field nor for the description: the rule's change is the only
    # field event, under the rule and its version, from the value the ticket opened with
    assert [(e.kind, e.field) for e in opening_change if e.kind in ("field", "tags", "message")] == [
        ("field", "priority")
    ]
    (by_rule,) = [e for e in opening_change if e.kind == EventKind.FIELD]
    assert (by_rule.actor_kind, by_rule.actor_id, by_rule.cause, by_rule.via) == (
        "rule",
        urgent_on_vip.pk,
        "rule:vip-urgent@1",
        "rule",
    )
    assert (by_rule.old_value, by_rule.new_value) == ("normal", "urgent")

    # when a twin ticket, opened alike, has its opening stored as earlier versions stored it
    twin = open_ticket(
        "Torn cover",
        by=desk.agent,
        tags=["vip", "damaged"],
        custom_fields={"order_number": "A-1001"},
        team_id=desk.team.pk,
    )
    _store_as_earlier_versions(twin)
    assert [
        (e.kind, e.field, e.actor_kind) for e in TicketEvent.objects.filter(ticket=twin).order_by("id")
    ] == [
        ("created", "", "agent"),
        ("field", "channel", "agent"),
        ("field", "custom_fields.order_number", "agent"),
        ("field", "department", "agent"),
        ("field", "organization", "agent"),
        ("field", "priority", "agent"),
        ("field", "requester", "agent"),
        ("field", "status", "agent"),
        ("field", "status_category", "agent"),
        ("field", "subject", "agent"),
        ("tags", "tags", "agent"),
        ("field", "team", "agent"),
        ("message", "public", "agent"),
        ("field", "priority", "rule"),
    ]

    # then the history of both reads the same, in every filter
    agent = browser(desk.agent)
    for what in ("all", "messages", "changes", "automation"):
        now_lines = _history_lines(agent.get(f"/tickets/{ticket.pk}/?history={what}").content.decode())
        then_lines = _history_lines(agent.get(f"/tickets/{twin.pk}/?history={what}").content.decode())
        assert now_lines == then_lines, what
    lines = _history_lines(agent.get(f"/tickets/{ticket.pk}/").content.decode())
    assert lines == ["opened the ticket added a public message"]


def test_expand_reads_an_opening_as_its_per_field_events_and_leaves_others_alone(db: Any) -> None:
    # given an opening with values and a message, and a later field change
    change = uuid.uuid4()
    common: dict[str, Any] = {
        "ticket_id": 1,
        "change_id": change,
        "actor_kind": "contact",
        "actor_id": 7,
        "actor_label": "Alice",
        "via": "email",
        "cause": "",
    }
    at = datetime(2026, 1, 5, 9, tzinfo=UTC)
    opening = TicketEvent(
        id=1,
        at=at,
        kind=EventKind.CREATED,
        new_value={
            "number": 3,
            "values": {"tags": ["a"], "subject": "Hi", "custom_fields.order_number": "X", "channel": "email"},
            "message": {"message_id": 9, "author_kind": "contact", "public": False},
        },
        **common,
    )
    later = TicketEvent(
        id=2, at=at, kind=EventKind.FIELD, field="priority", old_value="normal", new_value="high",
        **{**common, "change_id": uuid.uuid4()},
    )  # fmt: skip
    bare = TicketEvent(id=3, at=at, kind=EventKind.CREATED, new_value={"number": 4}, **common)
    # when it is expanded
    out = expand([opening, later, bare])
    # then the opening reads as the events it stands for, in a diff's order, and the rest as is
    assert [(e.kind, e.field, e.old_value, e.new_value) for e in out] == [
        ("created", "", None, {"number": 3}),
        ("field", "channel", None, "email"),
        ("field", "custom_fields.order_number", None, "X"),
        ("field", "subject", None, "Hi"),
        ("tags", "tags", None, ["a"]),
        ("message", "internal", None, {"message_id": 9, "author_kind": "contact"}),
        ("field", "priority", "normal", "high"),
        ("created", "", None, {"number": 4}),
    ]
    assert out[1] is not opening
    assert out[6] is later
    assert out[7] is bare
    assert {(e.change_id, e.actor_kind, e.actor_id, e.via, e.at) for e in out[:6]} == {
        (change, "contact", 7, "email", at)
    }
    # and the history reads the opening as opened, with its internal note, then the change
    opened, changed = changes(out[:7])
    assert opened.created
    assert [(r.kind, r.public) for r in opened.rows] == [
        ("created", False),
        ("message", False),
    ]
    assert [(r.kind, r.field, r.old, r.new) for r in changed.rows] == [
        ("field", "Priority", "Normal", "High")
    ]

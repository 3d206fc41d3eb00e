"""The services behind the Console's rules pages: ordering event rules, enabling, saving against
the version an editor loaded, checking an unsaved rule, fire counts, and the dry run of a
candidate rule on recent tickets."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from sportello.automation import selectors, services, simulate
from sportello.automation.models import Rule, RuleKind, RuleVersion
from sportello.core.errors import Conflict, PermissionDenied, ValidationFailed
from sportello.outbox.models import OutboxMessage
from sportello.tickets.models import Ticket, TicketEvent


def event(key: str, now: Any, **extra: Any) -> Rule:
    definition = {
        "key": key,
        "name": key,
        "when": {"all": [{"field": "ticket.subject", "op": "contains", "value": key}]},
        "actions": [{"add_tags": [key]}],
        **extra,
    }
    rule, _ = services.rule_save(kind=RuleKind.EVENT, definition=definition, created_by=None, now=now)
    return rule


def order(category: str = "default") -> list[str]:
    return list(
        Rule.objects.filter(kind=RuleKind.EVENT, category=category)
        .order_by("position", "key")
        .values_list("key", flat=True)
    )


def test_moving_renumbers_the_category_through_new_versions(desk: Any, now: Any) -> None:
    for key in ("a", "b", "c"):
        event(key, now)
    event("z", now, category="late")
    assert services.rule_move(key="c", up=True, created_by=desk.admin, now=now) is True
    assert order() == ["a", "c", "b"]
    # every rule got its place as a version of its own (a 10, c 20, b 30)
    positions = {r.key: (r.position, r.version) for r in Rule.objects.all()}
    assert positions == {"a": (10, 2), "c": (20, 2), "b": (30, 2), "z": (0, 1)}
    stored = RuleVersion.objects.get(rule__key="c", version=2)
    assert (stored.definition["position"], stored.created_by) == (20, desk.admin)
    # a swap later writes only the two rules that moved
    assert services.rule_move(key="b", up=True, created_by=desk.admin, now=now) is True
    assert order() == ["a", "b", "c"]
    assert Rule.objects.get(key="a").version == 2
    # the ends do not move; other categories are untouched
    assert services.rule_move(key="a", up=True, created_by=desk.admin, now=now) is False
    assert services.rule_move(key="c", up=False, created_by=desk.admin, now=now) is False
    assert services.rule_move(key="z", up=True, created_by=desk.admin, now=now) is False
    assert order("late") == ["z"]


def test_time_rules_and_unknown_rules_do_not_move(desk: Any, now: Any) -> None:
    services.rule_save(
        kind=RuleKind.TIME,
        definition={
            "key": "t",
            "name": "t",
            "anchor": "created",
            "when": {"all": []},
            "steps": [{"after": "1h", "actions": [{"add_tags": ["t"]}]}],
        },
        created_by=None,
        now=now,
    )
    with pytest.raises(ValidationFailed):
        services.rule_move(key="t", up=True, created_by=desk.admin, now=now)
    from sportello.core.errors import NotFound

    with pytest.raises(NotFound):
        services.rule_move(key="nope", up=True, created_by=desk.admin, now=now)


def test_activating_saves_the_current_definition_active(desk: Any, now: Any) -> None:
    event("a", now, active=False)
    rule, written = services.rule_activate(key="a", created_by=desk.admin, now=now)
    assert (written, rule.active, rule.version) == (True, True, 2)
    assert RuleVersion.objects.get(rule=rule, version=2).definition["active"] is True
    _, written = services.rule_activate(key="a", created_by=desk.admin, now=now)
    assert written is False


def test_a_save_against_an_older_version_is_a_stale_conflict(desk: Any, now: Any) -> None:
    rule = event("a", now)
    event("a", now, name="Renamed")
    definition = RuleVersion.objects.get(rule=rule, version=1).definition
    with pytest.raises(Conflict) as caught:
        services.rule_save(
            kind=RuleKind.EVENT, definition=definition, created_by=None, now=now, expected_version=1
        )
    assert caught.value.code == "stale_version"
    assert Rule.objects.get(key="a").version == 2
    _, written = services.rule_save(
        kind=RuleKind.EVENT, definition=definition, created_by=None, now=now, expected_version=2
    )
    assert written is True


def test_check_lints_an_unsaved_rule_against_the_saved_ones(desk: Any, now: Any) -> None:
    services.rule_save(
        kind=RuleKind.EVENT,
        definition={
            "key": "high",
            "name": "high",
            "when": {"all": [{"field": "ticket.subject", "op": "contains", "value": "x"}]},
            "actions": [{"set": {"field": "ticket.priority", "value": "high"}}],
        },
        created_by=None,
        now=now,
    )
    low = {
        "key": "low",
        "name": "low",
        "when": {"all": [{"field": "ticket.subject", "op": "contains", "value": "y"}]},
        "actions": [{"set": {"field": "ticket.priority", "value": "low"}}],
    }
    warnings = services.rule_check(kind=RuleKind.EVENT, definition=low)
    assert [w.code for w in warnings] == ["opposite_writes"]
    assert not Rule.objects.filter(key="low").exists()
    with pytest.raises(ValidationFailed) as caught:
        services.rule_check(kind=RuleKind.EVENT, definition={**low, "actions": [{"nope": 1}]})
    assert caught.value.field == "actions[0]"


def test_fire_stats_count_the_changes_a_rule_fired_on(desk: Any, now: Any, open_ticket: Any) -> None:
    event("refund", now)
    open_ticket("refund one")
    open_ticket("refund two", minutes_ago=-5)
    open_ticket("other")
    stats = selectors.rule_fire_stats()
    count, last = stats["refund"]
    assert count == 2
    assert last == now + timedelta(minutes=5)
    assert "other" not in stats


NOTIFY = {
    "key": "tell",
    "name": "Tell the requester",
    "when": {"all": [{"field": "ticket.subject", "op": "contains", "value": "broken"}]},
    "actions": [
        {"set": {"field": "ticket.priority", "value": "urgent"}},
        {"notify": {"to": ["requester"], "subject": "We see it", "body": "Hello"}},
        {"note": {"body": "Looked at by a rule"}},
    ],
}


def test_the_dry_run_says_what_would_change_and_keeps_nothing(desk: Any, now: Any, open_ticket: Any) -> None:
    broken = open_ticket("It is broken")
    open_ticket("All fine")
    closed = open_ticket("Broken but closed")
    from sportello.tickets.models import StatusCategory

    Ticket.objects.filter(pk=closed.pk).update(status_category=StatusCategory.CLOSED)
    events, outbox = TicketEvent.objects.count(), OutboxMessage.objects.count()
    result = simulate.rule_dry_run(
        principal=desk.admin, kind=RuleKind.EVENT, definition=NOTIFY, last=10, now=now
    )
    assert result.tried == 2  # closed tickets are not tried
    assert [m.ticket_id for m in result.matched] == [broken.pk]
    found = result.matched[0]
    assert (found.number, found.subject) == (broken.number, "It is broken")
    assert {"field": "priority", "old_value": "normal", "new_value": "urgent"} in found.changes
    assert [n["subject"] for n in found.notifications] == ["We see it"]
    assert found.notes == ["Looked at by a rule"]
    assert (TicketEvent.objects.count(), OutboxMessage.objects.count()) == (events, outbox)
    assert Ticket.objects.get(pk=broken.pk).priority == broken.priority
    assert not Rule.objects.exists()


def test_the_dry_run_takes_the_newest_tickets_and_a_bounded_number(
    desk: Any, now: Any, open_ticket: Any
) -> None:
    for i in range(4):
        open_ticket(f"broken {i}", minutes_ago=10 - i)
    result = simulate.rule_dry_run(
        principal=desk.admin, kind=RuleKind.EVENT, definition=NOTIFY, last=2, now=now
    )
    assert [m.subject for m in result.matched] == ["broken 3", "broken 2"]
    for bad in (0, simulate.DRY_RUN_MAX + 1):
        with pytest.raises(ValidationFailed):
            simulate.rule_dry_run(
                principal=desk.admin, kind=RuleKind.EVENT, definition=NOTIFY, last=bad, now=now
            )
    with pytest.raises(PermissionDenied):
        simulate.rule_dry_run(principal=desk.agent, kind=RuleKind.EVENT, definition=NOTIFY, last=2, now=now)


def test_an_event_rule_on_what_customers_write_is_tried_on_each_tickets_latest_message(
    desk: Any, now: Any, open_ticket: Any
) -> None:
    # given a ticket whose description says the phone heats up, one that says nothing of it, and
    # one that only said it in an earlier message
    said = open_ticket("My phone", description="Since yesterday the phone heats up when charging.")
    open_ticket("My book", description="A page is missing.")
    earlier = open_ticket("Tablet", description="The phone heats up too.")
    from sportello.core.actors import Via
    from sportello.tickets.services import message_add

    message_add(
        principal=desk.admin,
        ticket_id=earlier.pk,
        via=Via.WEB,
        body="We are sending a replacement.",
        body_html="",
        public=True,
        attachment_ids=[],
        version=None,
        now=now,
    )
    rule = {
        "key": "hot",
        "name": "Phone heats up",
        "when": {"all": [{"field": "message.body", "op": "contains", "value": "phone heats up"}]},
        "actions": [{"set": {"field": "ticket.priority", "value": "high"}}],
    }
    # when it is tried on recent tickets
    result = simulate.rule_dry_run(
        principal=desk.admin, kind=RuleKind.EVENT, definition=rule, last=10, now=now
    )
    # then it matches the ticket whose latest message says so, and only that one
    assert result.tried == 3
    assert [m.ticket_id for m in result.matched] == [said.pk]
    assert result.matched[0].changes == [{"field": "priority", "old_value": "normal", "new_value": "high"}]


def test_a_dry_run_replaces_the_saved_rule_of_the_same_key(desk: Any, now: Any, open_ticket: Any) -> None:
    services.rule_save(kind=RuleKind.EVENT, definition=NOTIFY, created_by=None, now=now)
    ticket = open_ticket("broken again")
    assert ticket.priority == 4  # urgent
    Ticket.objects.filter(pk=ticket.pk).update(priority=1)  # low
    candidate = {**NOTIFY, "actions": [{"set": {"field": "ticket.priority", "value": "high"}}]}
    result = simulate.rule_dry_run(
        principal=desk.admin, kind=RuleKind.EVENT, definition=candidate, last=5, now=now
    )
    assert result.matched[0].changes == [{"field": "priority", "old_value": "low", "new_value": "high"}]
    rule = Rule.objects.get(key="tell")
    assert (rule.version, rule.active) == (1, True)

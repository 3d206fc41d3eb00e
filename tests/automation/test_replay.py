"""Replay (`automation.replay.rule_replay`): a rule tried over the recorded history of the last N
days — which tickets it would have changed, when and how, and how that compares with what the
saved rule with its key did — without writing anything."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sportello.automation import replay
from sportello.automation.models import Rule, RuleKind, RuleTrace, RuleVersion
from sportello.automation.services import rule_deactivate, rule_save
from sportello.core.actors import Via
from sportello.core.errors import PermissionDenied, ValidationFailed
from sportello.tickets import services
from sportello.tickets.models import Message, Ticket, TicketEvent
from testing import NOW, hand_clock


def days_ago(n: float) -> datetime:
    return NOW - timedelta(days=n)


def open_ticket(desk: Any, subject: str, *, at: datetime, priority: str = "normal") -> Ticket:
    return services.ticket_open(
        principal=desk.agent,
        via=Via.API,
        data={
            "subject": subject,
            "description": "Please help",
            "department_id": desk.books.pk,
            "requester_id": desk.alice.pk,
            "priority": priority,
        },
        now=at,
    ).ticket


def update(desk: Any, ticket: Ticket, at: datetime, **data: Any) -> Ticket:
    current = Ticket.objects.get(pk=ticket.pk)
    return services.ticket_update(
        principal=desk.agent,
        ticket_id=ticket.pk,
        via=Via.API,
        data={**data, "version": current.version},
        now=at,
    ).ticket


def customer_writes(desk: Any, ticket: Ticket, at: datetime, body: str = "Any news?") -> None:
    services.message_add(
        principal=desk.alice, ticket_id=ticket.pk, via=Via.PORTAL, body=body, body_html="", public=True,
        attachment_ids=[], version=None, now=at,
    )  # fmt: skip


def agent_replies(desk: Any, ticket: Ticket, at: datetime, status: str | None = None) -> None:
    services.message_add(
        principal=desk.agent, ticket_id=ticket.pk, via=Via.WEB, body="On it", body_html="", public=True,
        attachment_ids=[], version=None, status=status, now=at,
    )  # fmt: skip


def written() -> tuple[int, ...]:
    return (
        Ticket.objects.count(),
        TicketEvent.objects.count(),
        Message.objects.count(),
        RuleTrace.objects.count(),
        Rule.objects.count(),
        RuleVersion.objects.count(),
    )


HOT = {
    "key": "hot",
    "name": "Hot tickets",
    "on": ["ticket.updated"],
    "when": {"field": "ticket.priority", "op": "is", "value": "high"},
    "actions": [{"add_tags": ["hot"]}, {"note": {"body": "Hot: {{ ticket.subject }}"}}],
}


@pytest.fixture
def history(desk: Any) -> dict[str, Ticket]:
    """Four tickets with changes before and inside the last 30 days, no rule active."""
    old = open_ticket(desk, "Old parcel", at=days_ago(40))
    update(desk, old, days_ago(10), priority="high")  # in the window
    fresh = open_ticket(desk, "Fresh parcel", at=days_ago(5), priority="high")  # created: not `on`
    update(desk, fresh, days_ago(1), subject="Fresh parcel, twice")
    calm = open_ticket(desk, "Calm parcel", at=days_ago(3))
    customer_writes(desk, calm, days_ago(2))
    early = open_ticket(desk, "Early parcel", at=days_ago(45))
    update(desk, early, days_ago(44), priority="high")  # before the window only
    return {"old": old, "fresh": fresh, "calm": calm, "early": early}


def test_a_new_event_rule_is_replayed_change_by_change_and_nothing_is_written(
    desk: Any, history: dict[str, Ticket]
) -> None:
    # given the recorded history of four tickets and no rule named "hot"
    before = written()
    # when a new rule is replayed over the last 30 days
    result = replay.rule_replay(principal=desk.admin, kind=RuleKind.EVENT, definition=HOT, days=30, now=NOW)
    # then it names the two tickets it would have changed, the change it would have run on, and how
    assert written() == before
    assert result.since == days_ago(30)
    # opened in the window: fresh (2 changes), calm (2); old's change in the window: 1
    assert result.changes_scanned == 5
    assert result.tickets_considered == 3  # early was not updated in the window
    by_number = {t.number: t for t in result.tickets}
    old, fresh = history["old"], history["fresh"]
    assert set(by_number) == {old.number, fresh.number}
    first = by_number[old.number].firings
    assert [(f.at, f.changes, f.notes) for f in first] == [
        (days_ago(10), [{"field": "tags", "old_value": [], "new_value": ["hot"]}], ["Hot: Old parcel"])
    ]
    assert first[0].change_id == str(
        TicketEvent.objects.filter(ticket=old, field="priority").order_by("-at").first().change_id  # type: ignore[union-attr]
    )
    second = by_number[fresh.number].firings
    assert [(f.at, f.changes, f.notes) for f in second] == [
        (
            days_ago(1),
            [{"field": "tags", "old_value": [], "new_value": ["hot"]}],
            ["Hot: Fresh parcel, twice"],
        )
    ]
    assert result.fired == 2
    assert result.affected == 2
    assert result.saved_version is None
    assert result.compared == {}
    assert all(t.comparison is None for t in result.tickets)
    counts = dict(result.per_day)
    assert counts[days_ago(10).date()] == 1
    assert counts[days_ago(1).date()] == 1
    assert sum(counts.values()) == 2
    assert len(result.per_day) == 31
    assert "not_carried" in {n.code for n in result.notes}


def test_a_rule_whose_actions_change_nothing_is_counted_not_listed(
    desk: Any, history: dict[str, Ticket]
) -> None:
    # given a rule that would set the priority the tickets already have
    same = {**HOT, "actions": [{"set": {"field": "ticket.priority", "value": "high"}}]}
    # when it is replayed
    result = replay.rule_replay(principal=desk.admin, kind=RuleKind.EVENT, definition=same, days=30, now=NOW)
    # then its two firings are counted as changing nothing, and no ticket is listed
    assert (result.fired, result.unchanged, result.tickets) == (0, 2, [])


def test_message_facts_and_events_are_those_of_the_recorded_change(
    desk: Any, history: dict[str, Ticket]
) -> None:
    # given a rule on what customers write
    rule = {
        "key": "asks",
        "name": "Customer asks",
        "on": ["message.added"],
        "when": {
            "all": [
                {"field": "message.author_kind", "op": "is", "value": "contact"},
                {"field": "message.body", "op": "contains", "value": "news"},
            ]
        },
        "actions": [{"set": {"field": "ticket.priority", "value": "urgent"}}],
    }
    # when it is replayed
    result = replay.rule_replay(principal=desk.admin, kind=RuleKind.EVENT, definition=rule, days=30, now=NOW)
    # then only the customer's message on "calm" matches, and the change is the priority
    assert [(t.number, [(f.at, f.changes) for f in t.firings]) for t in result.tickets] == [
        (
            history["calm"].number,
            [(days_ago(2), [{"field": "priority", "old_value": "normal", "new_value": "urgent"}])],
        )
    ]


def test_a_changed_rule_is_compared_with_what_the_saved_rule_did(desk: Any) -> None:
    # given the rule "hot" active while the history was made
    rule_save(kind=RuleKind.EVENT, definition=HOT, created_by=desk.admin, now=days_ago(60))
    a = open_ticket(desk, "Alpha", at=days_ago(20))
    update(desk, a, days_ago(15), priority="high")  # the saved rule fires
    b = open_ticket(desk, "Beta", at=days_ago(20))
    update(desk, b, days_ago(12), priority="urgent")  # it does not
    c = open_ticket(desk, "Gamma", at=days_ago(20))
    update(desk, c, days_ago(11), subject="Gamma, low")
    assert "hot" in Ticket.objects.get(pk=a.pk).tags.values_list("name", flat=True)
    # when a changed version — urgent rather than high — is replayed
    urgent = {**HOT, "when": {"field": "ticket.priority", "op": "is", "value": "urgent"}}
    result = replay.rule_replay(
        principal=desk.admin, kind=RuleKind.EVENT, definition=urgent, days=30, now=NOW
    )
    # then Beta is newly affected and Alpha no longer
    assert result.saved_version == 1
    rows = {t.number: t for t in result.tickets}
    assert rows[b.number].comparison == replay.NEW
    assert [f.changes for f in rows[b.number].firings] == [
        [{"field": "tags", "old_value": [], "new_value": ["hot"]}]
    ]
    assert rows[a.number].comparison == replay.GONE
    assert rows[a.number].firings == []
    assert rows[a.number].saved_at == [days_ago(15)]
    assert result.compared == {replay.NEW: 1, replay.GONE: 1, replay.SAME: 0}
    assert set(rows) == {a.number, b.number}
    # and the same definition is the same on Alpha, what it did taken out of the change
    same = replay.rule_replay(principal=desk.admin, kind=RuleKind.EVENT, definition=HOT, days=30, now=NOW)
    assert [(t.number, t.comparison) for t in same.tickets] == [(a.number, replay.SAME)]
    assert [f.changes for f in same.tickets[0].firings] == [
        [{"field": "tags", "old_value": [], "new_value": ["hot"]}]
    ]


STALE = {
    "key": "stale",
    "name": "Stale while pending",
    "anchor": "status_entered:pending",
    "when": {"field": "ticket.status_category", "op": "is", "value": "pending"},
    "steps": [{"after": "72h", "actions": [{"add_tags": ["stale"]}]}],
}


def test_a_time_rule_comes_due_between_recorded_changes(desk: Any) -> None:
    # given tickets set pending at different times
    p = open_ticket(desk, "Pending then answered", at=days_ago(20))
    update(desk, p, days_ago(15), status="pending")
    customer_writes(desk, p, days_ago(10))  # reopens it, after the step was due
    q = open_ticket(desk, "Pending, touched", at=days_ago(6))
    update(desk, q, days_ago(4), status="pending")
    update(desk, q, days_ago(2), subject="Pending, touched again")  # the anchor stays
    r = open_ticket(desk, "Pending lately", at=days_ago(3))
    update(desk, r, days_ago(2), status="pending")  # due tomorrow
    s = open_ticket(desk, "Pending long ago", at=days_ago(50))
    update(desk, s, days_ago(45), status="pending")  # past due when the window starts
    u = open_ticket(desk, "Answered in time", at=days_ago(9))
    update(desk, u, days_ago(8), status="pending")
    customer_writes(desk, u, days_ago(7))  # before the step came due
    before = written()
    # when the time rule is replayed over 30 days
    result = replay.rule_replay(principal=desk.admin, kind=RuleKind.TIME, definition=STALE, days=30, now=NOW)
    # then each step fires when it came due, the condition checked on the ticket as it stood
    assert written() == before
    fired = {t.number: [(f.at, f.step, f.changes) for f in t.firings] for t in result.tickets}
    tag = [{"field": "tags", "old_value": [], "new_value": ["stale"]}]
    assert fired == {
        p.number: [(days_ago(12), 0, tag)],
        q.number: [(days_ago(1), 0, tag)],
        s.number: [(days_ago(30), 0, tag)],  # at once, when the rule would have been enabled
    }
    assert result.tickets_considered == 5


def test_a_time_rule_is_compared_with_its_recorded_firings(desk: Any) -> None:
    from sportello.automation.timers import timers_fire_due

    # given the time rule active, and its step fired by the worker on one ticket
    rule_save(kind=RuleKind.TIME, definition=STALE, created_by=desk.admin, now=days_ago(60))
    p = open_ticket(desk, "Pending", at=days_ago(20))
    update(desk, p, days_ago(15), status="pending")
    timers_fire_due(now=days_ago(11))
    assert "stale" in Ticket.objects.get(pk=p.pk).tags.values_list("name", flat=True)
    # when the same rule, and then one waiting 10 days, are replayed
    same = replay.rule_replay(principal=desk.admin, kind=RuleKind.TIME, definition=STALE, days=30, now=NOW)
    longer = {**STALE, "steps": [{"after": "240h", "actions": [{"add_tags": ["stale"]}]}]}
    later = replay.rule_replay(principal=desk.admin, kind=RuleKind.TIME, definition=longer, days=30, now=NOW)
    # then the same rule would have done it at (about) the same instant: the worker fired it later
    assert [(t.number, t.comparison, [f.at for f in t.firings]) for t in same.tickets] == [
        (p.number, replay.SAME, [days_ago(12)])
    ]
    assert same.tickets[0].saved_at == [days_ago(11)]
    # and the slower one comes due 5 days ago on a ticket the recorded history already tagged
    # (the saved rule's firing is part of it): it would change nothing, so the ticket is no
    # longer affected
    assert [(t.number, t.comparison, t.firings) for t in later.tickets] == [(p.number, replay.GONE, [])]
    assert (later.fired, later.unchanged) == (0, 1)


def test_only_admins_replay(desk: Any) -> None:
    for who in (desk.agent, desk.light):
        with pytest.raises(PermissionDenied):
            replay.rule_replay(principal=who, kind=RuleKind.EVENT, definition=HOT, days=30, now=NOW)


@pytest.mark.parametrize("days", [0, 91, -1])
def test_days_are_bounded(desk: Any, days: int) -> None:
    with pytest.raises(ValidationFailed) as caught:
        replay.rule_replay(principal=desk.admin, kind=RuleKind.EVENT, definition=HOT, days=days, now=NOW)
    assert caught.value.field == "days"


def test_a_bad_definition_names_its_path(desk: Any) -> None:
    bad = {**HOT, "when": {"field": "ticket.nope", "op": "is", "value": 1}}
    with pytest.raises(ValidationFailed) as caught:
        replay.rule_replay(principal=desk.admin, kind=RuleKind.EVENT, definition=bad, days=30, now=NOW)
    assert caught.value.field == "when.field"


def test_too_many_changes_ask_for_a_narrower_window(
    desk: Any, history: dict[str, Ticket], settings: Any
) -> None:
    # given a desk allowing 4 changes to be replayed, and 5 in the last 30 days
    settings.SPORTELLO = {**settings.SPORTELLO, "REPLAY_CHANGES_MAX": 4}
    with pytest.raises(ValidationFailed) as caught:
        replay.rule_replay(principal=desk.admin, kind=RuleKind.EVENT, definition=HOT, days=30, now=NOW)
    assert caught.value.field == "days"
    assert "fewer days" in caught.value.message
    # and 2 days hold few enough
    result = replay.rule_replay(principal=desk.admin, kind=RuleKind.EVENT, definition=HOT, days=2, now=NOW)
    assert result.changes_scanned == 2


def test_reads_are_batched(desk: Any, history: dict[str, Ticket], django_assert_max_num_queries: Any) -> None:
    # given more tickets than one batch holds... the statements do not grow with the tickets
    for i in range(6):
        t = open_ticket(desk, f"More {i}", at=days_ago(4))
        update(desk, t, days_ago(3), priority="high")
    with django_assert_max_num_queries(16):
        result = replay.rule_replay(
            principal=desk.admin, kind=RuleKind.EVENT, definition=HOT, days=30, now=NOW
        )
    assert result.affected == 8


# -- the law: replaying a rule over the history it was active in gives what it did -----------

SEEN = {
    "key": "seen",
    "name": "Seen",
    "when": {
        "all": [
            {
                "any": [
                    {"field": "ticket.priority", "op": "changed"},
                    {"field": "message.author_kind", "op": "is", "value": "contact"},
                ]
            },
            {"not": {"field": "ticket.tags", "op": "contains", "value": "quiet"}},
        ]
    },
    "actions": [{"add_tags": ["seen"]}, {"note": {"body": "Seen at {{ ticket.priority }}"}}],
}

Op = tuple[str, Any]
OPS = st.one_of(
    st.tuples(st.just("priority"), st.sampled_from(["low", "normal", "high", "urgent"])),
    st.tuples(st.just("customer"), st.just(None)),
    st.tuples(st.just("reply"), st.just(None)),
    st.tuples(st.just("tag"), st.sampled_from(["quiet", "seen", "other"])),
    st.tuples(st.just("untag"), st.sampled_from(["quiet", "seen"])),
)


def _steps(start: datetime) -> Iterator[datetime]:
    at = start
    while True:
        at += timedelta(hours=3)
        yield at


@pytest.fixture
def seen_rule(desk: Any) -> Rule:
    return rule_save(kind=RuleKind.EVENT, definition=SEEN, created_by=desk.admin, now=days_ago(80))[0]


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(st.tuples(st.integers(0, 1), OPS), min_size=1, max_size=8))
def test_replaying_an_event_rule_over_its_own_history_gives_what_it_did(
    desk: Any, seen_rule: Rule, ops: list[tuple[int, Op]]
) -> None:
    # given the rule active while two tickets are changed at random
    clock = _steps(days_ago(20))
    tickets = [open_ticket(desk, f"Ticket {i}", at=next(clock)) for i in range(2)]
    for which, (op, value) in ops:
        ticket, at = tickets[which], next(clock)
        if op == "priority":
            update(desk, ticket, at, priority=value)
        elif op == "customer":
            customer_writes(desk, ticket, at)
        elif op == "reply":
            agent_replies(desk, ticket, at)
        elif op == "tag":
            update(desk, ticket, at, add_tags=[value])
        else:
            update(desk, ticket, at, remove_tags=[value])
    # when the same definition is replayed over the window that holds that history
    result = replay.rule_replay(principal=desk.admin, kind=RuleKind.EVENT, definition=SEEN, days=30, now=NOW)
    # then on each of these tickets it would have fired on exactly the changes it acted on, with
    # exactly the changes and notes it made, and the comparison says "same"
    ids = {t.pk for t in tickets}
    replayed = {
        (t.ticket_id, f.change_id): (f.changes, f.notes)
        for t in result.tickets
        if t.ticket_id in ids
        for f in t.firings
    }
    recorded: dict[tuple[int, str], tuple[list[dict[str, Any]], list[str]]] = {}
    for e in TicketEvent.objects.filter(ticket_id__in=ids, cause__startswith="rule:seen@").order_by("id"):
        changes, notes = recorded.setdefault((e.ticket_id, str(e.change_id)), ([], []))
        if e.kind == "tags":
            changes.append({"field": "tags", "old_value": e.old_value, "new_value": e.new_value})
        elif e.kind == "message":
            notes.append(Message.objects.get(pk=(e.new_value or {})["message_id"]).body_text)
    assert all(len(t.firings) == t.fired for t in result.tickets if t.ticket_id in ids)  # all listed (≤ 5)
    if all(t.fired <= replay.FIRINGS_LISTED for t in result.tickets if t.ticket_id in ids):
        assert replayed == recorded
    assert {t.comparison for t in result.tickets if t.ticket_id in ids} <= {replay.SAME}


def test_a_deactivated_rule_is_compared_with_what_it_did_while_active(desk: Any, seen_rule: Rule) -> None:
    # given the rule active for a change, then deactivated
    t = open_ticket(desk, "Seen once", at=days_ago(9))
    customer_writes(desk, t, days_ago(8))  # fires
    rule_deactivate(key="seen", created_by=desk.admin, now=days_ago(7))
    customer_writes(desk, t, days_ago(6))  # would have fired (a note), did not
    # when it is replayed
    result = replay.rule_replay(principal=desk.admin, kind=RuleKind.EVENT, definition=SEEN, days=30, now=NOW)
    # then the opening and both messages are firings; the ticket is the same (the saved rule
    # acted on it too, while it was active)
    (row,) = [r for r in result.tickets if r.ticket_id == t.pk]
    assert [f.at for f in row.firings] == [days_ago(9), days_ago(8), days_ago(6)]
    assert row.firings[2].changes == []
    assert row.firings[2].notes == ["Seen at normal"]
    assert row.comparison == replay.SAME
    assert row.saved_at == [days_ago(9), days_ago(8)]


# -- the API ----------------------------------------------------------------------------------


def test_the_api_replays_for_admins_and_says_what_is_wrong(
    desk: Any, api: Any, history: dict[str, Ticket], monkeypatch: Any
) -> None:
    # given the desk's clock at the history's "now"
    hand_clock(monkeypatch, NOW)
    body = {"rule": {**HOT, "kind": "event"}, "days": 30}
    # when an admin replays the rule
    r = api(desk.admin).post("/rules/replay", body)
    # then the answer names the tickets and what would change
    assert r.status_code == 200, r.content
    data = r.json()
    assert data["key"] == "hot"
    assert data["kind"] == "event"
    assert (data["affected"], data["changes_scanned"], data["tickets_considered"]) == (2, 5, 3)
    assert sorted(t["number"] for t in data["tickets"]) == sorted(history[k].number for k in ("old", "fresh"))
    assert [f["changes"] for t in data["tickets"] for f in t["firings"]] == [
        [{"field": "tags", "old_value": [], "new_value": ["hot"]}]
    ] * 2
    assert len(data["per_day"]) == 31
    assert {n["code"] for n in data["notes"]} >= {"not_carried"}
    # and agents may not, a bad window or rule is a 422 naming the field
    assert api(desk.agent).post("/rules/replay", body).status_code == 403
    r = api(desk.admin).post("/rules/replay", {**body, "days": 91})
    assert (r.status_code, r.json()["error"]["field"]) == (422, "days")
    r = api(desk.admin).post("/rules/replay", {"rule": HOT, "days": 3})
    assert (r.status_code, r.json()["error"]["field"]) == (422, "kind")
    bad = {"rule": {**HOT, "kind": "event", "when": {"field": "ticket.nope", "op": "is", "value": 1}}}
    r = api(desk.admin).post("/rules/replay", bad)
    assert (r.status_code, r.json()["error"]["field"]) == (422, "when.field")


def test_openings_are_read_exactly_as_the_audit_trail_expands_them(desk: Any) -> None:
    # given tickets opened with fields, tags, custom values and a first message
    from sportello.tickets.audit import expand

    t = open_ticket(desk, "With an opening", at=days_ago(2), priority="high")
    update(desk, t, days_ago(1), add_tags=["later"])
    rows = TicketEvent.objects.filter(ticket=t).order_by("at", "id")
    trail = replay.event_trail([t.pk], NOW)
    # when the replay reads them as plain rows
    read = [e for row in trail for e in replay.event_rows(row)]
    # then they are the events `expand` reads, field by field
    expanded = expand(rows)
    assert [(e.kind, e.field, e.new_value, e.cause, e.via, e.at) for e in read] == [
        (e.kind, e.field, e.new_value, e.cause, e.via, e.at) for e in expanded
    ]
    assert [e.kind for e in read][:2] == ["created", "field"]

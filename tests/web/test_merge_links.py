"""What a merge does to the target as a change of its own (counts, anchors, SLA clocks, audit),
the links between tickets (`Ticket.merged_into`, `Ticket.follow_up_of`), and replies to a
merged ticket through the API."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from sportello.core.actors import Via
from sportello.core.errors import Conflict
from testing import NOW, recorded

T0 = NOW


def _policy(desk: Any) -> None:
    from sportello.sla.services import policy_save

    every = ("low", "normal", "high", "urgent")
    policy_save(
        definition={
            "key": "replies",
            "name": "Replies",
            "when": {"all": []},
            "targets": {
                "first_response": {p: {"within": "1h"} for p in every},
                "next_response": {p: {"within": "2h"} for p in every},
                "resolution": {p: {"within": "1d"} for p in every},
            },
        },
        actor=desk.admin,
        now=T0 - timedelta(days=1),
    )


def _open(desk: Any, subject: str, at: datetime, **data: Any) -> Any:
    from sportello.tickets.services import ticket_open

    return ticket_open(
        principal=desk.agent,
        via=Via.WEB,
        data={
            "subject": subject,
            "description": data.pop("description", f"About: {subject}"),
            "department_id": desk.books.pk,
            "requester_id": data.pop("requester", desk.alice).pk,
        },
        now=at,
    ).ticket


def _reply(desk: Any, ticket: Any, at: datetime, body: str = "We are on it.") -> None:
    from sportello.tickets.services import message_add

    message_add(
        principal=desk.agent,
        ticket_id=ticket.pk,
        via=Via.WEB,
        body=body,
        body_html="",
        public=True,
        attachment_ids=[],
        version=None,
        now=at,
    )


def _merge(desk: Any, source: Any, target: Any, at: datetime) -> Any:
    from sportello.tickets.merge import ticket_merge

    return ticket_merge(principal=desk.agent, source_id=source.pk, target_id=target.pk, via=Via.WEB, now=at)


def _clocks(ticket: Any) -> Any:
    from sportello.engine import sla as engine
    from sportello.sla.models import TicketSla

    return engine.state_from_data(TicketSla.objects.get(ticket=ticket).state).clocks


def _running(ticket: Any, metric: str) -> Any:
    found = [c for c in _clocks(ticket) if c.metric == metric and c.running]
    assert len(found) <= 1
    return found[0] if found else None


def test_an_unanswered_customer_message_moved_in_starts_the_targets_next_response_from_when_it_came(
    desk: Any, browser: Any
) -> None:
    from sportello.sla.models import SlaRecord
    from sportello.tickets.models import Ticket, TicketEvent

    # given a target the agent answered, and the customer's unanswered second ticket
    _policy(desk)
    target = _open(desk, "Order 41", T0)
    _reply(desk, target, T0 + timedelta(minutes=5))
    source = _open(desk, "Order 41 again", T0 + timedelta(minutes=10))
    assert _running(target, "next_response") is None
    # when the second ticket is merged into the first, 30 minutes later
    _merge(desk, source, target, T0 + timedelta(minutes=40))
    # then the target's next response runs since the moved message came, due 2 hours after it
    clock = _running(target, "next_response")
    assert (clock.started_at, clock.due_at) == (
        T0 + timedelta(minutes=10),
        T0 + timedelta(minutes=10, hours=2),
    )
    started = TicketEvent.objects.get(
        ticket=target, kind="sla", field="started", new_value__metric="next_response"
    )
    assert (recorded(started)["cause"], started.at) == ("merged", T0 + timedelta(minutes=40))
    # and the target counts the message and its instant as its own
    target = Ticket.objects.get(pk=target.pk)
    assert (target.message_count, target.customer_message_count, target.agent_reply_count) == (3, 2, 1)
    assert target.last_customer_message_at == T0 + timedelta(minutes=10)
    assert target.last_agent_reply_at == T0 + timedelta(minutes=5)
    # the source's clocks stopped, neither met nor missed: no report row
    assert {c.status for c in _clocks(source)} == {"superseded"}
    superseded = TicketEvent.objects.filter(ticket=source, kind="sla", field="superseded")
    assert {recorded(e)["cause"] for e in superseded} == {"merged"}
    assert not SlaRecord.objects.filter(ticket=source).exists()
    # and the source's history says so in words
    page = browser(desk.agent).get(f"/tickets/{source.pk}/").content.decode()
    assert "First response clock stopped: the ticket was merged into another" in page


def test_a_wait_moved_in_that_exceeded_the_target_is_breached_at_the_merge(desk: Any) -> None:
    from sportello.tickets.models import TicketEvent

    # given an answered target and a customer message that has waited 3 hours elsewhere
    _policy(desk)
    target = _open(desk, "Order 41", T0)
    _reply(desk, target, T0 + timedelta(minutes=5))
    source = _open(desk, "Order 41 again", T0 + timedelta(minutes=10))
    # when it is merged in
    merged_at = T0 + timedelta(hours=3, minutes=10)
    _merge(desk, source, target, merged_at)
    # then the next response is breached at the merge (the target did not apply before)
    clock = _running(target, "next_response")
    assert clock.breached_at == merged_at
    breach = TicketEvent.objects.get(ticket=target, kind="sla", field="breached")
    assert (recorded(breach)["metric"], recorded(breach)["cause"]) == ("next_response", "merged")


def test_a_running_first_response_on_the_target_is_kept(desk: Any) -> None:
    # given a target nobody answered yet (its first response runs) and another unanswered ticket
    _policy(desk)
    target = _open(desk, "Order 41", T0)
    before = _running(target, "first_response")
    source = _open(desk, "Order 41 again", T0 + timedelta(minutes=10))
    # when it is merged in
    _merge(desk, source, target, T0 + timedelta(minutes=20))
    # then the target's first response runs on, unchanged; no next response starts beside it
    assert _running(target, "first_response") == before
    assert _running(target, "next_response") is None


def test_an_answered_message_moved_in_starts_nothing(desk: Any) -> None:
    from sportello.tickets.models import Ticket

    # given an answered target and an answered second ticket
    _policy(desk)
    target = _open(desk, "Order 41", T0)
    _reply(desk, target, T0 + timedelta(minutes=5))
    source = _open(desk, "Order 41 again", T0 + timedelta(minutes=10))
    _reply(desk, source, T0 + timedelta(minutes=15), body="Answered there.")
    # when it is merged in
    _merge(desk, source, target, T0 + timedelta(minutes=20))
    # then no reply clock runs on the target; its anchors take the later instants
    assert _running(target, "next_response") is None
    target = Ticket.objects.get(pk=target.pk)
    assert target.last_agent_reply_at == T0 + timedelta(minutes=15)
    assert (target.message_count, target.customer_message_count, target.agent_reply_count) == (4, 2, 2)


def test_a_customer_message_answered_on_the_target_later_is_not_waiting(desk: Any) -> None:
    # given a second ticket whose message came before the agent answered on the target
    _policy(desk)
    source = _open(desk, "Order 41 again", T0)
    target = _open(desk, "Order 41", T0 + timedelta(minutes=5))
    _reply(desk, target, T0 + timedelta(minutes=10))
    # when it is merged in: the reply on the target came after it, as if it answered it
    _merge(desk, source, target, T0 + timedelta(minutes=20))
    assert _running(target, "next_response") is None


def test_merge_is_a_change_of_the_target_that_rules_see(desk: Any) -> None:
    from sportello.automation.models import RuleKind
    from sportello.automation.services import rule_save
    from sportello.tickets.models import Ticket, TicketEvent

    # given a rule that tags a ticket whose customer wrote twice or more
    rule_save(
        kind=RuleKind.EVENT,
        created_by=desk.admin,
        now=T0 - timedelta(days=1),
        definition={
            "key": "busy",
            "name": "Busy",
            "on": ["ticket.updated"],
            "when": {"field": "ticket.customer_message_count", "op": "gte", "value": 2},
            "actions": [{"add_tags": ["busy"]}],
        },
    )
    target = _open(desk, "Order 41", T0)
    source = _open(desk, "Order 41 again", T0 + timedelta(minutes=10))
    version = Ticket.objects.get(pk=target.pk).version
    # when the second ticket is merged into the first
    _merge(desk, source, target, T0 + timedelta(minutes=20))
    # then the merge is one change of the target, by the agent, which the rule saw
    target = Ticket.objects.get(pk=target.pk)
    assert target.version == version + 1
    assert list(target.tags.values_list("name", flat=True)) == ["busy"]
    came = TicketEvent.objects.get(ticket=target, kind="merge")
    tagged = TicketEvent.objects.get(ticket=target, kind="tags", cause="rule:busy@1")
    assert came.change_id == tagged.change_id
    assert (came.actor_id, came.at) == (desk.agent.pk, T0 + timedelta(minutes=20))


def test_merge_links_the_source_to_the_target(desk: Any, open_ticket: Any, now: Any) -> None:
    from sportello.tickets.links import merge_destination
    from sportello.tickets.merge import merged_into_ticket
    from sportello.tickets.models import Ticket

    a, b, c = open_ticket("A"), open_ticket("B"), open_ticket("C")
    _merge(desk, a, b, now)
    _merge(desk, b, c, now)
    assert Ticket.objects.get(pk=a.pk).merged_into_id == b.pk
    assert merged_into_ticket(ticket_id=a.pk) == {"ticket": b.pk, "number": b.number}
    assert merged_into_ticket(ticket_id=c.pk) is None
    # chains end where the conversation is
    assert merge_destination(ticket=Ticket.objects.get(pk=a.pk)).id == c.pk
    assert set(Ticket.objects.get(pk=c.pk).merged_from.values_list("pk", flat=True)) == {b.pk}


def test_follow_ups_are_linked_to_the_closed_ticket(desk: Any, open_ticket: Any, now: Any) -> None:
    from sportello.tickets import services

    closed = open_ticket("Old", status="closed")
    out = services.ticket_followup_open(
        principal=desk.agent, closed_ticket_id=closed.pk, via=Via.WEB, body="Again?", body_html="", now=now
    )
    assert out.ticket.follow_up_of_id == closed.pk
    assert list(closed.follow_ups.values_list("pk", flat=True)) == [out.ticket.pk]


def test_a_merged_ticket_gets_no_follow_up(desk: Any, open_ticket: Any, now: Any) -> None:
    from sportello.tickets import services

    target, source = open_ticket("Target"), open_ticket("Source")
    _merge(desk, source, target, now)
    with pytest.raises(Conflict) as exc:
        services.ticket_followup_open(
            principal=desk.agent, closed_ticket_id=source.pk, via=Via.WEB, body="x", body_html="", now=now
        )
    assert exc.value.code == "ticket_merged"
    assert f"#{target.number}" in exc.value.message


def test_the_api_shows_the_links_and_refuses_replies_to_a_merged_ticket(
    desk: Any, open_ticket: Any, as_role: Any, now: Any
) -> None:
    from sportello.tickets import services

    a, b, c = open_ticket("A"), open_ticket("B"), open_ticket("C")
    _merge(desk, a, b, now)
    _merge(desk, b, c, now)
    agent = as_role("agent")
    # the links, read-only
    assert agent.get(f"/tickets/{a.pk}").json()["merged_into_id"] == b.pk
    assert agent.get(f"/tickets/{c.pk}").json()["merged_into_id"] is None
    # a reply to A is refused, naming where the conversation went in the end
    r = agent.post(f"/tickets/{a.pk}/messages", {"body": "Hello?", "public": True})
    assert r.status_code == 409
    assert r.json()["error"] == {
        "code": "ticket_merged",
        "message": f"ticket #{a.number} was merged into #{c.number}; write on #{c.number} instead",
        "field": None,
    }
    # follow-ups carry their link
    old = open_ticket("Old", status="closed")
    follow = services.ticket_followup_open(
        principal=desk.agent, closed_ticket_id=old.pk, via=Via.WEB, body="x", body_html="", now=now
    )
    follow_id = follow.ticket.pk
    assert agent.get(f"/tickets/{follow_id}").json()["follow_up_of_id"] == old.pk
    # read-only: a PATCH cannot set them
    version = agent.get(f"/tickets/{c.pk}").json()["version"]
    patched = agent.patch(f"/tickets/{c.pk}", {"merged_into_id": a.pk, "version": version})
    assert patched.status_code == 422


def test_a_merged_ticket_page_is_read_only_and_says_where_it_went(
    desk: Any, open_ticket: Any, browser: Any, now: Any
) -> None:
    target, source = open_ticket("Order 41 missing"), open_ticket("Parcel lost")
    _merge(desk, source, target, now)
    client = browser(desk.agent)
    page = client.get(f"/tickets/{source.pk}/").content.decode()
    # a banner with the target's number, link and subject
    assert 'class="merged-banner" role="note"' in page
    assert (
        f'Merged into <a href="/tickets/{target.pk}/">#{target.number}</a> — <bdi>Order 41 missing</bdi>'
        in page
    )
    # no composer, follow-up, properties form, macros, merge, new task or escalation
    for absent in ('id="reply-form"', 'id="followup-form"', 'id="properties-form"', 'id="macro-dialog"',
                   'data-dialog-open="merge-dialog"', 'class="task-new"',
                   'class="tier-escalate"'):  # fmt: skip
        assert absent not in page, absent
    # the properties are still there, to read
    assert 'class="card details"' in page
    # the target lists what was merged into it
    there = client.get(f"/tickets/{target.pk}/").content.decode()
    assert "Merged from" in there
    assert (
        f'<a href="/tickets/{source.pk}/" class="linked-ticket"><span class="num">#{source.number}</span>'
        in there
    )
    assert 'class="merged-banner"' not in there
    assert 'id="reply-form"' in there
    assert 'class="task-new"' in there


def test_follow_up_links_on_both_pages(desk: Any, open_ticket: Any, browser: Any, now: Any) -> None:
    from sportello.tickets import services

    old = open_ticket("Old question", status="closed")
    new = services.ticket_followup_open(
        principal=desk.agent, closed_ticket_id=old.pk, via=Via.WEB, body="Again", body_html="", now=now
    ).ticket
    client = browser(desk.agent)
    on_new = client.get(f"/tickets/{new.pk}/").content.decode()
    assert "Follow-up of" in on_new
    assert f'href="/tickets/{old.pk}/" class="linked-ticket"' in on_new
    on_old = client.get(f"/tickets/{old.pk}/").content.decode()
    assert "Follow-ups:" in on_old
    assert f'href="/tickets/{new.pk}/" class="linked-ticket"' in on_old
    # the old one is closed, not merged: it still offers a follow-up
    assert 'id="followup-form"' in on_old


def test_a_link_to_a_ticket_the_agent_may_not_read_shows_its_number_only(
    desk: Any, open_ticket: Any, browser: Any, now: Any
) -> None:
    from sportello.tickets import services

    target, source = open_ticket("Gadget order"), open_ticket("Parcel lost")
    _merge(desk, source, target, now)
    # the target moves to Electronics, which the Books agent does not work in
    version = type(target).objects.get(pk=target.pk).version
    services.ticket_update(
        principal=desk.admin,
        ticket_id=target.pk,
        via=Via.WEB,
        data={"department_id": desk.electronics.pk, "version": version},
        now=now,
    )
    page = browser(desk.agent).get(f"/tickets/{source.pk}/").content.decode()
    assert f"Merged into #{target.number}</p>" in page
    assert f'href="/tickets/{target.pk}/"' not in page
    assert "Gadget order" not in page


def test_the_migration_fills_the_links_from_the_events(desk: Any, open_ticket: Any, now: Any) -> None:
    import importlib

    from django.apps import apps

    from sportello.tickets import services
    from sportello.tickets.models import Ticket, TicketEvent

    migration = importlib.import_module("sportello.tickets.migrations.0011_ticket_links")
    # given a merge and a follow-up recorded before the links existed (only their events)
    target, source = open_ticket("Target"), open_ticket("Source")
    _merge(desk, source, target, now)
    old = open_ticket("Old", status="closed")
    follow = services.ticket_followup_open(
        principal=desk.agent, closed_ticket_id=old.pk, via=Via.WEB, body="x", body_html="", now=now
    ).ticket
    unrelated = open_ticket("Unrelated")
    TicketEvent.objects.create(  # a cause that only looks like a follow-up's
        ticket=unrelated, at=now, kind="created", cause="follow-up of #999999", actor_kind="system", via="web"
    )
    Ticket.objects.update(merged_into=None, follow_up_of=None)
    # when the migration's data step runs
    migration.links_from_events(apps, None)
    # then both links are back, and nothing else is linked
    assert list(Ticket.objects.filter(merged_into__isnull=False).values_list("pk", "merged_into_id")) == [
        (source.pk, target.pk)
    ]
    assert list(Ticket.objects.filter(follow_up_of__isnull=False).values_list("pk", "follow_up_of_id")) == [
        (follow.pk, old.pk)
    ]

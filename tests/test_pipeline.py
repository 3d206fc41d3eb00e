"""The change pipeline: one transaction per mutation, audited, validated, version-checked."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction

from sportello.core.actors import Actor, ActorKind, Via
from sportello.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from sportello.outbox.models import OutboxMessage
from sportello.tickets import pipeline
from sportello.tickets.models import Message, Ticket, TicketEvent
from sportello.tickets.pipeline import Mutation, NewMessage
from testing import NOW


def agent(user: Any) -> Actor:
    return Actor(kind=ActorKind.AGENT, id=user.pk, label=user.email)


def contact(c: Any) -> Actor:
    return Actor(kind=ActorKind.CONTACT, id=c.pk, label=c.email)


def open_ticket(desk: Any, **fields: Any) -> Ticket:
    outcome = pipeline.ticket_create(
        actor=agent(desk.agent),
        via=Via.API,
        subject="Missing pages",
        requester_id=desk.alice.pk,
        department_id=desk.books.pk,
        description=NewMessage(body="Pages 30-40 are blank.", author=contact(desk.alice)),
        fields=fields,
        now=NOW,
    )
    return outcome.ticket


def change(desk: Any, ticket: Ticket, *, by: Any = None, **kw: Any) -> pipeline.Outcome:
    mutation = Mutation(actor=agent(by or desk.agent), via=Via.API, **kw)
    return pipeline.ticket_apply(ticket_id=ticket.pk, mutation=mutation, now=NOW + timedelta(hours=1))


def test_creation_numbers_tickets_sequentially_and_records_who_and_how(desk: Any) -> None:
    first, second = open_ticket(desk), open_ticket(desk)
    assert (first.number, second.number) == (first.number, first.number + 1)
    created = TicketEvent.objects.get(ticket=first, kind="created")
    assert (created.actor_kind, created.actor_id, created.via) == ("agent", desk.agent.pk, "api")
    description = Message.objects.get(ticket=first)
    # the description is the customer's words, even when an agent files it
    assert (description.author_kind, description.author_contact_id) == ("contact", desk.alice.pk)
    assert first.first_response_at is None
    assert (first.message_count, first.customer_message_count, first.agent_reply_count) == (1, 1, 0)


def test_every_field_change_is_one_event_with_old_and_new_values(desk: Any) -> None:
    ticket = open_ticket(desk)
    outcome = change(desk, ticket, fields={"priority": "urgent", "assignee": desk.agent.pk}, cause="triage")
    rows = TicketEvent.objects.filter(change_id=outcome.change_id).order_by("field")
    assert [(e.field, e.old_value, e.new_value, e.cause) for e in rows] == [
        ("assignee", None, desk.agent.pk, "triage"),
        ("priority", "normal", "urgent", "triage"),
    ]
    assert outcome.ticket.version == 2


def test_a_mutation_that_changes_nothing_writes_nothing(desk: Any) -> None:
    ticket = open_ticket(desk, priority="high")
    before = TicketEvent.objects.count()
    outcome = change(desk, ticket, fields={"priority": "high"})
    assert outcome.events == []
    assert TicketEvent.objects.count() == before
    assert Ticket.objects.get(pk=ticket.pk).version == 1


def test_stale_version_is_refused_and_nothing_is_written(desk: Any) -> None:
    ticket = open_ticket(desk)
    change(desk, ticket, fields={"priority": "high"}, expected_version=1)
    events = TicketEvent.objects.count()
    with pytest.raises(Conflict) as exc:
        change(desk, ticket, fields={"priority": "low"}, expected_version=1)
    assert exc.value.code == "stale_version"
    assert Ticket.objects.get(pk=ticket.pk).priority == 3
    assert TicketEvent.objects.count() == events


def test_invalid_value_rolls_back_the_whole_mutation(desk: Any) -> None:
    ticket = open_ticket(desk)
    with pytest.raises(ValidationFailed) as exc:
        change(
            desk, ticket, fields={"priority": "urgent", "status": "nope"}, message=NewMessage(body="hello")
        )
    assert exc.value.field == "status"
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert (fresh.priority, fresh.version, fresh.message_count) == (2, 1, 1)
    assert Message.objects.filter(ticket=ticket).count() == 1


def test_assignee_must_work_in_the_tickets_department(desk: Any) -> None:
    ticket = open_ticket(desk)
    with pytest.raises(ValidationFailed) as exc:
        change(desk, ticket, fields={"assignee": desk.outsider.pk})
    assert exc.value.field == "assignee"
    with pytest.raises(ValidationFailed):
        change(desk, ticket, fields={"assignee": desk.light.pk})


def test_moving_department_drops_team_and_assignee_that_no_longer_apply(desk: Any) -> None:
    ticket = open_ticket(desk, team=desk.team.pk, assignee=desk.agent.pk)
    outcome = change(desk, ticket, by=desk.admin, fields={"department": desk.electronics.pk})
    assert (outcome.ticket.team_id, outcome.ticket.assignee_id) == (None, None)
    fields = {e.field for e in outcome.events}
    assert {"department", "team", "assignee"} <= fields


def test_light_agent_may_add_internal_notes_only(desk: Any) -> None:
    ticket = open_ticket(desk)
    with pytest.raises(PermissionDenied):
        change(desk, ticket, by=desk.light, fields={"priority": "low"})
    with pytest.raises(PermissionDenied):
        change(desk, ticket, by=desk.light, message=NewMessage(body="Hi customer", public=True))
    outcome = change(desk, ticket, by=desk.light, message=NewMessage(body="FYI: reprint due", public=False))
    assert outcome.message is not None
    assert outcome.message.public is False


def test_agent_of_another_department_cannot_touch_the_ticket(desk: Any) -> None:
    ticket = open_ticket(desk)
    with pytest.raises(NotFound):
        change(desk, ticket, by=desk.outsider, fields={"priority": "low"})


def test_customer_reply_reopens_pending_ticket(desk: Any) -> None:
    ticket = open_ticket(desk, status="pending")
    mutation = Mutation(actor=contact(desk.alice), via=Via.EMAIL, message=NewMessage(body="Still broken"))
    outcome = pipeline.ticket_apply(ticket_id=ticket.pk, mutation=mutation, now=NOW)
    assert outcome.ticket.status.key == "open"
    status_event = next(e for e in outcome.events if e.field == "status")
    assert (status_event.old_value, status_event.new_value, status_event.actor_kind) == (
        "pending",
        "open",
        "contact",
    )


def test_customer_cannot_change_fields_or_write_on_someone_elses_ticket(desk: Any) -> None:
    ticket = open_ticket(desk)
    by_requester = Mutation(actor=contact(desk.alice), via=Via.PORTAL, fields={"priority": "urgent"})
    with pytest.raises(PermissionDenied):
        pipeline.ticket_apply(ticket_id=ticket.pk, mutation=by_requester, now=NOW)
    by_stranger = Mutation(actor=contact(desk.bob), via=Via.PORTAL, message=NewMessage(body="hi"))
    with pytest.raises(NotFound):
        pipeline.ticket_apply(ticket_id=ticket.pk, mutation=by_stranger, now=NOW)


def test_solving_and_closing_stamp_their_instants_and_closed_tickets_are_frozen(desk: Any) -> None:
    ticket = open_ticket(desk)
    solved = change(desk, ticket, fields={"status": "solved"}).ticket
    assert solved.solved_at == NOW + timedelta(hours=1)
    closed = change(desk, ticket, fields={"status": "closed"}).ticket
    assert closed.closed_at == NOW + timedelta(hours=1)
    with pytest.raises(Conflict):
        change(desk, ticket, message=NewMessage(body="one more thing"))


def test_first_agent_reply_sets_first_response_and_queues_mail_in_the_same_transaction(desk: Any) -> None:
    ticket = open_ticket(desk)
    outcome = change(desk, ticket, message=NewMessage(body="We are on it."))
    assert outcome.ticket.first_response_at == NOW + timedelta(hours=1)
    assert outcome.ticket.status.key == "open"
    item = OutboxMessage.objects.get(ticket=ticket)
    assert item.payload["to"] == ["alice@acme.test"]
    assert item.payload["subject"] == f"[#{ticket.number}] Missing pages"
    assert item.change_id == outcome.change_id


def test_a_rolled_back_reply_leaves_no_outbox_row(desk: Any) -> None:
    ticket = open_ticket(desk)

    def reply_then_fail() -> None:
        with transaction.atomic():
            change(desk, ticket, message=NewMessage(body="We are on it."))
            raise RuntimeError("the caller's transaction fails after the pipeline ran")

    with pytest.raises(RuntimeError):
        reply_then_fail()
    assert not OutboxMessage.objects.exists()
    assert Message.objects.filter(ticket=ticket).count() == 1


def test_message_html_is_sanitised_and_text_derived(desk: Any) -> None:
    ticket = open_ticket(desk)
    html = (
        '<p onclick="x()">Hello <b>there</b><script>alert(1)</script></p>'
        '<p><a href="javascript:evil()">x</a></p>'
    )
    outcome = change(desk, ticket, message=NewMessage(body_html=html))
    assert outcome.message is not None
    assert "script" not in outcome.message.body_html
    assert "onclick" not in outcome.message.body_html
    assert "javascript" not in outcome.message.body_html
    assert outcome.message.body_text == "Hello there\n\nx"


def test_tags_are_normalised_and_changes_recorded_as_lists(desk: Any) -> None:
    ticket = open_ticket(desk)
    outcome = change(desk, ticket, tags_add=("  Needs Reprint ", "vip"), tags_remove=("none",))
    assert outcome.events[0].field == "tags"
    assert (outcome.events[0].old_value, outcome.events[0].new_value) == ([], ["needs_reprint", "vip"])
    with pytest.raises(ValidationFailed):
        change(desk, ticket, tags_add=("a,b",))


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_writers_with_the_same_version_one_wins_one_conflicts(desk: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks across threads need a server database")
    ticket = open_ticket(desk)
    results: list[str] = []
    barrier = threading.Barrier(2)

    def writer(priority: str) -> None:
        barrier.wait()
        try:
            change(desk, ticket, fields={"priority": priority}, expected_version=1)
            results.append("ok")
        except Conflict:
            results.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(p,)) for p in ("high", "low")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["conflict", "ok"]
    assert Ticket.objects.get(pk=ticket.pk).version == 2


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_creations_get_distinct_gap_free_numbers(desk: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need a server database")
    numbers: list[int] = []
    lock = threading.Lock()

    def creator() -> None:
        try:
            for _ in range(5):
                t = open_ticket(desk)
                with lock:
                    numbers.append(t.number)
        finally:
            connection.close()

    threads = [threading.Thread(target=creator) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(numbers) == list(range(min(numbers), min(numbers) + 40))

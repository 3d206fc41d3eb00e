"""Merging a ticket into another and splitting a message into a new ticket (`tickets.merge`),
through the service and the API that shares it."""

from __future__ import annotations

from typing import Any

import pytest

from sportello.core.actors import Via
from sportello.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from testing import recorded


def _reply(ticket: Any, by: Any, body: str, *, public: bool = True) -> None:
    from sportello.tickets import services

    services.message_add(
        principal=by,
        ticket_id=ticket.pk,
        via=Via.WEB,
        body=body,
        body_html="",
        public=public,
        attachment_ids=[],
        version=None,
        now=ticket.created_at,
    )


def _merge(by: Any, source: Any, target: Any, now: Any) -> Any:
    from sportello.tickets.merge import ticket_merge

    return ticket_merge(principal=by, source_id=source.pk, target_id=target.pk, via=Via.WEB, now=now)


def test_merge_moves_the_conversation_and_closes_the_source(
    desk: Any, open_ticket: Any, frozen_clock: Any
) -> None:
    from sportello.tickets.models import Message, StatusCategory, Ticket, TicketEvent
    from sportello.tickets.search import ticket_search

    # given two tickets of Alice's, the source with a reply and a note
    target = open_ticket("Order 41 missing", description="Where is order 41?")
    source = open_ticket("Parcel lost", description="My parcel zebrafinch never came.")
    _reply(source, desk.agent, "Checking with the courier.")
    _reply(source, desk.agent, "Courier says delivered.", public=False)
    # when the agent merges the source into the target
    out = _merge(desk.agent, source, target, frozen_clock)
    # then the three messages are the target's, after its own
    assert (out.messages, out.attachments, out.participants) == (3, 0, 0)
    bodies = list(
        Message.objects.filter(ticket=target).order_by("created_at", "id").values_list("body_text", flat=True)
    )
    assert bodies == [
        "Where is order 41?",
        "My parcel zebrafinch never came.",
        "Checking with the courier.",
        "Courier says delivered.",
    ]
    assert not Message.objects.filter(ticket=source).exists()
    target.refresh_from_db()
    source.refresh_from_db()
    assert (target.message_count, target.customer_message_count, target.agent_reply_count) == (4, 2, 1)
    assert source.message_count == 0
    # the source is closed, by the merge, and both histories say so
    assert source.status_category == StatusCategory.CLOSED
    into = TicketEvent.objects.get(ticket=source, kind="merge")
    assert (into.field, recorded(into)["number"], into.actor_id) == (
        "merged_into",
        target.number,
        desk.agent.pk,
    )
    closed = TicketEvent.objects.filter(ticket=source, kind="field", field="status").latest("id")
    assert (closed.actor_kind, closed.cause) == ("system", f"merge:#{target.number}")
    came = TicketEvent.objects.get(ticket=target, kind="merge")
    assert (came.field, recorded(came)["number"], recorded(came)["messages"]) == (
        "merged_from",
        source.number,
        3,
    )
    # and the search finds the moved words on the target only
    hits, _ = ticket_search(principal=desk.agent, q="zebrafinch")
    assert [h.ticket.pk for h in hits] == [target.pk]
    assert Ticket.objects.get(pk=target.pk).version > 1


def test_merge_ignores_fields_required_to_solve(desk: Any, open_ticket: Any, frozen_clock: Any) -> None:
    from sportello.tickets.models import CustomField, LayoutField, StatusCategory

    # given a department that requires a subcategory to solve, and a ticket without one
    field = CustomField.objects.create(
        key="subcategory",
        label="Subcategory",
        type="picklist",
        options=[{"value": "novels", "label": "Novels"}],
    )
    LayoutField.objects.create(department=desk.books, field=field, required="to_solve")
    target, source = open_ticket("Target"), open_ticket("Source")
    # when it is merged
    _merge(desk.agent, source, target, frozen_clock)
    # then it closes all the same: a merge is not solving
    source.refresh_from_db()
    assert source.status_category == StatusCategory.CLOSED


def test_a_merged_ticket_changes_no_more(desk: Any, open_ticket: Any, frozen_clock: Any) -> None:
    target, source = open_ticket("Target"), open_ticket("Source")
    _merge(desk.agent, source, target, frozen_clock)
    with pytest.raises(Conflict) as exc:
        _reply(source, desk.agent, "Still there?")
    # refused, naming where the conversation went
    assert exc.value.code == "ticket_merged"
    assert exc.value.message == (
        f"ticket #{source.number} was merged into #{target.number}; write on #{target.number} instead"
    )


def test_merge_refusals(desk: Any, open_ticket: Any, frozen_clock: Any) -> None:
    from sportello.tickets.models import Message

    a, b, c = open_ticket("A"), open_ticket("B"), open_ticket("C")
    elsewhere = open_ticket("Gadget", department=desk.electronics)
    # into itself
    with pytest.raises(ValidationFailed) as self_exc:
        _merge(desk.agent, a, a, frozen_clock)
    assert self_exc.value.field == "target_id"
    # by a light agent
    with pytest.raises(PermissionDenied):
        _merge(desk.light, a, b, frozen_clock)
    # into a ticket outside the agent's departments: like a missing one
    with pytest.raises(NotFound):
        _merge(desk.agent, a, elsewhere, frozen_clock)
    # chains: once B is merged into C, nothing merges into B, and B merges nowhere
    _merge(desk.agent, b, c, frozen_clock)
    with pytest.raises(Conflict) as chain:
        _merge(desk.agent, a, b, frozen_clock)
    assert chain.value.code == "target_merged"
    assert f"#{c.number}" in chain.value.message
    with pytest.raises(Conflict) as again:
        _merge(desk.agent, b, a, frozen_clock)
    assert again.value.code == "source_closed"
    # nothing moved by the refused merges
    assert Message.objects.filter(ticket=a).count() == 1


def test_merge_moves_attachments_and_participants(desk: Any, open_ticket: Any, frozen_clock: Any) -> None:
    from sportello.channels.models import InboundMail
    from sportello.tickets.merge import merge_preview
    from sportello.tickets.models import Attachment, Message

    target, source = open_ticket("Target"), open_ticket("Source", requester=desk.bob)
    first = Message.objects.get(ticket=source)
    for i in range(2):
        Attachment.objects.create(
            ticket=source,
            message=first,
            storage_key=f"k{i}",
            filename=f"f{i}.txt",
            content_type="text/plain",
            size=3,
            sha256="0" * 64,
            uploaded_by_kind="contact",
            created_at=frozen_clock,
        )
    InboundMail.objects.create(
        via="mta",
        dedupe_key="d1",
        sha256="0" * 64,
        size=1,
        sender="bob@example.test",
        status="ticket",
        participants=",carla@example.test,",
        ticket=source,
        received_at=frozen_clock,
    )
    preview = merge_preview(principal=desk.agent, source_id=source.pk, target_id=target.pk)
    assert (preview.messages, preview.attachments, preview.participants) == (1, 2, 2)
    out = _merge(desk.agent, source, target, frozen_clock)
    assert (out.messages, out.attachments, out.participants) == (1, 2, 2)
    assert Attachment.objects.filter(ticket=target).count() == 2
    assert InboundMail.objects.get(dedupe_key="d1").ticket_id == target.pk


def test_split_opens_a_ticket_with_the_message(desk: Any, open_ticket: Any, frozen_clock: Any) -> None:
    from sportello.tickets.merge import message_split
    from sportello.tickets.models import Attachment, AuthorKind, Message, TicketEvent

    ticket = open_ticket("Two questions", description="First: the order. Second: the invoice.")
    _reply(ticket, desk.agent, "Looking.")
    customer = Message.objects.get(ticket=ticket, author_kind=AuthorKind.CONTACT)
    Attachment.objects.create(
        ticket=ticket,
        message=customer,
        storage_key="inv",
        filename="invoice.pdf",
        content_type="application/pdf",
        size=3,
        sha256="0" * 64,
        uploaded_by_kind="contact",
        created_at=frozen_clock,
    )
    out = message_split(
        principal=desk.agent,
        ticket_id=ticket.pk,
        message_id=customer.pk,
        subject="The invoice",
        via=Via.WEB,
        now=frozen_clock,
    )
    new = out.ticket
    assert (new.subject, new.requester_id, new.department_id) == ("The invoice", desk.alice.pk, desk.books.pk)
    first = Message.objects.get(ticket=new)
    assert (first.author_kind, first.author_contact_id, first.public) == ("contact", desk.alice.pk, True)
    assert first.body_text == customer.body_text
    assert Attachment.objects.get(storage_key="inv").message_id == first.pk
    assert recorded(TicketEvent.objects.get(ticket=ticket, kind="split"))["number"] == new.number
    assert recorded(TicketEvent.objects.get(ticket=new, kind="split"))["number"] == ticket.number
    # an agent's reply is not split
    reply = Message.objects.get(ticket=ticket, author_kind=AuthorKind.AGENT)
    with pytest.raises(ValidationFailed):
        message_split(
            principal=desk.agent,
            ticket_id=ticket.pk,
            message_id=reply.pk,
            subject="x",
            via=Via.WEB,
            now=frozen_clock,
        )
    with pytest.raises(PermissionDenied):
        message_split(
            principal=desk.light,
            ticket_id=ticket.pk,
            message_id=customer.pk,
            subject="x",
            via=Via.WEB,
            now=frozen_clock,
        )


def test_merge_and_split_through_the_api(desk: Any, open_ticket: Any, as_role: Any) -> None:
    from sportello.tickets.models import Message

    target, source = open_ticket("Target"), open_ticket("Source")
    agent = as_role("agent")
    preview = agent.get(f"/tickets/{source.pk}/merge-preview", {"target_id": target.pk})
    assert preview.status_code == 200, preview.content
    assert preview.json()["messages"] == 1
    assert as_role("light").post(f"/tickets/{source.pk}/merge", {"target_id": target.pk}).status_code == 403
    r = agent.post(f"/tickets/{source.pk}/merge", {"target_id": target.pk})
    assert r.status_code == 200, r.content
    assert r.json()["target_number"] == target.number
    again = agent.post(f"/tickets/{source.pk}/merge", {"target_id": target.pk})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "source_closed")
    message = Message.objects.filter(ticket=target, author_kind="contact").first()
    assert message is not None
    split = agent.post(f"/tickets/{target.pk}/messages/{message.pk}/split", {"subject": "Apart"})
    assert split.status_code == 201, split.content
    assert split.json()["subject"] == "Apart"

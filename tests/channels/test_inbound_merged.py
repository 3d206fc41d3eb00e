"""Mail to a ticket that was merged into another goes where its conversation went (through
chains), and mail to a closed ticket opens a follow-up linked to it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from channels.test_inbound import _mail, agent_reply, ingest, mail  # noqa: F401  (`_mail`: the mailbox, autouse)
from sportello.channels.models import InboundMail
from sportello.core.actors import Via
from sportello.tickets.merge import ticket_merge
from sportello.tickets.models import Message, Ticket
from testing import NOW


def merge(desk: Any, source: Ticket, target: Ticket) -> None:
    ticket_merge(
        principal=desk.agent,
        source_id=source.pk,
        target_id=target.pk,
        via=Via.WEB,
        now=NOW + timedelta(minutes=5),
    )


def test_a_reply_to_a_merged_ticket_lands_on_the_end_of_its_merge_chain(desk: Any) -> None:
    # given Carla's three tickets by mail, A merged into B and B into C
    a, b, c = (
        Ticket.objects.get(pk=ingest(mail(subject=s, message_id=f"<{s}@customer.test>")).ticket_id)
        for s in ("first", "second", "third")
    )
    merge(desk, a, b)
    merge(desk, b, c)
    # when Carla writes again about the first ticket, by its number
    result = ingest(
        mail(subject=f"Re: [#{a.number}] first", message_id="<again@customer.test>", body="Any news?")
    )
    # then her reply is on C, and the intake says why
    assert (result.status, result.ticket_id) == ("reply", c.pk)
    assert result.reason == f"ticket #{a.number} was merged into #{c.number}: the message went there"
    assert Message.objects.filter(ticket=c, body_text__startswith="Any news?").count() == 1
    assert not Message.objects.filter(ticket__in=[a, b]).exists()
    assert Ticket.objects.filter(follow_up_of__isnull=False).count() == 0
    # and a reply in the first message's thread finds the moved mail on C too
    threaded = ingest(
        mail(
            subject="Re: first",
            message_id="<t@customer.test>",
            headers={"In-Reply-To": "<first@customer.test>"},
        )
    )
    assert (threaded.status, threaded.ticket_id) == ("reply", c.pk)


def test_a_reply_to_a_merged_ticket_by_its_number_lands_on_the_target(desk: Any) -> None:
    # given a ticket of Carla's merged into another customer's ticket
    a = Ticket.objects.get(pk=ingest(mail()).ticket_id)
    other = Ticket.objects.get(
        pk=ingest(
            mail(sender="bob@example.test", subject="Also torn", message_id="<b@example.test>")
        ).ticket_id
    )
    merge(desk, a, other)
    # when Carla writes with the merged ticket's number in the subject
    result = ingest(mail(subject=f"Re: [#{a.number}] My order", message_id="<c2@customer.test>", body="More"))
    # then it is a reply on the target: she took part in the merged conversation
    assert (result.status, result.ticket_id) == ("reply", other.pk)
    # and someone who never took part gets a ticket of their own
    stranger = ingest(mail(sender="eve@else.test", subject=f"[#{a.number}]", message_id="<e@else.test>"))
    assert stranger.status == "ticket"
    assert stranger.ticket_id not in (a.pk, other.pk)


def test_mail_to_a_merged_ticket_whose_target_closed_opens_a_follow_up_of_the_target(desk: Any) -> None:
    a = Ticket.objects.get(pk=ingest(mail()).ticket_id)
    b = Ticket.objects.get(pk=ingest(mail(subject="Second", message_id="<m2@customer.test>")).ticket_id)
    merge(desk, a, b)
    agent_reply(desk, b, status="closed")
    result = ingest(mail(subject=f"Re: [#{a.number}]", message_id="<m3@customer.test>", body="Again"))
    assert result.status == "ticket"
    new = Ticket.objects.get(pk=result.ticket_id)
    assert new.follow_up_of_id == b.pk
    assert list(new.tags.values_list("name", flat=True)) == ["follow_up"]


def test_a_reply_to_a_closed_ticket_opens_a_follow_up_linked_to_it(desk: Any) -> None:
    ticket = Ticket.objects.get(pk=ingest(mail()).ticket_id)
    agent_reply(desk, ticket, status="closed")
    result = ingest(mail(subject=f"Re: [#{ticket.number}]", message_id="<m9@customer.test>", body="Again"))
    assert result.status == "ticket"
    new = Ticket.objects.get(pk=result.ticket_id)
    assert new.follow_up_of_id == ticket.pk
    assert result.reason == f"ticket #{ticket.number} is closed: a follow-up of it was opened"
    assert InboundMail.objects.get(pk=result.inbound_id).reason == result.reason

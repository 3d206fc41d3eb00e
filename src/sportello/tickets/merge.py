"""Merging a ticket into another, and splitting a customer's message into a new ticket.

**Merge** (`ticket_merge`): one transaction, both tickets' rows locked in id order (two merges
of the same tickets in opposite directions never deadlock; see `locks.py`). The source's
messages, attachments and received mail (whose senders and Cc addresses are the ticket's
participants) move to the target. The target records it in a change of its own through the
pipeline (`merge`/`merged_from` by the agent, with `pipeline.MovedIn`): it counts the moved
messages, takes their instants (last customer message, last agent reply), an unanswered customer
message moved in starts its next-response clock from when it came, rules see the change and the
version moves, so an agent with the target open sees the conversation change. The source records
`merged_into`, and is closed by the system with cause `merge:#<target>` and its link set
(`Ticket.merged_into`) — a merge is not the agent solving the ticket, so neither the layout's
fields required to solve nor a blueprint's strict mode stop it, and its SLA clocks stop without
being met. A merged ticket changes no more (409 `ticket_merged`, naming where its conversation
went). Both search documents are rebuilt. Refused: merging a ticket into itself
(422), a closed or merged source, a closed target (409; a target that was itself merged names
where it went, so merges never chain), and tickets outside the agent's scope (404, like a
missing one). Light agents and customers may not merge (403).

**Split** (`message_split`): a customer's public message on an open ticket becomes the first
message of a new ticket, same requester, department and channel, its attachments moved with it;
the original stays where it was. Both histories record it (`split` events `split_to` and
`split_from`). A merge and a split record their two sides the same way (`_record_link`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import Count, Max, Min, Q

from sportello.accounts.models import User
from sportello.channels.models import InboundMail, InboundStatus
from sportello.contacts.models import Contact
from sportello.core.actors import Actor, ActorKind, Via
from sportello.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed

from . import permissions, pipeline, search, selectors
from .locks import ticket_lock
from .models import Attachment, AuthorKind, EventKind, Message, Status, StatusCategory, Ticket
from .pipeline import MovedIn, Mutation, NewMessage, NewRecord
from .services import actor_for

MERGE_CAUSE = "merge:#{number}"


@dataclass(frozen=True, slots=True)
class MergePreview:
    """What a merge of `source` into `target` would move."""

    source: Ticket
    target: Ticket
    messages: int
    attachments: int
    participants: int


@dataclass(frozen=True, slots=True)
class MergeOutcome:
    source: Ticket
    target: Ticket
    messages: int
    attachments: int
    participants: int


def merged_into_ticket(*, ticket_id: int) -> dict[str, int] | None:
    """The ticket this one was merged into, `{"ticket": id, "number": n}`, or None (one query)."""
    row = (
        Ticket.objects.filter(pk=ticket_id, merged_into__isnull=False)
        .values_list("merged_into_id", "merged_into__number")
        .first()
    )
    return {"ticket": row[0], "number": row[1]} if row is not None else None


def merged_into(*, ticket_id: int) -> int | None:
    """The number of the ticket this one was merged into, or None (one query)."""
    went = merged_into_ticket(ticket_id=ticket_id)
    return went["number"] if went is not None else None


def _check_agent(principal: User | Contact) -> User:
    if not isinstance(principal, User) or not permissions.can_edit_fields(principal):
        raise PermissionDenied("only agents who may change tickets can merge or split them")
    return principal


def _check_mergeable(source: Ticket, target: Ticket) -> None:
    if source.pk == target.pk:
        raise ValidationFailed("a ticket cannot be merged into itself", field="target_id", code="merge_self")
    if source.status_category == StatusCategory.CLOSED:
        raise Conflict("this ticket is closed and cannot be merged", code="source_closed")
    if target.status_category == StatusCategory.CLOSED:
        went = merged_into(ticket_id=target.pk)
        if went is not None:
            raise Conflict(
                f"ticket #{target.number} was merged into #{went}; merge into #{went} instead",
                code="target_merged",
                field="target_id",
            )
        raise Conflict(
            f"ticket #{target.number} is closed; merge into an open ticket",
            code="target_closed",
            field="target_id",
        )


def _addresses(ticket_id: int) -> set[str]:
    """The addresses that wrote or were copied on the ticket's accepted mail."""
    out: set[str] = set()
    rows = InboundMail.objects.filter(
        ticket_id=ticket_id, status__in=[InboundStatus.TICKET, InboundStatus.REPLY]
    ).values_list("sender", "participants")
    for sender, participants in rows:
        if sender:
            out.add(sender.lower())
        out.update(a for a in participants.split(",") if a)
    return out


def _new_participants(source: Ticket, target: Ticket) -> int:
    known = _addresses(target.pk)
    requester = Contact.objects.filter(pk=target.requester_id).values_list("email", flat=True).first()
    if requester:
        known.add(requester.lower())
    source_requester = Contact.objects.filter(pk=source.requester_id).values_list("email", flat=True).first()
    moving = _addresses(source.pk) | ({source_requester.lower()} if source_requester else set())
    return len(moving - known)


def merge_preview(*, principal: User | Contact, source_id: int, target_id: int) -> MergePreview:
    """What merging would move, checked as the merge itself checks it (nothing is locked)."""
    _check_agent(principal)
    source = selectors.ticket_get_for(principal=principal, ticket_id=source_id)
    target = selectors.ticket_get_for(principal=principal, ticket_id=target_id)
    _check_mergeable(source, target)
    return MergePreview(
        source=source,
        target=target,
        messages=Message.objects.filter(ticket_id=source.pk).count(),
        attachments=Attachment.objects.filter(ticket_id=source.pk).count(),
        participants=_new_participants(source, target),
    )


def _moved_in(source: Ticket, target: Ticket) -> MovedIn:
    """What the source's messages bring to the target: counts, last instants, and the oldest
    customer message no public agent reply followed on either ticket (the customer still waits
    since then). Read before the messages move (two queries at most)."""
    mine = Q(ticket_id=source.pk)
    customer = Q(author_kind=AuthorKind.CONTACT)
    reply = Q(author_kind=AuthorKind.AGENT, public=True)
    found = Message.objects.filter(ticket_id__in=(source.pk, target.pk)).aggregate(
        messages=Count("id", filter=mine),
        customer=Count("id", filter=mine & customer),
        replies=Count("id", filter=mine & reply),
        last_customer=Max("created_at", filter=mine & customer),
        last_reply=Max("created_at", filter=mine & reply),
        answered=Max("created_at", filter=reply),
    )
    waiting = None
    answered = found["answered"]
    if found["last_customer"] is not None and (answered is None or found["last_customer"] > answered):
        unanswered = Message.objects.filter(mine & customer)
        if answered is not None:
            unanswered = unanswered.filter(created_at__gt=answered)
        waiting = unanswered.aggregate(since=Min("created_at"))["since"]
    return MovedIn(
        messages=found["messages"],
        customer_messages=found["customer"],
        agent_replies=found["replies"],
        last_customer_message_at=found["last_customer"],
        last_agent_reply_at=found["last_reply"],
        waiting_since=waiting,
    )


def _record_link(
    *,
    ticket_id: int,
    other: Ticket,
    kind: EventKind,
    field: str,
    details: dict[str, Any],
    actor: Actor,
    via: Via,
    now: datetime,
    moved_in: MovedIn | None = None,
) -> None:
    """One side of a merge or a split, as an event of `ticket_id` naming the `other` ticket (with
    the messages a merge moved onto it, which it counts as its own)."""
    record = NewRecord(kind=kind, field=field, new={"ticket": other.pk, "number": other.number, **details})
    pipeline.ticket_apply(
        ticket_id=ticket_id,
        mutation=Mutation(actor=actor, via=via, records=(record,), moved_in=moved_in),
        now=now,
    )


def ticket_merge(
    *, principal: User | Contact, source_id: int, target_id: int, via: Via, now: datetime
) -> MergeOutcome:
    """Merge `source_id` into `target_id` (see the module's docstring)."""
    agent = _check_agent(principal)
    if source_id == target_id:
        raise ValidationFailed("a ticket cannot be merged into itself", field="target_id", code="merge_self")
    with transaction.atomic():
        # Both rows, in id order: the lock of each change to either ticket.
        locked = {pk: ticket_lock(ticket_id=pk, principal=agent) for pk in sorted((source_id, target_id))}
        source, target = locked[source_id], locked[target_id]
        _check_mergeable(source, target)
        participants = _new_participants(source, target)
        moved_in = _moved_in(source, target)
        moved = Message.objects.filter(ticket_id=source.pk).update(ticket_id=target.pk)
        attachments = Attachment.objects.filter(ticket_id=source.pk).update(ticket_id=target.pk)
        InboundMail.objects.filter(ticket_id=source.pk).update(ticket_id=target.pk)
        # The source keeps no message: its counts follow (it is locked; the changes below read it).
        Ticket.objects.filter(pk=source.pk).update(
            message_count=0, customer_message_count=0, agent_reply_count=0
        )
        actor = actor_for(agent)
        summary = {"messages": moved, "attachments": attachments, "participants": participants}
        link = partial(_record_link, actor=actor, via=via, now=now, kind=EventKind.MERGE, details=summary)
        # The target's change: the conversation arrives (counts, anchors, SLA, rules, audit).
        link(ticket_id=target.pk, other=source, field="merged_from", moved_in=moved_in)
        link(ticket_id=source.pk, other=target, field="merged_into")
        closed = Status.objects.get(category=StatusCategory.CLOSED, is_default=True)
        pipeline.ticket_apply(
            ticket_id=source.pk,
            mutation=Mutation(
                actor=Actor.system("merge"),
                via=via,
                cause=MERGE_CAUSE.format(number=target.number),
                fields={"status": closed.key},
                merged_into=target.pk,
            ),
            now=now,
        )
        source = Ticket.objects.select_related("status").get(pk=source.pk)
        target = Ticket.objects.select_related("status").get(pk=target.pk)
        search.ticket_index_rebuild(ticket=source)
        search.ticket_index_rebuild(ticket=target)
    return MergeOutcome(
        source=source, target=target, messages=moved, attachments=attachments, participants=participants
    )


def message_split(
    *, principal: User | Contact, ticket_id: int, message_id: int, subject: str, via: Via, now: datetime
) -> pipeline.Outcome:
    """A new ticket whose first message is the customer's message `message_id` of `ticket_id`
    (see the module's docstring). Returns the new ticket's outcome."""
    agent = _check_agent(principal)
    with transaction.atomic():
        ticket = ticket_lock(ticket_id=ticket_id, principal=agent)
        if ticket.status_category == StatusCategory.CLOSED:
            raise Conflict(
                "closed tickets cannot change; open a follow-up ticket instead", code="ticket_closed"
            )
        try:
            message = Message.objects.get(pk=message_id, ticket_id=ticket.pk)
        except (Message.DoesNotExist, ValueError, OverflowError):
            raise NotFound("message not found") from None
        if not (message.public and message.author_kind == AuthorKind.CONTACT):
            raise ValidationFailed(
                "only a customer's message can be split into a new ticket", field="message_id"
            )
        author_id = message.author_contact_id or ticket.requester_id
        actor = actor_for(agent)
        outcome = pipeline.ticket_create(
            actor=actor,
            via=via,
            subject=subject,
            requester_id=ticket.requester_id,
            department_id=ticket.department_id,
            description=NewMessage(
                body=message.body_text,
                body_html=message.body_html,
                public=True,
                author=Actor(kind=ActorKind.CONTACT, id=author_id),
            ),
            fields={"channel": ticket.channel},
            now=now,
        )
        new = outcome.ticket
        first = outcome.message
        assert first is not None
        Attachment.objects.filter(message_id=message.pk).update(ticket_id=new.pk, message_id=first.pk)
        link = partial(
            _record_link, actor=actor, via=via, now=now, kind=EventKind.SPLIT, details={"message": message.pk}
        )
        link(ticket_id=ticket.pk, other=new, field="split_to")
        link(ticket_id=new.pk, other=ticket, field="split_from")
    return outcome

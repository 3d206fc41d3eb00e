"""Merging a ticket into another, and splitting a customer's message into a new ticket.

**Merge** (`ticket_merge`): one transaction, both tickets' rows locked in id order (two merges
of the same tickets in opposite directions never deadlock; see `locks.py`). The source's
messages, attachments and received mail (whose senders and Cc addresses are the ticket's
participants) move to the target; the target's counts and version follow, so an agent with the
target open sees the conversation change. Both histories record it (`merge` events: the source's
`merged_into`, the target's `merged_from`, both by the agent), the source is closed by the system
with cause `merge:#<target>` — a merge is not the agent solving the ticket, so neither the
layout's fields required to solve nor a blueprint's strict mode stop it — and a closed ticket
changes no more. Both search documents are rebuilt. Refused: merging a ticket into itself
(422), a closed or merged source, a closed target (409; a target that was itself merged names
where it went, so merges never chain), and tickets outside the agent's scope (404, like a
missing one). Light agents and customers may not merge (403).

**Split** (`message_split`): a customer's public message on an open ticket becomes the first
message of a new ticket, same requester, department and channel, its attachments moved with it;
the original stays where it was. Both histories record it (`split` events `split_to` and
`split_from`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Count, F, Q

from sportello.accounts.models import User
from sportello.channels.models import InboundMail, InboundStatus
from sportello.contacts.models import Contact
from sportello.core.actors import Actor, ActorKind, Via
from sportello.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed

from . import permissions, pipeline, search, selectors
from .locks import ticket_lock
from .models import Attachment, AuthorKind, EventKind, Message, Status, StatusCategory, Ticket, TicketEvent
from .pipeline import Mutation, NewMessage, NewRecord
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
    event = (
        TicketEvent.objects.filter(ticket_id=ticket_id, kind=EventKind.MERGE, field="merged_into")
        .order_by("-id")
        .values_list("new_value", flat=True)
        .first()
    )
    if not isinstance(event, dict) or "number" not in event:
        return None
    return {"ticket": int(event["ticket"]), "number": int(event["number"])}


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
        counts = Message.objects.filter(ticket_id=source.pk).aggregate(
            messages=Count("id"),
            customer=Count("id", filter=Q(author_kind=AuthorKind.CONTACT)),
            replies=Count("id", filter=Q(author_kind=AuthorKind.AGENT, public=True)),
        )
        moved = Message.objects.filter(ticket_id=source.pk).update(ticket_id=target.pk)
        attachments = Attachment.objects.filter(ticket_id=source.pk).update(ticket_id=target.pk)
        InboundMail.objects.filter(ticket_id=source.pk).update(ticket_id=target.pk)
        Ticket.objects.filter(pk=source.pk).update(
            message_count=0, customer_message_count=0, agent_reply_count=0
        )
        Ticket.objects.filter(pk=target.pk).update(
            message_count=F("message_count") + counts["messages"],
            customer_message_count=F("customer_message_count") + counts["customer"],
            agent_reply_count=F("agent_reply_count") + counts["replies"],
            version=F("version") + 1,
            updated_at=now if now > target.updated_at else target.updated_at,
        )
        actor = actor_for(agent)
        summary = {"messages": moved, "attachments": attachments, "participants": participants}
        pipeline.ticket_apply(
            ticket_id=target.pk,
            mutation=Mutation(
                actor=actor,
                via=via,
                records=(
                    NewRecord(
                        kind=EventKind.MERGE,
                        field="merged_from",
                        new={"ticket": source.pk, "number": source.number, **summary},
                    ),
                ),
            ),
            now=now,
        )
        pipeline.ticket_apply(
            ticket_id=source.pk,
            mutation=Mutation(
                actor=actor,
                via=via,
                records=(
                    NewRecord(
                        kind=EventKind.MERGE,
                        field="merged_into",
                        new={"ticket": target.pk, "number": target.number, **summary},
                    ),
                ),
            ),
            now=now,
        )
        closed = Status.objects.get(category=StatusCategory.CLOSED, is_default=True)
        pipeline.ticket_apply(
            ticket_id=source.pk,
            mutation=Mutation(
                actor=Actor.system("merge"),
                via=via,
                cause=MERGE_CAUSE.format(number=target.number),
                fields={"status": closed.key},
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
        link = {"message": message.pk}
        pipeline.ticket_apply(
            ticket_id=ticket.pk,
            mutation=Mutation(
                actor=actor,
                via=via,
                records=(
                    NewRecord(
                        kind=EventKind.SPLIT,
                        field="split_to",
                        new={"ticket": new.pk, "number": new.number, **link},
                    ),
                ),
            ),
            now=now,
        )
        pipeline.ticket_apply(
            ticket_id=new.pk,
            mutation=Mutation(
                actor=actor,
                via=via,
                records=(
                    NewRecord(
                        kind=EventKind.SPLIT,
                        field="split_from",
                        new={"ticket": ticket.pk, "number": ticket.number, **link},
                    ),
                ),
            ),
            now=now,
        )
    return outcome

"""What a contact merge (`contacts.services.contact_merge`) moves of the tickets app: the
tickets the source requested and the messages the source wrote.

Each moved ticket's row is locked (in id order, after the two contacts), its requester set to the
target and its `version` moved on (an agent who had it open is told it changed), and its audit
trail records the change: a `field` event `requester` from the source's id to the target's, by the
admin who merged, with the cause `contact merged`. The ticket keeps its organization (the one it
was opened under). The messages keep their place and text; only their author is the target now.
Registered from `TicketsConfig.ready`."""

from __future__ import annotations

from django.db.models import F
from django.utils.translation import ngettext

from sportello.contacts import merging
from sportello.core.actors import Actor

from . import audit
from .models import EventKind, Message, Ticket, TicketEvent
from .services import actor_for

CONTACT_MERGED = "contact merged"
BATCH = 500


def _move_tickets(move: merging.Move) -> int:
    ids = list(
        Ticket.objects.select_for_update()
        .filter(requester_id=move.source.pk)
        .order_by("id")
        .values_list("id", flat=True)
    )
    actor = actor_for(move.actor) if move.actor is not None else Actor.system("merge")
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        Ticket.objects.filter(pk__in=chunk).update(requester_id=move.target.pk, version=F("version") + 1)
        TicketEvent.objects.bulk_create(
            audit.event(
                ticket_id=pk,
                at=move.now,
                kind=EventKind.FIELD,
                field="requester",
                old=move.source.pk,
                new=move.target.pk,
                actor=actor,
                via=move.via,
                cause=CONTACT_MERGED,
            )
            for pk in chunk
        )
    return len(ids)


def _move_messages(move: merging.Move) -> int:
    return Message.objects.filter(author_contact_id=move.source.pk).update(author_contact_id=move.target.pk)


def register() -> None:
    merging.register_reference(
        merging.ContactReference(
            model=Ticket,
            field="requester",
            count=lambda pk: Ticket.objects.filter(requester_id=pk).count(),
            move=_move_tickets,
            describe=lambda n: ngettext("%(n)s ticket", "%(n)s tickets", n) % {"n": n},
            rank=0,
        )
    )
    merging.register_reference(
        merging.ContactReference(
            model=Message,
            field="author_contact",
            count=lambda pk: Message.objects.filter(author_contact_id=pk).count(),
            move=_move_messages,
            describe=lambda n: (
                ngettext("%(n)s message they wrote", "%(n)s messages they wrote", n) % {"n": n}
            ),
            rank=10,
        )
    )

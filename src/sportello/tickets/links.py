"""Links between tickets: the ticket one was merged into (`Ticket.merged_into`, set by the
merge's closing change) and the closed ticket a follow-up follows (`Ticket.follow_up_of`, set
when the follow-up is opened). A link never changes once set; reading one takes no lock.

Merges chain: A merged into B, then B into C. Where A's conversation went in the end is C
(`merge_destination`), which is where mail to A and the refusal of a reply to A point."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q

from sportello.accounts.models import User
from sportello.contacts.models import Contact

from .models import Ticket

CHAIN_MAX = 50  # hops followed; merges never loop (a merged ticket is closed, nothing merges into it)


@dataclass(frozen=True, slots=True)
class LinkedTicket:
    id: int
    number: int
    subject: str = ""
    status_category: str = ""
    visible: bool = True  # whether the reader may open it (else only its number is shown)


@dataclass(frozen=True, slots=True)
class TicketLinks:
    """A ticket's links as a reader sees them (`ticket_links`)."""

    merged_into: LinkedTicket | None
    merged_from: list[LinkedTicket]
    follow_up_of: LinkedTicket | None
    follow_ups: list[LinkedTicket]

    def __bool__(self) -> bool:
        return bool(self.merged_into or self.merged_from or self.follow_up_of or self.follow_ups)


def merge_destination(*, ticket: Ticket) -> LinkedTicket:
    """The end of the ticket's merge chain (the ticket itself when it was not merged): one query
    per hop."""
    current = LinkedTicket(id=ticket.pk, number=ticket.number)
    next_id = ticket.merged_into_id
    seen = {ticket.pk}
    while next_id is not None and next_id not in seen and len(seen) <= CHAIN_MAX:
        seen.add(next_id)
        row = Ticket.objects.filter(pk=next_id).values_list("number", "merged_into_id").first()
        if row is None:
            break
        current = LinkedTicket(id=next_id, number=row[0])
        next_id = row[1]
    return current


def ticket_links(*, principal: User | Contact, ticket: Ticket) -> TicketLinks:
    """The tickets linked to `ticket` — the one it was merged into, those merged into it, the
    one it follows up, its follow-ups — each marked visible or not to `principal` (one query)."""
    from .selectors import ticket_scope

    own = [pk for pk in (ticket.merged_into_id, ticket.follow_up_of_id) if pk is not None]
    rows = (
        Ticket.objects.filter(Q(pk__in=own) | Q(merged_into=ticket.pk) | Q(follow_up_of=ticket.pk))
        .annotate(visible=Exists(Ticket.objects.filter(ticket_scope(principal=principal), pk=OuterRef("pk"))))
        .order_by("number")
        .values_list(
            "pk", "number", "subject", "status_category", "merged_into_id", "follow_up_of_id", "visible"
        )
    )
    merged_into = follow_up_of = None
    merged_from: list[LinkedTicket] = []
    follow_ups: list[LinkedTicket] = []
    for pk, number, subject, category, into, follows, visible in rows:
        linked = LinkedTicket(
            id=pk,
            number=number,
            subject=subject if visible else "",
            status_category=category if visible else "",
            visible=bool(visible),
        )
        if pk == ticket.merged_into_id:
            merged_into = linked
        if pk == ticket.follow_up_of_id:
            follow_up_of = linked
        if into == ticket.pk:
            merged_from.append(linked)
        if follows == ticket.pk:
            follow_ups.append(linked)
    return TicketLinks(
        merged_into=merged_into, merged_from=merged_from, follow_up_of=follow_up_of, follow_ups=follow_ups
    )

"""The audit of a change: one `TicketEvent` per thing it did, under whoever did it (the
mutation's actor, or the rule, clock or blueprint that made an automatic part), built by one
constructor (`event`); and the notices a change records about its own mail (an automatic reply
suppressed, a reply to a customer without an address)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sportello.core.actors import Actor, Via
from sportello.core.rows import insert_rows
from sportello.engine.diff import FieldChange

from .change import Author
from .models import NOTIFICATION_NO_ADDRESS, AuthorKind, EventKind, Message, Ticket, TicketEvent

if TYPE_CHECKING:
    from .context import Context

SYSTEM = Actor.system("System")


def event(
    *,
    ticket: Ticket | None = None,
    ticket_id: int | None = None,
    change_id: uuid.UUID | None = None,
    at: datetime,
    kind: EventKind,
    field: str = "",
    new: Any = None,
    old: Any = None,
    actor: Actor,
    via: Via,
    cause: str,
    depth: int = 0,
) -> TicketEvent:
    """One audit event (unsaved): what happened (`kind`, `field`, `old` → `new`), on which ticket,
    in which change (default: one of its own), by whom, through which way in and why."""
    row = TicketEvent(
        at=at,
        kind=kind,
        field=field,
        old_value=old,
        new_value=new,
        actor_kind=str(actor.kind),
        actor_id=actor.id,
        actor_label=actor.label[:200],
        via=str(via),
        cause=cause[:200],
        depth=depth,
    )
    if ticket is not None:
        row.ticket = ticket
    elif ticket_id is not None:
        row.ticket_id = ticket_id
    if change_id is not None:
        row.change_id = change_id
    return row


def record_events(
    ctx: Context,
    requested: list[FieldChange],
    automatic: list[FieldChange],
    change_id: uuid.UUID,
) -> list[TicketEvent]:
    """One event per change: the caller's changes under the mutation's actor, then each change
    automation made on top under the rule (or clock, or blueprint) that made it."""
    m, ticket, now = ctx.mutation, ctx.ticket, ctx.now

    def row(
        kind: EventKind, field: str = "", *, new: Any = None, old: Any = None, by: Author | None = None
    ) -> TicketEvent:
        actor, via, cause = (by.actor, Via.RULE, by.cause) if by is not None else (m.actor, m.via, m.cause)
        return event(
            ticket=ticket, change_id=change_id, at=now, kind=kind, field=field, new=new, old=old,
            actor=actor, via=via, cause=cause, depth=m.depth,
        )  # fmt: skip

    def field_event(c: FieldChange, by: Author | None = None) -> TicketEvent:
        kind = EventKind.TAGS if c.field == "tags" else EventKind.FIELD
        return row(kind, c.field, old=c.old, new=c.new, by=by)

    def message_event(message: Message, by: Author | None = None) -> TicketEvent:
        new = {"message_id": message.pk, "author_kind": message.author_kind}
        return row(EventKind.MESSAGE, "public" if message.public else "internal", new=new, by=by)

    rows: list[TicketEvent] = []
    if ctx.created:
        rows.append(row(EventKind.CREATED, new={"number": ticket.number}))
    rows += [field_event(c) for c in requested]
    rows += [row(r.kind, r.field, old=r.old, new=r.new) for r in m.records]
    if ctx.message is not None:
        rows.append(message_event(ctx.message))
    rows += [field_event(c, ctx.writers.get(c.field)) for c in automatic]
    rows += [message_event(note.message, note.author) for note in ctx.notes]
    rows += ctx.events
    insert_rows(rows)  # one plain statement (`core.rows`)
    return rows


def suppress_auto_replies(ctx: Context) -> None:
    """A change made by automatic mail (an out-of-office, a list) sends no automatic e-mail
    back to the requester: such effects lose that recipient (and go when none is left), each
    suppression recorded as a `notification` event. Agents' replies are not automatic."""
    if not ctx.mutation.no_auto_reply:
        return
    requester = (ctx.ticket.requester.email or "").lower()
    kept = []
    for effect in ctx.effects:
        payload = effect.get("payload", {})
        automatic = effect.get("kind") == "email" and not str(effect.get("dedupe_key", "")).startswith(
            "reply:"
        )
        to = [a for a in payload.get("to", []) if not (automatic and str(a).lower() == requester)]
        if automatic and len(to) != len(payload.get("to", [])):
            ctx.record(
                EventKind.NOTIFICATION,
                "suppressed",
                new={
                    "to": requester,
                    "subject": str(payload.get("subject", ""))[:200],
                    "reason": "the message that caused it was automatic (no automatic reply to it)",
                },
                actor=SYSTEM,
                via=Via.SYSTEM,
                cause="mail:automatic",
            )
            if not to:
                continue
            effect = {**effect, "payload": {**payload, "to": to}}
        kept.append(effect)
    ctx.effects[:] = kept


def reply_to_email(ctx: Context) -> bool:
    """Whether the change holds an agent's public reply, which goes to the requester by e-mail."""
    message = ctx.message
    return message is not None and message.public and message.author_kind == AuthorKind.AGENT


def note_reply_not_emailed(ctx: Context) -> None:
    """An agent's public reply to a customer without an e-mail address (a caller known by their
    phone) is recorded on the ticket and e-mailed to nobody: the change says so, as a
    `notification` / `no_address` event, so the agent knows to call them back."""
    if not reply_to_email(ctx) or ctx.ticket.requester.email:
        return
    assert ctx.message is not None
    ctx.record(
        EventKind.NOTIFICATION,
        NOTIFICATION_NO_ADDRESS,
        new={"message_id": ctx.message.pk, "contact_id": ctx.ticket.requester_id},
        actor=SYSTEM,
        via=Via.SYSTEM,
        cause="mail:no_address",
    )

"""The audit of a change: one `TicketEvent` per thing it did, under whoever did it (the
mutation's actor, or the rule, clock or blueprint that made an automatic part), built by one
constructor (`event`); and the notices a change records about its own mail (an automatic reply
suppressed, a reply to a customer without an address).

A new ticket is opened by one `created` event that carries what its creator opened it with
(`opening_value`): its number, its initial values and its first message. What automation changed
on top at creation (a rule, an SLA clock, a blueprint) stays one event per change under whoever
made it. Tickets opened by earlier versions have a bare `created` event (`{"number": n}`) followed
by one `field`/`tags` event per initial value and a `message` event; `expand` reads both shapes
as the per-field events, so every reader of the trail sees the same opening either way."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
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

# The keys of a `created` event's `new_value` besides `number` (see `opening_value`).
OPENING_VALUES = "values"
OPENING_MESSAGE = "message"


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


def opening_value(
    *,
    number: int,
    values: Mapping[str, Any],
    message_id: int | None,
    author_kind: str = "",
    public: bool = True,
) -> dict[str, Any]:
    """The `new_value` of the event that opens a ticket (kind `created`):

        {"number": 42,
         "values": {"subject": "…", "status": "new", "status_category": "new",
                    "priority": "normal", "channel": "email", "department": 3, "requester": 7,
                    "custom_fields.order_number": "A123", "tags": ["vip"], …},
         "message": {"message_id": 9, "author_kind": "contact", "public": true}}

    `values`: each field its creator set, named as a `field` event names it (custom fields one by
    one as `custom_fields.<key>`, tags as one sorted list), with the value the ticket opened
    with; a field left empty is absent. `message`: the first message (its id, who wrote it,
    whether it is public), as a `message` event records one (`public` is that event's field:
    `public` or `internal`); absent when the ticket opened without one."""
    value: dict[str, Any] = {"number": number, OPENING_VALUES: dict(values)}
    if message_id is not None:
        value[OPENING_MESSAGE] = {"message_id": message_id, "author_kind": author_kind, "public": public}
    return value


def expand(events: Iterable[TicketEvent]) -> list[TicketEvent]:
    """The events, each `created` event that carries its ticket's opening (`opening_value`) read
    as the events it stands for: the bare `created` event (`{"number": n}`), one `field` event
    (`tags` for the tags) per initial value from nothing to that value, in the order a diff
    lists them, then the first message's `message` event — all of the opening's change, actor,
    way in, cause and instant. Other events, and openings recorded one event per field, are
    returned as they are. The derived events are not saved rows: only the bare `created` one
    keeps its row's id."""
    out: list[TicketEvent] = []
    for e in events:
        data = e.new_value
        if e.kind != EventKind.CREATED or not isinstance(data, dict):
            out.append(e)
            continue
        values = data.get(OPENING_VALUES)
        message = data.get(OPENING_MESSAGE)
        if not isinstance(values, dict) and not isinstance(message, dict):
            out.append(e)
            continue
        bare = {k: v for k, v in data.items() if k not in (OPENING_VALUES, OPENING_MESSAGE)}
        out.append(_derived(e, kind=EventKind.CREATED, field="", new=bare, pk=e.pk))
        for name, value in sorted((values or {}).items()):
            kind = EventKind.TAGS if name == "tags" else EventKind.FIELD
            out.append(_derived(e, kind=kind, field=name, new=value))
        if isinstance(message, dict):
            field = "public" if message.get("public", True) else "internal"
            new = {k: v for k, v in message.items() if k != "public"}
            out.append(_derived(e, kind=EventKind.MESSAGE, field=field, new=new))
    return out


def _derived(e: TicketEvent, *, kind: EventKind, field: str, new: Any, pk: int | None = None) -> TicketEvent:
    return TicketEvent(
        id=pk,
        ticket_id=e.ticket_id,
        change_id=e.change_id,
        at=e.at,
        kind=kind,
        field=field,
        old_value=None,
        new_value=new,
        actor_kind=e.actor_kind,
        actor_id=e.actor_id,
        actor_label=e.actor_label,
        via=e.via,
        cause=e.cause,
        depth=e.depth,
    )


def record_events(
    ctx: Context,
    requested: list[FieldChange],
    automatic: list[FieldChange],
    change_id: uuid.UUID,
) -> list[TicketEvent]:
    """One event per change: the caller's changes under the mutation's actor, then each change
    automation made on top under the rule (or clock, or blueprint) that made it. A new ticket's
    caller changes (its initial values) and first message are the one `created` event that
    opens it (`opening_value`)."""
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
        first = ctx.message
        opening = opening_value(
            number=ticket.number,
            values={c.field: c.new for c in requested},
            message_id=first.pk if first is not None else None,
            author_kind=first.author_kind if first is not None else "",
            public=first.public if first is not None else True,
        )
        rows.append(row(EventKind.CREATED, new=opening))
    else:
        rows += [field_event(c) for c in requested]
    rows += [row(r.kind, r.field, old=r.old, new=r.new) for r in m.records]
    if ctx.message is not None and not ctx.created:
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

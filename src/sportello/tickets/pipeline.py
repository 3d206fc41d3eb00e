"""The change pipeline: every write to a ticket goes through `ticket_create` or `ticket_apply`.

One transaction each:
1. lock the ticket row and check the client's `version` (stale: Conflict, nothing written);
2. snapshot the facts before;
3. validate the mutation (actor's permission, field values, department layout);
4. apply it (`tickets.apply`), then the extensions' `before_write` in the order of
   `settings.SPORTELLO_TICKET_EXTENSIONS` (event rules, SLA clocks, blueprints; see
   `tickets.extensions`), each seeing (before, after) through the change context;
5. diff before/after and write one audit event per change, with actor, via and cause
   (`tickets.audit`);
6. bump `version`, keep the search document in sync;
7. the extensions' `saved`, `written` and `after_write` phases: timers, outbound effects written
   to the outbox (delivered by workers after commit), capacity, agents' notifications.
The pipeline knows its extensions only through that list: it imports no app above `tickets`.
The vocabulary (`Mutation`, `NewMessage`, …) lives in `tickets.change` and is re-exported here.
"""

from __future__ import annotations

import copy
from contextlib import suppress
from datetime import datetime
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction

from sportello.accounts.models import User
from sportello.contacts.models import Contact
from sportello.core import config, extensions, rows
from sportello.core.actors import Actor, ActorKind, Via
from sportello.core.errors import Conflict, NotFound
from sportello.engine.diff import diff

from . import audit, permissions, search
from .apply import (
    apply_fields,
    apply_system_defaults,
    apply_tags,
    check_solve_requirements,
    claim_attachments,
    count_moved,
    next_number,
    prepare_message,
    set_anchors,
    snapshot,
    write_tags,
)
from .change import (
    PRIORITY_BY_NAME,
    PRIORITY_NAME,
    STANDARD_FIELDS,
    WAITING_CATEGORIES,
    Author,
    AutomaticNote,
    MovedIn,
    Mutation,
    NewMessage,
    NewRecord,
    Outcome,
    StoredFile,
    TagChange,
)
from .context import Context
from .locks import CHANGE_RELATED, held_ticket_saved, locked_tags, ticket_lock
from .models import StatusCategory, Ticket, TicketTag

__all__ = [
    "PRIORITY_BY_NAME",
    "PRIORITY_NAME",
    "STANDARD_FIELDS",
    "WAITING_CATEGORIES",
    "Author",
    "AutomaticNote",
    "Context",
    "MovedIn",
    "Mutation",
    "NewMessage",
    "NewRecord",
    "Outcome",
    "StoredFile",
    "TagChange",
    "merged_conflict",
    "snapshot",
    "ticket_apply",
    "ticket_create",
]


# --------------------------------------------------------------------------------------------
# Entry points


def ticket_create(
    *,
    actor: Actor,
    via: Via,
    subject: str,
    requester_id: int,
    department_id: int,
    description: NewMessage,
    fields: dict[str, Any] | None = None,
    custom_fields: dict[str, Any] | None = None,
    tags: tuple[str, ...] = (),
    cause: str = "",
    depth: int = 0,
    no_auto_reply: bool = False,
    follow_up_of: int | None = None,
    now: datetime,
) -> Outcome:
    """A new ticket. `follow_up_of`: the closed ticket it follows up (its id; the link is set)."""
    mutation = Mutation(
        actor=actor,
        via=via,
        cause=cause,
        depth=depth,
        no_auto_reply=no_auto_reply,
        fields={**(fields or {}), "subject": subject, "requester": requester_id, "department": department_id},
        custom_fields=dict(custom_fields or {}),
        tags_set=tuple(tags),
        message=description,
    )
    with transaction.atomic(), config.read_once():
        principal = _principal(actor)
        if principal is not None:
            permissions.check_may_change(
                principal=principal,
                ticket=None,
                fields=not isinstance(principal, Contact),
                public_message=True,
                internal_message=False,
            )
        ticket = Ticket(
            created_at=now, updated_at=now, version=0, custom_fields={}, follow_up_of_id=follow_up_of
        )
        ctx = Context(ticket=ticket, mutation=mutation, principal=principal, before={}, now=now, created=True)
        return _run(ctx)


def ticket_apply(*, ticket_id: int, mutation: Mutation, now: datetime) -> Outcome:
    if mutation.authorised and not mutation.records_only():
        raise ValueError("an authorised mutation carries records only")
    with transaction.atomic(), config.read_once():
        principal = None if mutation.authorised else _principal(mutation.actor)
        # The ticket's row is the lock of the whole change, taken on the bare row; then the
        # ticket is read in the actor's scope with its SLA clocks and blueprint run (one-to-one
        # rows, changed only under this lock), as the last writer committed them, with its
        # requester (which rules and notifications read) and its tags, in one statement.
        ticket = ticket_lock(ticket_id=ticket_id, principal=principal, related=CHANGE_RELATED, tags=True)
        now = _not_before(now, ticket)
        if mutation.expected_version is not None and mutation.expected_version != ticket.version:
            raise Conflict(
                f"the ticket changed since you loaded it (your version {mutation.expected_version}, "
                f"current {ticket.version}); reload and try again",
                field="version",
                code="stale_version",
            )
        message = mutation.message
        if principal is not None:
            permissions.check_may_change(
                principal=principal,
                ticket=ticket,
                fields=mutation.touches_fields(),
                public_message=bool(message and message.public),
                internal_message=bool(message and not message.public),
            )
        if (
            ticket.status_category == StatusCategory.CLOSED
            and mutation.actor.kind != ActorKind.SYSTEM
            and not (mutation.records and mutation.records_only())
        ):
            if ticket.merged_into_id is not None:
                raise merged_conflict(ticket)
            raise Conflict(
                "closed tickets cannot change; open a follow-up ticket instead", code="ticket_closed"
            )
        ctx = Context(
            ticket=ticket,
            mutation=mutation,
            principal=principal,
            before=snapshot(ticket, tags=locked_tags(ticket)),
            now=now,
            created=False,
            loaded=_columns(ticket),
        )
        return _run(ctx)


def merged_conflict(ticket: Ticket) -> Conflict:
    """The refusal of a change to a ticket merged into another: it names where the conversation
    went (the end of the chain when that ticket was merged too)."""
    from .links import merge_destination

    went = merge_destination(ticket=ticket)
    return Conflict(
        f"ticket #{ticket.number} was merged into #{went.number}; write on #{went.number} instead",
        code="ticket_merged",
    )


def _not_before(now: datetime, ticket: Ticket) -> datetime:
    """The change's instant, not earlier than the ticket's last change. Edges read the clock
    before the ticket's lock is theirs; a writer that waited for it may hold an instant older
    than what the writer before it stamped. The change then happens at that later instant: its
    events stay ordered after the previous ones and the SLA clocks never run backwards. The
    clocks' own row counts too (a reflow moves them without changing the ticket)."""
    latest = ticket.updated_at
    try:
        clocks_updated = ticket.sla.updated_at
    except ObjectDoesNotExist:
        clocks_updated = None
    if clocks_updated is not None and clocks_updated > latest:
        latest = clocks_updated
    return latest if latest > now else now


# --------------------------------------------------------------------------------------------


def _run(ctx: Context) -> Outcome:
    ticket, mutation, now = ctx.ticket, ctx.mutation, ctx.now
    apply_fields(ctx, mutation.fields, mutation.custom_fields)
    ctx.tags = apply_tags(ctx.tags if ctx.created else ctx.before.get("tags", []), mutation)
    apply_system_defaults(ctx)
    if mutation.moved_in is not None:
        count_moved(ticket, mutation.moved_in)
    if mutation.merged_into is not None:
        ticket.merged_into_id = mutation.merged_into
    if mutation.message is not None:
        ctx.message = prepare_message(ctx, mutation.message)
    if mutation.automation is not None:
        mutation.automation(ctx)
    # The facts after the caller's change and before automation's: events are attributed to
    # whoever made each difference.
    requested = snapshot(ticket, tags=ctx.tags)
    if ctx.created:
        ticket.number = next_number()  # rules and notifications may quote it

    # The extensions, in the settings' order; nothing is written yet, so what they change is
    # saved, audited and indexed with the rest.
    for hook in extensions.hooks("before_write"):
        hook(ctx)
    check_solve_requirements(ctx)

    tags = ctx.tags
    after = snapshot(ticket, tags=tags)
    changes = diff(ctx.before, after)
    ctx.changes = changes
    change_id = ctx.change_id
    quiet = not (ctx.message or ctx.notes or ctx.effects or ctx.events or ctx.queued or mutation.moved_in)
    if not changes and quiet:
        # Nothing of the ticket changed: records (a task completed) are events of the change,
        # and the ticket's version stays, so nobody editing it meets a stale-version conflict.
        events = audit.record_events(ctx, [], [], change_id) if mutation.records else []
        if events:
            _save_traces(ctx)
        return Outcome(ticket=ticket, message=None, changes=[], events=events, change_id=change_id, tags=tags)
    ticket.version += 1
    ticket.updated_at = now
    set_anchors(ctx, changes)
    # The ticket, its tags, its message and its events are written in plain statements made
    # once per model (`core.rows`): the same rows the ORM writes, without building each statement.
    if ctx.created:
        rows.insert_rows([ticket])
        rows.insert_rows([TicketTag(ticket=ticket, name=t) for t in tags])
    else:
        rows.update_row(ticket, _changed_columns(ticket, ctx.loaded))
        held_ticket_saved(ticket.pk)
        write_tags(ticket, ctx.before.get("tags", []), tags)
    for hook in extensions.hooks("saved"):  # a new ticket has its id, the anchors are set
        hook(ctx)
    if ctx.message is not None:
        rows.insert_rows([ctx.message])
        claim_attachments(ctx, ctx.message, mutation.message)
    if ctx.notes:
        rows.insert_rows([note.message for note in ctx.notes])
    audit.suppress_auto_replies(ctx)
    audit.note_reply_not_emailed(ctx)
    events = audit.record_events(ctx, diff(ctx.before, requested), diff(requested, after), change_id)
    ctx.written_events = events
    _save_traces(ctx)
    new_messages = [ctx.message] if ctx.message is not None else []
    search.ticket_reindex(
        ticket=ticket,
        new_messages=[*new_messages, *(n.message for n in ctx.notes)],
        created=ctx.created,
        changed={c.field for c in changes},
    )
    for hook in extensions.hooks("written"):  # e.g. the outbox
        hook(ctx)
    for work in ctx.queued:
        work()
    for hook in extensions.hooks("after_write"):
        hook(ctx)
    return Outcome(
        ticket=ticket, message=ctx.message, changes=changes, events=events, change_id=change_id, tags=tags
    )


def _columns(ticket: Ticket) -> dict[str, Any]:
    """The ticket's column values (mutable ones copied: a change may edit them in place)."""
    values = ticket.__dict__
    return {
        f.attname: copy.deepcopy(v) if isinstance(v := values[f.attname], dict | list) else v
        for f in Ticket._meta.concrete_fields
    }


def _changed_columns(ticket: Ticket, loaded: dict[str, Any]) -> list[str]:
    """The columns whose value differs from what was read: what the change's UPDATE writes."""
    values = ticket.__dict__
    return [name for name, was in loaded.items() if values[name] != was]


def _save_traces(ctx: Context) -> None:
    """The rule traces of the change, with it: one insert per kind of trace row."""
    by_model: dict[type[Any], list[Any]] = {}
    for trace in ctx.traces:
        trace.ticket = ctx.ticket
        by_model.setdefault(type(trace), []).append(trace)
    for traces in by_model.values():
        rows.insert_rows(traces)


def _principal(actor: Actor) -> User | Contact | None:
    """The user or contact behind an actor, for permission checks: the one its edge read in this
    request, else read now. Rules, SLA, blueprints and the system act with their own authority
    (None)."""
    given = actor.principal
    if actor.kind == ActorKind.AGENT:
        if isinstance(given, User) and given.pk == actor.id:
            return given
        if actor.id is not None:
            with suppress(User.DoesNotExist):
                return User.objects.get(pk=actor.id)
        raise NotFound("agent not found")
    if actor.kind == ActorKind.CONTACT:
        if isinstance(given, Contact) and given.pk == actor.id:
            return given
        if actor.id is not None:
            with suppress(Contact.DoesNotExist):
                return Contact.objects.get(pk=actor.id)
        raise NotFound("contact not found")
    return None

"""The change context: what the pipeline's extensions see of a change in progress, and the few
ways they take part in it.

An extension (`tickets.extensions`) reads the ticket being changed, the mutation, the facts
before (`before`) and the instant (`now`), and acts only through:
- `change(...)`: fields, custom fields and tags changed by automation, validated like any
  change and audited under its author (a rule, the SLA, a blueprint);
- `note(...)`: an internal note written by automation;
- `record(kind, field, ...)`: one audit event of the change (`EventKind`), written with the rest;
- `emit(effect)`: an outbound effect (e-mail, webhook) for the outbox, written in the transaction;
- `after_write(work)`: work that needs the written ticket (its id), run once the change's rows
  are written, still in the transaction.
Nothing is written while the extensions run before the write: what they change is saved, audited
and indexed with the rest of the change.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sportello.accounts.models import User
from sportello.contacts.models import Contact
from sportello.core.actors import Actor, Via
from sportello.core.errors import ValidationFailed
from sportello.core.text import message_bodies
from sportello.engine.diff import FieldChange, diff

from . import audit
from .apply import apply_fields, apply_tags, snapshot, ticket_state, ticket_state_restore
from .change import Author, AutomaticNote, Mutation, TagChange
from .models import AuthorKind, EventKind, Message, Ticket, TicketEvent


@dataclass(slots=True)
class Context:
    """A change in progress: the ticket being changed and the facts before/after."""

    ticket: Ticket
    mutation: Mutation
    principal: User | Contact | None
    before: dict[str, Any]
    now: datetime
    created: bool
    message: Message | None = None
    effects: list[dict[str, Any]] = field(default_factory=list)
    change_id: uuid.UUID = field(default_factory=uuid.uuid4)
    tags: list[str] = field(default_factory=list)
    # What automation added: internal notes with their author and cause, and for each field a
    # rule changed, the rule that changed it last (its events are recorded under that rule).
    notes: list[AutomaticNote] = field(default_factory=list)
    writers: dict[str, Author] = field(default_factory=dict)
    # Explanations of what automation did (`automation.models.RuleTrace`), saved with the change.
    traces: list[Any] = field(default_factory=list)
    # What the extensions read once per mutation (e.g. the active rules).
    memo: dict[str, Any] = field(default_factory=dict)
    # Work queued by `after_write`, run after the ticket, its events and outbox rows are written.
    queued: list[Callable[[], None]] = field(default_factory=list)
    # Events recorded besides field changes and messages (`record`), written with the change's
    # other events in one statement.
    events: list[TicketEvent] = field(default_factory=list)
    # What the change did to the ticket's facts, known once the extensions before the write ran.
    changes: list[FieldChange] = field(default_factory=list)
    # The ticket's columns as read (an existing ticket): the write updates those that differ.
    loaded: dict[str, Any] = field(default_factory=dict)
    # Every event the change wrote, in order: set before the `written` phase.
    written_events: list[TicketEvent] = field(default_factory=list)

    @property
    def records_only(self) -> bool:
        """The change carries records only (an event beside the ticket, e.g. a task completed):
        nothing that rules or clocks look at."""
        return bool(self.mutation.records) and self.mutation.records_only()

    def change(
        self,
        *,
        author: Author,
        fields: dict[str, Any] | None = None,
        custom_fields: dict[str, Any] | None = None,
        tags: TagChange | None = None,
    ) -> list[str]:
        """Apply a change made by automation within the current mutation. It is validated like
        any change (standard fields, department layout, picklists), with the automation's own
        authority, and its events are recorded under `author`. Returns the snapshot keys it
        changed. On a validation error nothing of it stays and `ValidationFailed` is raised."""
        ticket = self.ticket
        before = snapshot(ticket, tags=self.tags)
        saved = ticket_state(ticket)
        principal, self.principal = self.principal, None
        try:
            apply_fields(self, dict(fields or {}), dict(custom_fields or {}), initial=False)
            new_tags = apply_tags(self.tags, tags) if tags is not None else self.tags
        except ValidationFailed:
            ticket_state_restore(ticket, saved)
            raise
        finally:
            self.principal = principal
        self.tags = new_tags
        changed = [c.field for c in diff(before, snapshot(ticket, tags=self.tags))]
        for key in changed:
            self.writers[key] = author
        return changed

    def note(self, *, author: Author, body: str) -> Message:
        """An internal note written by automation, saved with the mutation."""
        text, html = message_bodies(text=body, html="")
        message = Message(
            ticket=self.ticket,
            public=False,
            author_kind=AuthorKind.SYSTEM,
            body_text=text,
            body_html=html,
            via=Via.RULE,
            created_at=self.now,
            change_id=self.change_id,
        )
        self.ticket.message_count += 1
        self.notes.append(AutomaticNote(message=message, author=author))
        return message

    def record(
        self,
        kind: EventKind,
        field: str = "",
        *,
        new: Any = None,
        old: Any = None,
        actor: Actor | None = None,
        via: Via | None = None,
        cause: str | None = None,
    ) -> TicketEvent:
        """One event of the change, written with its other events: by `actor` (default: the
        mutation's), through `via` (default: the mutation's), for `cause` (default: the
        mutation's). Returns the (unsaved) row."""
        m = self.mutation
        event = audit.event(
            ticket=self.ticket,
            change_id=self.change_id,
            at=self.now,
            kind=kind,
            field=field,
            new=new,
            old=old,
            actor=actor or m.actor,
            via=via or m.via,
            cause=m.cause if cause is None else cause,
            depth=m.depth,
        )
        self.events.append(event)
        return event

    def emit(self, effect: dict[str, Any]) -> None:
        """An outbound effect (`{"kind", "dedupe_key", "payload"}`), written to the outbox with
        the change."""
        self.effects.append(effect)

    def after_write(self, work: Callable[[], None]) -> None:
        """Run `work` once the ticket, its events and outbox rows are written (a new ticket has
        its id then), in the same transaction."""
        self.queued.append(work)

"""The vocabulary of a ticket change: what a caller asks the pipeline for (`Mutation` with its
`NewMessage`, `StoredFile`s, `TagChange`, `NewRecord`s, `MovedIn`), who made an automatic part of
it (`Author`), and what the change did (`Outcome`). Plain data; the pipeline applies it
(`tickets.pipeline`), its extensions see it through the change context (`tickets.context`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sportello.core.actors import Actor, Via
from sportello.engine.diff import FieldChange

from .models import EventKind, Message, Priority, StatusCategory, Ticket, TicketEvent

if TYPE_CHECKING:
    from .context import Context

STANDARD_FIELDS = (
    "subject",
    "status",
    "priority",
    "channel",
    "department",
    "team",
    "assignee",
    "requester",
    "organization",
    "due_at",
)
WAITING_CATEGORIES = (StatusCategory.PENDING, StatusCategory.SOLVED, StatusCategory.ON_HOLD)
PRIORITY_BY_NAME = {p.label: p.value for p in Priority}
PRIORITY_NAME = {p.value: p.label for p in Priority}


@dataclass(frozen=True, slots=True)
class NewMessage:
    body: str = ""
    body_html: str = ""
    public: bool = True
    # Who wrote it; by default the mutation's actor. A ticket opened by an agent on a
    # customer's behalf carries the customer's words: author = the requester.
    author: Actor | None = None
    attachment_ids: tuple[int, ...] = ()
    # The quoted history of an e-mail reply, split from `body` (kept, shown collapsed).
    quoted: str = ""
    # The subject an e-mail message arrived with (kept whole on the message).
    subject: str = ""
    # Files already in the attachment storage that arrive with the message (an e-mail's
    # attachments): attached to it, each recorded as an `attachment`/`received` event.
    files: tuple[StoredFile, ...] = ()


@dataclass(frozen=True, slots=True)
class StoredFile:
    storage_key: str  # generated; the bytes are stored before the change
    filename: str  # a display name, sanitised
    content_type: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class TagChange:
    tags_add: tuple[str, ...] = ()
    tags_remove: tuple[str, ...] = ()
    tags_set: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class NewRecord:
    """Something that happened on the ticket besides its fields and messages (a task created or
    completed, an SLA breach, a blueprint transition), recorded as one event of the mutation,
    under its actor and cause."""

    kind: EventKind
    field: str = ""
    new: Any = None
    old: Any = None


@dataclass(frozen=True, slots=True)
class MovedIn:
    """Messages a merge moved onto the ticket (already re-pointed to it, in the same
    transaction): the ticket counts them and takes their instants as if they had arrived on it,
    and its SLA clocks see an unanswered customer message among them (`waiting_since`)."""

    messages: int = 0
    customer_messages: int = 0
    agent_replies: int = 0
    last_customer_message_at: datetime | None = None
    last_agent_reply_at: datetime | None = None
    # The oldest moved customer message that no public agent reply (on either ticket) followed.
    waiting_since: datetime | None = None


@dataclass(slots=True)
class Mutation:
    actor: Actor
    via: Via
    cause: str = ""
    fields: dict[str, Any] = field(default_factory=dict)  # standard fields, raw (ids, keys, names)
    custom_fields: dict[str, Any] = field(default_factory=dict)
    tags_add: tuple[str, ...] = ()
    tags_remove: tuple[str, ...] = ()
    tags_set: tuple[str, ...] | None = None
    message: NewMessage | None = None
    expected_version: int | None = None
    depth: int = 0
    # Automation applied as this mutation's own change, before event rules run (a time rule's
    # step: its actor is the rule). It changes the ticket through `ctx.change()`, notes and
    # effects like an event rule does.
    automation: Callable[[Context], None] | None = None
    records: tuple[NewRecord, ...] = ()
    # The calling service authorised the actor itself (a task's assignee, who may belong to
    # another department, completing it): the pipeline skips its ticket-access check. Such a
    # mutation carries records only — no field, tag or message.
    authorised: bool = False
    # Mail that answered automatically (auto-replies, bulk, lists): no automatic e-mail goes back
    # to the requester from this change (agents' replies still do). Whether it reopens is `reopen`.
    no_auto_reply: bool = False
    # A customer's message may reopen a waiting ticket (False: machine-written mail, an unverified
    # sender, a reopening over the rate limit — the caller decides; a person's reply sent through
    # a list or with Outlook's X-Auto-Response-Suppress is marked `no_auto_reply` yet reopens).
    reopen: bool = True
    # A merge: the messages it moved onto this ticket, or the ticket this one was merged into
    # (the change that closes it sets the link; its SLA clocks stop, superseded, not met).
    moved_in: MovedIn | None = None
    merged_into: int | None = None

    def touches_fields(self) -> bool:
        """Whether it changes standard or custom fields or tags."""
        tags = self.tags_add or self.tags_remove or self.tags_set is not None
        return bool(self.fields or self.custom_fields or tags)

    def records_only(self) -> bool:
        """Whether it carries records only (an event beside the ticket, e.g. a task completed):
        no field, tag, message, automation or merge."""
        return not (
            self.touches_fields()
            or self.message is not None
            or self.automation is not None
            or self.moved_in is not None
            or self.merged_into is not None
        )


@dataclass(slots=True)
class Outcome:
    ticket: Ticket
    message: Message | None
    changes: list[FieldChange]
    events: list[TicketEvent]
    change_id: uuid.UUID
    tags: list[str]


@dataclass(frozen=True, slots=True)
class Author:
    """Who made an automatic change, and why: a rule, the SLA, a blueprint, with its cause
    (`rule:<key>@<version>`)."""

    actor: Actor
    cause: str


@dataclass(slots=True)
class AutomaticNote:
    message: Message
    author: Author

"""The change pipeline: every write to a ticket goes through `ticket_create` or `ticket_apply`.

One transaction each:
1. lock the ticket row and check the client's `version` (stale: Conflict, nothing written);
2. snapshot the facts before;
3. validate the mutation (actor's permission, field values, department layout);
4. apply it, then the extension points in order: automation (event rules), SLA clocks,
   blueprints, timers; each is a plain function call that sees (before, after);
5. diff before/after and write one audit event per change, with actor, via and cause;
6. bump `version`, keep the search document in sync;
7. write outbound effects to the outbox (delivered by workers after commit).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import connection, transaction

from sportello.accounts.models import Department, Role, Team, User
from sportello.contacts.models import Contact, Organization
from sportello.core.actors import Actor, ActorKind, Via
from sportello.core.errors import Conflict, NotFound, ValidationFailed
from sportello.core.models import Sequence
from sportello.core.text import clean_text, label_text, message_bodies, storable_problem
from sportello.engine import fields as cf
from sportello.engine.diff import FieldChange, diff
from sportello.outbox import services as outbox

from . import permissions, search
from .locks import ticket_lock
from .models import (
    MESSAGE_SUBJECT_MAX_LENGTH,
    NOTIFICATION_NO_ADDRESS,
    SUBJECT_MAX_LENGTH,
    Attachment,
    AuthorKind,
    Channel,
    CustomField,
    EventKind,
    LayoutField,
    Message,
    Priority,
    Status,
    StatusCategory,
    Ticket,
    TicketEvent,
    TicketTag,
)

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
TAG_MAX_LENGTH = 80
TAGS_MAX = 100
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
    # step: its actor is the rule). It changes the ticket through `automatic_change`, notes and
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


@dataclass(slots=True)
class Outcome:
    ticket: Ticket
    message: Message | None
    changes: list[FieldChange]
    events: list[TicketEvent]
    change_id: uuid.UUID
    tags: list[str]


@dataclass(slots=True)
class Context:
    """What the extension points see: the ticket being changed and the facts before/after."""

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
    # What the extension points read once per mutation (e.g. the active rules).
    memo: dict[str, Any] = field(default_factory=dict)
    # Work that needs the written ticket (its id), run after it, its events and outbox rows are
    # written, in the same transaction: e.g. an assignment decision or a backlog entry.
    after_write: list[Callable[[], None]] = field(default_factory=list)
    # Events automation records besides field changes (e.g. a round-robin decision), written
    # with the change's other events in one statement.
    events: list[TicketEvent] = field(default_factory=list)


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
    with transaction.atomic():
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


def _records_only(m: Mutation) -> bool:
    return not (
        _touches_fields(m)
        or m.message is not None
        or m.automation is not None
        or m.moved_in is not None
        or m.merged_into is not None
    )


def ticket_apply(*, ticket_id: int, mutation: Mutation, now: datetime) -> Outcome:
    if mutation.authorised and not _records_only(mutation):
        raise ValueError("an authorised mutation carries records only")
    with transaction.atomic():
        principal = None if mutation.authorised else _principal(mutation.actor)
        # The ticket's row is the lock of the whole change, taken on the bare row; then the
        # ticket is read in the actor's scope with its SLA clocks and blueprint run (one-to-one
        # rows, changed only under this lock), as the last writer committed them.
        ticket = ticket_lock(
            ticket_id=ticket_id, principal=principal, related=("status", "department", "sla", "blueprint_run")
        )
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
                fields=_touches_fields(mutation),
                public_message=bool(message and message.public),
                internal_message=bool(message and not message.public),
            )
        if (
            ticket.status_category == StatusCategory.CLOSED
            and mutation.actor.kind != ActorKind.SYSTEM
            and not (mutation.records and _records_only(mutation))
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
            before=snapshot(ticket),
            now=now,
            created=False,
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
# The steps


def _run(ctx: Context) -> Outcome:
    ticket, mutation, now = ctx.ticket, ctx.mutation, ctx.now
    _apply_fields(ctx, mutation.fields, mutation.custom_fields)
    ctx.tags = _apply_tags(ctx.tags if ctx.created else ctx.before.get("tags", []), mutation)
    _apply_system_defaults(ctx)
    if mutation.moved_in is not None:
        _count_moved(ticket, mutation.moved_in)
    if mutation.merged_into is not None:
        ticket.merged_into_id = mutation.merged_into
    if mutation.message is not None:
        ctx.message = _prepare_message(ctx, mutation.message)
    if mutation.automation is not None:
        mutation.automation(ctx)
    # The facts after the caller's change and before automation's: events are attributed to
    # whoever made each difference.
    requested = snapshot(ticket, tags=ctx.tags)
    if ctx.created:
        ticket.number = _next_number()  # rules and notifications may quote it

    # Extension points, in order. Each is a plain call with the whole context; nothing is
    # written yet, so what they change is saved, audited and indexed with the rest.
    run_event_rules(ctx)
    update_sla_clocks(ctx)
    enforce_blueprint(ctx)
    _check_solve_requirements(ctx)

    tags = ctx.tags
    after = snapshot(ticket, tags=tags)
    changes = diff(ctx.before, after)
    change_id = ctx.change_id
    quiet = not (
        ctx.message or ctx.notes or ctx.effects or ctx.events or ctx.after_write or mutation.moved_in
    )
    if not changes and quiet:
        # Nothing of the ticket changed: records (a task completed) are events of the change,
        # and the ticket's version stays, so nobody editing it meets a stale-version conflict.
        events = _record_events(ctx, [], [], change_id) if mutation.records else []
        for trace in ctx.traces if events else ():
            trace.ticket = ticket
            trace.save(force_insert=True)
        return Outcome(ticket=ticket, message=None, changes=[], events=events, change_id=change_id, tags=tags)
    ticket.version += 1
    ticket.updated_at = now
    _set_anchors(ctx, changes)
    if ctx.created:
        ticket.save(force_insert=True)
        TicketTag.objects.bulk_create([TicketTag(ticket=ticket, name=t) for t in tags])
    else:
        ticket.save()
        _write_tags(ticket, ctx.before.get("tags", []), tags)
    arm_timers(ctx)  # after the save: a new ticket has its id, the anchors are set
    if ctx.message is not None:
        ctx.message.save(force_insert=True)
        _claim_attachments(ctx, ctx.message, mutation.message)
    for note in ctx.notes:
        note.message.save(force_insert=True)
    _suppress_auto_replies(ctx)
    _note_reply_not_emailed(ctx)
    events = _record_events(ctx, diff(ctx.before, requested), diff(requested, after), change_id)
    for trace in ctx.traces:
        trace.ticket = ticket
        trace.save(force_insert=True)
    new_messages = [ctx.message] if ctx.message is not None else []
    search.ticket_reindex(
        ticket=ticket,
        new_messages=[*new_messages, *(n.message for n in ctx.notes)],
        created=ctx.created,
        changed={c.field for c in changes},
    )
    _write_outbox(ctx, change_id)
    for work in ctx.after_write:
        work()
    release_capacity(ctx, changes)
    notify_agents(ctx, changes)
    return Outcome(
        ticket=ticket, message=ctx.message, changes=changes, events=events, change_id=change_id, tags=tags
    )


AUTOMATION_ACTORS = (ActorKind.RULE, ActorKind.SLA, ActorKind.BLUEPRINT)


def _set_anchors(ctx: Context, changes: list[FieldChange]) -> None:
    """The instants time rules count from, as this change moves them."""
    ticket, now = ctx.ticket, ctx.now
    changed = {c.field for c in changes}
    if ctx.created or "status" in changed:
        ticket.status_entered_at = now
    if ctx.created or "status_category" in changed:
        ticket.status_category_entered_at = now
    if "assignee" in changed:
        ticket.assigned_at = now if ticket.assignee_id is not None else None
    message = ctx.message
    if message is not None and message.author_kind == AuthorKind.CONTACT:
        ticket.last_customer_message_at = now
    elif message is not None and message.author_kind == AuthorKind.AGENT and message.public:
        ticket.last_agent_reply_at = now
    if ctx.mutation.actor.kind not in AUTOMATION_ACTORS:
        ticket.last_activity_at = now


def _count_moved(ticket: Ticket, moved: MovedIn) -> None:
    """Messages moved onto the ticket count as its own; its anchors take their instants."""
    ticket.message_count += moved.messages
    ticket.customer_message_count += moved.customer_messages
    ticket.agent_reply_count += moved.agent_replies
    for anchor, at in (
        ("last_customer_message_at", moved.last_customer_message_at),
        ("last_agent_reply_at", moved.last_agent_reply_at),
    ):
        current = getattr(ticket, anchor)
        if at is not None and (current is None or at > current):
            setattr(ticket, anchor, at)


def _principal(actor: Actor) -> User | Contact | None:
    """The user or contact behind an actor, for permission checks. Rules, SLA, blueprints and the
    system act with their own authority (None)."""
    if actor.kind == ActorKind.AGENT:
        try:
            return User.objects.get(pk=actor.id)
        except User.DoesNotExist:
            raise NotFound("agent not found") from None
    if actor.kind == ActorKind.CONTACT:
        try:
            return Contact.objects.get(pk=actor.id)
        except Contact.DoesNotExist:
            raise NotFound("contact not found") from None
    return None


def _touches_fields(m: Mutation) -> bool:
    return bool(m.fields or m.custom_fields or m.tags_add or m.tags_remove or m.tags_set is not None)


def snapshot(ticket: Ticket, *, tags: list[str] | None = None) -> dict[str, Any]:
    """The ticket's facts as plain JSON-able data: what events record and rules read."""
    if tags is None:
        tags = sorted(TicketTag.objects.filter(ticket_id=ticket.pk).values_list("name", flat=True))
    return {
        "subject": ticket.subject,
        "status": ticket.status.key,
        "status_category": ticket.status_category,
        "priority": PRIORITY_NAME[ticket.priority],
        "channel": ticket.channel,
        "department": ticket.department_id,
        "team": ticket.team_id,
        "assignee": ticket.assignee_id,
        "requester": ticket.requester_id,
        "organization": ticket.organization_id,
        "due_at": ticket.due_at.isoformat() if ticket.due_at else None,
        "custom_fields": dict(ticket.custom_fields or {}),
        "tags": list(tags),
    }


def _lookup[M](model: type[M], pk: Any, field: str, **filters: Any) -> M:
    if isinstance(pk, bool) or not isinstance(pk, int) or not (0 < pk < 2**63):
        raise ValidationFailed("must be the id of an existing record", field=field)
    try:
        return model.objects.get(pk=pk, **filters)  # type: ignore[attr-defined, no-any-return]
    except model.DoesNotExist:  # type: ignore[attr-defined]
        raise ValidationFailed(f"no {field} with id {pk}", field=field) from None


def _apply_fields(
    ctx: Context, values: dict[str, Any], custom_changes: dict[str, Any], *, initial: bool = True
) -> None:
    """Validate and apply standard and custom field values. `initial`: this is the mutation's
    own change (on creation, defaults are set and the department's layout checked); automatic
    changes made afterwards pass False."""
    ticket, created = ctx.ticket, ctx.created and initial
    unknown = set(values) - set(STANDARD_FIELDS)
    if unknown:
        name = sorted(unknown)[0]
        raise ValidationFailed("is not a ticket field", field=name)

    if "subject" in values:
        subject = values["subject"]
        if not isinstance(subject, str):
            raise ValidationFailed("must be a string", field="subject")
        ticket.subject = clean_text(
            subject, field="subject", max_length=SUBJECT_MAX_LENGTH, single_line=True, required=True
        )
    if "department" in values:
        ticket.department = _lookup(Department, values["department"], "department", is_active=True)
        if created and ctx.principal is not None:
            permissions.check_may_open_in(principal=ctx.principal, department_id=ticket.department_id)
    if "requester" in values:
        requester = _lookup(Contact, values["requester"], "requester")
        ticket.requester = requester
        if "organization" not in values:
            ticket.organization_id = requester.organization_id
    if "organization" in values:
        org = values["organization"]
        ticket.organization = None if org is None else _lookup(Organization, org, "organization")
    if "status" in values:
        key = values["status"]
        try:
            known = isinstance(key, str) and not storable_problem(key)
            status = Status.objects.get(key=key, is_active=True) if known else None
        except Status.DoesNotExist:
            status = None
        if status is None:
            raise ValidationFailed(f"unknown status {str(key)[:40]!r}", field="status")
        _set_status(ticket, status, ctx.now)
    elif created:
        _set_status(ticket, Status.objects.get(category=StatusCategory.NEW, is_default=True), ctx.now)
    if "priority" in values:
        name = values["priority"]
        if not isinstance(name, str) or name not in PRIORITY_BY_NAME:
            raise ValidationFailed("must be one of low, normal, high, urgent", field="priority")
        ticket.priority = PRIORITY_BY_NAME[name]
    if "channel" in values:
        if values["channel"] not in Channel.values:
            raise ValidationFailed(f"must be one of {', '.join(Channel.values)}", field="channel")
        ticket.channel = values["channel"]
    if "due_at" in values:
        due = values["due_at"]
        if due is not None and (not isinstance(due, datetime) or due.tzinfo is None):
            raise ValidationFailed("must be a date and time with a UTC offset", field="due_at")
        ticket.due_at = due.astimezone(UTC) if due is not None else None

    department_changed = created or "department" in values
    if "team" in values:
        team = values["team"]
        ticket.team = None if team is None else _lookup(Team, team, "team")
    if ticket.team_id is not None and ticket.team.department_id != ticket.department_id:
        if "team" in values:
            raise ValidationFailed("this team belongs to another department", field="team")
        ticket.team = None  # moved to another department: the old team no longer applies
    if "assignee" in values:
        agent = values["assignee"]
        if isinstance(agent, User):  # read by automation in this transaction (a round-robin pool)
            if agent.pk is None or not agent.is_active:
                raise ValidationFailed(f"no assignee with id {agent.pk}", field="assignee")
            ticket.assignee = agent
        else:
            ticket.assignee = None if agent is None else _lookup(User, agent, "assignee", is_active=True)
    if ticket.assignee_id is not None and (department_changed or "assignee" in values):
        assignee = ticket.assignee
        assert assignee is not None
        if assignee.role == Role.LIGHT_AGENT:
            if "assignee" in values:
                raise ValidationFailed("light agents cannot be assigned tickets", field="assignee")
            ticket.assignee = None
        elif assignee.role != Role.ADMIN and not assignee.is_member_of(ticket.department_id):
            if "assignee" in values:
                raise ValidationFailed(
                    "this agent is not a member of the ticket's department", field="assignee"
                )
            ticket.assignee = None
    _apply_custom_fields(ctx, custom_changes, department_changed=department_changed, initial=initial)


def _set_status(ticket: Ticket, status: Status, now: datetime) -> None:
    previous = ticket.status_category if ticket.status_id else None
    ticket.status = status
    ticket.status_category = status.category
    if status.category == previous:
        return
    if status.category == StatusCategory.SOLVED:
        ticket.solved_at = now
    elif status.category == StatusCategory.CLOSED:
        ticket.closed_at = now
        ticket.solved_at = ticket.solved_at or now
    else:
        ticket.solved_at = None


def _layout_rows(department_id: int) -> list[LayoutField]:
    return [
        r
        for r in LayoutField.objects.filter(department_id=department_id).select_related("field")
        if r.field.is_active
    ]


def _layout_rules(rows: list[LayoutField]) -> dict[str, cf.LayoutRule]:
    return {
        r.field.key: cf.LayoutRule(
            required=r.required,
            from_customer=r.required_from_customer,
            allowed_values=None if r.allowed_values is None else tuple(r.allowed_values),
        )
        for r in rows
    }


# Where a customer fills the ticket form (the portal, the API on their own account); mail,
# chat and imports carry no form.
CUSTOMER_FORMS = (Via.PORTAL, Via.WEB, Via.API)


def _requirements(ctx: Context, *, initial: bool) -> cf.Requirements:
    """Which of the layout's requirements this change of custom fields must meet: an agent's
    own change meets the agents' `always` fields; a customer opening a ticket on the customer's
    form (not by mail) the customer's. Mail, the system and automation acting with its own
    authority meet none: nobody there can fill an agent's field. Solving is checked once the
    whole change is known (`_check_solve_requirements`)."""
    if not initial:
        return cf.Requirements()
    kind, via = ctx.mutation.actor.kind, ctx.mutation.via
    return cf.Requirements(
        agent_saving=kind == ActorKind.AGENT,
        customer_form=ctx.created and kind == ActorKind.CONTACT and via in CUSTOMER_FORMS,
    )


def _apply_custom_fields(
    ctx: Context, changes: dict[str, Any], *, department_changed: bool, initial: bool
) -> None:
    ticket = ctx.ticket
    if not changes and not department_changed:
        return
    layout_rows = _layout_rows(ticket.department_id)
    fields = {r.field.key: r.field for r in layout_rows}
    outside = set(changes) - set(fields)
    if outside:  # only to tell "no such field" from "not in this department's layout"
        fields.update((f.key, f) for f in CustomField.objects.filter(is_active=True, key__in=outside))
    defs = {
        f.key: cf.FieldDef(f.key, f.label, f.type, tuple(o["value"] for o in f.options))
        for f in fields.values()
    }
    try:
        ticket.custom_fields = cf.validate(
            defs=defs,
            layout=_layout_rules(layout_rows),
            current=ticket.custom_fields or {},
            changes=changes,
            requirements=_requirements(ctx, initial=initial),
        )
    except cf.FieldValueError as exc:
        raise ValidationFailed(exc.message, field=exc.field) from None


DONE_CATEGORIES = (StatusCategory.SOLVED, StatusCategory.CLOSED)


def _check_solve_requirements(ctx: Context) -> None:
    """An agent's change that leaves the ticket solved or closed — by setting the status, a
    macro, a blueprint transition or a rule reacting to it — or moves a solved ticket to another
    department, needs the layout's fields agents must fill to solve. The first missing one is
    the error, naming it; nothing is written. Customers, mail and automation acting on its own
    are never refused for an agent's field."""
    ticket, before = ctx.ticket, ctx.before
    if ctx.mutation.actor.kind != ActorKind.AGENT or ticket.status_category not in DONE_CATEGORIES:
        return
    entered = before.get("status_category") not in DONE_CATEGORIES
    moved = before.get("department") != ticket.department_id
    if not (ctx.created or entered or moved):
        return
    absent = cf.missing(
        layout=_layout_rules(_layout_rows(ticket.department_id)),
        values=ticket.custom_fields or {},
        requirements=cf.Requirements(solving=True),
    )
    if absent:
        key, message = absent[0]
        raise ValidationFailed(message, field=f"custom_fields.{key}")


def _normalise_tag(raw: object) -> str:
    if not isinstance(raw, str):
        raise ValidationFailed("tags must be strings", field="tags")
    tag = "_".join(label_text(raw).lower().split())
    if not tag or len(tag) > TAG_MAX_LENGTH or "," in tag or storable_problem(raw):
        raise ValidationFailed(
            f"a tag is 1 to {TAG_MAX_LENGTH} characters, without commas: {raw[:40]!r}", field="tags"
        )
    return tag


def _apply_tags(
    current: list[str],
    m: Mutation | TagChange,
) -> list[str]:
    tags = set(current)
    if m.tags_set is not None:
        tags = {_normalise_tag(t) for t in m.tags_set}
    tags |= {_normalise_tag(t) for t in m.tags_add}
    tags -= {_normalise_tag(t) for t in m.tags_remove}
    if len(tags) > TAGS_MAX:
        raise ValidationFailed(f"a ticket holds at most {TAGS_MAX} tags", field="tags")
    return sorted(tags)


def _write_tags(ticket: Ticket, old: list[str], new: list[str]) -> None:
    removed, added = set(old) - set(new), set(new) - set(old)
    if removed:
        TicketTag.objects.filter(ticket=ticket, name__in=removed).delete()
    if added:
        TicketTag.objects.bulk_create([TicketTag(ticket=ticket, name=t) for t in sorted(added)])


def _apply_system_defaults(ctx: Context) -> None:
    """Built-in status moves every desk makes; recorded like any change (cause: system)."""
    m, ticket = ctx.mutation, ctx.ticket
    if m.message is None or "status" in m.fields or ctx.created:
        return
    author = m.message.author or m.actor
    reopen = m.reopen and author.kind == ActorKind.CONTACT and ticket.status_category in WAITING_CATEGORIES
    first_answer = author.kind == ActorKind.AGENT and m.message.public and ticket.status_category == "new"
    if reopen or first_answer:
        _set_status(ticket, Status.objects.get(category=StatusCategory.OPEN, is_default=True), ctx.now)


def _next_number() -> int:
    with connection.cursor() as cur:
        cur.execute("UPDATE core_sequence SET value = value + 1 WHERE name = %s RETURNING value", ["ticket"])
        row = cur.fetchone()
    if row is None:
        Sequence.objects.create(name="ticket", value=1)
        return 1
    return int(row[0])


def _prepare_message(ctx: Context, new: NewMessage) -> Message:
    """Validate a new message and count it on the ticket; it is inserted after the ticket row."""
    ticket, now = ctx.ticket, ctx.now
    author = new.author or ctx.mutation.actor
    text, html = message_bodies(text=new.body, html=new.body_html)
    if author.kind == ActorKind.AGENT:
        kind = AuthorKind.AGENT
    elif author.kind == ActorKind.CONTACT:
        kind = AuthorKind.CONTACT
        if not new.public:
            raise ValidationFailed("customers cannot write internal notes", field="public")
    else:
        kind = AuthorKind.SYSTEM
    message = Message(
        ticket=ticket,
        public=new.public,
        author_kind=kind,
        author_agent_id=author.id if kind == AuthorKind.AGENT else None,
        author_contact_id=author.id if kind == AuthorKind.CONTACT else None,
        body_text=text,
        body_html=html,
        quoted_text=clean_text(
            new.quoted, field="quoted", max_length=settings.SPORTELLO["MESSAGE_MAX_CHARS"]
        ),
        subject=clean_text(
            new.subject, field="subject", max_length=MESSAGE_SUBJECT_MAX_LENGTH, single_line=True
        ),
        via=ctx.mutation.via,
        created_at=now,
        change_id=ctx.change_id,
    )
    # Counters are saved with the ticket row, which this transaction holds locked.
    ticket.message_count += 1
    if kind == AuthorKind.CONTACT:
        ticket.customer_message_count += 1
    elif kind == AuthorKind.AGENT and new.public:
        ticket.agent_reply_count += 1
        if ticket.first_response_at is None and not ctx.created:
            ticket.first_response_at = now
    return message


def _claim_attachments(ctx: Context, message: Message, new: NewMessage | None) -> None:
    """Attach staged uploads of this ticket, and the files that came with it, to the new message."""
    if new is None:
        return
    if new.files:
        _attach_files(ctx, message, new)
    if not new.attachment_ids:
        return
    staged = Attachment.objects.filter(pk__in=new.attachment_ids, ticket=ctx.ticket, message__isnull=True)
    if message.author_kind == AuthorKind.CONTACT:
        # A customer attaches only their own uploads, never an agent's staged file.
        staged = staged.filter(uploaded_by_kind=AuthorKind.CONTACT, uploaded_by_id=message.author_contact_id)
    claimed = staged.update(message=message)
    if claimed != len(set(new.attachment_ids)):
        raise ValidationFailed("unknown or already used attachment id", field="attachment_ids")


def _attach_files(ctx: Context, message: Message, new: NewMessage) -> None:
    """The message's stored files as its attachments, uploaded by its author; their events go
    with the change's."""
    author = new.author or ctx.mutation.actor
    Attachment.objects.bulk_create(
        [
            Attachment(
                ticket=ctx.ticket,
                message=message,
                storage_key=f.storage_key,
                filename=f.filename,
                content_type=f.content_type,
                size=f.size,
                sha256=f.sha256,
                uploaded_by_kind=message.author_kind,
                uploaded_by_id=author.id,
                created_at=ctx.now,
            )
            for f in new.files
        ]
    )
    for a in Attachment.objects.filter(message=message).order_by("id"):
        ctx.events.append(
            TicketEvent(
                ticket=ctx.ticket,
                change_id=ctx.change_id,
                at=ctx.now,
                kind=EventKind.ATTACHMENT,
                field="received",
                new_value={
                    "attachment_id": a.pk,
                    "filename": a.filename,
                    "content_type": a.content_type,
                    "size": a.size,
                    "sha256": a.sha256,
                },
                actor_kind=str(author.kind),
                actor_id=author.id,
                actor_label=author.label[:200],
                via=str(ctx.mutation.via),
                cause=ctx.mutation.cause[:200],
                depth=ctx.mutation.depth,
            )
        )


# --------------------------------------------------------------------------------------------
# Automatic changes: what rules, SLA escalations and blueprints do inside a mutation.


def automatic_change(
    ctx: Context,
    *,
    author: Author,
    fields: dict[str, Any] | None = None,
    custom_fields: dict[str, Any] | None = None,
    tags: TagChange | None = None,
) -> list[str]:
    """Apply a change made by automation within the current mutation. It is validated like any
    change (standard fields, department layout, picklists), with the automation's own authority,
    and its events are recorded under `author`. Returns the snapshot keys it changed. On a
    validation error nothing of it stays and `ValidationFailed` is raised."""
    ticket = ctx.ticket
    before = snapshot(ticket, tags=ctx.tags)
    saved = _ticket_state(ticket)
    principal, ctx.principal = ctx.principal, None
    try:
        _apply_fields(ctx, dict(fields or {}), dict(custom_fields or {}), initial=False)
        new_tags = _apply_tags(ctx.tags, tags) if tags is not None else ctx.tags
    except ValidationFailed:
        _ticket_state_restore(ticket, saved)
        raise
    finally:
        ctx.principal = principal
    ctx.tags = new_tags
    changed = [c.field for c in diff(before, snapshot(ticket, tags=ctx.tags))]
    for key in changed:
        ctx.writers[key] = author
    return changed


def automatic_note(ctx: Context, *, author: Author, body: str) -> Message:
    """An internal note written by automation, saved with the mutation."""
    text, html = message_bodies(text=body, html="")
    message = Message(
        ticket=ctx.ticket,
        public=False,
        author_kind=AuthorKind.SYSTEM,
        body_text=text,
        body_html=html,
        via=Via.RULE,
        created_at=ctx.now,
        change_id=ctx.change_id,
    )
    ctx.ticket.message_count += 1
    ctx.notes.append(AutomaticNote(message=message, author=author))
    return message


def _ticket_state(ticket: Ticket) -> tuple[dict[str, Any], dict[str, Any]]:
    return dict(ticket.__dict__), dict(ticket._state.fields_cache)


def _ticket_state_restore(ticket: Ticket, state: tuple[dict[str, Any], dict[str, Any]]) -> None:
    values, cache = state
    ticket.__dict__.update(values)
    ticket._state.fields_cache = cache


# --------------------------------------------------------------------------------------------
# Extension points. Each is called on every mutation, inside the transaction, in this order.


def run_event_rules(ctx: Context) -> None:
    """Event rules (triggers) run here on (ctx.before, the ticket now): they change the ticket
    through `automatic_change`, add notes and outbound effects (`automation.event_rules`)."""
    from sportello.automation import event_rules

    if ctx.mutation.records and _records_only(ctx.mutation):
        return  # an event beside the ticket (a task completed) changes nothing rules look at
    event_rules.run(ctx)


def update_sla_clocks(ctx: Context) -> None:
    """SLA policy choice and clock start/pause/stop (`sla.hooks`)."""
    from sportello.sla import hooks

    if ctx.mutation.records and _records_only(ctx.mutation):
        return  # an event beside the ticket (a task completed) moves no clock
    hooks.update_sla_clocks(ctx)


def enforce_blueprint(ctx: Context) -> None:
    """Blueprint entry, and status changes only by transitions (`blueprints.hooks`)."""
    from sportello.blueprints import hooks

    hooks.enforce_blueprint(ctx)


def arm_timers(ctx: Context) -> None:
    """Timers for time rules, SLA targets and blueprint limits are armed or disarmed here. Called
    after the ticket row is written (a new ticket needs its id), still inside the transaction."""
    from sportello.automation import timers

    timers.timers_arm(ctx)


def release_capacity(ctx: Context, changes: list[FieldChange]) -> None:
    """After the change is written: a ticket that left its assignee's counted statuses, or was
    unassigned or reassigned, frees capacity; round-robin backlogs are drained here
    (`automation.assignment`). A plain call, in the same transaction."""
    if ctx.created or not any(c.field in ("assignee", "status") for c in changes):
        return
    from sportello.automation import assignment

    assignment.capacity_released(ctx, changes)


def notify_agents(ctx: Context, changes: list[FieldChange]) -> None:
    """After the change is written: in-app notifications for the agents it concerns (assigned,
    SLA warning or breach, @mentioned in a note), in the same transaction (`inbox.hooks`)."""
    from sportello.inbox import hooks

    hooks.notify_agents(ctx, changes)


# --------------------------------------------------------------------------------------------
# Audit and outbox


def _record_events(
    ctx: Context,
    requested: list[FieldChange],
    automatic: list[FieldChange],
    change_id: uuid.UUID,
) -> list[TicketEvent]:
    """One event per change: the caller's changes under the mutation's actor, then each change
    automation made on top under the rule (or clock, or blueprint) that made it."""
    m, ticket, now = ctx.mutation, ctx.ticket, ctx.now
    base = {"ticket": ticket, "change_id": change_id, "at": now, "depth": m.depth}
    common = {
        **base,
        "actor_kind": str(m.actor.kind),
        "actor_id": m.actor.id,
        "actor_label": m.actor.label[:200],
        "via": str(m.via),
        "cause": m.cause[:200],
    }

    def by(author: Author) -> dict[str, Any]:
        return {
            **base,
            "actor_kind": str(author.actor.kind),
            "actor_id": author.actor.id,
            "actor_label": author.actor.label[:200],
            "via": str(Via.RULE),
            "cause": author.cause[:200],
        }

    def field_event(c: FieldChange, who: dict[str, Any]) -> TicketEvent:
        kind = EventKind.TAGS if c.field == "tags" else EventKind.FIELD
        return TicketEvent(kind=kind, field=c.field, old_value=c.old, new_value=c.new, **who)

    rows: list[TicketEvent] = []
    if ctx.created:
        rows.append(TicketEvent(kind=EventKind.CREATED, new_value={"number": ticket.number}, **common))
    rows += [field_event(c, common) for c in requested]
    rows += [
        TicketEvent(kind=r.kind, field=r.field, old_value=r.old, new_value=r.new, **common) for r in m.records
    ]
    if ctx.message is not None:
        rows.append(_message_event(ctx.message, common))
    for c in automatic:
        author = ctx.writers.get(c.field)
        rows.append(field_event(c, by(author) if author is not None else common))
    rows += [_message_event(note.message, by(note.author)) for note in ctx.notes]
    rows += ctx.events
    return TicketEvent.objects.bulk_create(rows)


def _message_event(message: Message, who: dict[str, Any]) -> TicketEvent:
    return TicketEvent(
        kind=EventKind.MESSAGE,
        field="public" if message.public else "internal",
        new_value={"message_id": message.pk, "author_kind": message.author_kind},
        **who,
    )


def _suppress_auto_replies(ctx: Context) -> None:
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
            ctx.events.append(
                TicketEvent(
                    ticket=ctx.ticket,
                    change_id=ctx.change_id,
                    at=ctx.now,
                    kind=EventKind.NOTIFICATION,
                    field="suppressed",
                    new_value={
                        "to": requester,
                        "subject": str(payload.get("subject", ""))[:200],
                        "reason": "the message that caused it was automatic (no automatic reply to it)",
                    },
                    actor_kind=str(ActorKind.SYSTEM),
                    actor_id=None,
                    actor_label="System",
                    via=str(Via.SYSTEM),
                    cause="mail:automatic",
                    depth=ctx.mutation.depth,
                )
            )
            if not to:
                continue
            effect = {**effect, "payload": {**payload, "to": to}}
        kept.append(effect)
    ctx.effects[:] = kept


def _reply_to_email(ctx: Context) -> bool:
    """Whether the change holds an agent's public reply, which goes to the requester by e-mail."""
    message = ctx.message
    return message is not None and message.public and message.author_kind == AuthorKind.AGENT


def _note_reply_not_emailed(ctx: Context) -> None:
    """An agent's public reply to a customer without an e-mail address (a caller known by their
    phone) is recorded on the ticket and e-mailed to nobody: the change says so, as a
    `notification` / `no_address` event, so the agent knows to call them back."""
    if not _reply_to_email(ctx) or ctx.ticket.requester.email:
        return
    assert ctx.message is not None
    ctx.events.append(
        TicketEvent(
            ticket=ctx.ticket,
            change_id=ctx.change_id,
            at=ctx.now,
            kind=EventKind.NOTIFICATION,
            field=NOTIFICATION_NO_ADDRESS,
            new_value={"message_id": ctx.message.pk, "contact_id": ctx.ticket.requester_id},
            actor_kind=str(ActorKind.SYSTEM),
            actor_id=None,
            actor_label="System",
            via=str(Via.SYSTEM),
            cause="mail:no_address",
            depth=ctx.mutation.depth,
        )
    )


def _write_outbox(ctx: Context, change_id: uuid.UUID) -> None:
    message, ticket = ctx.message, ctx.ticket
    if message is not None and _reply_to_email(ctx) and ticket.requester.email:
        from sportello.notifications.services import render_notification

        requester = ticket.requester
        # The reply in the customer's language's `agent_reply` template (signature, link).
        principal = ctx.principal
        agent = principal if isinstance(principal, User) and principal.pk == message.author_agent_id else None
        rendered = render_notification(
            key="agent_reply",
            ticket=ticket,
            agent=agent or message.author_agent,
            message_body=message.body_text,
            now=ctx.now,
            memo=ctx.memo,
        )
        payload: dict[str, Any] = {
            "to": [requester.email],
            "subject": rendered.subject or f"[#{ticket.number}] {ticket.subject}",
            "body": rendered.text,
            "ticket_number": ticket.number,
            "message_id": message.pk,
            "contact_id": requester.pk,
            "language": rendered.language,
            "automatic": False,
        }
        if rendered.html and not message.body_html:
            payload["html"] = rendered.html  # a rich reply's own HTML goes out as written
        ctx.effects.append({"kind": "email", "dedupe_key": f"reply:{message.pk}", "payload": payload})
    for effect in ctx.effects:
        if "ticket_number" in effect["payload"]:
            effect["payload"]["ticket_number"] = ticket.number
        outbox.outbox_add(
            kind=effect["kind"],
            ticket=ticket,
            change_id=change_id,
            dedupe_key=effect["dedupe_key"],
            payload=effect["payload"],
            now=ctx.now,
        )

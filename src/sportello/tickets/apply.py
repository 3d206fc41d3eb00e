"""Applying a change to the ticket in memory: standard and custom fields (validated against the
department's layout), tags, the built-in status moves, a new message with its attachments, the
anchors time rules count from, and the snapshot of facts events record and rules read. Nothing
here writes the ticket row; the pipeline does (`tickets.pipeline`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import connection
from django.db.models import Model

from sportello.accounts import structure
from sportello.accounts.models import Department, Role, Team, User
from sportello.accounts.selectors import valid_pk
from sportello.contacts.models import Contact, Organization
from sportello.core import rows
from sportello.core.actors import ActorKind, Via
from sportello.core.errors import ValidationFailed
from sportello.core.models import Sequence
from sportello.core.text import clean_text, label_text, message_bodies, storable_problem
from sportello.engine import fields as cf
from sportello.engine.diff import FieldChange

from . import permissions
from .change import (
    PRIORITY_BY_NAME,
    PRIORITY_NAME,
    STANDARD_FIELDS,
    WAITING_CATEGORIES,
    MovedIn,
    Mutation,
    NewMessage,
    TagChange,
)
from .configuration import configuration
from .models import (
    MESSAGE_SUBJECT_MAX_LENGTH,
    SUBJECT_MAX_LENGTH,
    Attachment,
    AuthorKind,
    Channel,
    EventKind,
    LayoutField,
    Message,
    Status,
    StatusCategory,
    Ticket,
    TicketTag,
)

if TYPE_CHECKING:
    from .context import Context

TAG_MAX_LENGTH = 80
TAGS_MAX = 100


AUTOMATION_ACTORS = (ActorKind.RULE, ActorKind.SLA, ActorKind.BLUEPRINT)


def set_anchors(ctx: Context, changes: list[FieldChange]) -> None:
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


def count_moved(ticket: Ticket, moved: MovedIn) -> None:
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


def _lookup[M: Model](model: type[M], pk: Any, field: str, **filters: Any) -> M:
    _valid_pk(pk, field)
    try:
        return model._default_manager.get(pk=pk, **filters)
    except ObjectDoesNotExist:
        raise ValidationFailed(f"no {field} with id {pk}", field=field) from None


def _valid_pk(pk: Any, field: str) -> int:
    if not isinstance(pk, int) or not valid_pk(pk):
        raise ValidationFailed("must be the id of an existing record", field=field)
    return pk


def _department(pk: Any) -> Department:
    """An active department, from the desk's structure (`accounts.structure`)."""
    found = structure.department(_valid_pk(pk, "department"))
    if found is None or not found.is_active:
        raise ValidationFailed(f"no department with id {pk}", field="department")
    return found


def _member_of(agent: User, department_id: int) -> bool:
    """Whether the agent is a member of the department: known from the read that chose them
    (a round-robin pool), else from the desk's structure (`accounts.structure`)."""
    return department_id in agent.known_departments or department_id in structure.departments_of(agent.pk)


def _requester(pk: Any) -> Contact:
    found = rows.get_by_pk(Contact, _valid_pk(pk, "requester"))  # one plain statement
    if found is None:
        raise ValidationFailed(f"no requester with id {pk}", field="requester")
    return found


def _team(pk: Any) -> Team:
    found = structure.structure().teams.get(_valid_pk(pk, "team"))
    if found is None:
        raise ValidationFailed(f"no team with id {pk}", field="team")
    return found


def apply_fields(
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
        ticket.department = _department(values["department"])
        if created and ctx.principal is not None:
            permissions.check_may_open_in(principal=ctx.principal, department_id=ticket.department_id)
    if "requester" in values:
        given = ctx.principal  # a customer writing in is their own requester: read already
        if isinstance(given, Contact) and given.pk == values["requester"]:
            requester = given
        else:
            requester = _requester(values["requester"])
        ticket.requester = requester
        if "organization" not in values:
            ticket.organization_id = requester.organization_id
    if "organization" in values:
        org = values["organization"]
        ticket.organization = None if org is None else _lookup(Organization, org, "organization")
    if "status" in values:
        key = values["status"]
        known = isinstance(key, str) and not storable_problem(key)
        status = configuration().by_key.get(key) if known else None
        if status is None:
            raise ValidationFailed(f"unknown status {str(key)[:40]!r}", field="status")
        _set_status(ticket, status, ctx.now)
    elif created:
        _set_status(ticket, configuration().default_status(StatusCategory.NEW), ctx.now)
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
        ticket.team = None if team is None else _team(team)
    current_team = ticket.team if ticket.team_id is not None else None
    if current_team is not None and current_team.department_id != ticket.department_id:
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
        elif assignee.role != Role.ADMIN and not _member_of(assignee, ticket.department_id):
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


def _layout_rows(department_id: int) -> tuple[LayoutField, ...]:
    return configuration().layout(department_id)


def _layout_rules(rows: tuple[LayoutField, ...]) -> dict[str, cf.LayoutRule]:
    return {
        r.field.key: cf.LayoutRule(
            required=r.required,
            from_customer=r.required_from_customer,
            allowed_values=None if r.allowed_values is None else tuple(r.allowed_values),
            customer_access=r.customer_access,
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
    whole change is known (`check_solve_requirements`). A customer's own change sets only the
    fields the layout lets customers fill."""
    if not initial:
        return cf.Requirements()
    kind, via = ctx.mutation.actor.kind, ctx.mutation.via
    return cf.Requirements(
        agent_saving=kind == ActorKind.AGENT,
        customer_form=ctx.created and kind == ActorKind.CONTACT and via in CUSTOMER_FORMS,
        by_customer=kind == ActorKind.CONTACT,
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
        known = configuration().fields
        fields.update((k, known[k]) for k in outside if k in known and known[k].is_active)
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


def check_solve_requirements(ctx: Context) -> None:
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


def apply_tags(
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


def write_tags(ticket: Ticket, old: list[str], new: list[str]) -> None:
    removed, added = set(old) - set(new), set(new) - set(old)
    if removed:
        TicketTag.objects.filter(ticket=ticket, name__in=removed).delete()
    if added:
        TicketTag.objects.bulk_create([TicketTag(ticket=ticket, name=t) for t in sorted(added)])


def apply_system_defaults(ctx: Context) -> None:
    """Built-in status moves every desk makes; recorded like any change (cause: system)."""
    m, ticket = ctx.mutation, ctx.ticket
    if m.message is None or "status" in m.fields or ctx.created:
        return
    author = m.message.author or m.actor
    reopen = m.reopen and author.kind == ActorKind.CONTACT and ticket.status_category in WAITING_CATEGORIES
    first_answer = author.kind == ActorKind.AGENT and m.message.public and ticket.status_category == "new"
    if reopen or first_answer:
        _set_status(ticket, configuration().default_status(StatusCategory.OPEN), ctx.now)


def next_number() -> int:
    with connection.cursor() as cur:
        cur.execute("UPDATE core_sequence SET value = value + 1 WHERE name = %s RETURNING value", ["ticket"])
        row = cur.fetchone()
    if row is None:
        Sequence.objects.create(name="ticket", value=1)
        return 1
    return int(row[0])


def prepare_message(ctx: Context, new: NewMessage) -> Message:
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


def claim_attachments(ctx: Context, message: Message, new: NewMessage | None) -> None:
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
        ctx.record(
            EventKind.ATTACHMENT,
            "received",
            new={
                "attachment_id": a.pk,
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "sha256": a.sha256,
            },
            actor=author,
        )


def ticket_state(ticket: Ticket) -> tuple[dict[str, Any], dict[str, Any]]:
    return dict(ticket.__dict__), dict(ticket._state.fields_cache)


def ticket_state_restore(ticket: Ticket, state: tuple[dict[str, Any], dict[str, Any]]) -> None:
    values, cache = state
    ticket.__dict__.update(values)
    ticket._state.fields_cache = cache

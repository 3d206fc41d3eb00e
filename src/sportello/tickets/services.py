"""Ticket operations for the edges. Each resolves its inputs and calls the one pipeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from sportello.accounts import services as accounts
from sportello.accounts.models import User
from sportello.contacts.language import SAMPLE_CHARS, new_contact_language
from sportello.contacts.models import Contact
from sportello.contacts.services import contact_get_or_create
from sportello.core.actors import Actor, ActorKind, Via
from sportello.core.errors import Conflict, ValidationFailed
from sportello.core.text import fit_line, sanitize_html
from sportello.engine.text import html_to_text

from . import pipeline
from .models import SUBJECT_MAX_LENGTH, UNRESOLVED_CATEGORIES, StatusCategory, Ticket
from .pipeline import Mutation, NewMessage, Outcome

# API field name -> pipeline field name
FIELD_NAMES = {
    "subject": "subject",
    "status": "status",
    "priority": "priority",
    "channel": "channel",
    "department_id": "department",
    "team_id": "team",
    "assignee_id": "assignee",
    "requester_id": "requester",
    "organization_id": "organization",
    "due_at": "due_at",
}


def actor_for(principal: User | Contact) -> Actor:
    if isinstance(principal, Contact):
        label = principal.email or str(principal)
        return Actor(kind=ActorKind.CONTACT, id=principal.pk, label=label, principal=principal)
    return Actor(kind=ActorKind.AGENT, id=principal.pk, label=principal.email, principal=principal)


def ticket_open(
    *,
    principal: User | Contact,
    via: Via,
    data: dict[str, Any],
    depth: int = 0,
    now: datetime,
) -> Outcome:
    """Open a ticket from an edge's input (`data` uses API field names). The requester is the
    principal when a customer opens it, else `requester_id` or `requester_email` (a new
    contact is created for an unknown address, in the same transaction as the ticket).
    `depth`: the causation depth the request declared (`tickets.causation`)."""
    if isinstance(principal, Contact):
        return _ticket_open(
            principal=principal, via=via, data=data, requester_id=principal.pk, depth=depth, now=now
        )
    if data.get("requester_id") is not None:
        return _ticket_open(
            principal=principal, via=via, data=data, requester_id=data["requester_id"], depth=depth, now=now
        )
    if not data.get("requester_email"):
        raise ValidationFailed("give requester_id or requester_email", field="requester_id")
    with transaction.atomic():
        requester = contact_get_or_create(
            email=data["requester_email"],
            name=data.get("requester_name") or "",
            language=data.get("requester_language") or (lambda: _new_requester_language(data)),
        )
        return _ticket_open(
            principal=principal, via=via, data=data, requester_id=requester.pk, depth=depth, now=now
        )


def _new_requester_language(data: dict[str, Any]) -> str:
    """A new requester's language when the request names none: the language of the ticket's
    subject and description (its text, or the text of its HTML), else the desk's default."""
    body = str(data.get("description") or "")
    if not body.strip() and data.get("description_html"):
        body = html_to_text(sanitize_html(str(data["description_html"])[: SAMPLE_CHARS * 20]))
    return new_contact_language(subject=str(data.get("subject") or ""), body=body)


def _ticket_open(
    *,
    principal: User | Contact,
    via: Via,
    data: dict[str, Any],
    requester_id: int,
    depth: int = 0,
    now: datetime,
) -> Outcome:
    fields = {FIELD_NAMES[k]: v for k, v in data.items() if k in FIELD_NAMES and v is not None}
    fields.setdefault("channel", "api" if via == Via.API else str(via))
    for key in ("subject", "requester", "department"):
        fields.pop(key, None)
    # The description is the customer's words, whoever files the ticket.
    author = Actor(kind=ActorKind.CONTACT, id=requester_id)
    try:
        return pipeline.ticket_create(
            actor=actor_for(principal),
            via=via,
            subject=data["subject"],
            requester_id=requester_id,
            department_id=data["department_id"],
            description=NewMessage(
                body=data.get("description", ""),
                body_html=data.get("description_html", ""),
                public=True,
                author=author,
            ),
            fields=fields,
            custom_fields=data.get("custom_fields") or {},
            tags=tuple(data.get("tags") or ()),
            depth=depth,
            now=now,
        )
    except ValidationFailed as exc:
        # The first message is the ticket's description in the API.
        exc.field = {"body": "description", "body_html": "description_html"}.get(exc.field or "", exc.field)
        raise api_field(exc) from None


def ticket_update(
    *,
    principal: User | Contact,
    ticket_id: int,
    via: Via,
    data: dict[str, Any],
    depth: int = 0,
    now: datetime,
) -> Outcome:
    """Apply a PATCH. Keys present in `data` are set (null clears); `version` is required."""
    fields = {FIELD_NAMES[k]: v for k, v in data.items() if k in FIELD_NAMES}
    for required in ("subject", "status", "priority", "channel", "department", "requester"):
        if required in fields and fields[required] is None:
            raise ValidationFailed(
                "cannot be null", field=next(k for k, v in FIELD_NAMES.items() if v == required)
            )
    mutation = Mutation(
        actor=actor_for(principal),
        via=via,
        fields=fields,
        custom_fields=data.get("custom_fields") or {},
        tags_set=tuple(data["tags"]) if data.get("tags") is not None else None,
        tags_add=tuple(data.get("add_tags") or ()),
        tags_remove=tuple(data.get("remove_tags") or ()),
        expected_version=data["version"],
        depth=depth,
    )
    try:
        return pipeline.ticket_apply(ticket_id=ticket_id, mutation=mutation, now=now)
    except ValidationFailed as exc:
        raise api_field(exc) from None


def message_add(
    *,
    principal: User | Contact,
    ticket_id: int,
    via: Via,
    body: str,
    body_html: str,
    public: bool,
    attachment_ids: list[int],
    version: int | None,
    status: str | None = None,
    depth: int = 0,
    now: datetime,
) -> Outcome:
    """Add a message; with `status` (a status key), set the status in the same change: one
    transaction, so a refused status (a field required to solve is empty) writes nothing."""
    mutation = Mutation(
        actor=actor_for(principal),
        via=via,
        fields={"status": status} if status is not None else {},
        message=NewMessage(
            body=body, body_html=body_html, public=public, attachment_ids=tuple(attachment_ids)
        ),
        expected_version=version,
        depth=depth,
    )
    try:
        return pipeline.ticket_apply(ticket_id=ticket_id, mutation=mutation, now=now)
    except ValidationFailed as exc:
        raise api_field(exc) from None


_API_FIELD = {v: k for k, v in FIELD_NAMES.items() if k != v}


def api_field(exc: ValidationFailed) -> ValidationFailed:
    """Report errors with the API's field names (`team_id`, not `team`)."""
    if exc.field in _API_FIELD:
        exc.field = _API_FIELD[exc.field]
    return exc


FOLLOW_UP_TAG = "follow_up"


def ticket_followup_open(
    *,
    principal: User,
    closed_ticket_id: int,
    via: Via,
    body: str,
    body_html: str,
    now: datetime,
) -> Outcome:
    """A follow-up to a closed ticket, as the e-mail intake opens one when a customer writes
    again: a new ticket for the same requester, organization and department, subject "Re: …",
    tagged `follow_up`, its cause naming the closed ticket, linked to it (`follow_up_of`); its
    first message is the agent's public reply. A ticket merged into another gets none (409
    `ticket_merged`, naming where its conversation went)."""
    from .selectors import ticket_get_for

    closed = ticket_get_for(principal=principal, ticket_id=closed_ticket_id)
    if closed.status_category != StatusCategory.CLOSED:
        raise Conflict("only a closed ticket gets a follow-up; reply on the ticket", code="not_closed")
    if closed.merged_into_id is not None:
        raise pipeline.merged_conflict(closed)  # its conversation goes on where it was merged
    subject = closed.subject if closed.subject.lower().startswith("re:") else f"Re: {closed.subject}"
    return pipeline.ticket_create(
        actor=actor_for(principal),
        via=via,
        subject=fit_line(subject, max_length=SUBJECT_MAX_LENGTH),
        requester_id=closed.requester_id,
        department_id=closed.department_id,
        description=NewMessage(body=body, body_html=body_html, public=True),
        fields={
            "channel": str(via),
            "organization": closed.organization_id,
            "priority": pipeline.PRIORITY_NAME[closed.priority],
        },
        tags=(FOLLOW_UP_TAG,),
        cause=f"follow-up of #{closed.number}",
        follow_up_of=closed.pk,
        now=now,
    )


HANDBACK_ATTEMPTS = 5


def open_tickets_of(*, agent: User) -> int:
    """How many unresolved tickets are assigned to `agent` (what deactivating them hands back)."""
    return Ticket.objects.filter(assignee_id=agent.pk, status_category__in=UNRESOLVED_CATEGORIES).count()


def agent_deactivate(*, agent: User, actor: User, via: Via, now: datetime) -> tuple[User, int]:
    """Deactivate an agent (`accounts.services.agent_deactivate`: not oneself, not the last
    admin), then hand their unresolved tickets back to assignment: each is unassigned by its own
    change through the pipeline, the admin its actor, so event rules and round robin run on it
    as on any unassignment (the agent, now inactive, is offered none of them). A ticket
    reassigned meanwhile by someone else is left as it is; of concurrent deactivations each
    ticket is handed back once. One transaction: a failure midway leaves the agent active with
    all their tickets, never inactive and still holding some. Returns the agent and how many
    tickets were handed back."""
    with transaction.atomic():
        return _deactivate_and_hand_back(agent=agent, actor=actor, via=via, now=now)


def _deactivate_and_hand_back(*, agent: User, actor: User, via: Via, now: datetime) -> tuple[User, int]:
    agent = accounts.agent_deactivate(agent=agent, actor=actor)
    handed = 0
    ids = list(
        Ticket.objects.filter(assignee_id=agent.pk, status_category__in=UNRESOLVED_CATEGORIES)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for ticket_id in ids:
        for _attempt in range(HANDBACK_ATTEMPTS):
            row = (
                Ticket.objects.filter(
                    pk=ticket_id, assignee_id=agent.pk, status_category__in=UNRESOLVED_CATEGORIES
                )
                .values_list("version", flat=True)
                .first()
            )
            if row is None:
                break  # reassigned, resolved or handed back by someone else meanwhile
            mutation = Mutation(
                actor=actor_for(actor), via=via, fields={"assignee": None}, expected_version=row
            )
            try:
                pipeline.ticket_apply(ticket_id=ticket_id, mutation=mutation, now=now)
            except Conflict as exc:
                if exc.code != "stale_version":
                    raise
                continue  # changed between the read and the lock: read it again
            handed += 1
            break
    return agent, handed

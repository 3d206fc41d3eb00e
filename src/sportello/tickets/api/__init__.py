"""`/api/v1/tickets`: the ticket edge. Parse, fetch with an access check, call one service."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from ninja import Query, Router, Schema, Status
from pydantic import Field

from sportello.accounts.http import ApiRequest
from sportello.accounts.models import User
from sportello.core import clock
from sportello.core.actors import Via
from sportello.core.errors import ValidationFailed
from sportello.core.paging import SortKey, page_limit, paginate, parse_sort

from .. import causation, selectors, services
from ..models import Attachment, AuthorKind, LayoutField, Message, StatusCategory, Ticket, TicketEvent
from ..pipeline import PRIORITY_BY_NAME, PRIORITY_NAME
from ..schemas import (
    EventPage,
    MessageIn,
    MessageOut,
    MessagePage,
    Text,
    TicketCreateIn,
    TicketOut,
    TicketPage,
    TicketPatchIn,
)

router = Router(tags=["tickets"])

# CustomField.key is a slug; an all-digit key would read as a JSON array index.
CUSTOM_FIELD_KEY = re.compile(r"(?=.*[a-zA-Z_])[-a-zA-Z0-9_]{1,63}")

TICKET_SORTS = {
    "created_at": SortKey("created_at", kind="datetime"),
    "updated_at": SortKey("updated_at", kind="datetime"),
    "priority": SortKey("priority"),
    "number": SortKey("number"),
    "id": SortKey("id"),
}


def ticket_out(
    t: Ticket, *, tags: list[str] | None = None, layouts: dict[int, list[LayoutField]] | None = None
) -> dict[str, Any]:
    """`tags`: when the caller has them already (after a write); else the prefetched rows.
    `layouts`: the departments' layouts when the caller read them for a page
    (`selectors.department_layouts`); else they are read for this ticket."""
    missing = [r.field.key for r in selectors.ticket_fields_to_fill(ticket=t, layouts=layouts)]
    return {
        "id": t.pk,
        "number": t.number,
        "subject": t.subject,
        "status": t.status.key,
        "status_category": t.status_category,
        "priority": PRIORITY_NAME[t.priority],
        "channel": t.channel,
        "department_id": t.department_id,
        "team_id": t.team_id,
        "assignee_id": t.assignee_id,
        "requester_id": t.requester_id,
        "organization_id": t.organization_id,
        "tags": tags if tags is not None else [tag.name for tag in t.tags.all()],
        "custom_fields": t.custom_fields or {},
        "missing_fields": missing,
        "due_at": t.due_at,
        "created_at": t.created_at,
        "updated_at": t.updated_at,
        "first_response_at": t.first_response_at,
        "solved_at": t.solved_at,
        "closed_at": t.closed_at,
        "message_count": t.message_count,
        "merged_into_id": t.merged_into_id,
        "follow_up_of_id": t.follow_up_of_id,
        "version": t.version,
    }


def attachment_out(a: Attachment) -> dict[str, Any]:
    return {
        "id": a.pk,
        "message_id": a.message_id,
        "filename": a.filename,
        "content_type": a.content_type,
        "size": a.size,
        "sha256": a.sha256,
        "created_at": a.created_at,
        "url": f"/api/v1/attachments/{a.pk}/download",
    }


def message_out(
    m: Message, *, attachments: list[Attachment] | None = None, delivery: dict[str, Any] | None = None
) -> dict[str, Any]:
    """`attachments`: when the caller knows them already; else the prefetched rows."""
    return {
        "id": m.pk,
        "ticket_id": m.ticket_id,
        "public": m.public,
        "author_kind": m.author_kind,
        "author_agent_id": m.author_agent_id,
        "author_contact_id": m.author_contact_id,
        "body": m.body_text,
        "body_html": m.body_html,
        "quoted": m.quoted_text,
        "subject": m.subject,
        "via": m.via,
        "created_at": m.created_at,
        "attachments": [
            attachment_out(a) for a in (m.attachments.all() if attachments is None else attachments)
        ],
        "delivery": delivery,
    }


def request_depth(
    request: ApiRequest, *, ticket_id: int | None, attempted: dict[str, Any], now: datetime
) -> int:
    """The causation depth the request declares (`X-Sportello-Depth`), refused past the cap."""
    depth = causation.parse_depth(request.headers.get(causation.HEADER))
    causation.depth_check(
        principal=request.auth, ticket_id=ticket_id, depth=depth, attempted=attempted, via=Via.API, now=now
    )
    return depth


def _reload(request: ApiRequest, ticket_id: int) -> Ticket:
    return selectors.ticket_get_for(principal=request.auth, ticket_id=ticket_id)


class TicketFilters(Schema):
    status: Text | None = None
    category: Text | None = None
    priority: Text | None = None
    department_id: int | None = None
    team_id: int | None = None
    assignee_id: int | None = Field(default=None, description="an agent id; `0` for unassigned")
    requester_id: int | None = None
    organization_id: int | None = None
    tag: Text | None = None
    custom_field: Text | None = Field(default=None, description="`key:value`, e.g. `subcategory:novels`")
    updated_since: Text | None = Field(default=None, description="ISO 8601 instant with offset")
    sort: Text | None = Field(
        default=None, description="comma-separated, `-` for descending; e.g. `-priority,created_at`"
    )
    cursor: Text | None = None
    limit: int | None = None


def _ticket_query(f: TicketFilters) -> selectors.TicketQuery:
    """Validate the list's query string into a TicketQuery; errors name the parameter."""
    categories = tuple(f.category.split(",")) if f.category else ()
    bad = [c for c in categories if c not in StatusCategory.values]
    if bad:
        raise ValidationFailed(f"unknown category {bad[0][:40]!r}", field="category")
    names = f.priority.split(",") if f.priority else []
    bad = [p for p in names if p not in PRIORITY_BY_NAME]
    if bad:
        raise ValidationFailed(f"unknown priority {bad[0][:40]!r}", field="priority")
    custom_field = None
    if f.custom_field:
        key, sep, value = f.custom_field.partition(":")
        if not sep or not CUSTOM_FIELD_KEY.fullmatch(key):
            raise ValidationFailed("use key:value with a custom field's key", field="custom_field")
        custom_field = (key, value)
    since = None
    if f.updated_since:
        try:
            since = datetime.fromisoformat(f.updated_since)
        except ValueError:
            raise ValidationFailed("must be an ISO 8601 instant", field="updated_since") from None
        if since.tzinfo is None:
            raise ValidationFailed("must carry a UTC offset", field="updated_since")
    return selectors.TicketQuery(
        statuses=tuple(f.status.split(",")) if f.status else (),
        categories=categories,
        priorities=tuple(PRIORITY_BY_NAME[p] for p in names),
        department_id=f.department_id,
        team_id=f.team_id,
        assignee_id=f.assignee_id or None,
        unassigned=f.assignee_id == 0,
        requester_id=f.requester_id,
        organization_id=f.organization_id,
        tag=f.tag.strip().lower() if f.tag else None,
        custom_field=custom_field,
        updated_since=since,
    )


@router.get("/tickets", response=TicketPage, summary="List tickets")
def list_tickets(request: ApiRequest, filters: Query[TicketFilters]) -> dict[str, Any]:
    qs = selectors.ticket_query(principal=request.auth, query=_ticket_query(filters))
    keys = parse_sort(filters.sort, allowed=TICKET_SORTS, default=[SortKey("id", descending=True)])
    rows, cursor = paginate(qs, keys=keys, cursor=filters.cursor, limit=page_limit(filters.limit))
    layouts = selectors.department_layouts(department_ids={t.department_id for t in rows})
    return {"items": [ticket_out(t, layouts=layouts) for t in rows], "next_cursor": cursor}


@router.post("/tickets", response={201: TicketOut}, summary="Open a ticket with its first message")
def create_ticket(request: ApiRequest, payload: TicketCreateIn) -> Status:
    now = clock.now()
    depth = request_depth(request, ticket_id=None, attempted={"operation": "ticket.create"}, now=now)
    outcome = services.ticket_open(
        principal=request.auth, via=Via.API, data=payload.model_dump(), depth=depth, now=now
    )
    return Status(201, ticket_out(outcome.ticket, tags=outcome.tags))


@router.get("/tickets/{ticket_id}", response=TicketOut, summary="Get a ticket")
def get_ticket(request: ApiRequest, ticket_id: int) -> dict[str, Any]:
    return ticket_out(_reload(request, ticket_id))


@router.patch("/tickets/{ticket_id}", response=TicketOut, summary="Change a ticket (send its `version`)")
def patch_ticket(request: ApiRequest, ticket_id: int, payload: TicketPatchIn) -> dict[str, Any]:
    data = payload.model_dump(exclude_unset=True)
    now = clock.now()
    attempted = {"operation": "ticket.update", "fields": sorted(k for k in data if k != "version")}
    depth = request_depth(request, ticket_id=ticket_id, attempted=attempted, now=now)
    outcome = services.ticket_update(
        principal=request.auth, ticket_id=ticket_id, via=Via.API, data=data, depth=depth, now=now
    )
    return ticket_out(outcome.ticket, tags=outcome.tags)


@router.get("/tickets/{ticket_id}/messages", response=MessagePage, summary="A ticket's conversation")
def list_messages(
    request: ApiRequest, ticket_id: int, cursor: str | None = None, limit: int | None = None
) -> dict[str, Any]:
    ticket = selectors.ticket_get_for(principal=request.auth, ticket_id=ticket_id)
    qs = selectors.message_list(principal=request.auth, ticket=ticket)
    rows, nxt = paginate(qs, keys=[SortKey("id")], cursor=cursor, limit=page_limit(limit))
    deliveries: dict[int, dict[str, Any]] = {}
    if isinstance(request.auth, User):  # agents see how their replies' e-mails fared
        from sportello.outbox.services import delivery_states

        replies = [m.pk for m in rows if m.public and m.author_kind == AuthorKind.AGENT]
        deliveries = delivery_states(replies)
    return {"items": [message_out(m, delivery=deliveries.get(m.pk)) for m in rows], "next_cursor": nxt}


@router.post(
    "/tickets/{ticket_id}/messages", response={201: MessageOut}, summary="Reply or add an internal note"
)
def add_message(request: ApiRequest, ticket_id: int, payload: MessageIn) -> Status:
    now = clock.now()
    attempted = {"operation": "message.add", "public": payload.public}
    depth = request_depth(request, ticket_id=ticket_id, attempted=attempted, now=now)
    outcome = services.message_add(
        principal=request.auth,
        ticket_id=ticket_id,
        via=Via.API,
        body=payload.body,
        body_html=payload.body_html,
        public=payload.public,
        attachment_ids=payload.attachment_ids,
        version=payload.version,
        depth=depth,
        now=now,
    )
    message = outcome.message
    assert message is not None
    claimed = list(Attachment.objects.filter(message=message)) if payload.attachment_ids else []
    return Status(201, message_out(message, attachments=claimed))


@router.get("/tickets/{ticket_id}/events", response=EventPage, summary="A ticket's audit trail")
def list_events(
    request: ApiRequest, ticket_id: int, cursor: str | None = None, limit: int | None = None
) -> dict[str, Any]:
    ticket = selectors.ticket_get_for(principal=request.auth, ticket_id=ticket_id)
    qs = selectors.event_list(principal=request.auth, ticket=ticket)
    rows, nxt = paginate(qs, keys=[SortKey("id")], cursor=cursor, limit=page_limit(limit))
    return {"items": [_event_out(e) for e in rows], "next_cursor": nxt}


def _event_out(e: TicketEvent) -> dict[str, Any]:
    return {
        "id": e.pk,
        "change_id": str(e.change_id),
        "at": e.at,
        "kind": e.kind,
        "field": e.field,
        "old_value": e.old_value,
        "new_value": e.new_value,
        "actor_kind": e.actor_kind,
        "actor_id": e.actor_id,
        "actor_label": e.actor_label,
        "via": e.via,
        "cause": e.cause,
        # A rule's change: actor_id is the rule, cause is rule:<key>@<version>, and the trace
        # of the change explains it.
        "trace_url": (
            f"/api/v1/tickets/{e.ticket_id}/traces?change_id={e.change_id}"
            if e.actor_kind == "rule"
            else None
        ),
    }

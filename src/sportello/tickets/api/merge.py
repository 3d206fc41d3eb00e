"""`/api/v1/tickets/{id}/merge` and `/split`: merge a ticket into another, split a customer's
message into a new ticket (`tickets.merge`, shared with the agent UI)."""

from __future__ import annotations

from typing import Any

from ninja import Router, Schema, Status
from pydantic import Field

from sportello.accounts.http import ApiRequest
from sportello.core import clock
from sportello.core.actors import Via

from .. import merge
from ..api import ticket_out
from ..models import SUBJECT_MAX_LENGTH
from ..schemas import TicketOut

router = Router(tags=["tickets"])

_ID_MAX = 2**63 - 1


class MergeIn(Schema):
    target_id: int = Field(ge=1, le=_ID_MAX, description="the ticket this one merges into")


class MergePreviewOut(Schema):
    source_id: int
    target_id: int
    target_number: int
    messages: int = Field(description="messages that move to the target")
    attachments: int = Field(description="attachments that move to the target")
    participants: int = Field(description="addresses that become participants of the target")


class MergeOut(Schema):
    source_id: int
    target_id: int
    target_number: int
    messages: int
    attachments: int
    participants: int


class SplitIn(Schema):
    subject: str = Field(min_length=1, max_length=SUBJECT_MAX_LENGTH, description="the new ticket's subject")


@router.get(
    "/tickets/{ticket_id}/merge-preview",
    response=MergePreviewOut,
    summary="What merging this ticket into another would move",
)
def preview_merge(request: ApiRequest, ticket_id: int, target_id: int) -> dict[str, Any]:
    p = merge.merge_preview(principal=request.auth, source_id=ticket_id, target_id=target_id)
    return {
        "source_id": p.source.pk,
        "target_id": p.target.pk,
        "target_number": p.target.number,
        "messages": p.messages,
        "attachments": p.attachments,
        "participants": p.participants,
    }


@router.post(
    "/tickets/{ticket_id}/merge",
    response=MergeOut,
    summary="Merge this ticket into another: its conversation moves, it closes",
)
def merge_ticket(request: ApiRequest, ticket_id: int, payload: MergeIn) -> dict[str, Any]:
    out = merge.ticket_merge(
        principal=request.auth, source_id=ticket_id, target_id=payload.target_id, via=Via.API, now=clock.now()
    )
    return {
        "source_id": out.source.pk,
        "target_id": out.target.pk,
        "target_number": out.target.number,
        "messages": out.messages,
        "attachments": out.attachments,
        "participants": out.participants,
    }


@router.post(
    "/tickets/{ticket_id}/messages/{message_id}/split",
    response={201: TicketOut},
    summary="Split a customer's message into a new ticket",
)
def split_message(request: ApiRequest, ticket_id: int, message_id: int, payload: SplitIn) -> Status:
    outcome = merge.message_split(
        principal=request.auth,
        ticket_id=ticket_id,
        message_id=message_id,
        subject=payload.subject,
        via=Via.API,
        now=clock.now(),
    )
    return Status(201, ticket_out(outcome.ticket, tags=outcome.tags))

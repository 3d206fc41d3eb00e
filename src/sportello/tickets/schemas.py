"""API schemas for tickets, messages and events."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import ConfigDict, Field

PriorityName = Literal["low", "normal", "high", "urgent"]
ChannelName = Literal["email", "web", "portal", "chat", "phone", "api"]


class Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class TicketCreateIn(Strict):
    subject: str = Field(max_length=10_000)
    description: str = Field(default="", max_length=1_000_000)
    description_html: str = Field(default="", max_length=1_000_000)
    department_id: int
    requester_id: int | None = None
    requester_email: str | None = Field(default=None, max_length=254)
    requester_name: str | None = Field(default=None, max_length=200)
    status: str | None = None
    priority: PriorityName | None = None
    channel: ChannelName | None = None
    team_id: int | None = None
    assignee_id: int | None = None
    organization_id: int | None = None
    due_at: datetime | None = None
    tags: list[str] = Field(default_factory=list, max_length=100)
    custom_fields: dict[str, Any] = Field(default_factory=dict)


class TicketPatchIn(Strict):
    version: int
    subject: str | None = Field(default=None, max_length=10_000)
    status: str | None = None
    priority: PriorityName | None = None
    channel: ChannelName | None = None
    department_id: int | None = None
    team_id: int | None = None
    assignee_id: int | None = None
    requester_id: int | None = None
    organization_id: int | None = None
    due_at: datetime | None = None
    tags: list[str] | None = Field(default=None, max_length=100)
    add_tags: list[str] = Field(default_factory=list, max_length=100)
    remove_tags: list[str] = Field(default_factory=list, max_length=100)
    custom_fields: dict[str, Any] = Field(default_factory=dict)


class TicketOut(Schema):
    id: int
    number: int
    subject: str
    status: str
    status_category: str
    priority: PriorityName
    channel: str
    department_id: int
    team_id: int | None
    assignee_id: int | None
    requester_id: int
    organization_id: int | None
    tags: list[str]
    custom_fields: dict[str, Any]
    due_at: datetime | None
    created_at: datetime
    updated_at: datetime
    first_response_at: datetime | None
    solved_at: datetime | None
    closed_at: datetime | None
    message_count: int
    version: int


class TicketPage(Schema):
    items: list[TicketOut]
    next_cursor: str | None


class MessageIn(Strict):
    body: str = Field(default="", max_length=1_000_000)
    body_html: str = Field(default="", max_length=1_000_000)
    public: bool = True
    attachment_ids: list[int] = Field(default_factory=list, max_length=50)
    version: int | None = None


class AttachmentOut(Schema):
    id: int
    message_id: int | None
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime
    url: str


class MessageOut(Schema):
    id: int
    ticket_id: int
    public: bool
    author_kind: str
    author_agent_id: int | None
    author_contact_id: int | None
    body: str
    body_html: str
    via: str
    created_at: datetime
    attachments: list[AttachmentOut]


class MessagePage(Schema):
    items: list[MessageOut]
    next_cursor: str | None


class EventOut(Schema):
    id: int
    change_id: str
    at: datetime
    kind: str
    field: str
    old_value: Any
    new_value: Any
    actor_kind: str
    actor_id: int | None
    actor_label: str
    via: str
    cause: str


class EventPage(Schema):
    items: list[EventOut]
    next_cursor: str | None

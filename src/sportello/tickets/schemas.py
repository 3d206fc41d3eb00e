"""API schemas for tickets, messages and events."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import AfterValidator, ConfigDict, Field, StrictInt

from sportello.core.text import storable_problem

from .models import SUBJECT_MAX_LENGTH

# JSON `true` or `1.0` must not become record id 1 (pydantic's lax mode would coerce them).
Id = Annotated[StrictInt, Field(ge=1, le=2**63 - 1)]
Version = StrictInt


def _storable(value: str) -> str:
    problem = storable_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _storable_json(value: Any) -> Any:
    """Every string inside a JSON value (keys included) must be storable as text."""
    if isinstance(value, str):
        return _storable(value)
    if isinstance(value, dict):
        for k, v in value.items():
            _storable(k)
            _storable_json(v)
    elif isinstance(value, list):
        for v in value:
            _storable_json(v)
    return value


# Text the database can hold: no NUL (PostgreSQL refuses it), no lone surrogates (not UTF-8).
# Refused here with the field's name, identically on every backend.
Text = Annotated[str, AfterValidator(_storable)]
CustomValues = dict[Text, Annotated[Any, AfterValidator(_storable_json)]]

PriorityName = Literal["low", "normal", "high", "urgent"]
ChannelName = Literal["email", "web", "portal", "chat", "phone", "api"]


class Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class TicketCreateIn(Strict):
    subject: Text = Field(max_length=10_000)
    description: Text = Field(default="", max_length=1_000_000)
    description_html: Text = Field(default="", max_length=1_000_000)
    department_id: Id
    requester_id: Id | None = None
    requester_email: Text | None = Field(default=None, max_length=254)
    requester_name: Text | None = Field(default=None, max_length=200)
    # A new requester's language tag ("it", "pt-BR"); without it, the language of the subject
    # and description (`contacts.language`). Never changes an existing contact's.
    requester_language: Text | None = Field(default=None, max_length=10)
    status: Text | None = None
    priority: PriorityName | None = None
    channel: ChannelName | None = None
    team_id: Id | None = None
    assignee_id: Id | None = None
    organization_id: Id | None = None
    due_at: datetime | None = None
    tags: list[Text] = Field(default_factory=list, max_length=100)
    custom_fields: CustomValues = Field(default_factory=dict)


class TicketPatchIn(Strict):
    version: Version
    subject: Text | None = Field(default=None, max_length=10_000)
    status: Text | None = None
    priority: PriorityName | None = None
    channel: ChannelName | None = None
    department_id: Id | None = None
    team_id: Id | None = None
    assignee_id: Id | None = None
    requester_id: Id | None = None
    organization_id: Id | None = None
    due_at: datetime | None = None
    tags: list[Text] | None = Field(default=None, max_length=100)
    add_tags: list[Text] = Field(default_factory=list, max_length=100)
    remove_tags: list[Text] = Field(default_factory=list, max_length=100)
    custom_fields: CustomValues = Field(default_factory=dict)


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
    missing_fields: list[str] = Field(
        default_factory=list,
        description="the keys of the department layout's fields agents must still fill before solving "
        "(a ticket that came by mail may lack them)",
    )
    due_at: datetime | None
    created_at: datetime
    updated_at: datetime
    first_response_at: datetime | None
    solved_at: datetime | None
    closed_at: datetime | None
    message_count: int
    merged_into_id: int | None = Field(
        default=None, description="the ticket this one was merged into (it is closed); read-only"
    )
    follow_up_of_id: int | None = Field(
        default=None, description="the closed ticket this one follows up; read-only"
    )
    version: int


class TicketPage(Schema):
    items: list[TicketOut]
    next_cursor: str | None


class MessageIn(Strict):
    body: Text = Field(default="", max_length=1_000_000)
    body_html: Text = Field(default="", max_length=1_000_000)
    public: bool = True
    attachment_ids: list[Id] = Field(default_factory=list, max_length=50)
    version: Version | None = None


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
    quoted: str = Field(default="", description="an e-mail reply's quoted history, split from the body")
    subject: str = Field(
        default="",
        description="the subject an e-mail message arrived with, whole (the ticket's subject is "
        f"shortened to {SUBJECT_MAX_LENGTH} characters); empty for messages written in the desk",
    )
    via: str
    created_at: datetime
    attachments: list[AttachmentOut]
    delivery: dict[str, Any] | None = Field(
        default=None,
        description="agents only: how the e-mail of a public reply fared "
        "(status pending | sent | failed, attempts, last_error, sent_at)",
    )


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
    trace_url: str | None = None


class EventPage(Schema):
    items: list[EventOut]
    next_cursor: str | None

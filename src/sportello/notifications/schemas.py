"""API schemas for notification templates and canned responses."""

from __future__ import annotations

from datetime import datetime

from ninja import Schema
from pydantic import Field, StrictBool

from sportello.tickets.schemas import Id, Strict, Text

# Bodies are bounded by the services (with the field named); this only stops absurd requests
# before they are parsed further.
TEXT_LIMIT = 100_000


class TemplateOut(Schema):
    key: str
    language: str
    source: str = Field(description="custom: an admin's text; default: the shipped one")
    active: bool = Field(description="false: the admin's text is kept but the default is used")
    subject: str
    body_text: str
    body_html: str
    version: int | None = Field(description="the admin's version in force; null for a default")
    updated_at: datetime | None
    updated_by_id: int | None
    has_default: bool
    audience: str = Field(description="customer or agent: who a shipped key is written for")
    description: str


class TemplateList(Schema):
    items: list[TemplateOut]


class TemplateSaved(TemplateOut):
    written: bool = Field(description="false: the texts equal the current ones")


class TemplateIn(Strict):
    subject: Text = Field(max_length=TEXT_LIMIT)
    body_text: Text = Field(max_length=TEXT_LIMIT)
    body_html: Text = Field(default="", max_length=TEXT_LIMIT)
    active: StrictBool = True


class TemplateVersionOut(Schema):
    version: int
    subject: str
    body_text: str
    body_html: str
    active: bool
    created_at: datetime
    created_by_id: int | None


class TemplatePreviewIn(Strict):
    ticket_id: Id
    language: str | None = Field(default=None, description="en, es or it; default: the requester's")
    subject: Text | None = Field(default=None, max_length=TEXT_LIMIT, description="a draft subject")
    body_text: Text | None = Field(default=None, max_length=TEXT_LIMIT, description="a draft text body")
    body_html: Text | None = Field(default=None, max_length=TEXT_LIMIT, description="a draft HTML body")


class TemplatePreviewOut(Schema):
    key: str
    language: str
    source: str = Field(description="custom, default or draft")
    subject: str
    text: str
    html: str


class CannedIn(Strict):
    title: Text = Field(max_length=TEXT_LIMIT)
    body: Text = Field(max_length=TEXT_LIMIT)
    language: str = Field(default="", description="en, es, it, or empty for any")
    department_id: Id | None = Field(default=None, description="shared with this department; null: personal")


class CannedPatch(Strict):
    title: Text | None = Field(default=None, max_length=TEXT_LIMIT)
    body: Text | None = Field(default=None, max_length=TEXT_LIMIT)
    language: str | None = None


class CannedOut(Schema):
    id: int
    title: str
    body: str
    language: str
    shared: bool
    owner_user_id: int | None
    department_id: int | None
    created_at: datetime
    updated_at: datetime


class CannedList(Schema):
    items: list[CannedOut]


class RenderIn(Strict):
    ticket_id: Id


class RenderOut(Schema):
    text: str
    html: str
    language: str

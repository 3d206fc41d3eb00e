"""API schemas for contacts and organizations.

Inputs forbid unknown keys. String limits here only keep absurd payloads out cheaply; the
services apply the real rules (lengths, NUL bytes, e-mail syntax) and name the field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Schema
from pydantic import ConfigDict, Field

TierName = Literal["standard", "silver", "gold", "platinum"]
TEXT_INPUT_MAX = 100_000


class Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class ContactOut(Schema):
    id: int
    email: str = Field(description="Empty for a contact known only by their phone (never e-mailed).")
    name: str
    phone: str
    language: str
    time_zone: str
    vip: bool
    organization_id: int | None
    created_at: datetime
    updated_at: datetime


class ContactPage(Schema):
    items: list[ContactOut]
    next_cursor: str | None


class ContactCreateIn(Strict):
    email: str = Field(
        default="",
        max_length=TEXT_INPUT_MAX,
        description="A contact needs an e-mail address, a phone number or both.",
    )
    name: str = Field(default="", max_length=TEXT_INPUT_MAX)
    phone: str = Field(default="", max_length=TEXT_INPUT_MAX)
    language: str | None = Field(
        default=None, max_length=TEXT_INPUT_MAX, description="When omitted, the desk's default language."
    )
    time_zone: str = Field(default="UTC", max_length=TEXT_INPUT_MAX)
    vip: bool = False
    organization_id: int | None = Field(
        default=None, description="When omitted, the organization owning the e-mail's domain."
    )


class ContactPatchIn(Strict):
    email: str | None = Field(
        default=None, max_length=TEXT_INPUT_MAX, description="Empty removes it (the contact keeps a phone)."
    )
    name: str | None = Field(default=None, max_length=TEXT_INPUT_MAX)
    phone: str | None = Field(default=None, max_length=TEXT_INPUT_MAX)
    language: str | None = Field(default=None, max_length=TEXT_INPUT_MAX)
    time_zone: str | None = Field(default=None, max_length=TEXT_INPUT_MAX)
    vip: bool | None = None
    organization_id: int | None = Field(default=None, description="`null` removes the organization.")


class OrganizationOut(Schema):
    id: int
    name: str
    domains: list[str]
    tier: TierName
    vip: bool
    notes: str
    created_at: datetime


class OrganizationPage(Schema):
    items: list[OrganizationOut]
    next_cursor: str | None


class OrganizationCreateIn(Strict):
    name: str = Field(max_length=TEXT_INPUT_MAX)
    domains: list[str] = Field(default_factory=list, max_length=1_000)
    tier: TierName = "standard"
    vip: bool = False
    notes: str = Field(default="", max_length=TEXT_INPUT_MAX)


class OrganizationPatchIn(Strict):
    name: str | None = Field(default=None, max_length=TEXT_INPUT_MAX)
    domains: list[str] | None = Field(default=None, max_length=1_000)
    tier: TierName | None = None
    vip: bool | None = None
    notes: str | None = Field(default=None, max_length=TEXT_INPUT_MAX)

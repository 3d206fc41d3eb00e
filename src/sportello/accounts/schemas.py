"""API schemas for departments, agents, teams and API tokens.

Inputs forbid unknown keys. String limits here only keep absurd payloads out cheaply; the
services apply the real rules (lengths, NUL bytes, e-mail syntax) and name the field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Schema
from pydantic import ConfigDict, Field

RoleName = Literal["admin", "agent", "light_agent"]
StatusName = Literal["online", "away", "offline"]
IDS_MAX = 500
TEXT_INPUT_MAX = 100_000


class Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class DepartmentOut(Schema):
    id: int
    name: str
    slug: str
    email: str
    description: str
    is_active: bool
    created_at: datetime
    fingerprint: str = Field(description="What a PATCH may pass as `expected` to refuse a stale change.")


class DepartmentPage(Schema):
    items: list[DepartmentOut]
    next_cursor: str | None


class DepartmentCreateIn(Strict):
    name: str = Field(max_length=TEXT_INPUT_MAX)
    email: str = Field(default="", max_length=TEXT_INPUT_MAX)
    description: str = Field(default="", max_length=TEXT_INPUT_MAX)


class DepartmentPatchIn(Strict):
    name: str | None = Field(default=None, max_length=TEXT_INPUT_MAX)
    email: str | None = Field(default=None, max_length=TEXT_INPUT_MAX)
    description: str | None = Field(default=None, max_length=TEXT_INPUT_MAX)
    is_active: bool | None = None
    expected: str | None = Field(
        default=None,
        max_length=64,
        description="The department's fingerprint as read; when it changed since, nothing is saved (409).",
    )


class AgentOut(Schema):
    id: int
    email: str
    name: str
    role: RoleName
    status: StatusName
    language: str
    time_zone: str
    department_ids: list[int]
    is_active: bool
    supervisor: bool = Field(description="Reads the reports of their departments (admins read all).")
    created_at: datetime
    status_changed_at: datetime | None


class AgentPage(Schema):
    items: list[AgentOut]
    next_cursor: str | None


class AgentCreateIn(Strict):
    email: str = Field(max_length=TEXT_INPUT_MAX)
    name: str = Field(default="", max_length=TEXT_INPUT_MAX)
    role: RoleName = "agent"
    department_ids: list[int] = Field(default_factory=list, max_length=IDS_MAX)
    password: str | None = Field(default=None, max_length=TEXT_INPUT_MAX)
    language: str = Field(default="en", max_length=TEXT_INPUT_MAX)


class AgentPatchIn(Strict):
    name: str | None = Field(default=None, max_length=TEXT_INPUT_MAX)
    role: RoleName | None = None
    department_ids: list[int] | None = Field(default=None, max_length=IDS_MAX)
    is_active: bool | None = None
    supervisor: bool | None = None


class AgentStatusIn(Strict):
    status: StatusName


class TeamOut(Schema):
    id: int
    name: str
    slug: str
    department_id: int
    email: str
    member_ids: list[int]
    created_at: datetime
    fingerprint: str = Field(description="What a PATCH may pass as `expected` to refuse a stale change.")


class TeamPage(Schema):
    items: list[TeamOut]
    next_cursor: str | None


class TeamCreateIn(Strict):
    name: str = Field(max_length=TEXT_INPUT_MAX)
    department_id: int
    member_ids: list[int] = Field(default_factory=list, max_length=IDS_MAX)
    email: str = Field(default="", max_length=TEXT_INPUT_MAX)


class TeamPatchIn(Strict):
    name: str | None = Field(default=None, max_length=TEXT_INPUT_MAX)
    member_ids: list[int] | None = Field(default=None, max_length=IDS_MAX)
    email: str | None = Field(default=None, max_length=TEXT_INPUT_MAX)
    expected: str | None = Field(
        default=None,
        max_length=64,
        description="The team's fingerprint as last read; when it changed since, nothing is saved (409).",
    )


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreatedOut(TokenOut):
    secret: str = Field(description="The bearer secret. Shown only in this response; store it now.")


class TokenPage(Schema):
    items: list[TokenOut]
    next_cursor: str | None


class TokenCreateIn(Strict):
    name: str = Field(default="", max_length=TEXT_INPUT_MAX)

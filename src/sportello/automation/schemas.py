"""Shapes of the rules API. Rule bodies are free-form here: the engine's parser validates them
and reports the path of an error (`when.all[2].field`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Field, Schema
from pydantic import ConfigDict


class WarningOut(Schema):
    kind: str
    key: str
    path: str
    code: str
    message: str


class RuleOut(Schema):
    id: int
    kind: str
    key: str
    name: str
    category: str
    position: int
    active: bool
    version: int
    updated_at: datetime
    definition: dict[str, Any]


class RuleSaved(RuleOut):
    written: bool
    warnings: list[WarningOut]


class RulePage(Schema):
    items: list[RuleOut]


class RuleVersionOut(Schema):
    version: int
    created_at: datetime
    created_by_id: int | None
    definition: dict[str, Any]


class RuleVersionPage(Schema):
    items: list[RuleVersionOut]


class RulesImportItemOut(Schema):
    kind: str
    key: str
    outcome: str
    version: int


class RulesImportOut(Schema):
    dry_run: bool
    counts: dict[str, int]
    items: list[RulesImportItemOut]
    warnings: list[WarningOut]


class SimulateIn(Schema):
    model_config = ConfigDict(extra="forbid")

    ticket_id: int | None = None
    change: dict[str, Any] | None = None
    ticket: dict[str, Any] | None = None
    rules: list[dict[str, Any]] | None = None


class SimulateOut(Schema):
    ticket_id: int | None
    change_id: str | None
    changes: list[dict[str, Any]]
    traces: list[dict[str, Any]]
    notifications: list[dict[str, Any]]
    webhooks: list[dict[str, Any]]
    notes: list[dict[str, Any]]
    warnings: list[WarningOut]


class ConsideredOut(Schema):
    rule: str
    version: int | None
    outcome: str
    failed: str | None = Field(description="the path of the first part of the condition that failed")
    condition: Any = Field(description="that part, as the rule's version wrote it")


class TraceOut(Schema):
    id: int
    change_id: str
    at: datetime
    kind: str
    passes: int
    loop_guard: bool
    quiet: bool = Field(description="no rule fired, failed or reached its cap on this change")
    considered: list[ConsideredOut]
    trace: dict[str, Any]


class TracePage(Schema):
    items: list[TraceOut]

"""Shapes of the blueprints API. Blueprint bodies are free-form here: the engine's parser
validates them and reports the path of an error (`transitions[1].during.fields[0].matches`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema
from pydantic import Field

from sportello.core.instants import Instant
from sportello.tickets.schemas import CustomValues, Id, Strict, Text, Version


class BlueprintOut(Schema):
    id: int
    key: str
    name: str
    department_id: int
    priority: int
    active: bool
    version: int
    updated_at: datetime
    definition: dict[str, Any]


class BlueprintSaved(BlueprintOut):
    written: bool


class BlueprintPage(Schema):
    items: list[BlueprintOut]


class BlueprintVersionOut(Schema):
    version: int
    created_at: datetime
    created_by_id: int | None
    definition: dict[str, Any]


class BlueprintVersionPage(Schema):
    items: list[BlueprintVersionOut]


class BlueprintImportItemOut(Schema):
    key: str
    outcome: str
    version: int


class BlueprintImportOut(Schema):
    dry_run: bool
    counts: dict[str, int]
    items: list[BlueprintImportItemOut]


class TransitionIn(Strict):
    """A transition's inputs: standard fields by their API names, custom fields by key, an
    internal note, staged attachment ids; `version` for a 409 on a stale ticket."""

    version: Version | None = None
    fields: dict[Text, Any] = Field(default_factory=dict)
    custom_fields: CustomValues = Field(default_factory=dict)
    note: Text | None = Field(default=None, max_length=1_000_000)
    attachment_ids: list[Id] = Field(default_factory=list, max_length=100)


class InputFieldOut(Schema):
    field: str  # as the transition's request names it: `custom_fields.order_id`, `fields.priority`
    path: str  # as conditions name it: `ticket.custom.order_id`
    required: bool
    matches: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    min: Any = None
    max: Any = None
    allowed_values: list[str] | None = None
    message: str | None = None


class InputsOut(Schema):
    fields: list[InputFieldOut]
    note: str | None  # required | optional | null (not asked)
    attachment: str | None


class StateOut(Schema):
    key: str
    name: str
    status: str
    terminal: bool


class TransitionOut(Schema):
    key: str
    name: str
    to: StateOut
    automatic: bool
    inputs: InputsOut


class BlueprintRef(Schema):
    key: str
    name: str
    version: int


class ProcessOut(Schema):
    ticket_id: int
    ticket_version: int
    active: bool
    blueprint: BlueprintRef | None
    state: StateOut | None
    attached_at: datetime | None
    entered_at: datetime | None
    seconds_in_state: int | None
    completed_at: datetime | None
    transitions: list[TransitionOut]


class StepOut(Schema):
    transition: str
    from_state: str
    to_state: str
    automatic: bool


class TransitionDone(ProcessOut):
    change_id: str
    steps: list[StepOut]
    stopped_at: str | None  # the next automatic transition, waiting for inputs
    capped: bool  # another automatic transition was due, but the chain reached its cap


class OverdueOut(Schema):
    ticket_id: int
    state: str
    entered_at: datetime
    over_by_seconds: int


class TransitionCountOut(Schema):
    transition: str
    count: int


class MetricsOut(Schema):
    blueprint: str
    name: str
    department_id: int
    version: int
    start: datetime | None = Field(description="the period's start; null: the beginning of the log")
    end: datetime = Field(description="the period's end: `to`, or now if earlier")
    active: int
    active_per_state: dict[str, int]
    overdue: list[OverdueOut]
    completed: int
    average_completion_seconds: float | None
    average_seconds_per_state: dict[str, float | None]
    average_completion_business_seconds: float | None = Field(
        description="in the department's business calendar (none: calendar time)"
    )
    average_business_seconds_per_state: dict[str, float | None]
    transition_counts: list[TransitionCountOut]
    limit_violations: int
    tickets_with_violations: int


class MetricsQuery(Schema):
    start: Instant | None = Field(default=None, alias="from", description="default: the beginning of the log")
    end: Instant | None = Field(default=None, alias="to", description="default (and at most): now")


class DepartmentMetricsQuery(MetricsQuery):
    department_id: int | None = None


class MetricsPage(Schema):
    start: datetime | None
    end: datetime
    items: list[MetricsOut]

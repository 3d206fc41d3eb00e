"""API schemas for custom-field definitions and department layouts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from ninja import Schema
from pydantic import BeforeValidator, ConfigDict, Field, StrictBool

FieldTypeName = Literal[
    "text", "long_text", "number", "decimal", "date", "datetime", "boolean", "picklist", "multi_select"
]
Requirement = Literal["none", "to_solve", "always"]
CustomerAccessName = Literal["hidden", "read", "edit"]
CUSTOMER_ACCESS_HELP = (
    "what the ticket's customer may do with the field: hidden (agents only; never shown nor sent "
    "to the customer), read (the customer sees the value, cannot set it), edit (the customer sees "
    "it and fills it on their form)"
)
TEXT_INPUT_MAX = 100_000


def _requirement_of_flag(value: object) -> object:
    """`required` was a flag: true / false still mean always / none."""
    if value is True:
        return "always"
    if value is False:
        return "none"
    return value


class Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class OptionIn(Strict):
    value: str = Field(max_length=TEXT_INPUT_MAX)
    label: str = Field(default="", max_length=TEXT_INPUT_MAX, description="defaults to the value")


class OptionOut(Schema):
    value: str
    label: str


class FieldOut(Schema):
    id: int
    key: str
    label: str
    type: FieldTypeName
    options: list[OptionOut]
    description: str
    position: int
    is_active: bool
    created_at: datetime


class FieldPage(Schema):
    items: list[FieldOut]
    next_cursor: str | None


class FieldCreateIn(Strict):
    key: str = Field(max_length=TEXT_INPUT_MAX, description="slug `^[a-z][a-z0-9_]{0,62}$`; immutable")
    label: str = Field(max_length=TEXT_INPUT_MAX)
    type: FieldTypeName
    options: list[OptionIn] = Field(default_factory=list, max_length=1_000)
    description: str = Field(default="", max_length=TEXT_INPUT_MAX)
    position: int = 0


class FieldPatchIn(Strict):
    key: str | None = Field(default=None, max_length=TEXT_INPUT_MAX, description="cannot change")
    type: str | None = Field(default=None, max_length=TEXT_INPUT_MAX, description="cannot change")
    label: str | None = Field(default=None, max_length=TEXT_INPUT_MAX)
    options: list[OptionIn] | None = Field(default=None, max_length=1_000)
    description: str | None = Field(default=None, max_length=TEXT_INPUT_MAX)
    position: int | None = None
    is_active: bool | None = None


class LayoutRowIn(Strict):
    field: str = Field(max_length=TEXT_INPUT_MAX, description="the custom field's key")
    required: Annotated[Requirement, BeforeValidator(_requirement_of_flag)] = Field(
        default="none",
        description="agents: none; to_solve (before solving or closing the ticket); always (on every "
        "change of its fields, and to solve). true / false are taken as always / none",
    )
    required_from_customer: StrictBool = Field(
        default=False,
        description="the customer fills it when opening a ticket on the customer's form; only with "
        "customer_access edit",
    )
    customer_access: CustomerAccessName = Field(default="edit", description=CUSTOMER_ACCESS_HELP)
    position: int | None = Field(default=None, description="defaults to the row's place in the list")
    allowed_values: list[str] | None = Field(
        default=None, max_length=1_000, description="null: every option of the field"
    )


class LayoutIn(Strict):
    fields: list[LayoutRowIn] = Field(max_length=1_000)


class LayoutRowOut(Schema):
    field: str
    field_id: int
    label: str
    type: FieldTypeName
    required: Requirement
    required_from_customer: bool
    customer_access: CustomerAccessName = Field(description=CUSTOMER_ACCESS_HELP)
    position: int
    allowed_values: list[str] | None


class LayoutOut(Schema):
    department_id: int
    fields: list[LayoutRowOut]

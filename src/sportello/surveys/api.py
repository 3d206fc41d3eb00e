"""`/api/v1/metrics/satisfaction` and `/api/v1/departments/{id}/survey-policy`: CSAT, CES and
NPS by department, agent or tier; each department's survey settings."""

from __future__ import annotations

from typing import Any

from ninja import Query, Router, Schema
from pydantic import ConfigDict, Field

from sportello.accounts.http import ApiRequest
from sportello.accounts.models import Department
from sportello.core import clock
from sportello.core.errors import NotFound
from sportello.core.instants import Instant

from . import policies, selectors

router = Router(tags=["surveys"])


class SatisfactionQuery(Schema):
    group_by: str = Field(default="department", description="department | agent | tier")
    since: Instant | None = Field(default=None, description="surveys offered at or after this instant")
    until: Instant | None = Field(default=None, description="surveys offered before this instant")


class SatisfactionRowOut(Schema):
    group: int | str | None = Field(description="the department or agent id, or the tier; null: none")
    offered: int
    responses: int
    response_rate: float | None = Field(description="% of the surveys offered that were answered")
    csat: float | None = Field(description="% of the answers that are good")
    ces: float | None = Field(description="average customer effort, 1 (very hard) to 7 (very easy)")
    nps: float | None = Field(description="% promoters (9–10) minus % detractors (0–6)")  # noqa: RUF001
    nps_responses: int


class SatisfactionOut(Schema):
    group_by: str
    items: list[SatisfactionRowOut]


@router.get("/metrics/satisfaction", response=SatisfactionOut, summary="CSAT, CES and NPS by group")
def satisfaction_metrics(request: ApiRequest, params: Query[SatisfactionQuery]) -> dict[str, Any]:
    """Of the surveys offered in [since, until): per department, agent (at the solve) or tier,
    the surveys offered and answered, CSAT, average CES and NPS. Admins see every department,
    agents their own; light agents none."""
    rows = selectors.satisfaction_metrics(
        user=request.auth, group_by=params.group_by, since=params.since, until=params.until
    )
    return {"group_by": params.group_by, "items": rows}


class PolicyOut(Schema):
    department_id: int
    enabled: bool
    delay_minutes: int
    channels: list[str]
    scale: str
    ask_ces: bool
    ask_nps: bool
    reminder_hours: int | None
    window_days: int


class PolicyIn(Schema):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    delay_minutes: int = 60
    channels: list[str] = Field(default_factory=lambda: ["email", "portal"])
    scale: str = Field(default="good_bad", description="good_bad | five")
    ask_ces: bool = False
    ask_nps: bool = False
    reminder_hours: int | None = None
    window_days: int = 14


def _out(department_id: int) -> dict[str, Any]:
    policy = policies.policy_for(department_id=department_id)
    return {"department_id": department_id, **policies.policy_definition(policy)}


@router.get("/departments/{department_id}/survey-policy", response=PolicyOut, summary="A department's survey")
def get_policy(request: ApiRequest, department_id: int) -> dict[str, Any]:
    if not Department.objects.filter(pk=department_id).exists():
        raise NotFound("department not found")
    return _out(department_id)


@router.put(
    "/departments/{department_id}/survey-policy", response=PolicyOut, summary="Set a department's survey"
)
def put_policy(request: ApiRequest, department_id: int, payload: PolicyIn) -> dict[str, Any]:
    data = payload.model_dump()
    data["channels"] = tuple(data["channels"])
    policies.survey_policy_save(
        actor=request.auth, department_id=department_id, data=policies.PolicyIn(**data), now=clock.now()
    )
    return _out(department_id)

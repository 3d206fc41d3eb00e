"""`/api/v1/sla-policies` and `/api/v1/tickets/{id}/sla`: service-level policies, and where a
ticket's clocks stand."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict, Field

from sportello.accounts.http import ApiRequest
from sportello.accounts.services import require_admin
from sportello.core import clock
from sportello.core.errors import NotFound, ValidationFailed
from sportello.core.http import json_document
from sportello.core.instants import Instant
from sportello.core.versions_api import (
    history_routes,
)
from sportello.engine import sla as engine
from sportello.tickets.selectors import ticket_get_for

from . import calendars, metrics, selectors, services, tiers
from .calendars import clocks_for
from .models import BusinessCalendar, SlaPolicy, TicketSla, TierPath

router = Router(tags=["sla"])
BODY_MAX = 256 * 1024


class SlaPolicyOut(Schema):
    key: str
    name: str
    position: int
    active: bool
    version: int
    definition: dict[str, Any]
    updated_at: datetime


class PolicyList(Schema):
    items: list[SlaPolicyOut]


class PolicySaved(SlaPolicyOut):
    written: bool = Field(description="false: the definition equals the current version")


class VersionOut(Schema):
    version: int
    definition: dict[str, Any]
    created_by_id: int | None
    created_at: datetime


class ClockOut(Schema):
    metric: str
    instance: int
    status: str
    started_at: datetime
    business: bool = Field(description="counted in the policy's business calendar")
    target_seconds: int | None
    due_at: datetime | None
    breached_at: datetime | None
    fulfilled_at: datetime | None
    remaining_seconds: int | None = Field(description="in the clock's own time; negative after the breach")
    remaining_calendar_seconds: int | None = Field(description="wall-clock time until due; null while paused")


class TicketSlaOut(Schema):
    policy: str | None
    policy_version: int | None
    next_breach_at: datetime | None
    breached: bool
    clocks: list[ClockOut]


def _definition(request: ApiRequest) -> dict[str, Any]:
    data = json_document(request, max_bytes=BODY_MAX, what="policy") if request.body else None
    if not isinstance(data, dict):
        raise ValidationFailed("a policy must be a JSON object")
    return data


def policy_out(p: SlaPolicy, *, written: bool | None = None) -> dict[str, Any]:
    out = {
        "key": p.key,
        "name": p.name,
        "position": p.position,
        "active": p.active,
        "version": p.version,
        "definition": services.policy_definition(p),
        "updated_at": p.updated_at,
    }
    if written is not None:
        out["written"] = written
    return out


@router.get("/sla-policies", response=PolicyList, summary="SLA policies, in match order")
def list_policies(request: ApiRequest) -> dict[str, Any]:
    return {"items": [policy_out(p) for p in selectors.policy_list(principal=request.auth)]}


@router.post("/sla-policies", response={201: PolicySaved}, summary="Create an SLA policy")
def create_policy(request: ApiRequest) -> Status:
    """Body: the policy as in docs/sla.md (JSON)."""
    policy, written = services.policy_save(
        definition=_definition(request), actor=request.auth, now=clock.now(), create=True
    )
    return Status(201, policy_out(policy, written=written))


@router.get("/sla-policies/{sla_key}", response=SlaPolicyOut, summary="One SLA policy")
def get_policy(request: ApiRequest, sla_key: str) -> dict[str, Any]:
    return policy_out(selectors.policy_get(principal=request.auth, key=sla_key))


@router.put("/sla-policies/{sla_key}", response=PolicySaved, summary="Save a new version of an SLA policy")
def put_policy(request: ApiRequest, sla_key: str, reflow: bool | None = None) -> dict[str, Any]:
    """Body: the whole policy (JSON); its key, if given, must be the path's. `?reflow=true`
    recomputes the due instants of the open clocks following it (in the background); `false`
    lets them keep theirs; absent: the desk's setting."""
    key = sla_key
    payload = _definition(request)
    if payload.get("key", key) != key:
        raise ValidationFailed("a policy's key cannot change", field="key")
    policy, written = services.policy_save(
        definition={**payload, "key": key}, actor=request.auth, now=clock.now(), create=False, reflow=reflow
    )
    return policy_out(policy, written=written)


@router.delete("/sla-policies/{sla_key}", response=SlaPolicyOut, summary="Deactivate an SLA policy")
def delete_policy(request: ApiRequest, sla_key: str) -> dict[str, Any]:
    return policy_out(services.policy_deactivate(key=sla_key, actor=request.auth, now=clock.now()))


@router.get(
    "/sla-policies/{sla_key}/versions", response=list[VersionOut], summary="Every version of a policy"
)
def policy_versions(request: ApiRequest, sla_key: str) -> list[dict[str, Any]]:
    return [
        {"version": v.version, "definition": v.definition, "created_by_id": v.created_by_id,
         "created_at": v.created_at}
        for v in selectors.policy_versions(principal=request.auth, key=sla_key)
    ]  # fmt: skip


history_routes(
    router,
    path="/sla-policies/{sla_key}",
    kind=services.POLICIES,
    module=__name__,
    names=(None, "get_policy_version", "diff_policy_versions", "revert_policy"),  # the list: above
    may_read=lambda user, key: selectors.require_policy_reader(user),
    may_revert=lambda user, key: require_admin(user),
)


@router.get("/tickets/{ticket_id}/sla", response=TicketSlaOut, summary="A ticket's SLA clocks")
def ticket_sla(request: ApiRequest, ticket_id: int) -> dict[str, Any]:
    """The policy the ticket follows and every clock instance: running, paused, fulfilled or
    superseded, with its due instant, breach and the time left in its own and calendar time."""
    ticket = ticket_get_for(principal=request.auth, ticket_id=ticket_id)
    row = TicketSla.objects.filter(ticket=ticket).select_related("policy").first()
    if row is None:
        return {
            "policy": None,
            "policy_version": None,
            "next_breach_at": None,
            "breached": False,
            "clocks": [],
        }
    state = engine.state_from_data(row.state)
    clocks = clocks_for({c.calendar for c in state.clocks})
    now = clock.now()
    out = []
    for c in state.clocks:
        left = engine.remaining(c, engine.clock_for(clocks, c.calendar), now)
        out.append(
            {
                "metric": c.metric,
                "instance": c.instance,
                "status": str(c.status),
                "started_at": c.started_at,
                "business": c.calendar is not None,
                "target_seconds": int(c.target.total_seconds()) if c.target is not None else None,
                "due_at": c.due_at,
                "breached_at": c.breached_at,
                "fulfilled_at": c.fulfilled_at,
                "remaining_seconds": _seconds(left.metric_time),
                "remaining_calendar_seconds": _seconds(left.calendar_time),
            }
        )
    return {
        "policy": row.policy.key if row.policy is not None else None,
        "policy_version": row.policy_version,
        "next_breach_at": row.next_breach_at,
        "breached": row.breached,
        "clocks": out,
    }


def _seconds(value: Any) -> int | None:
    return None if value is None else int(value.total_seconds())


# --------------------------------------------------------------------------------------------
# Business calendars


class CalendarOut(Schema):
    key: str
    name: str
    active: bool
    is_default: bool
    version: int
    departments: list[int]
    definition: dict[str, Any]
    updated_at: datetime


class CalendarList(Schema):
    items: list[CalendarOut]


class CalendarSaved(CalendarOut):
    written: bool


class HolidaysIn(Schema):
    model_config = ConfigDict(extra="forbid")

    country: str = Field(description="ISO 3166-1 alpha-2, e.g. ES, IT, US")
    subdivision: str | None = Field(default=None, description="e.g. MD (Madrid), CA (California)")
    years: list[int]


class HolidaysOut(Schema):
    calendar: CalendarOut
    added: list[dict[str, Any]]


def calendar_out(c: BusinessCalendar, *, written: bool | None = None) -> dict[str, Any]:
    out = {
        "key": c.key,
        "name": c.name,
        "active": c.active,
        "is_default": c.is_default,
        "version": c.version,
        "departments": calendars.calendar_departments(c),
        "definition": calendars.calendar_definition(c),
        "updated_at": c.updated_at,
    }
    if written is not None:
        out["written"] = written
    return out


def _calendar_payload(request: ApiRequest) -> tuple[dict[str, Any], Any, Any]:
    """The body: the calendar definition, with `departments` and `is_default` beside it."""
    data = _definition(request)
    departments = data.pop("departments", None)
    is_default = data.pop("is_default", None)
    if is_default is not None and not isinstance(is_default, bool):
        raise ValidationFailed("must be true or false", field="is_default")
    return data, departments, is_default


def _calendar(request: ApiRequest, key: str) -> BusinessCalendar:
    selectors.require_policy_reader(request.auth)
    found = BusinessCalendar.objects.filter(key=key).first()
    if found is None:
        raise NotFound("calendar not found")
    return found


@router.get("/calendars", response=CalendarList, summary="Business calendars")
def list_calendars(request: ApiRequest) -> dict[str, Any]:
    selectors.require_policy_reader(request.auth)
    return {"items": [calendar_out(c) for c in BusinessCalendar.objects.order_by("key")]}


@router.post("/calendars", response={201: CalendarSaved}, summary="Create a business calendar")
def create_calendar(request: ApiRequest) -> Status:
    """Body: the calendar as in docs/sla.md, plus `departments` (ids) and `is_default`."""
    data, departments, is_default = _calendar_payload(request)
    saved, written = calendars.calendar_save(
        definition=data, departments=departments, is_default=is_default, actor=request.auth, now=clock.now(),
        create=True,
    )  # fmt: skip
    return Status(201, calendar_out(saved, written=written))


@router.get("/calendars/{calendar_key}", response=CalendarOut, summary="One business calendar")
def get_calendar(request: ApiRequest, calendar_key: str) -> dict[str, Any]:
    return calendar_out(_calendar(request, calendar_key))


@router.put("/calendars/{calendar_key}", response=CalendarSaved, summary="Save a new version of a calendar")
def put_calendar(request: ApiRequest, calendar_key: str, reflow: bool | None = None) -> dict[str, Any]:
    """`?reflow=true|false`: recompute the due instants of the open clocks counting in it, or
    let them keep theirs; absent: the desk's setting."""
    data, departments, is_default = _calendar_payload(request)
    if data.get("key", calendar_key) != calendar_key:
        raise ValidationFailed("a calendar's key cannot change", field="key")
    saved, written = calendars.calendar_save(
        definition={**data, "key": calendar_key}, departments=departments, is_default=is_default,
        actor=request.auth, now=clock.now(), create=False, reflow=reflow,
    )  # fmt: skip
    return calendar_out(saved, written=written)


@router.delete("/calendars/{calendar_key}", response=CalendarOut, summary="Deactivate a calendar")
def delete_calendar(request: ApiRequest, calendar_key: str) -> dict[str, Any]:
    return calendar_out(calendars.calendar_deactivate(key=calendar_key, actor=request.auth, now=clock.now()))


history_routes(
    router,
    path="/calendars/{calendar_key}",
    kind=calendars.CALENDARS,
    module=__name__,
    names=("list_calendar_versions", "get_calendar_version", "diff_calendar_versions", "revert_calendar"),
    may_read=lambda user, key: selectors.require_policy_reader(user),
    may_revert=lambda user, key: require_admin(user),
)


@router.post(
    "/calendars/{calendar_key}/holidays", response=HolidaysOut, summary="Add a country's public holidays"
)
def import_holidays(request: ApiRequest, calendar_key: str, payload: HolidaysIn) -> dict[str, Any]:
    """Adds the public holidays of `country` (and `subdivision`) for `years` as whole-day
    holidays of the calendar's latest version; dates that have a holiday keep theirs."""
    saved, added = calendars.calendar_import_holidays(
        key=calendar_key, country=payload.country, subdivision=payload.subdivision, years=payload.years,
        actor=request.auth, now=clock.now(),
    )  # fmt: skip
    return {"calendar": calendar_out(saved), "added": added}


# --------------------------------------------------------------------------------------------
# Reports


class Times(Schema):
    avg: int | None
    p50: int | None
    p90: int | None
    p95: int | None


class ReportRow(Schema):
    group: dict[str, Any] | None
    metric: str
    finished: int = Field(description="clock instances finished in the period")
    with_target: int
    breached: int
    compliance: float | None = Field(description="share of targeted instances that met their target")
    own_time_seconds: Times = Field(
        description="in each clock's own time (business time for business targets)"
    )
    calendar_time_seconds: Times


class Report(Schema):
    start: datetime
    end: datetime
    items: list[ReportRow]


class ReportQuery(Schema):
    start: Instant = Field(alias="from")
    end: Instant = Field(alias="to")
    department_id: int | None = None
    policy: str | None = None
    agent_id: int | None = None
    team_id: int | None = None
    metric: str | None = None
    group_by: str | None = Field(default=None, description="department | policy | team | agent | tier")


@router.get("/metrics/sla", response=Report, summary="SLA compliance and response times over a period")
def sla_metrics(request: ApiRequest, params: Query[ReportQuery]) -> dict[str, Any]:
    """From the clock instances that finished in [from, to): per metric (and per group),
    compliance, breaches, and times in the clocks' own and in calendar time (average, p50, p90,
    p95). Agents see their departments' tickets; admins all."""
    items = metrics.sla_report(
        principal=request.auth,
        query=metrics.Query(
            start=params.start, end=params.end, department_id=params.department_id, policy=params.policy,
            agent_id=params.agent_id, team_id=params.team_id, metric=params.metric, group_by=params.group_by,
        ),
    )  # fmt: skip
    return {"start": params.start, "end": params.end, "items": items}


# --------------------------------------------------------------------------------------------
# Tiered support


class TierPathOut(Schema):
    key: str
    name: str
    department_id: int
    version: int
    active: bool
    definition: dict[str, Any]


class TierPathList(Schema):
    items: list[TierPathOut]


class EscalateIn(Schema):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(max_length=10_000)
    to: str | None = Field(default=None, description="a tier key above the current one; default: the next")


class TicketTierOut(Schema):
    path: str | None
    tier: str | None
    tier_name: str | None
    next_tier: str | None
    team_id: int | None
    department_id: int


def tier_path_out(p: TierPath) -> dict[str, Any]:
    return {"key": p.key, "name": p.name, "department_id": p.department_id, "version": p.version,
            "active": p.active, "definition": p.definition}  # fmt: skip


@router.get("/tier-paths", response=TierPathList, summary="Tiered support paths")
def list_tier_paths(request: ApiRequest) -> dict[str, Any]:
    selectors.require_policy_reader(request.auth)
    return {"items": [tier_path_out(p) for p in TierPath.objects.order_by("key")]}


@router.put("/tier-paths/{path_key}", response=TierPathOut, summary="Create or change a tier path")
def put_tier_path(request: ApiRequest, path_key: str) -> dict[str, Any]:
    """Body: `{name, department, tiers: [{key, name, team, department?}, ...]}` (see docs/sla.md)."""
    data = _definition(request)
    if data.get("key", path_key) != path_key:
        raise ValidationFailed("must equal the key in the path", field="key")
    saved, _ = tiers.tier_path_save(definition={**data, "key": path_key}, actor=request.auth, now=clock.now())
    return tier_path_out(saved)


@router.get("/tier-paths/{path_key}", response=TierPathOut, summary="One tier path")
def get_tier_path(request: ApiRequest, path_key: str) -> dict[str, Any]:
    selectors.require_policy_reader(request.auth)
    found = TierPath.objects.filter(key=path_key).first()
    if found is None:
        raise NotFound("tier path not found")
    return tier_path_out(found)


history_routes(
    router,
    path="/tier-paths/{path_key}",
    kind=tiers.TIER_PATHS,
    module=__name__,
    names=("list_tier_path_versions", "get_tier_path_version", "diff_tier_path_versions", "revert_tier_path"),
    may_read=lambda user, key: selectors.require_policy_reader(user),
    may_revert=lambda user, key: require_admin(user),
)


def _ticket_tier_out(ticket: Any) -> dict[str, Any]:
    found = tiers.ticket_tier(ticket)
    if found is None:
        return {"path": None, "tier": None, "tier_name": None, "next_tier": None, "team_id": ticket.team_id,
                "department_id": ticket.department_id}  # fmt: skip
    path, tier = found
    here = path.index(tier.key)
    following = path.tiers[here + 1].key if here + 1 < len(path.tiers) else None
    return {"path": path.key, "tier": tier.key, "tier_name": tier.name, "next_tier": following,
            "team_id": ticket.team_id, "department_id": ticket.department_id}  # fmt: skip


@router.get("/tickets/{ticket_id}/tier", response=TicketTierOut, summary="A ticket's support tier")
def ticket_tier(request: ApiRequest, ticket_id: int) -> dict[str, Any]:
    return _ticket_tier_out(ticket_get_for(principal=request.auth, ticket_id=ticket_id))


@router.post("/tickets/{ticket_id}/escalate", response=TicketTierOut, summary="Escalate to the next tier")
def escalate_ticket(request: ApiRequest, ticket_id: int, payload: EscalateIn) -> dict[str, Any]:
    """Moves the ticket to the next tier's team (or `to`), clearing the assignee, with the
    reason recorded (`tier` / `escalated`). 409 at the last tier or without a tier path."""
    outcome = tiers.ticket_escalate(
        actor=request.auth, ticket_id=ticket_id, reason=payload.reason, to=payload.to, now=clock.now()
    )
    return _ticket_tier_out(outcome.ticket)

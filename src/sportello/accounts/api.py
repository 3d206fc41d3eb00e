"""`/api/v1/departments`, `/agents`, `/teams`, `/tokens`.

Every active agent reads departments, agents and teams; admins create and change them. Agents
set their own online status (admins anyone's) and manage their own API tokens.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from ninja import Router, Status

from sportello.core import clock
from sportello.core.actors import Via
from sportello.core.errors import NotFound, ValidationFailed
from sportello.core.paging import SortKey, paginate
from sportello.tickets import services as ticket_services
from sportello.tickets.api import page_limit

from . import selectors, services
from .http import ApiRequest
from .models import ApiToken, Department, Team, User
from .schemas import (
    AgentCreateIn,
    AgentOut,
    AgentPage,
    AgentPatchIn,
    AgentStatusIn,
    DepartmentCreateIn,
    DepartmentOut,
    DepartmentPage,
    DepartmentPatchIn,
    TeamCreateIn,
    TeamOut,
    TeamPage,
    TeamPatchIn,
    TokenCreatedOut,
    TokenCreateIn,
    TokenPage,
)

router = Router(tags=["people"])

BY_ID = [SortKey("id")]


def department_out(d: Department) -> dict[str, Any]:
    return {
        "id": d.pk,
        "name": d.name,
        "slug": d.slug,
        "email": d.email,
        "description": d.description,
        "is_active": d.is_active,
        "created_at": d.created_at,
        "fingerprint": services.department_fingerprint(d),
    }


def agent_out(u: User) -> dict[str, Any]:
    return {
        "id": u.pk,
        "email": u.email,
        "name": u.name,
        "role": u.role,
        "status": u.status,
        "language": u.language,
        "time_zone": u.time_zone,
        "department_ids": sorted(d.pk for d in u.departments.all()),
        "is_active": u.is_active,
        "supervisor": u.supervisor,
        "created_at": u.created_at,
        "status_changed_at": u.status_changed_at,
    }


def team_out(t: Team) -> dict[str, Any]:
    member_ids = sorted(m.pk for m in t.members.all())
    return {
        "id": t.pk,
        "name": t.name,
        "slug": t.slug,
        "department_id": t.department_id,
        "email": t.email,
        "member_ids": member_ids,
        "created_at": t.created_at,
        "fingerprint": services.team_fingerprint_of(t, member_ids=member_ids),
    }


def token_out(t: ApiToken) -> dict[str, Any]:
    return {
        "id": t.pk,
        "name": t.name,
        "prefix": t.prefix,
        "created_at": t.created_at,
        "last_used_at": t.last_used_at,
        "revoked_at": t.revoked_at,
    }


# --------------------------------------------------------------------------------------------
# Departments


@router.get("/departments", response=DepartmentPage, summary="List departments")
def list_departments(
    request: ApiRequest, is_active: bool | None = None, cursor: str | None = None, limit: int | None = None
) -> dict[str, Any]:
    qs = selectors.department_list(user=request.auth, is_active=is_active)
    rows, nxt = paginate(qs, keys=BY_ID, cursor=cursor, limit=page_limit(limit))
    return {"items": [department_out(d) for d in rows], "next_cursor": nxt}


@router.get("/departments/{department_id}", response=DepartmentOut, summary="Get a department")
def get_department(request: ApiRequest, department_id: int) -> dict[str, Any]:
    return department_out(selectors.department_get(user=request.auth, department_id=department_id))


@router.post("/departments", response={201: DepartmentOut}, summary="Create a department (admins)")
def create_department(request: ApiRequest, payload: DepartmentCreateIn) -> Status[dict[str, Any]]:
    services.require_admin(request.auth)
    department = services.department_create(
        name=payload.name, email=payload.email, description=payload.description, actor=request.auth
    )
    return Status(201, department_out(department))


@router.patch("/departments/{department_id}", response=DepartmentOut, summary="Change a department (admins)")
def patch_department(request: ApiRequest, department_id: int, payload: DepartmentPatchIn) -> dict[str, Any]:
    services.require_admin(request.auth)
    department = selectors.department_get(user=request.auth, department_id=department_id)
    data = payload.model_dump(exclude_unset=True)
    department = services.department_update(department=department, actor=request.auth, **data)
    return department_out(department)


# --------------------------------------------------------------------------------------------
# Agents


@router.get("/agents", response=AgentPage, summary="List agents")
def list_agents(
    request: ApiRequest,
    department_id: int | None = None,
    role: str | None = None,
    status: str | None = None,
    is_active: bool | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    qs = selectors.agent_list(
        user=request.auth, department_id=department_id, role=role, status=status, is_active=is_active
    )
    rows, nxt = paginate(qs, keys=BY_ID, cursor=cursor, limit=page_limit(limit))
    return {"items": [agent_out(u) for u in rows], "next_cursor": nxt}


@router.get("/agents/me", response=AgentOut, summary="The agent making the request")
def get_me(request: ApiRequest) -> dict[str, Any]:
    return agent_out(selectors.agent_get(user=request.auth, agent_id=request.auth.pk))


@router.put("/agents/me/status", response=AgentOut, summary="Go online or offline")
def put_my_status(request: ApiRequest, payload: AgentStatusIn) -> dict[str, Any]:
    services.agent_set_status(user=request.auth, status=payload.status, now=clock.now(), actor=request.auth)
    return agent_out(selectors.agent_get(user=request.auth, agent_id=request.auth.pk))


@router.get("/agents/{agent_id}", response=AgentOut, summary="Get an agent")
def get_agent(request: ApiRequest, agent_id: int) -> dict[str, Any]:
    return agent_out(selectors.agent_get(user=request.auth, agent_id=agent_id))


@router.post("/agents", response={201: AgentOut}, summary="Create an agent (admins)")
def create_agent(request: ApiRequest, payload: AgentCreateIn) -> Status[dict[str, Any]]:
    services.require_admin(request.auth)
    departments = selectors.departments_by_ids(ids=payload.department_ids)
    agent = services.agent_create(
        email=payload.email,
        name=payload.name,
        role=payload.role,
        password=payload.password,
        departments=departments,
        language=payload.language,
        actor=request.auth,
    )
    return Status(201, agent_out(selectors.agent_get(user=request.auth, agent_id=agent.pk)))


@router.patch("/agents/{agent_id}", response=AgentOut, summary="Change an agent (admins)")
def patch_agent(request: ApiRequest, agent_id: int, payload: AgentPatchIn) -> dict[str, Any]:
    services.require_admin(request.auth)
    agent = selectors.agent_get(user=request.auth, agent_id=agent_id)
    data = payload.model_dump(exclude_unset=True)
    department_ids = data.pop("department_ids", None)
    departments = None if department_ids is None else selectors.departments_by_ids(ids=department_ids)
    # Deactivating hands the agent's open tickets back to assignment, as the Console does.
    deactivate = data.get("is_active") is False and agent.is_active
    if deactivate:
        del data["is_active"]
    with transaction.atomic():
        services.agent_update(agent=agent, actor=request.auth, departments=departments, **data)
        if deactivate:
            ticket_services.agent_deactivate(agent=agent, actor=request.auth, via=Via.API, now=clock.now())
    return agent_out(selectors.agent_get(user=request.auth, agent_id=agent_id))


@router.put("/agents/{agent_id}/status", response=AgentOut, summary="Set an agent online or offline")
def put_agent_status(request: ApiRequest, agent_id: int, payload: AgentStatusIn) -> dict[str, Any]:
    agent = selectors.agent_get(user=request.auth, agent_id=agent_id)
    services.agent_set_status(user=agent, status=payload.status, now=clock.now(), actor=request.auth)
    return agent_out(selectors.agent_get(user=request.auth, agent_id=agent_id))


# --------------------------------------------------------------------------------------------
# Teams


@router.get("/teams", response=TeamPage, summary="List teams")
def list_teams(
    request: ApiRequest,
    department_id: int | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    qs = selectors.team_list(user=request.auth, department_id=department_id)
    rows, nxt = paginate(qs, keys=BY_ID, cursor=cursor, limit=page_limit(limit))
    return {"items": [team_out(t) for t in rows], "next_cursor": nxt}


@router.get("/teams/{team_id}", response=TeamOut, summary="Get a team")
def get_team(request: ApiRequest, team_id: int) -> dict[str, Any]:
    return team_out(selectors.team_get(user=request.auth, team_id=team_id))


@router.post("/teams", response={201: TeamOut}, summary="Create a team (admins)")
def create_team(request: ApiRequest, payload: TeamCreateIn) -> Status[dict[str, Any]]:
    services.require_admin(request.auth)
    try:
        department = selectors.department_get(user=request.auth, department_id=payload.department_id)
    except NotFound:
        raise ValidationFailed(
            f"no department with id {payload.department_id}", field="department_id"
        ) from None
    members = selectors.agents_by_ids(ids=payload.member_ids)
    team = services.team_create(
        name=payload.name, department=department, members=members, email=payload.email, actor=request.auth
    )
    return Status(201, team_out(selectors.team_get(user=request.auth, team_id=team.pk)))


@router.patch("/teams/{team_id}", response=TeamOut, summary="Change a team (admins)")
def patch_team(request: ApiRequest, team_id: int, payload: TeamPatchIn) -> dict[str, Any]:
    services.require_admin(request.auth)
    team = selectors.team_get(user=request.auth, team_id=team_id)
    data = payload.model_dump(exclude_unset=True)
    member_ids = data.pop("member_ids", None)
    members = None if member_ids is None else selectors.agents_by_ids(ids=member_ids)
    services.team_update(team=team, actor=request.auth, members=members, **data)
    return team_out(selectors.team_get(user=request.auth, team_id=team_id))


# --------------------------------------------------------------------------------------------
# API tokens (always the requesting agent's own)


@router.get("/tokens", response=TokenPage, summary="My API tokens")
def list_tokens(request: ApiRequest, cursor: str | None = None, limit: int | None = None) -> dict[str, Any]:
    qs = selectors.token_list(user=request.auth)
    rows, nxt = paginate(qs, keys=BY_ID, cursor=cursor, limit=page_limit(limit))
    return {"items": [token_out(t) for t in rows], "next_cursor": nxt}


@router.post("/tokens", response={201: TokenCreatedOut}, summary="Create an API token (secret shown once)")
def create_token(request: ApiRequest, payload: TokenCreateIn) -> Status[dict[str, Any]]:
    token, secret = services.token_create(user=request.auth, name=payload.name, now=clock.now())
    return Status(201, {**token_out(token), "secret": secret})


@router.delete("/tokens/{token_id}", response={204: None}, summary="Revoke one of my API tokens")
def revoke_token(request: ApiRequest, token_id: int) -> Status[None]:
    services.token_revoke(token_id=token_id, user=request.auth, now=clock.now())
    return Status(204, None)

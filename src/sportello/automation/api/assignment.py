"""`/api/v1/assignment-policies`: round-robin policies and their backlogs.

Every active agent reads policies (and the backlog tickets they may see); admins create them and
save new versions. A body is the policy as in the rules schema (`docs/rules.md`,
`assignment_policies[]`) plus an optional `active`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Body, Router, Schema, Status

from sportello.accounts.http import ApiRequest
from sportello.accounts.services import require_admin
from sportello.core import clock
from sportello.core.errors import ValidationFailed
from sportello.core.paging import SortKey, page_limit, paginate
from sportello.core.versions_api import (
    history_routes,
)

from .. import assignment
from ..models import AssignmentBacklog, AssignmentPolicy

router = Router(tags=["assignment"])


class AssignmentPolicyOut(Schema):
    id: int
    key: str
    name: str
    version: int
    active: bool
    definition: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class PolicyPage(Schema):
    items: list[AssignmentPolicyOut]
    next_cursor: str | None


class BacklogItemOut(Schema):
    ticket_id: int
    ticket_number: int
    subject: str
    priority: str
    ticket_created_at: datetime
    queued_at: datetime


class BacklogOut(Schema):
    policy: str
    items: list[BacklogItemOut]


def policy_out(p: AssignmentPolicy) -> dict[str, Any]:
    return {
        "id": p.pk,
        "key": p.key,
        "name": p.name,
        "version": p.version,
        "active": p.active,
        "definition": p.definition,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
    }


def backlog_item_out(row: AssignmentBacklog) -> dict[str, Any]:
    t = row.ticket
    return {
        "ticket_id": t.pk,
        "ticket_number": t.number,
        "subject": t.subject,
        "priority": assignment.PRIORITY_NAME.get(t.priority, "normal"),
        "ticket_created_at": t.created_at,
        "queued_at": row.queued_at,
    }


def _split(payload: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The definition and the `active` flag of a request body."""
    definition = dict(payload)
    active = definition.pop("active", True)
    if not isinstance(active, bool):
        raise ValidationFailed("must be true or false", field="active")
    return definition, active


@router.get("/assignment-policies", response=PolicyPage, summary="Round-robin assignment policies")
def list_policies(request: ApiRequest, cursor: str | None = None, limit: int | None = None) -> dict[str, Any]:
    rows, nxt = paginate(
        AssignmentPolicy.objects.all(), keys=[SortKey("id")], cursor=cursor, limit=page_limit(limit)
    )
    return {"items": [policy_out(p) for p in rows], "next_cursor": nxt}


@router.post(
    "/assignment-policies",
    response={201: AssignmentPolicyOut},
    summary="Create an assignment policy (admins)",
)
def create_policy(request: ApiRequest, payload: dict[str, Any] = Body(...)) -> Any:  # noqa: B008
    require_admin(request.auth)
    definition, active = _split(payload)
    key = definition.get("key")
    if isinstance(key, str) and AssignmentPolicy.objects.filter(key=key).exists():
        raise ValidationFailed("a policy with this key exists; PUT a new version instead", field="key")
    policy, _ = assignment.policy_save(
        definition=definition, created_by=request.auth, now=clock.now(), active=active
    )
    return Status(201, policy_out(policy))


@router.get("/assignment-policies/{policy_key}", response=AssignmentPolicyOut, summary="An assignment policy")
def get_policy(request: ApiRequest, policy_key: str) -> dict[str, Any]:
    return policy_out(assignment.policy_get(key=policy_key))


@router.put(
    "/assignment-policies/{policy_key}",
    response=AssignmentPolicyOut,
    summary="Save a new version of an assignment policy (admins)",
)
def put_policy(
    request: ApiRequest,
    policy_key: str,
    payload: dict[str, Any] = Body(...),  # noqa: B008
) -> dict[str, Any]:
    require_admin(request.auth)
    assignment.policy_get(key=policy_key)
    definition, active = _split(payload)
    if definition.setdefault("key", policy_key) != policy_key:
        raise ValidationFailed("must match the policy in the path", field="key")
    policy, _ = assignment.policy_save(
        definition=definition, created_by=request.auth, now=clock.now(), active=active
    )
    return policy_out(policy)


history_routes(
    router,
    path="/assignment-policies/{policy_key}",
    kind=assignment.POLICIES,
    module=__name__,
    names=("list_policy_versions", "get_policy_version", "diff_policy_versions", "revert_policy"),
    may_read=lambda user, key: None,  # every agent reads assignment policies
    may_revert=lambda user, key: require_admin(user),
)


@router.get(
    "/assignment-policies/{policy_key}/backlog",
    response=BacklogOut,
    summary="Tickets waiting for an agent, in hand-out order",
)
def get_backlog(request: ApiRequest, policy_key: str, limit: int | None = None) -> dict[str, Any]:
    policy = assignment.policy_get(key=policy_key)
    rows = assignment.backlog_list(policy=policy, tickets=assignment.backlog_filter(request.auth))
    return {"policy": policy.key, "items": [backlog_item_out(r) for r in rows[: page_limit(limit)]]}

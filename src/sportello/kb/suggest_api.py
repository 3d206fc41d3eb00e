"""`/api/v1/kb/deflection` (admins): how many portal sessions answer suggestions deflected."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ninja import Query, Router, Schema
from pydantic import Field

from sportello.accounts.http import ApiRequest
from sportello.accounts.models import Role, User
from sportello.core import clock
from sportello.core.errors import PermissionDenied, ValidationFailed

from .deflection import deflection_stats

router = Router(tags=["knowledge base"])


class DeflectionQuery(Schema):
    since: datetime | None = Field(default=None, description="from (inclusive); default 30 days before until")
    until: datetime | None = Field(default=None, description="to (exclusive); default now")


class DeflectionOut(Schema):
    since: datetime
    until: datetime
    sessions_shown: int = Field(description="portal sessions shown at least one suggestion")
    sessions_engaged: int = Field(description="sessions that opened a suggestion or marked one as solving")
    solved_clicks: int = Field(description="engaged sessions that clicked 'This solved my problem'")
    deflected: int = Field(
        description="engaged, no request sent, and no ticket from the same person in 7 days"
    )
    not_deflected: int
    pending: int = Field(description="engaged less than 7 days ago: not decided yet")
    rate: float | None = Field(description="deflected / (deflected + not_deflected)")


@router.get("/kb/deflection", response=DeflectionOut, summary="Deflection by answer suggestions")
def kb_deflection(request: ApiRequest, params: Query[DeflectionQuery]) -> dict[str, Any]:
    """Portal sessions shown answer suggestions between `since` and `until`, and how many were
    deflected: a suggestion opened and the request abandoned, or "This solved my problem"
    clicked, and no ticket from the same contact within 7 days (anonymous sessions: only that
    session's own submissions count). Admins only."""
    user = request.auth
    if not isinstance(user, User) or user.role != Role.ADMIN:
        raise PermissionDenied("only admins may see deflection figures")
    now = clock.now()
    until = params.until or now
    since = params.since or until - timedelta(days=30)
    if since >= until:
        raise ValidationFailed("since must be before until", field="since")
    return deflection_stats(since=since, until=until, now=now).as_dict()

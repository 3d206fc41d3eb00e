"""`/api/v1/health` (anyone: the overall status; admins: the details) and
`/api/v1/timers/failing` (admins: exact timers whose firing failed, retried or parked)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Query, Router, Schema, Status
from pydantic import Field

from sportello.accounts.http import ApiRequest
from sportello.accounts.models import Role, User
from sportello.accounts.services import token_authenticate
from sportello.core import clock

from .errors import PermissionDenied
from .health import health_report
from .timers import FailingTimer, failing_timers, timer_discard, timer_retry

router = Router(tags=["health"])

FAILING_LIMIT = 500


def _admin(request: ApiRequest) -> User:
    user = request.auth
    if not isinstance(user, User) or user.role != Role.ADMIN:
        raise PermissionDenied("only admins may see and handle failing timers")
    return user


@router.get("/health", auth=None, summary="Health of the desk")
def health(request: HttpRequest) -> HttpResponse:
    """`status`: `ok`, `degraded` (the desk answers but background work lags or fails) or
    `failing` (the database is unreachable: HTTP 503). An admin's token adds the details:
    database latency, workers' heartbeats, the oldest due timer per kind, parked timers, the
    outbox backlog and the failing pollers and periodic jobs."""
    now = clock.now()
    report = health_report(now=now)
    status = 503 if report["status"] == "failing" else 200
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    user = None
    if status == 200 and scheme.lower() == "bearer" and secret:
        user = token_authenticate(secret=secret.strip(), now=now)
    if not (isinstance(user, User) and user.role == Role.ADMIN):
        report = {"status": report["status"]}
    response = JsonResponse(report, status=status)
    response["Cache-Control"] = "no-store"
    return response


class FailingQuery(Schema):
    parked: bool | None = Field(default=None, description="only the parked (true) or retrying (false)")


class FailingTimerOut(Schema):
    kind: str = Field(description="time_rule, sla, blueprint_limit or task_reminder")
    id: int
    ticket_id: int
    ticket_number: int | None
    what: str = Field(description="the rule and step, SLA level, state limit or task reminder")
    due_at: datetime
    attempts: int
    last_error: str
    failing_since: datetime
    retry_at: datetime | None = Field(description="the next attempt; null when parked")
    parked_at: datetime | None = Field(description="parked: not attempted until retried")


class FailingTimersOut(Schema):
    items: list[FailingTimerOut]


def _out(timers: list[FailingTimer]) -> list[dict[str, Any]]:
    from sportello.tickets.models import Ticket

    numbers = dict(Ticket.objects.filter(pk__in={t.ticket_id for t in timers}).values_list("pk", "number"))
    return [
        {
            "kind": t.kind, "id": t.id, "ticket_id": t.ticket_id, "ticket_number": numbers.get(t.ticket_id),
            "what": t.what, "due_at": t.due_at, "attempts": t.attempts, "last_error": t.last_error,
            "failing_since": t.failing_since, "retry_at": t.retry_at, "parked_at": t.parked_at,
        }
        for t in timers
    ]  # fmt: skip


@router.get("/timers/failing", response=FailingTimersOut, summary="Failing timers")
def timers_failing(request: ApiRequest, params: Query[FailingQuery]) -> dict[str, Any]:
    """Exact timers of every kind whose firing failed: retrying with back-off, or parked after
    the last attempt. Oldest failure first."""
    _admin(request)
    return {"items": _out(failing_timers(parked=params.parked, limit=FAILING_LIMIT))}


@router.post("/timers/failing/{kind}/{timer_id}/retry", response=FailingTimerOut, summary="Retry a timer")
def timer_retry_view(request: ApiRequest, kind: str, timer_id: int) -> dict[str, Any]:
    """Un-park a failing timer (or end its back-off): it is attempted at the worker's next round,
    its attempts counted afresh. Answers the timer as it was."""
    user = _admin(request)
    return _out([timer_retry(kind=kind, pk=timer_id, actor_id=user.pk, now=clock.now())])[0]


@router.delete("/timers/failing/{kind}/{timer_id}", response={204: None}, summary="Discard a timer")
def timer_discard_view(request: ApiRequest, kind: str, timer_id: int) -> Status[None]:
    """Delete a failing timer: it never fires."""
    user = _admin(request)
    timer_discard(kind=kind, pk=timer_id, actor_id=user.pk, now=clock.now())
    return Status(204, None)

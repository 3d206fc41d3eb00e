"""`/api/v1/rules/{key}/preview`: the tickets a time rule would fire on in the next hours."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ninja import Query, Router, Schema
from pydantic import Field

from sportello.accounts.http import ApiRequest
from sportello.accounts.models import Role, User
from sportello.core import clock
from sportello.core.errors import NotFound, PermissionDenied
from sportello.tickets.models import Ticket
from sportello.tickets.selectors import ticket_scope

from ..facts import field_specs
from ..models import Rule, RuleKind, RuleVersion, Timer
from ..query import ticket_filter
from ..timers import parse_time_rule

router = Router(tags=["rules"])

HOURS_MAX = 24 * 31
LIMIT_MAX = 200


class PreviewQuery(Schema):
    hours: int = Field(default=24, ge=1, le=HOURS_MAX, description="how far ahead to look")
    limit: int = Field(default=50, ge=1, le=LIMIT_MAX)


class PreviewItem(Schema):
    ticket_id: int
    number: int
    subject: str
    step: int = Field(description="index of the rule's step, from 0")
    due_at: datetime = Field(description="when it fires; in the past: at the worker's next round")


class TimeRulePreviewOut(Schema):
    rule: str
    version: int
    until: datetime
    items: list[PreviewItem]
    truncated: bool = Field(description="more tickets than `limit` would fire")


@router.get("/rules/{key}/preview", response=TimeRulePreviewOut, summary="Preview a time rule's firings")
def rule_preview(request: ApiRequest, key: str, params: Query[PreviewQuery]) -> dict[str, Any]:
    """The armed timers of the time rule due within `hours`, on tickets the caller may read and
    where the rule's conditions hold now (they are checked again when the step fires)."""
    user = request.auth
    if not isinstance(user, User) or user.role not in (Role.ADMIN, Role.AGENT):
        raise PermissionDenied("only agents and admins may preview rules")
    now = clock.now()
    return time_rule_preview(user=user, key=key, now=now, hours=params.hours, limit=params.limit)


def time_rule_preview(*, user: User, key: str, now: datetime, hours: int, limit: int) -> dict[str, Any]:
    rule = Rule.objects.filter(key=key, kind=RuleKind.TIME).first()
    if rule is None:
        raise NotFound("no time rule with this key")
    specs = field_specs()
    definition = RuleVersion.objects.get(rule=rule, version=rule.version).definition
    parsed = parse_time_rule(definition, specs=specs)
    until = now + timedelta(hours=hours)
    tickets = Ticket.objects.filter(ticket_scope(principal=user)).filter(
        ticket_filter(parsed.when, specs=specs, now=now)
    )
    rows = list(
        Timer.objects.filter(rule=rule, rule_version=rule.version, due_at__lte=until, ticket__in=tickets)
        .order_by("due_at", "id")
        .values_list("ticket_id", "ticket__number", "ticket__subject", "step", "due_at")[: limit + 1]
    )
    items = [
        {"ticket_id": t, "number": n, "subject": s, "step": step, "due_at": due}
        for t, n, s, step, due in rows[:limit]
    ]
    return {
        "rule": rule.key,
        "version": rule.version,
        "until": until,
        "items": items,
        "truncated": len(rows) > limit,
    }

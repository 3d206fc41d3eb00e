"""`POST /api/v1/rules/replay`: the shapes of a rule's replay over the recorded history
(`automation.replay`), and the result as the API answers it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from ninja import Field, Schema
from pydantic import ConfigDict

from ..replay import REPLAY_DAYS_DEFAULT, REPLAY_DAYS_MAX, RuleReplay


class ReplayIn(Schema):
    model_config = ConfigDict(extra="forbid")

    rule: dict[str, Any] = Field(
        description="the rule as `POST /rules` takes it, with its `kind` (`event` or `time`); records "
        "may be named by key. Replayed as if active, whatever its `active` says"
    )
    days: int = Field(REPLAY_DAYS_DEFAULT, description=f"the window: the last 1 to {REPLAY_DAYS_MAX} days")
    time_zone: str = Field("UTC", description="the zone whose days `per_day` counts")


class ReplayChangeOut(Schema):
    field: str = Field(
        description="as the ticket's events name it: `priority`, `tags`, `custom_fields.<key>`"
    )
    old_value: Any = Field(description="the value then")
    new_value: Any = Field(description="the value the rule would have set")


class ReplayNotificationOut(Schema):
    to: list[str]
    subject: str
    template: str | None


class ReplayWebhookOut(Schema):
    url: str


class ReplayFiringOut(Schema):
    at: datetime = Field(description="when it would have fired")
    step: int | None = Field(description="a time rule's step (from 0); null for an event rule")
    change_id: str | None = Field(description="an event rule's: the recorded change it would have run on")
    changes: list[ReplayChangeOut]
    notes: list[str] = Field(description="internal notes, rendered")
    notifications: list[ReplayNotificationOut]
    webhooks: list[ReplayWebhookOut]
    other: list[str] = Field(description="other actions named: `assign_policy:<id>`, `escalate_tier`")


class ReplayTicketOut(Schema):
    ticket_id: int
    number: int
    subject: str
    fired: int = Field(description="firings with an effect on this ticket in the window")
    firings: list[ReplayFiringOut] = Field(
        description="the first ones (at most 5; a time rule's first per step)"
    )
    comparison: str | None = Field(
        description="with a saved rule of the same key: `new` (newly affected), `gone` (no longer "
        "affected) or `same`; null when there is no saved rule"
    )
    saved_at: list[datetime] = Field(description="when the saved rule acted on it in the window")


class ReplayNoteOut(Schema):
    code: str = Field(
        description="not_carried, people_now, satisfaction_now, recipients_now, runs_last, "
        "calendar_time, history_differs, no_history, other_kind"
    )
    message: str
    count: int = Field(description="tickets concerned, where it applies")


class ReplayDayOut(Schema):
    day: date
    fired: int


class ReplayOut(Schema):
    kind: str
    key: str
    days: int
    since: datetime
    until: datetime
    changes_scanned: int = Field(description="recorded changes read in the window")
    tickets_considered: int
    affected: int = Field(description="tickets it would have changed")
    fired: int = Field(description="firings with an effect")
    unchanged: int = Field(description="firings whose actions would have changed nothing")
    saved_version: int | None = Field(description="the saved rule compared with (same key and kind)")
    compared: dict[str, int] = Field(description="tickets `new`, `gone`, `same`")
    per_day: list[ReplayDayOut]
    tickets: list[ReplayTicketOut]
    notes: list[ReplayNoteOut] = Field(description="what the replay could not reconstruct exactly")


def replay_out(result: RuleReplay) -> dict[str, Any]:
    return {
        "kind": result.kind,
        "key": result.key,
        "days": result.days,
        "since": result.since,
        "until": result.until,
        "changes_scanned": result.changes_scanned,
        "tickets_considered": result.tickets_considered,
        "affected": result.affected,
        "fired": result.fired,
        "unchanged": result.unchanged,
        "saved_version": result.saved_version,
        "compared": result.compared,
        "per_day": [{"day": d, "fired": n} for d, n in result.per_day],
        "tickets": [
            {
                "ticket_id": t.ticket_id,
                "number": t.number,
                "subject": t.subject,
                "fired": t.fired,
                "firings": [
                    {
                        "at": f.at,
                        "step": f.step,
                        "change_id": f.change_id,
                        "changes": f.changes,
                        "notes": f.notes,
                        "notifications": f.notifications,
                        "webhooks": f.webhooks,
                        "other": f.other,
                    }
                    for f in t.firings
                ],
                "comparison": t.comparison,
                "saved_at": t.saved_at,
            }
            for t in result.tickets
        ],
        "notes": [{"code": n.code, "message": n.message, "count": n.count} for n in result.notes],
    }

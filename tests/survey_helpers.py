"""Helpers of the surveys' tests: a policy on, a ticket moved by the Books agent, the survey
timers fired."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sportello.core.actors import Actor, ActorKind, Via
from sportello.surveys.policies import PolicyIn, survey_policy_save
from sportello.surveys.services import survey_fire_due
from sportello.tickets import pipeline
from sportello.tickets.pipeline import Mutation


def set_policy(desk: Any, now: datetime, **values: Any) -> Any:
    data = {"enabled": True, "delay_minutes": 60, "channels": ("email", "portal"), **values}
    return survey_policy_save(actor=desk.admin, department_id=desk.books.pk, data=PolicyIn(**data), now=now)


def move(desk: Any, ticket: Any, status: str, now: datetime, *, by: Any = None, **fields: Any) -> Any:
    by = by or desk.agent
    return pipeline.ticket_apply(
        ticket_id=ticket.pk,
        mutation=Mutation(
            actor=Actor(ActorKind.AGENT, by.pk, by.name), via=Via.WEB, fields={"status": status, **fields}
        ),
        now=now,
    ).ticket


def fire(now: datetime) -> list[str]:
    return survey_fire_due(now=now)

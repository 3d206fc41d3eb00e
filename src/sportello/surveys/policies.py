"""Each department's survey policy: read (`policy_for`, off when the department has none) and
changed by an admin (`survey_policy_save`, validated, with its history as snapshots of the
`survey_policies` kind keyed by the department's slug: `surveys.history`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction

from sportello.accounts.models import Department, Role, User
from sportello.core.errors import NotFound, PermissionDenied, ValidationFailed
from sportello.core.snapshots import recording

from .models import Scale, SurveyChannel, SurveyPolicy

KIND = "survey_policies"
DELAY_MAX = 60 * 24 * 30  # minutes: a month
REMINDER_MAX = 24 * 30  # hours
WINDOW_MAX = 365  # days


@dataclass(frozen=True, slots=True)
class PolicyIn:
    enabled: bool = False
    delay_minutes: int = 60
    channels: tuple[str, ...] = (SurveyChannel.EMAIL, SurveyChannel.PORTAL)
    scale: str = Scale.GOOD_BAD
    ask_ces: bool = False
    ask_nps: bool = False
    reminder_hours: int | None = None
    window_days: int = 14


def policy_definition(p: SurveyPolicy) -> dict[str, Any]:
    return {
        "enabled": p.enabled,
        "delay_minutes": p.delay_minutes,
        "channels": list(p.channels),
        "scale": p.scale,
        "ask_ces": p.ask_ces,
        "ask_nps": p.ask_nps,
        "reminder_hours": p.reminder_hours,
        "window_days": p.window_days,
    }


def policy_for(*, department_id: int) -> SurveyPolicy:
    """The department's policy; an unsaved one (off) when it has none."""
    found = SurveyPolicy.objects.filter(department_id=department_id).first()
    return found if found is not None else SurveyPolicy(department_id=department_id, channels=[])


def check_policy(data: PolicyIn) -> PolicyIn:
    def whole(value: Any, field: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValidationFailed(f"must be a whole number from {low} to {high}", field=field)
        return value

    whole(data.delay_minutes, "delay_minutes", 0, DELAY_MAX)
    whole(data.window_days, "window_days", 1, WINDOW_MAX)
    if data.reminder_hours is not None:
        whole(data.reminder_hours, "reminder_hours", 1, REMINDER_MAX)
        if data.reminder_hours >= data.window_days * 24:
            raise ValidationFailed(
                "the reminder must come before the answer window ends", field="reminder_hours"
            )
    if data.scale not in Scale.values:
        raise ValidationFailed("must be good_bad or five", field="scale")
    channels = tuple(dict.fromkeys(data.channels))
    if any(c not in SurveyChannel.values for c in channels):
        raise ValidationFailed("channels are email and portal", field="channels")
    if data.enabled and not channels:
        raise ValidationFailed("choose at least one channel", field="channels")
    return PolicyIn(**{**policy_fields(data), "channels": channels})


def policy_fields(data: PolicyIn) -> dict[str, Any]:
    return {name: getattr(data, name) for name in PolicyIn.__dataclass_fields__}


def survey_policy_save(*, actor: User, department_id: int, data: PolicyIn, now: datetime) -> SurveyPolicy:
    """Set a department's survey policy (admins only), recording its history."""
    if actor.role != Role.ADMIN:
        raise PermissionDenied("only admins change survey policies")
    department = Department.objects.filter(pk=department_id).first()
    if department is None:
        raise NotFound("department not found")
    data = check_policy(data)
    with transaction.atomic(), recording(KIND, department.slug, actor=actor, now=now):
        policy, _ = SurveyPolicy.objects.select_for_update().get_or_create(department=department)
        for name, value in policy_fields(data).items():
            setattr(policy, name, list(value) if name == "channels" else value)
        policy.updated_at = now
        policy.save()
    return policy

"""The history of the departments' survey policies (`core.snapshots`), keyed by the
department's slug, restored through `policies.survey_policy_save`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sportello.accounts.models import Department
from sportello.core.snapshots import Definition, SnapshotKind, register_snapshot_kind

from . import policies
from .models import SurveyPolicy


def _read(key: str) -> tuple[str, Definition] | None:
    found = SurveyPolicy.objects.select_related("department").filter(department__slug=key).first()
    return None if found is None else (found.department.name, policies.policy_definition(found))


def _lock(key: str) -> Department | None:
    return Department.objects.select_for_update().filter(slug=key).first()


def _apply(key: str, definition: Definition, actor: Any, now: datetime) -> None:
    department = Department.objects.get(slug=key)
    data = dict(definition)
    data["channels"] = tuple(data.get("channels") or ())
    policies.survey_policy_save(
        actor=actor, department_id=department.pk, data=policies.PolicyIn(**data), now=now
    )


def _existing() -> list[str]:
    return list(SurveyPolicy.objects.order_by("department__slug").values_list("department__slug", flat=True))


register_snapshot_kind(
    SnapshotKind(
        name=policies.KIND, label="survey policy", lock=_lock, read=_read, existing=_existing, apply=_apply
    )
)

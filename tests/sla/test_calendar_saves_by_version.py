"""Saving a calendar or an SLA policy with the version the editor loaded: another version
current means someone saved meanwhile — a Conflict `stale_version`, nothing written. Importing
public holidays may be limited to chosen dates."""

from __future__ import annotations

from typing import Any

import pytest

from sportello.core.errors import Conflict
from sportello.sla.calendars import calendar_definition, calendar_import_holidays, calendar_save
from sportello.sla.models import BusinessCalendar, SlaPolicy
from sportello.sla.services import policy_save

ROME = {"key": "rome", "name": "Rome", "time_zone": "Europe/Rome", "weekly": {"mon": [["09:00", "18:00"]]}}
POLICY = {"key": "std", "name": "Standard", "targets": {"first_response": {"normal": {"within": "4h"}}}}


def test_a_calendar_saved_at_the_current_version_is_written(desk: Any, now: Any) -> None:
    calendar_save(definition=ROME, actor=desk.admin, now=now, create=True)
    saved, written = calendar_save(
        definition={**ROME, "name": "Roma"}, actor=desk.admin, now=now, expected_version=1
    )
    assert (written, saved.version, saved.name) == (True, 2, "Roma")


def test_a_calendar_saved_from_an_older_version_is_refused(desk: Any, now: Any) -> None:
    calendar_save(definition=ROME, actor=desk.admin, now=now, create=True)
    calendar_save(definition={**ROME, "name": "Roma"}, actor=desk.admin, now=now)
    with pytest.raises(Conflict) as caught:
        calendar_save(definition={**ROME, "name": "Mine"}, actor=desk.admin, now=now, expected_version=1)
    assert caught.value.code == "stale_version"
    head = BusinessCalendar.objects.get(key="rome")
    assert (head.version, head.name) == (2, "Roma")


def test_a_policy_saved_from_an_older_version_is_refused(desk: Any, now: Any) -> None:
    policy_save(definition=POLICY, actor=desk.admin, now=now, create=True)
    policy_save(definition={**POLICY, "name": "Std"}, actor=desk.admin, now=now, expected_version=1)
    with pytest.raises(Conflict) as caught:
        policy_save(definition={**POLICY, "name": "Mine"}, actor=desk.admin, now=now, expected_version=1)
    assert caught.value.code == "stale_version"
    head = SlaPolicy.objects.get(key="std")
    assert (head.version, head.name) == (2, "Std")


def test_only_the_chosen_holidays_are_imported(desk: Any, now: Any) -> None:
    calendar_save(definition=ROME, actor=desk.admin, now=now, create=True)
    saved, added = calendar_import_holidays(
        key="rome", country="IT", years=[2026], dates=["2026-12-08", "2026-12-25", "2026-07-01"],
        actor=desk.admin, now=now, expected_version=1,
    )  # fmt: skip
    assert added == [
        {"date": "2026-12-08", "name": "Immacolata Concezione"},
        {"date": "2026-12-25", "name": "Natale"},
    ]
    assert [h["date"] for h in calendar_definition(saved)["holidays"]] == ["2026-12-08", "2026-12-25"]
    with pytest.raises(Conflict):
        calendar_import_holidays(
            key="rome", country="IT", years=[2026], actor=desk.admin, now=now, expected_version=1
        )
    assert BusinessCalendar.objects.get(key="rome").version == 2

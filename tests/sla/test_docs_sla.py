"""`docs/sla.md` is a fixture: its policy saves, and a ticket it matches gets its clocks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from sportello.contacts.services import contact_update
from sportello.core.actors import Actor, ActorKind, Via
from sportello.sla.models import SlaTimer, TicketSla
from sportello.sla.services import policy_save
from sportello.tickets import pipeline
from sportello.tickets.pipeline import NewMessage
from testing import NOW

DOC = Path(__file__).resolve().parents[2] / "docs" / "sla.md"
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_the_example_calendar_saves_and_counts_its_summer_hours(desk: Any) -> None:
    from datetime import UTC, datetime, timedelta

    from sportello.engine import calendars
    from sportello.sla.calendars import active_calendars, calendar_save

    block = next(b for b in BLOCKS if "time_zone" in b)
    calendar, written = calendar_save(definition=yaml.safe_load(block), actor=desk.admin, now=NOW)
    assert (calendar.key, written) == ("madrid", True)
    madrid = active_calendars().by_key["madrid"]
    monday_summer = datetime(2027, 7, 5, 6, 0, tzinfo=UTC)  # 08:00 in Madrid
    assert calendars.add(madrid, monday_summer, timedelta(hours=7)) == datetime(2027, 7, 5, 13, 0, tzinfo=UTC)
    christmas_eve = datetime(2026, 12, 24, 13, 30, tzinfo=UTC)  # 14:30 in Madrid: closed from 14:00
    assert not calendars.is_open(madrid, christmas_eve)


def test_the_example_policy_saves_and_measures_a_vip_ticket(desk: Any) -> None:
    block = next(b for b in BLOCKS if "targets" in b)
    policy, written = policy_save(definition=yaml.safe_load(block), actor=desk.admin, now=NOW)
    assert (policy.key, written) == ("vip", True)
    contact_update(contact=desk.alice, actor=desk.admin, organization=desk.acme)
    ticket = pipeline.ticket_create(
        actor=Actor(ActorKind.CONTACT, desk.alice.pk, "Alice"), via=Via.EMAIL, subject="Help",
        requester_id=desk.alice.pk, department_id=desk.books.pk, description=NewMessage(body="Please"),
        now=NOW,
    ).ticket  # fmt: skip
    assert TicketSla.objects.get(ticket=ticket).policy == policy
    keys = set(SlaTimer.objects.filter(ticket=ticket).values_list("key", flat=True))
    assert {"first_response:1:warning:0", "first_response:1:warning:1", "first_response:1:escalation:0",
            "first_response:1:breach:0", "resolution:1:breach:0"} <= keys  # fmt: skip

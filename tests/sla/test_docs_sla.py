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


def test_the_example_policy_saves_and_measures_a_vip_ticket(desk: Any) -> None:
    [block] = BLOCKS
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

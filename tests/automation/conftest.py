"""Fixtures of the automation tests: a small world (department, contacts, organizations, one
custom field of every type) and a ticket factory writing rows directly (valid rows, no pipeline:
these tests are about reading tickets, not changing them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from sportello.accounts.models import Department
    from sportello.contacts.models import Contact, Organization
    from sportello.tickets.models import Status

CUSTOM_FIELDS = (
    # key, type, options
    ("code", "text", ()),
    ("notes", "long_text", ()),
    ("qty", "number", ()),
    ("amount", "decimal", ()),
    ("due", "date", ()),
    ("seen", "datetime", ()),
    ("ok", "boolean", ()),
    ("pick", "picklist", ("a", "b", "c")),
    ("colors", "multi_select", ("red", "green", "blue")),
)
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@dataclass(eq=False)
class World:
    """The `world` fixture: a department, two organizations, three contacts, the statuses by key
    (and the custom fields of CUSTOM_FIELDS); `counter` numbers the tickets `make_ticket` makes."""

    dept: Department
    acme: Organization
    beta: Organization
    alice: Contact
    bob: Contact
    carla: Contact
    statuses: dict[str, Status]
    counter: int = 0


@pytest.fixture
def world(db: Any) -> World:
    from sportello.accounts.models import Department
    from sportello.contacts.models import Contact, Organization
    from sportello.tickets.models import CustomField, Status

    dept = Department.objects.create(name="Support", slug="support")
    acme = Organization.objects.create(name="Acme", tier="gold", vip=True)
    w = World(
        dept=dept,
        acme=acme,
        beta=Organization.objects.create(name="Beta", tier="standard", vip=False),
        alice=Contact.objects.create(
            email="alice@Acme.test", name="Alice Ärger", vip=True, organization=acme
        ),
        bob=Contact.objects.create(email="bob@Example.TEST", name="Bob", vip=False, language="es"),
        carla=Contact.objects.create(email="carla@sub.example.test", name="", vip=False, language="it"),
        statuses={s.key: s for s in Status.objects.all()},
    )
    for position, (key, type_, options) in enumerate(CUSTOM_FIELDS):
        CustomField.objects.create(
            key=key,
            label=key.title(),
            type=type_,
            options=[{"value": o, "label": o.upper()} for o in options],
            position=position,
        )
    CustomField.objects.create(key="retired", label="Retired", type="text", is_active=False, position=99)
    return w


@pytest.fixture
def make_ticket(world: Any) -> Callable[..., Any]:
    """`make_ticket(subject=..., status="open", priority=2, tags=[...], custom={...}, ...)`."""
    from sportello.tickets.models import Ticket, TicketTag

    def make(
        *,
        subject: str = "Hello",
        status: str = "open",
        priority: int = 2,
        channel: str = "web",
        requester: Any = None,
        organization: Any = None,
        tags: tuple[str, ...] | list[str] = (),
        custom: dict[str, Any] | None = None,
        created_at: datetime = T0,
        **extra: Any,
    ) -> Ticket:
        world.counter += 1
        status_row = world.statuses[status]
        ticket = Ticket.objects.create(
            number=world.counter,
            subject=subject,
            status=status_row,
            status_category=status_row.category,
            priority=priority,
            channel=channel,
            department=world.dept,
            requester=requester or world.alice,
            organization=organization,
            custom_fields=custom or {},
            created_at=created_at,
            updated_at=created_at,
            **extra,
        )
        TicketTag.objects.bulk_create([TicketTag(ticket=ticket, name=t) for t in sorted(set(tags))])
        return ticket

    return make

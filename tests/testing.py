"""Constants and helpers the tests import by name (fixtures live in conftest.py files)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sportello.accounts.models import Department, Team, User
    from sportello.contacts.models import Contact, Organization
    from sportello.tickets.models import TicketEvent

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)

# The roles every API operation is checked against.
ROLES = ("admin", "agent", "light", "outsider", "anonymous", "revoked")


def expect(**statuses: int) -> list[tuple[str, int]]:
    """`expect(admin=200, …)` as (role, status) pairs in ROLES order, for parametrize."""
    return [(role, statuses[role]) for role in ROLES]


def recorded(event: TicketEvent) -> dict[str, Any]:
    """What an audit event recorded as an object (its `new_value`: a merge's other ticket, an
    SLA event's metric, a blueprint's transition, …)."""
    assert isinstance(event.new_value, dict), event.new_value
    return event.new_value


class Clock:
    """A wall clock a test moves by hand (`clock.at += timedelta(...)`)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def hand_clock(monkeypatch: Any, at: datetime) -> Clock:
    """The edges' clock (`sportello.core.clock.now`) replaced, for the test, by a Clock at `at`."""
    from sportello.core import clock

    c = Clock(at)
    monkeypatch.setattr(clock, "now", c)
    return c


def missing_pages_ticket(desk: Any) -> Any:
    """ "Missing pages": Alice's ticket in Books, opened by the agent through the API at NOW."""
    from sportello.core.actors import Via
    from sportello.tickets import services

    return services.ticket_open(
        principal=desk.agent,
        via=Via.API,
        data={
            "subject": "Missing pages",
            "description": "Pages 30 to 40 are blank.",
            "department_id": desk.books.pk,
            "requester_id": desk.alice.pk,
        },
        now=NOW,
    ).ticket


@dataclass(eq=False)
class Desk:
    """The small desk of the `desk` fixture."""

    books: Department
    electronics: Department
    admin: User
    agent: User  # of Books, in the team Novels
    light: User  # a light agent of Books
    outsider: User  # an agent of Electronics
    team: Team
    acme: Organization
    alice: Contact
    bob: Contact


def build_desk() -> Desk:
    """The small desk of the `desk` fixture, built through the services."""
    from sportello.accounts.models import Role
    from sportello.accounts.services import agent_create, department_create, team_create
    from sportello.contacts.services import contact_create, organization_create

    # Created in this order (their ids follow it).
    books = department_create(name="Books")
    electronics = department_create(name="Electronics")
    admin = agent_create(email="admin@desk.test", name="Ada Admin", role=Role.ADMIN, password="pw-admin-123")
    agent = agent_create(email="bruno@desk.test", name="Bruno Books", role=Role.AGENT, departments=[books])
    light = agent_create(email="lia@desk.test", name="Lia Light", role=Role.LIGHT_AGENT, departments=[books])
    outsider = agent_create(
        email="eva@desk.test", name="Eva Electronics", role=Role.AGENT, departments=[electronics]
    )
    team = team_create(name="Novels", department=books, members=[agent])
    acme = organization_create(name="Acme", domains=["acme.test"], tier="gold", vip=True)
    alice = contact_create(email="Alice@Acme.test", name="Alice Acme")
    bob = contact_create(email="bob@example.test", name="Bob Example")
    return Desk(
        books=books,
        electronics=electronics,
        admin=admin,
        agent=agent,
        light=light,
        outsider=outsider,
        team=team,
        acme=acme,
        alice=alice,
        bob=bob,
    )


@contextmanager
def built_once[T](django_db_blocker: Any, *, files: Path, build: Callable[[], T]) -> Iterator[T]:
    """Data a whole test module shares, built once (for a module-scoped fixture): `build` runs
    inside a transaction that stays open until the module ends and is then rolled back. Each test
    runs in a savepoint of it (the `db` fixture), rolled back after the test, so every test meets
    the data exactly as built. Attachments go to `files`; passwords use a fast hasher."""
    from django.conf import settings
    from django.db import transaction
    from django.test import override_settings

    storage = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(files)}}
    override = override_settings(
        STORAGES={**settings.STORAGES, "attachments": storage},
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    )
    override.enable()
    block = transaction.atomic()
    try:
        with django_db_blocker.unblock():
            block.__enter__()
        try:
            with django_db_blocker.unblock():
                built = build()
            yield built
        finally:
            with django_db_blocker.unblock():
                transaction.set_rollback(True)
                block.__exit__(None, None, None)
    finally:
        override.disable()


def portal_on(admin: Any, *, name: str, now: datetime) -> Any:
    """Turn the customer portal on, as the Console's page does (`portal_settings_update`), with
    the desk's `name`, the default colour and English as the default language."""
    from sportello.portal import services

    row = services.portal_settings_get()
    return services.portal_settings_update(
        actor=admin, version=row.version, enabled=True, name=name, colour="#1f5f99",
        default_language="en", now=now,
    )  # fmt: skip

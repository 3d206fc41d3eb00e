"""Fixtures of the notification tests: tickets opened through the pipeline, a Spanish contact,
a desk with a customer portal."""

from __future__ import annotations

from typing import Any

import pytest

from sportello.core.actors import Actor, ActorKind, Via
from sportello.tickets import pipeline
from sportello.tickets.pipeline import NewMessage
from testing import NOW


@pytest.fixture(autouse=True)
def _portal(settings: Any) -> None:
    """A desk with a customer portal: the templates' links to it are rendered (without one,
    they are left out: see test_rendering.py)."""
    settings.SPORTELLO = {**settings.SPORTELLO, "PORTAL_URL": "http://127.0.0.1:8000/portal/"}


@pytest.fixture
def carmen(desk: Any) -> Any:
    """A Spanish-speaking customer in Madrid."""
    from sportello.contacts.services import contact_create

    return contact_create(
        email="carmen@cliente.test", name="Carmen Ruiz", language="es", time_zone="Europe/Madrid"
    )


@pytest.fixture
def open_ticket(desk: Any) -> Any:
    """`open_ticket(contact, subject=..., body=..., department=..., custom_fields=..., now=...)`:
    a ticket opened by the contact by e-mail (the pipeline's outcome)."""

    def make(contact: Any, *, subject: str = "Parcel lost", body: str = "Where is it?",
             department: Any = None, now: Any = NOW, **kw: Any) -> Any:  # fmt: skip
        return pipeline.ticket_create(
            actor=Actor(ActorKind.CONTACT, contact.pk, contact.name),
            via=Via.EMAIL,
            subject=subject,
            requester_id=contact.pk,
            department_id=(department or desk.books).pk,
            description=NewMessage(body=body),
            now=now,
            **kw,
        )

    return make

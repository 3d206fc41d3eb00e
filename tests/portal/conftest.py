"""Fixtures of the portal's tests: the portal switched on, attachments in the test's directory,
and a Django test client signed in as a contact (through a real sign-in link)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from sportello.core import clock
from testing import NOW
from testing import portal_on as turn_portal_on


@pytest.fixture
def portal_on(desk: Any) -> Any:
    return turn_portal_on(desk.admin, name="Libreria Sole", now=NOW)


@pytest.fixture
def customer(db: Any) -> Callable[[Any], Client]:
    """`customer(contact)`: a client signed in as the contact by a sign-in link."""
    from sportello.portal import services

    def make(contact: Any) -> Client:
        client = Client()
        link = services.signin_link_request(email=contact.email, address="10.0.0.9", now=clock.now())
        assert link is not None
        token = link.token  # type: ignore[attr-defined]
        response = client.post(f"/portal/sign-in/{token}/")
        assert response.status_code == 302, response.status_code
        return client

    return make

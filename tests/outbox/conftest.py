"""Fixtures of the outbox tests: a webhook receiver and an SMTP server on loopback that the outbox
may deliver to, and a ticket the agent opened through the API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hook_server import Hook, running_hook

from smtp_sink import Sink, mailers_for, running_sink
from testing import missing_pages_ticket


@pytest.fixture
def hook(settings: Any) -> Iterator[Hook]:
    with running_hook() as state:
        settings.SPORTELLO = {
            **settings.SPORTELLO,
            "WEBHOOK_ALLOW": ["127.0.0.1"],
            "WEBHOOK_TOTAL_TIMEOUT": 3.0,
        }
        yield state


@pytest.fixture
def sink(settings: Any) -> Iterator[Sink]:
    """A real SMTP server on 127.0.0.1, with Django's default mailer pointed at it."""
    with running_sink() as s:
        settings.MAILERS = mailers_for(s.port)
        yield s


@pytest.fixture
def ticket(desk: Any) -> Any:
    return missing_pages_ticket(desk)

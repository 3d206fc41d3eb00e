"""Fixtures of the outbox tests: a webhook receiver on loopback that the outbox may deliver to
(the SMTP sink is a fixture of tests/conftest.py), and a ticket the agent opened through the
API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from outbox.hook_server import Hook, running_hook
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
def ticket(desk: Any) -> Any:
    return missing_pages_ticket(desk)

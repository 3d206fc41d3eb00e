"""`sportello demo` on a desk already in use (the demo desk itself: tests/test_demo.py)."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError


def test_demo_refuses_a_desk_that_has_data(db: Any) -> None:
    from sportello.accounts.services import department_create
    from sportello.tickets.models import Ticket

    # given a desk that is in use
    department_create(name="Sales")
    # when the demo is asked for, then it refuses and writes nothing
    with pytest.raises(CommandError, match="empty desk"):
        call_command("demo", tickets=5, stdout=StringIO(), stderr=StringIO())
    assert not Ticket.objects.exists()

"""Surveys' fixtures: a department whose policy is on, a ticket solved by the Books agent."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from sportello.surveys.models import Survey
from survey_helpers import fire, move, set_policy


@pytest.fixture
def policy(desk: Any, now: datetime) -> Any:
    return set_policy(desk, now)


@pytest.fixture
def solved(desk: Any, now: datetime, policy: Any, open_ticket: Any) -> Any:
    """A Books ticket of Alice's, assigned to Bruno in the team Novels, solved at `now`."""
    ticket = open_ticket("Lost parcel", by=desk.agent, assignee_id=desk.agent.pk, team_id=desk.team.pk)
    return move(desk, ticket, "solved", now)


@pytest.fixture
def offered(solved: Any, now: datetime) -> Survey:
    """The survey of `solved`, sent an hour after the solve."""
    assert fire(now + timedelta(minutes=60)) == ["sent"]
    return Survey.objects.get(ticket=solved)

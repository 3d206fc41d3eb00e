"""The tier panel: where the ticket stands on its department's tier path, and escalation with a
required reason (to the next tier, or a chosen one above)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from testing import recorded
from workflow_setup import customer_ticket, tier_path

HX = {"HX-Request": "true"}


@pytest.fixture
def teams(desk: Any, now: datetime) -> dict[str, Any]:
    return tier_path(desk, now)


@pytest.fixture
def ticket(desk: Any, now: datetime, teams: Any) -> Any:
    return customer_ticket(desk, now)


def text(response: Any) -> str:
    return response.content.decode().replace("\xa0", " ")


def test_the_panel_shows_the_path_and_offers_the_tiers_above(desk: Any, browser: Any, ticket: Any) -> None:
    html = text(browser(desk.agent).get(f"/tickets/{ticket.pk}/"))
    assert 'Current tier: <strong class="badge tier-badge"><bdi>Tier 1</bdi>' in html
    assert '<li class="tier-current" aria-current="step"><bdi>Tier 1</bdi>' in html
    assert "Escalate to Tier 2" in html
    assert '<option value="t2">Tier 2</option>' in html
    assert '<option value="t3">Engineering</option>' in html


def test_an_agent_escalates_with_a_reason(desk: Any, browser: Any, ticket: Any, teams: Any) -> None:
    from sportello.tickets.models import TicketEvent

    r = browser(desk.agent).post(
        f"/tickets/{ticket.pk}/escalate/", {"reason": "Needs the warehouse records", "to": "t2"}, headers=HX
    )
    assert r.status_code == 200
    ticket.refresh_from_db()
    assert (ticket.team_id, ticket.assignee_id) == (teams["t2"].pk, None)
    event = TicketEvent.objects.get(ticket=ticket, kind="tier", field="escalated")
    assert (event.via, event.actor_id, recorded(event)["reason"]) == (
        "web",
        desk.agent.pk,
        "Needs the warehouse records",
    )
    assert 'Current tier: <strong class="badge tier-badge"><bdi>Tier 2</bdi>' in text(r)
    assert "Escalate to Engineering" in text(r)


def test_an_agent_may_skip_to_a_tier_further_up(desk: Any, browser: Any, ticket: Any) -> None:
    r = browser(desk.admin).post(
        f"/tickets/{ticket.pk}/escalate/", {"reason": "A bug in the e-book", "to": "t3"}, headers=HX
    )
    assert r.status_code == 200
    ticket.refresh_from_db()
    assert ticket.department_id == desk.electronics.pk
    assert "This is the last tier." in text(r)


def test_a_reason_is_required(desk: Any, browser: Any, ticket: Any) -> None:
    r = browser(desk.agent).post(f"/tickets/{ticket.pk}/escalate/", {"reason": " ", "to": "t2"}, headers=HX)
    assert r.status_code == 422
    assert r.headers["HX-Retarget"] == "#tier-panel"
    assert "This field is required." in text(r)
    ticket.refresh_from_db()
    assert ticket.team_id == desk.team.pk


def test_at_the_last_tier_the_refusal_is_in_words(desk: Any, browser: Any, ticket: Any) -> None:
    admin = browser(desk.admin)
    admin.post(f"/tickets/{ticket.pk}/escalate/", {"reason": "Up", "to": "t3"}, headers=HX)
    r = admin.post(f"/tickets/{ticket.pk}/escalate/", {"reason": "More"}, headers=HX)
    assert r.status_code == 409
    assert "The ticket is already at the last tier." in text(r)


def test_light_agents_cannot_escalate(desk: Any, browser: Any, ticket: Any) -> None:
    light = browser(desk.light)
    html = text(light.get(f"/tickets/{ticket.pk}/"))
    assert "Current tier" in html
    assert "Escalate to" not in html
    r = light.post(f"/tickets/{ticket.pk}/escalate/", {"reason": "Please", "to": "t2"}, headers=HX)
    assert r.status_code == 403
    ticket.refresh_from_db()
    assert ticket.team_id == desk.team.pk


def test_outsiders_and_anonymous_visitors_cannot_escalate(
    desk: Any, browser: Any, ticket: Any, client: Any
) -> None:
    assert browser(desk.outsider).post(f"/tickets/{ticket.pk}/escalate/", {"reason": "x"}).status_code == 404
    r = client.post(f"/tickets/{ticket.pk}/escalate/", {"reason": "x"})
    assert r.status_code == 302
    ticket.refresh_from_db()
    assert ticket.team_id == desk.team.pk


def test_no_panel_without_a_tier_path(desk: Any, browser: Any, now: datetime) -> None:
    ticket = customer_ticket(desk, now)
    assert 'id="tier-panel"' not in text(browser(desk.agent).get(f"/tickets/{ticket.pk}/"))

"""Tiered support: a department's tiers as data, escalation by an agent with a reason or by the
SLA at a breach, recorded on the ticket, and SLA reports per tier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sportello.accounts.services import team_create
from sportello.core import clock
from sportello.core.actors import Actor, ActorKind, Via
from sportello.sla import timers
from sportello.sla.models import SlaRecord
from sportello.sla.services import policy_save
from sportello.tickets import pipeline
from sportello.tickets.audit import expand
from sportello.tickets.models import Ticket, TicketEvent
from sportello.tickets.pipeline import NewMessage
from testing import recorded

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "now", lambda: NOW)


@pytest.fixture
def path(desk: Any, api: Any) -> dict[str, Any]:
    t2 = team_create(name="Second line", department=desk.books)
    t3 = team_create(name="Engineering", department=desk.electronics)
    body = {"name": "Books support", "department": desk.books.pk, "tiers": [
        {"key": "t1", "name": "Tier 1", "team": desk.team.pk},
        {"key": "t2", "name": "Tier 2", "team": t2.pk},
        {"key": "t3", "name": "Engineering", "team": t3.pk, "department": desk.electronics.pk}]}  # fmt: skip
    r = api(desk.admin).put("/tier-paths/books", body)
    assert r.status_code == 200, r.content
    return {"t2": t2, "t3": t3}


def open_ticket(desk: Any, at: datetime = NOW) -> Ticket:
    return pipeline.ticket_create(
        actor=Actor(ActorKind.CONTACT, desk.alice.pk, "Alice"), via=Via.EMAIL, subject="Wrong edition",
        requester_id=desk.alice.pk, department_id=desk.books.pk, description=NewMessage(body="x"), now=at,
        fields={"assignee": desk.agent.pk},
    ).ticket  # fmt: skip


def test_an_agent_escalates_tier_by_tier_with_a_reason_until_the_last(desk: Any, api: Any, path: Any) -> None:
    ticket = open_ticket(desk)
    agent = api(desk.agent)
    assert agent.get(f"/tickets/{ticket.pk}/tier").json() == {
        "path": "books", "tier": "t1", "tier_name": "Tier 1", "next_tier": "t2", "team_id": desk.team.pk,
        "department_id": desk.books.pk}  # fmt: skip
    r = agent.post(f"/tickets/{ticket.pk}/escalate", {"reason": "Needs the warehouse records"})
    assert r.status_code == 200, r.content
    assert (r.json()["tier"], r.json()["team_id"]) == ("t2", path["t2"].pk)
    ticket.refresh_from_db()
    assert (ticket.team_id, ticket.assignee_id) == (path["t2"].pk, None)
    [event] = TicketEvent.objects.filter(ticket=ticket, kind="tier", field="escalated")
    assert (event.field, event.actor_id, event.new_value) == ("escalated", desk.agent.pk, {
        "path": "books", "from": "t1", "to": "t2", "reason": "Needs the warehouse records"})  # fmt: skip
    team_event = TicketEvent.objects.get(ticket=ticket, kind="field", field="team", cause="tier escalation")
    assert (team_event.actor_id, team_event.old_value, team_event.new_value) == (
        desk.agent.pk,
        desk.team.pk,
        path["t2"].pk,
    )
    # to engineering, in another department: the ticket moves there
    r = api(desk.admin).post(f"/tickets/{ticket.pk}/escalate", {"reason": "A bug in the e-book"})
    assert (r.json()["tier"], r.json()["department_id"], r.json()["next_tier"]) == (
        "t3",
        desk.electronics.pk,
        None,
    )
    # the last tier: nothing above it
    r = api(desk.admin).post(f"/tickets/{ticket.pk}/escalate", {"reason": "More"})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "last_tier")
    # a reason is required; light agents do not escalate
    other = open_ticket(desk)
    assert agent.post(f"/tickets/{other.pk}/escalate", {"reason": "  "}).status_code == 422
    assert api(desk.light).post(f"/tickets/{other.pk}/escalate", {"reason": "x"}).status_code == 403


def test_a_tier_path_is_refused_with_the_field_when_a_team_is_of_another_department(
    desk: Any, api: Any
) -> None:
    t3 = team_create(name="Engineering", department=desk.electronics)
    body = {"name": "Bad", "department": desk.books.pk,
            "tiers": [{"key": "t1", "name": "T1", "team": desk.team.pk},
                      {"key": "t2", "name": "T2", "team": t3.pk}]}  # fmt: skip
    r = api(desk.admin).put("/tier-paths/bad", body)
    assert (r.status_code, r.json()["error"]["field"]) == (422, "tiers[1].team")
    assert api(desk.agent).put("/tier-paths/bad", body).status_code == 403


def test_the_sla_escalates_a_tier_at_the_breach_and_reports_group_by_tier(
    desk: Any, api: Any, path: Any
) -> None:
    policy_save(actor=desk.admin, now=NOW, definition={
        "key": "std", "name": "Standard", "when": {"all": []},
        "targets": {"first_response": {"normal": {"within": "1h"}}},
        "escalations": [{"after_breach": "0m", "metrics": ["first_response"],
                         "actions": [{"escalate_tier": {
                             "reason": "First response breached on #{{ ticket.number }}"}}]}]})  # fmt: skip
    late = open_ticket(desk)
    on_time = open_ticket(desk)
    pipeline.ticket_apply(ticket_id=on_time.pk, now=NOW + timedelta(minutes=10), mutation=pipeline.Mutation(
        actor=Actor(ActorKind.AGENT, desk.agent.pk, "Bruno"), via=Via.API,
        message=NewMessage(body="On it")))  # fmt: skip
    timers.sla_fire_due(now=NOW + timedelta(hours=1, minutes=2))
    late.refresh_from_db()
    assert late.team_id == path["t2"].pk
    event = TicketEvent.objects.get(ticket=late, kind="tier", field="escalated")
    assert (event.actor_kind, recorded(event)["reason"]) == (
        "sla",
        f"First response breached on #{late.number}",
    )
    # the second line answers: the record says tier 2
    pipeline.ticket_apply(ticket_id=late.pk, now=NOW + timedelta(hours=2), mutation=pipeline.Mutation(
        actor=Actor(ActorKind.AGENT, desk.admin.pk, "Ada"), via=Via.API,
        message=NewMessage(body="Sorry")))  # fmt: skip
    assert dict(SlaRecord.objects.filter(metric="first_response").values_list("ticket_id", "tier")) == {
        on_time.pk: "t1", late.pk: "t2"}  # fmt: skip
    period = {"from": "2026-12-01T00:00:00Z", "to": "2026-12-02T00:00:00Z", "metric": "first_response",
              "group_by": "tier"}  # fmt: skip
    rows = api(desk.admin).get("/metrics/sla", period).json()["items"]
    assert [(r["group"], r["finished"], r["breached"]) for r in rows] == [
        ({"tier": "t1"}, 1, 0),
        ({"tier": "t2"}, 1, 1),
    ]


def _team_events(ticket_id: int) -> list[tuple[Any, ...]]:
    """The team's changes in the trail, the ticket's opening read as its per-field events."""
    events = expand(TicketEvent.objects.filter(ticket_id=ticket_id).order_by("id"))
    teams = [e for e in events if (e.kind, e.field) == ("field", "team")]
    return [(e.old_value, e.new_value, e.actor_kind, e.cause) for e in teams]


def test_a_new_ticket_on_a_tier_path_is_in_its_first_tiers_team(desk: Any, api: Any, path: Any) -> None:
    # Given the Books tier path (Tier 1 is the Novels team)
    agent = api(desk.agent)
    # When a ticket is opened in Books through the API
    r = agent.post("/tickets", {"subject": "Wrong edition", "department_id": desk.books.pk,
                                "requester_id": desk.alice.pk, "description": "x"})  # fmt: skip
    assert r.status_code == 201, r.content
    ticket_id = r.json()["id"]
    # Then it is at tier 1 and in tier 1's team, set by the tier path and recorded as such
    assert r.json()["team_id"] == desk.team.pk
    assert agent.get(f"/tickets/{ticket_id}/tier").json() == {
        "path": "books", "tier": "t1", "tier_name": "Tier 1", "next_tier": "t2", "team_id": desk.team.pk,
        "department_id": desk.books.pk}  # fmt: skip
    assert _team_events(ticket_id) == [(None, desk.team.pk, "system", "tier:books:entered")]
    entered = TicketEvent.objects.get(ticket_id=ticket_id, kind="tier")
    assert (entered.field, entered.new_value) == (
        "entered",
        {"path": "books", "tier": "t1", "team": desk.team.pk},
    )
    # and the Tier 1 team's queue lists it
    listed = agent.get("/tickets", {"team_id": desk.team.pk}).json()["items"]
    assert [t["id"] for t in listed] == [ticket_id]


def test_a_ticket_opened_with_a_team_keeps_it_on_entering_the_path(desk: Any, api: Any, path: Any) -> None:
    body = {"subject": "Bulk order", "department_id": desk.books.pk, "requester_id": desk.alice.pk,
            "team_id": path["t2"].pk, "description": "x"}  # fmt: skip
    r = api(desk.admin).post("/tickets", body)
    assert r.status_code == 201, r.content
    assert r.json()["team_id"] == path["t2"].pk
    assert _team_events(r.json()["id"]) == [(None, path["t2"].pk, "agent", "")]
    # (the agent's team is the opening's initial value, no event of its own)
    opening = TicketEvent.objects.get(ticket_id=r.json()["id"], kind="created")
    assert recorded(opening)["values"]["team"] == path["t2"].pk
    assert not TicketEvent.objects.filter(ticket_id=r.json()["id"], kind="field", field="team").exists()
    entered = TicketEvent.objects.get(ticket_id=r.json()["id"], kind="tier")
    assert entered.new_value == {"path": "books", "tier": "t1", "team": path["t2"].pk}


def test_a_ticket_moved_into_a_department_with_a_tier_path_joins_its_first_tier(
    desk: Any, api: Any, path: Any
) -> None:
    # Given a ticket of Electronics (no tier path), in no team
    admin = api(desk.admin)
    r = admin.post("/tickets", {"subject": "Which charger?", "department_id": desk.electronics.pk,
                                "requester_id": desk.bob.pk, "description": "x"})  # fmt: skip
    assert r.status_code == 201, r.content
    ticket = r.json()
    assert ticket["team_id"] is None
    assert not TicketEvent.objects.filter(ticket_id=ticket["id"], kind="tier").exists()
    # When it is moved to Books
    moved = {"version": ticket["version"], "department_id": desk.books.pk}
    r = admin.patch(f"/tickets/{ticket['id']}", moved)
    assert r.status_code == 200, r.content
    # Then it is in tier 1's team
    assert r.json()["team_id"] == desk.team.pk
    assert _team_events(ticket["id"]) == [(None, desk.team.pk, "system", "tier:books:entered")]
    assert api(desk.agent).get(f"/tickets/{ticket['id']}/tier").json()["tier"] == "t1"

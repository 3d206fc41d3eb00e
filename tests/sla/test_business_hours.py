"""Business calendars through the API, business-time SLA targets, and the rules' `in business
hours`: the VIP who writes at night goes to the on-call team at once and escalates in time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sportello.accounts.services import agent_create, team_create
from sportello.automation.models import RuleKind
from sportello.automation.services import rule_save
from sportello.contacts.services import contact_update
from sportello.core import clock
from sportello.core.actors import Actor, ActorKind, Via
from sportello.outbox.models import OutboxMessage
from sportello.sla import timers
from sportello.sla.calendars import calendar_save
from sportello.sla.services import policy_save
from sportello.tickets import pipeline
from sportello.tickets.models import Ticket, TicketEvent
from sportello.tickets.pipeline import NewMessage
from testing import recorded

FRIDAY_EVENING = datetime(2026, 12, 4, 17, 30, tzinfo=UTC)  # 18:30 in Madrid
MADRID = {
    "key": "madrid",
    "name": "Madrid office",
    "time_zone": "Europe/Madrid",
    "weekly": {d: [["09:00", "14:00"], ["15:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": [{"date": "2026-12-08", "name": "Inmaculada Concepción"}],
}


@pytest.fixture(autouse=True)
def _clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "now", lambda: FRIDAY_EVENING)


def open_ticket(desk: Any, at: datetime) -> Ticket:
    return pipeline.ticket_create(
        actor=Actor(ActorKind.CONTACT, desk.alice.pk, "Alice"), via=Via.EMAIL, subject="The server is down",
        requester_id=desk.alice.pk, department_id=desk.books.pk, description=NewMessage(body="Help"), now=at,
    ).ticket  # fmt: skip


def test_calendars_are_written_by_admins_with_departments_and_refused_with_the_path(
    desk: Any, api: Any
) -> None:
    admin = api(desk.admin)
    r = admin.post("/calendars", {**MADRID, "departments": [desk.books.pk], "is_default": True})
    assert r.status_code == 201, r.content
    assert (r.json()["departments"], r.json()["is_default"], r.json()["version"]) == (
        [desk.books.pk],
        True,
        1,
    )
    assert api(desk.agent).post("/calendars", {**MADRID, "key": "x"}).status_code == 403
    assert api(desk.light).get("/calendars").status_code == 403
    bad = {**MADRID, "weekly": {"mon": [["09:00", "25:00"]]}}
    r = admin.put("/calendars/madrid", bad)
    assert (r.status_code, r.json()["error"]["field"]) == (422, "weekly.mon[0][1]")
    r = admin.put("/calendars/madrid", {**MADRID, "time_zone": "Mars/Olympus"})
    assert r.json()["error"]["field"] == "time_zone"
    # national holidays from the holidays data: Spain and Madrid's own, added once
    r = admin.post("/calendars/madrid/holidays", {"country": "ES", "subdivision": "MD", "years": [2027]})
    assert r.status_code == 200, r.content
    added = {h["date"] for h in r.json()["added"]}
    assert {"2027-01-01", "2027-05-03", "2027-12-08"} <= added  # 3 May: Madrid's own (2 May is a Sunday)
    assert r.json()["calendar"]["version"] == 2
    again = admin.post("/calendars/madrid/holidays", {"country": "ES", "subdivision": "MD", "years": [2027]})
    assert (again.json()["added"], again.json()["calendar"]["version"]) == ([], 2)
    r = admin.post("/calendars/madrid/holidays", {"country": "XX", "years": [2027]})
    assert (r.status_code, r.json()["error"]["field"]) == (422, "country")
    # a calendar an SLA policy counts in cannot go
    policy_save(definition={"key": "p", "name": "P", "calendar": "madrid", "when": {"all": []},
                            "targets": {"first_response": {"normal": {"within": "4h", "business": True}}}},
                actor=desk.admin, now=FRIDAY_EVENING)  # fmt: skip
    r = admin.delete("/calendars/madrid")
    assert (r.status_code, r.json()["error"]["code"]) == (409, "calendar_in_use")


def test_a_business_time_target_skips_the_night_the_weekend_and_the_holiday(desk: Any, api: Any) -> None:
    calendar_save(definition=MADRID, departments=[desk.books.pk], actor=desk.admin, now=FRIDAY_EVENING)
    policy_save(definition={"key": "std", "name": "Standard", "calendar": "madrid", "when": {"all": []},
                            "targets": {"first_response": {"normal": {"within": "2h", "business": True}},
                                        "resolution": {"normal": {"within": "1d"}}}},
                actor=desk.admin, now=FRIDAY_EVENING)  # fmt: skip
    ticket = open_ticket(desk, FRIDAY_EVENING)
    clocks = {c["metric"]: c for c in api(desk.agent).get(f"/tickets/{ticket.pk}/sla").json()["clocks"]}
    # Friday 18:30 Madrid is closed; Monday 7 December opens at 09:00: due at 11:00 Madrid
    assert clocks["first_response"]["due_at"] == "2026-12-07T10:00:00Z"
    assert clocks["first_response"]["business"] is True
    assert clocks["resolution"]["due_at"] == "2026-12-05T17:30:00Z"  # calendar time
    # when the ticket waits over the holiday (Tuesday 8), it comes back on Wednesday's hours
    pipeline.ticket_apply(ticket_id=ticket.pk, mutation=pipeline.Mutation(
        actor=Actor(ActorKind.AGENT, desk.agent.pk, "Bruno"), via=Via.API, fields={"priority": "normal"}),
        now=datetime(2026, 12, 7, 9, 30, tzinfo=UTC))  # fmt: skip
    assert (
        api(desk.agent).get(f"/tickets/{ticket.pk}/sla").json()["clocks"][1]["due_at"]
        == "2026-12-07T10:00:00Z"
    )


def test_a_vip_writing_at_night_reaches_the_on_call_engineer_at_once_and_escalates_in_time(
    desk: Any, api: Any
) -> None:
    # given business hours for Books, an on-call team, and Acme as a VIP organization
    calendar_save(definition=MADRID, departments=[desk.books.pk], actor=desk.admin, now=FRIDAY_EVENING)
    engineer = agent_create(email="oncall@desk.test", name="Olga On-call", departments=[desk.books])
    oncall = team_create(name="On call", department=desk.books, members=[engineer])
    contact_update(contact=desk.alice, actor=desk.admin, organization=desk.acme)
    # a rule: a VIP outside business hours goes to the on-call team, whose engineer is e-mailed
    rule_save(kind=RuleKind.EVENT, created_by=desk.admin, now=FRIDAY_EVENING, definition={
        "key": "vip-after-hours", "name": "VIP after hours", "on": ["ticket.created"],
        "when": {"all": [{"field": "organization.vip", "op": "is", "value": True},
                         {"field": "clock.in_business_hours", "op": "is", "value": False}]},
        "actions": [{"assign": {"team": oncall.pk}}, {"assign": {"agent": engineer.pk}},
                    {"notify": {"to": ["assignee"], "subject": "VIP after hours: #{{ ticket.number }}",
                                "body": "{{ requester.name }} needs you now."}}]})  # fmt: skip
    # and a VIP SLA in calendar time (VIPs are answered day and night) escalating at the breach
    policy_save(actor=desk.admin, now=FRIDAY_EVENING, definition={
        "key": "vip", "name": "VIP", "when": {"field": "organization.vip", "op": "is", "value": True},
        "targets": {"first_response": {"normal": {"within": "30m"}}},
        "escalations": [{"after_breach": "0m", "actions": [
            {"set": {"field": "ticket.priority", "value": "urgent"}},
            {"notify": {"to": ["address:duty-manager@desk.test"],
                        "subject": "VIP unanswered: #{{ ticket.number }}",
                        "body": "Nobody answered in 30 minutes."}}]}]})  # fmt: skip
    # when Alice writes at 18:30 on a Friday (Madrid)
    ticket = open_ticket(desk, FRIDAY_EVENING)
    # then it is the on-call engineer's, and the e-mail is in the outbox at once
    assert (ticket.team_id, ticket.assignee_id) == (oncall.pk, engineer.pk)
    [mail] = OutboxMessage.objects.filter(ticket=ticket, payload__to=[engineer.email])
    assert mail.payload["subject"] == f"VIP after hours: #{ticket.number}"
    # and if nobody answers in 30 minutes it escalates, stamped at the breach instant
    assert timers.sla_fire_due(now=FRIDAY_EVENING + timedelta(minutes=29)) == []
    fired = timers.sla_fire_due(now=FRIDAY_EVENING + timedelta(minutes=31))
    assert [f.outcome for f in fired] == ["applied", "applied"]
    ticket.refresh_from_db()
    assert ticket.priority == 4
    breach = TicketEvent.objects.get(ticket=ticket, kind="sla", field="breached")
    assert recorded(breach)["at"] == "2026-12-04T18:00:00Z"
    assert OutboxMessage.objects.filter(ticket=ticket, payload__to=["duty-manager@desk.test"]).count() == 1
    # the same ticket in business hours would not have gone to the on-call team
    monday = open_ticket(desk, datetime(2026, 12, 7, 9, 0, tzinfo=UTC))  # 10:00 Madrid
    assert monday.team_id is None

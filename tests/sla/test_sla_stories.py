"""SLA policies and clocks through the pipeline, the API and the worker's timers: targets,
pauses, warnings, breaches stamped at their true instant, escalations once per clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sportello.core import clock
from sportello.core.actors import Actor, ActorKind, Via
from sportello.outbox.models import OutboxMessage
from sportello.sla import timers
from sportello.sla.models import SlaFiring, SlaTimer, TicketSla
from sportello.sla.services import policy_save
from sportello.tickets import pipeline
from sportello.tickets.models import Ticket, TicketEvent
from sportello.tickets.pipeline import Mutation, NewMessage
from testing import recorded

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

VIP: dict[str, Any] = {
    "key": "vip",
    "name": "VIP customers",
    "position": 10,
    "when": {"field": "organization.vip", "op": "is", "value": True},
    "targets": {
        "first_response": {"normal": {"within": "1h"}, "high": {"within": "30m"},
                           "urgent": {"within": "20m"}},
        "resolution": {"normal": {"within": "1d"}, "high": {"within": "8h"}, "urgent": {"within": "4h"}},
    },
    "warnings": [{"at_percent": 80, "metrics": ["first_response"]}],
    "escalations": [
        {"after_breach": "0m", "metrics": ["first_response"],
         "actions": [{"set": {"field": "ticket.priority", "value": "urgent"}},
                     {"notify": {"to": ["address:oncall@desk.test"],
                                 "subject": "Breach on #{{ ticket.number }}",
                                 "body": "Nobody answered {{ requester.name }}"}}]},
    ],
}  # fmt: skip
STANDARD = {
    "key": "standard",
    "name": "Everyone else",
    "position": 100,
    "when": {"all": []},
    "targets": {"first_response": {"normal": {"within": "8h"}, "urgent": {"within": "2h"}}},
}


@pytest.fixture(autouse=True)
def _clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "now", lambda: NOW)


@pytest.fixture
def policies(desk: Any) -> None:
    from sportello.contacts.services import contact_update

    contact_update(contact=desk.alice, actor=desk.admin, organization=desk.acme)  # Acme is VIP
    policy_save(definition=VIP, actor=desk.admin, now=NOW)
    policy_save(definition=STANDARD, actor=desk.admin, now=NOW)


def open_ticket(desk: Any, contact: Any, at: datetime = NOW) -> Ticket:
    return pipeline.ticket_create(
        actor=Actor(ActorKind.CONTACT, contact.pk, contact.name),
        via=Via.EMAIL,
        subject="The parcel never came",
        requester_id=contact.pk,
        department_id=desk.books.pk,
        description=NewMessage(body="Where is it?"),
        now=at,
    ).ticket


def change(desk: Any, ticket: Ticket, at: datetime, **kw: Any) -> Any:
    actor = kw.pop("actor", Actor(ActorKind.AGENT, desk.agent.pk, "Bruno"))
    return pipeline.ticket_apply(
        ticket_id=ticket.pk, mutation=Mutation(actor=actor, via=Via.API, **kw), now=at
    )


def clocks(api: Any, desk: Any, ticket: Ticket) -> dict[str, Any]:
    return api(desk.agent).get(f"/tickets/{ticket.pk}/sla").json()


def sla_events(ticket: Ticket) -> list[tuple[str, str, str]]:
    return [
        (e.field, recorded(e).get("metric", ""), recorded(e).get("at", ""))
        for e in TicketEvent.objects.filter(ticket=ticket, kind="sla").order_by("id")
    ]


def test_a_vip_is_answered_in_time_and_the_clock_is_fulfilled(desk: Any, api: Any, policies: None) -> None:
    ticket = open_ticket(desk, desk.alice)
    sla = clocks(api, desk, ticket)
    assert (sla["policy"], sla["next_breach_at"]) == ("vip", "2026-12-01T10:00:00Z")
    first = next(c for c in sla["clocks"] if c["metric"] == "first_response")
    assert (first["status"], first["target_seconds"], first["remaining_seconds"]) == ("active", 3600, 3600)
    # armed: the warning at 80 % (48 min), the breach, the escalation at the breach
    assert sorted(SlaTimer.objects.values_list("key", "due_at")) == [
        ("first_response:1:breach:0", NOW + timedelta(hours=1)),
        ("first_response:1:escalation:0", NOW + timedelta(hours=1)),
        ("first_response:1:warning:0", NOW + timedelta(minutes=48)),
        ("resolution:1:breach:0", NOW + timedelta(days=1)),
    ]
    # when the agent replies after 20 minutes
    change(desk, ticket, NOW + timedelta(minutes=20), message=NewMessage(body="On its way"))
    first = next(c for c in clocks(api, desk, ticket)["clocks"] if c["metric"] == "first_response")
    assert (first["status"], first["fulfilled_at"], first["breached_at"]) == (
        "fulfilled", "2026-12-01T09:20:00Z", None)  # fmt: skip
    # then its timers are gone, and nothing fires for it
    assert not SlaTimer.objects.filter(key__startswith="first_response").exists()
    assert timers.sla_fire_due(now=NOW + timedelta(hours=2)) == []
    assert ("fulfilled", "first_response", "2026-12-01T09:20:00Z") in sla_events(ticket)


def test_nobody_answers_the_warning_comes_then_the_breach_at_its_instant_and_the_escalation_once(
    desk: Any, api: Any, policies: None
) -> None:
    ticket = open_ticket(desk, desk.alice)
    # at 80 %: a warning
    assert [f.outcome for f in timers.sla_fire_due(now=NOW + timedelta(minutes=50))] == ["applied"]
    assert sla_events(ticket)[-1][:2] == ("warning", "first_response")
    # the worker comes 7 minutes late: the breach is stamped at 10:00, not at 10:07
    fired = timers.sla_fire_due(now=NOW + timedelta(hours=1, minutes=7))
    assert sorted(f.outcome for f in fired) == ["applied", "applied"]
    breach = TicketEvent.objects.get(ticket=ticket, kind="sla", field="breached")
    assert recorded(breach)["at"] == "2026-12-01T10:00:00Z"
    assert breach.at == NOW + timedelta(hours=1, minutes=7)
    # and the escalation raised the priority and told the on-call address, as the SLA
    ticket.refresh_from_db()
    assert ticket.priority == 4
    prio = TicketEvent.objects.get(ticket=ticket, kind="field", field="priority", actor_kind="sla")
    assert prio.cause.startswith("sla:vip@1:first_response#1:escalation0")
    [mail] = OutboxMessage.objects.filter(ticket=ticket, payload__to=["oncall@desk.test"])
    assert mail.payload["subject"] == f"Breach on #{ticket.number}"
    # the API shows the breach; the clock runs on under the urgent target (20 minutes)
    sla = clocks(api, desk, ticket)
    first = next(c for c in sla["clocks"] if c["metric"] == "first_response")
    assert (sla["breached"], first["status"], first["breached_at"], first["target_seconds"]) == (
        True, "active", "2026-12-01T10:00:00Z", 20 * 60)  # fmt: skip
    # nothing fires twice, whatever the worker does
    assert timers.sla_fire_due(now=NOW + timedelta(hours=3)) == []
    assert SlaFiring.objects.filter(ticket=ticket).count() == 3


def test_waiting_for_the_customer_pauses_resolution_by_exactly_that_time(
    desk: Any, api: Any, policies: None
) -> None:
    ticket = open_ticket(desk, desk.alice)
    change(desk, ticket, NOW + timedelta(minutes=10), message=NewMessage(body="Which address?"),
           fields={"status": "pending"})  # fmt: skip
    resolution = next(c for c in clocks(api, desk, ticket)["clocks"] if c["metric"] == "resolution")
    assert (resolution["status"], resolution["due_at"]) == ("paused", None)
    assert not SlaTimer.objects.filter(key__startswith="resolution").exists()
    # the customer answers three hours later: the ticket reopens and the clock resumes
    pipeline.ticket_apply(
        ticket_id=ticket.pk,
        mutation=Mutation(actor=Actor(ActorKind.CONTACT, desk.alice.pk, "Alice"), via=Via.EMAIL,
                          message=NewMessage(body="Via Roma 1")),
        now=NOW + timedelta(hours=3, minutes=10),
    )  # fmt: skip
    resolution = next(c for c in clocks(api, desk, ticket)["clocks"] if c["metric"] == "resolution")
    assert (resolution["status"], resolution["due_at"]) == ("active", "2026-12-02T12:00:00Z")  # 1 day + 3 h


def test_a_ticket_of_another_customer_follows_the_next_policy_and_moves_with_its_priority(
    desk: Any, api: Any, policies: None
) -> None:
    ticket = open_ticket(desk, desk.bob)
    assert clocks(api, desk, ticket)["policy"] == "standard"
    first = lambda: next(c for c in clocks(api, desk, ticket)["clocks"] if c["metric"] == "first_response")  # noqa: E731
    assert first()["due_at"] == "2026-12-01T17:00:00Z"
    change(desk, ticket, NOW + timedelta(hours=1), fields={"priority": "urgent"})
    assert first()["due_at"] == "2026-12-01T11:00:00Z"  # 2 h from the start, not from the change
    assert TicketEvent.objects.filter(ticket=ticket, kind="sla", field="retargeted").exists()


def test_policies_are_written_by_admins_read_by_agents_and_refused_with_the_path(desk: Any, api: Any) -> None:
    admin, agent, light = api(desk.admin), api(desk.agent), api(desk.light)
    r = admin.post("/sla-policies", VIP)
    assert r.status_code == 201, r.content
    assert (r.json()["version"], r.json()["written"]) == (1, True)
    assert admin.post("/sla-policies", VIP).status_code == 409
    assert agent.post("/sla-policies", {**VIP, "key": "x"}).status_code == 403
    assert agent.get("/sla-policies").json()["items"][0]["key"] == "vip"
    assert light.get("/sla-policies").status_code == 403
    bad = {**VIP, "targets": {"first_response": {"normal": {"within": "soon"}}}}
    r = admin.put("/sla-policies/vip", bad)
    assert (r.status_code, r.json()["error"]["field"]) == (422, "targets.first_response.normal.within")
    r = admin.put("/sla-policies/vip", {**VIP, "name": "VIPs"})
    assert (r.json()["version"], r.json()["name"]) == (2, "VIPs")
    assert [v["version"] for v in agent.get("/sla-policies/vip/versions").json()] == [1, 2]
    assert admin.put("/sla-policies/vip", {**VIP, "name": "VIPs"}).json()["written"] is False
    business = {**VIP, "key": "biz", "calendar": "emea"}
    r = admin.post("/sla-policies", business)
    assert (r.status_code, r.json()["error"]["field"]) == (422, "calendar")
    assert admin.delete("/sla-policies/vip").json()["active"] is False


def test_without_any_policy_tickets_get_no_clocks(desk: Any, api: Any) -> None:
    ticket = open_ticket(desk, desk.alice)
    assert not TicketSla.objects.exists()
    assert clocks(api, desk, ticket) == {"policy": None, "policy_version": None, "next_breach_at": None,
                                         "breached": False, "clocks": []}  # fmt: skip


def test_a_changed_policy_keeps_running_clocks_or_reflows_them_as_asked(
    desk: Any, api: Any, policies: None, settings: Any
) -> None:
    from io import StringIO

    from django.core.management import call_command

    from sportello.sla import reflow

    ticket = open_ticket(desk, desk.alice)
    first = lambda: next(c for c in clocks(api, desk, ticket)["clocks"] if c["metric"] == "first_response")  # noqa: E731
    assert first()["due_at"] == "2026-12-01T10:00:00Z"
    faster = {**VIP, "targets": {**VIP["targets"], "first_response": {"normal": {"within": "45m"}}}}
    # by default (keep) the running clock keeps its due instant
    assert api(desk.admin).put("/sla-policies/vip", faster).json()["version"] == 2
    assert first()["due_at"] == "2026-12-01T10:00:00Z"
    # asked to reflow, the worker's job recomputes it, keeping what was consumed; an event says so
    slower = {**VIP, "targets": {**VIP["targets"], "first_response": {"normal": {"within": "2h"}}}}
    assert api(desk.admin).put("/sla-policies/vip?reflow=true", slower).status_code == 200
    from django_tasks_db.models import DBTaskResult

    [job] = DBTaskResult.objects.filter(task_path="sportello.sla.jobs.reflow_clocks")
    assert job.args_kwargs["kwargs"] == {"policy": "vip"}
    assert reflow.reflow_batch(policy="vip", now=NOW + timedelta(minutes=5)) == (ticket.pk, 1, 1)
    assert first()["due_at"] == "2026-12-01T11:00:00Z"
    assert TicketEvent.objects.filter(ticket=ticket, kind="sla", field="retargeted",
                                      cause="sla:vip@3:reflow").exists()  # fmt: skip
    assert SlaTimer.objects.get(ticket=ticket, key="first_response:1:breach:0").due_at == NOW + timedelta(
        hours=2
    )
    # the desk's setting makes reflow the default; the command does it at once, with progress
    settings.SPORTELLO = {**settings.SPORTELLO, "SLA_ON_CHANGE": "reflow"}
    api(desk.admin).put("/sla-policies/vip", faster)
    out, err = StringIO(), StringIO()
    call_command("sla", "reflow", "--policy", "vip", stdout=out, stderr=err)
    assert "Reflowed 1 tickets" in out.getvalue()
    assert "ETA" in err.getvalue()
    assert first()["due_at"] == "2026-12-01T09:45:00Z"


def test_a_reflow_that_read_its_instant_before_a_later_change_happens_after_that_change(
    desk: Any, api: Any, policies: None
) -> None:
    from sportello.sla import reflow

    # given a VIP ticket whose first-response clock restarted at 09:10 (priority raised)
    ticket = open_ticket(desk, desk.alice)
    change(desk, ticket, NOW + timedelta(minutes=10), fields={"priority": "high"})
    slower = {**VIP, "targets": {**VIP["targets"], "first_response": {"high": {"within": "2h"}}}}
    assert api(desk.admin).put("/sla-policies/vip?reflow=true", slower).json()["version"] == 2
    # when a reflow whose clock was read at 09:05, before that change committed, runs
    assert reflow.reflow_batch(policy="vip", now=NOW + timedelta(minutes=5)) == (ticket.pk, 1, 1)
    # then it happened at 09:10, not before the ticket's last change
    [event] = TicketEvent.objects.filter(ticket=ticket, kind="sla", cause="sla:vip@2:reflow")
    assert (event.field, event.at) == ("retargeted", NOW + timedelta(minutes=10))
    assert TicketSla.objects.get(ticket=ticket).updated_at == NOW + timedelta(minutes=10)


def test_the_sla_report_gives_compliance_and_times_per_metric_and_agent(
    desk: Any, api: Any, policies: None
) -> None:
    # three VIP tickets: answered after 20 and 40 minutes (in time), and after 90 (breached)
    for minutes in (20, 40, 90):
        ticket = open_ticket(desk, desk.alice)
        change(desk, ticket, NOW + timedelta(minutes=minutes), message=NewMessage(body="Hello"))
    # and one of Bob's, answered by the admin after 3 hours (standard policy: 8 h)
    ticket = open_ticket(desk, desk.bob)
    change(desk, ticket, NOW + timedelta(hours=3), message=NewMessage(body="Hi"),
           actor=Actor(ActorKind.AGENT, desk.admin.pk, "Ada"))  # fmt: skip
    period = {"from": "2026-12-01T00:00:00Z", "to": "2026-12-02T00:00:00Z", "metric": "first_response"}
    [row] = api(desk.admin).get("/metrics/sla", period).json()["items"]
    assert (row["finished"], row["with_target"], row["breached"], row["compliance"]) == (4, 4, 1, 0.75)
    assert row["calendar_time_seconds"] == {"avg": (20 + 40 + 90 + 180) * 60 // 4, "p50": 40 * 60,
                                            "p90": 180 * 60, "p95": 180 * 60}  # fmt: skip
    by_policy = api(desk.agent).get("/metrics/sla", {**period, "group_by": "policy"}).json()["items"]
    assert [(r["group"], r["finished"], r["compliance"]) for r in by_policy] == [
        ({"policy": "standard"}, 1, 1.0), ({"policy": "vip"}, 3, 0.6667)]  # fmt: skip
    # agents see their departments' tickets only; light agents no report
    assert api(desk.outsider).get("/metrics/sla", period).json()["items"] == []
    assert api(desk.light).get("/metrics/sla", period).status_code == 403
    r = api(desk.admin).get("/metrics/sla", {**period, "group_by": "planet"})
    assert (r.status_code, r.json()["error"]["field"]) == (422, "group_by")

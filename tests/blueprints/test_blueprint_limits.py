"""State time limits: entering a state arms its escalations at exact instants; they fire once,
as the blueprint, and leaving the state disarms them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sportello.blueprints import timers
from sportello.blueprints.models import BlueprintFiring, BlueprintTimer
from sportello.outbox.models import OutboxMessage
from sportello.tickets.models import TicketEvent, TicketTag
from testing import recorded
from workflow_setup import returns_definition


def limited(desk: Any) -> dict[str, Any]:
    definition = returns_definition(desk)
    definition["states"][0] = {
        "key": "received", "name": "Received", "status": "open", "time_limit": "4h",
        "escalations": [
            {"after": "-1h", "actions": [{"notify": {"to": ["address:lead@desk.test"], "subject": "Soon late",
                                                     "body": "#{{ ticket.number }} is near its limit"}}]},
            {"after": "0s", "actions": [{"add_tags": ["received_late"]}]},
        ],
    }  # fmt: skip
    return definition


def test_a_state_limit_escalates_at_its_instants_once_and_leaving_disarms(
    desk: Any, fields: None, save_blueprint: Any, open_ticket: Any, transition: Any, now: Any
) -> None:
    save_blueprint(limited(desk))
    ticket = open_ticket()
    due = sorted(BlueprintTimer.objects.filter(ticket=ticket).values_list("due_at", flat=True))
    assert due == [now + timedelta(hours=3), now + timedelta(hours=4)]
    # three hours in: the warning to the team lead, as the blueprint
    assert timers.limits_fire_due(now=now + timedelta(hours=3, minutes=1)) == ["applied"]
    [mail] = OutboxMessage.objects.filter(ticket=ticket, payload__to=["lead@desk.test"])
    assert mail.payload["body"] == f"#{ticket.number} is near its limit"
    # at the limit: the tag, recorded under the blueprint with the limit's cause
    assert timers.limits_fire_due(now=now + timedelta(hours=5)) == ["applied"]
    tag = TicketEvent.objects.get(ticket=ticket, kind="tags", actor_kind="blueprint")
    assert tag.cause == "blueprint:returns@1:limit:received#1"
    assert TicketTag.objects.filter(ticket=ticket, name="received_late").exists()
    limit_events = TicketEvent.objects.filter(ticket=ticket, kind="blueprint", field="time_limit")
    assert [recorded(e)["escalation"] for e in limit_events.order_by("id")] == [0, 1]
    assert timers.limits_fire_due(now=now + timedelta(days=1)) == []
    assert BlueprintFiring.objects.filter(ticket=ticket).count() == 2
    # another ticket leaves the state in time: its timers are gone and nothing fires
    other = open_ticket()
    transition(other, "label-sent", custom_fields={"order_id": "AB123456"}, note="Label sent",
               at=now + timedelta(hours=1))  # fmt: skip
    assert not BlueprintTimer.objects.filter(ticket=other).exists()
    assert timers.limits_fire_due(now=now + timedelta(days=2)) == []


def test_event_rules_see_a_transition_as_blueprint_transition(
    desk: Any, returns: Any, open_ticket: Any, transition: Any, now: Any
) -> None:
    from sportello.automation.models import RuleKind
    from sportello.automation.services import rule_save

    rule_save(kind=RuleKind.EVENT, created_by=desk.admin, now=now, definition={
        "key": "on-transition", "name": "On transition", "on": ["blueprint.transition"], "when": {"all": []},
        "actions": [{"add_tags": ["moved_by_process"]}]})  # fmt: skip
    ticket = open_ticket()
    assert not TicketTag.objects.filter(ticket=ticket, name="moved_by_process").exists()
    transition(ticket, "label-sent", custom_fields={"order_id": "AB123456"}, note="Label sent")
    assert TicketTag.objects.filter(ticket=ticket, name="moved_by_process").exists()


def test_a_poisoned_limit_timer_is_retried_then_parked_while_the_others_fire(
    desk: Any, fields: None, save_blueprint: Any, open_ticket: Any, now: Any, settings: Any
) -> None:
    from unittest import mock

    settings.SPORTELLO = {**settings.SPORTELLO, "TIMER_MAX_ATTEMPTS": 2}
    save_blueprint(limited(desk))
    good, bad = open_ticket(), open_ticket()
    real = timers._run

    def poisoned(run: Any, state: str, index: int, timer: Any, at: Any) -> Any:
        if run.ticket_id == bad.pk:
            raise RuntimeError("boom")
        return real(run, state, index, timer, at)

    due = now + timedelta(hours=3, minutes=1)
    with mock.patch.object(timers, "_run", side_effect=poisoned):
        assert timers.limits_fire_due(now=due) == ["applied"]
        assert BlueprintFiring.objects.filter(ticket=good).count() == 1
        failing = BlueprintTimer.objects.get(ticket=bad, attempts=1)
        assert (failing.retry_at, failing.parked_at) == (due + timedelta(seconds=30), None)
        # the second attempt is the last (TIMER_MAX_ATTEMPTS 2): parked, never attempted again
        assert timers.limits_fire_due(now=due + timedelta(seconds=30)) == []
        failing.refresh_from_db()
        assert (failing.attempts, failing.retry_at, failing.parked_at) == (
            2,
            None,
            due + timedelta(seconds=30),
        )
        assert timers.limits_fire_due(now=due + timedelta(minutes=30)) == []
    assert not BlueprintFiring.objects.filter(ticket=bad).exists()

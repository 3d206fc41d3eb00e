"""Transitions: who may perform them (owners), what the API offers each reader, the automatic
chain of continuous blueprints and its cap, after actions that fail, and access."""

from __future__ import annotations

from typing import Any

import pytest

from sportello.blueprints.services import TransitionInputsInvalid, TransitionNotAllowed
from sportello.core.errors import Conflict, NotFound, PermissionDenied
from sportello.engine.blueprints import CHAIN_MAX
from sportello.tickets.models import Ticket, TicketEvent
from testing import recorded
from workflow_setup import blueprint_events, returns_definition, run_of


def with_owners(desk: Any, owners: dict[str, Any]) -> dict[str, Any]:
    definition = returns_definition(desk)
    definition["transitions"][0]["owners"] = owners
    return definition


def offered(api: Any, user: Any, ticket: Any) -> list[str]:
    r = api(user).get(f"/tickets/{ticket.pk}/blueprint")
    assert r.status_code == 200, r.content
    return [t["key"] for t in r.json()["transitions"]]


def test_an_assignee_only_transition_is_offered_to_the_assignee_alone(
    desk: Any, fields: None, save_blueprint: Any, open_ticket: Any, api: Any, transition: Any
) -> None:
    from sportello.accounts.models import Role
    from sportello.accounts.services import agent_create

    colleague = agent_create(email="carla@desk.test", name="Carla", role=Role.AGENT, departments=[desk.books])
    save_blueprint(with_owners(desk, {"assignee": True}))
    ticket = open_ticket(assignee_id=desk.agent.pk)
    # the assignee is offered the label; a colleague of the department and the admin are not
    assert offered(api, desk.agent, ticket) == ["label-sent"]
    assert offered(api, colleague, ticket) == []
    assert offered(api, desk.admin, ticket) == []
    # and a colleague who tries is refused as no owner
    with pytest.raises(TransitionNotAllowed) as refused:
        transition(ticket, "label-sent", by=colleague, custom_fields={"order_id": "AB123456"}, note="x")
    assert [d["code"] for d in refused.value.details] == ["not_owner"]


def test_team_and_cross_department_owners(
    desk: Any, fields: None, save_blueprint: Any, open_ticket: Any, api: Any
) -> None:
    save_blueprint(with_owners(desk, {"teams": [desk.team.pk], "departments": [desk.electronics.pk]}))
    ticket = open_ticket()
    # the Novels team member is an owner; the admin (no team) is not
    assert offered(api, desk.agent, ticket) == ["label-sent"]
    assert offered(api, desk.admin, ticket) == []
    # an owner from another department cannot read the ticket: 404, like a missing ticket
    assert api(desk.outsider).get(f"/tickets/{ticket.pk}/blueprint").status_code == 404


def test_joining_or_leaving_an_owning_team_counts_at_once(
    desk: Any, fields: None, save_blueprint: Any, open_ticket: Any, api: Any, transition: Any
) -> None:
    # The performer's teams and departments come from the desk's per-process structure: a
    # membership change moves its signature, so the next read sees it (no restart, no wait).
    save_blueprint(with_owners(desk, {"teams": [desk.team.pk]}))
    ticket = open_ticket()
    assert offered(api, desk.agent, ticket) == ["label-sent"]
    desk.team.members.remove(desk.agent)
    assert offered(api, desk.agent, ticket) == []
    with pytest.raises(TransitionNotAllowed) as refused:
        transition(ticket, "label-sent", custom_fields={"order_id": "AB123456"}, note="x")
    assert [d["code"] for d in refused.value.details] == ["not_owner"]
    desk.agent.teams.add(desk.team)  # from the other side of the relation
    assert offered(api, desk.agent, ticket) == ["label-sent"]
    transition(ticket, "label-sent", custom_fields={"order_id": "AB123456"}, note="x")
    assert run_of(ticket).state != "received"


def test_an_owning_department_counts_from_when_the_agent_joins_it(
    desk: Any, fields: None, save_blueprint: Any, open_ticket: Any, api: Any
) -> None:
    save_blueprint(with_owners(desk, {"departments": [desk.electronics.pk]}))
    ticket = open_ticket()
    assert offered(api, desk.agent, ticket) == []
    desk.agent.departments.add(desk.electronics)
    assert offered(api, desk.agent, ticket) == ["label-sent"]
    desk.agent.departments.remove(desk.electronics)
    assert offered(api, desk.agent, ticket) == []


def test_without_owners_anyone_of_the_department_including_admins_may(
    desk: Any, fields: None, save_blueprint: Any, open_ticket: Any, api: Any
) -> None:
    save_blueprint(with_owners(desk, {}))
    ticket = open_ticket()
    assert offered(api, desk.agent, ticket) == ["label-sent"]
    assert offered(api, desk.admin, ticket) == ["label-sent"]


def test_light_agents_and_outsiders_perform_no_transition(
    desk: Any, returns: Any, open_ticket: Any, transition: Any, api: Any
) -> None:
    ticket = open_ticket()
    inputs = {"custom_fields": {"order_id": "AB123456"}, "note": "x"}
    with pytest.raises(PermissionDenied):
        transition(ticket, "label-sent", by=desk.light, **inputs)
    with pytest.raises(NotFound):
        transition(ticket, "label-sent", by=desk.outsider, **inputs)
    assert api(desk.light).get(f"/tickets/{ticket.pk}/blueprint").status_code == 403
    url = f"/tickets/{ticket.pk}/blueprint/transitions/label-sent"
    assert api(desk.light).post(url, inputs).status_code == 403
    assert api(desk.outsider).post(url, inputs).status_code == 404
    assert run_of(ticket).state == "received"


def test_a_stale_version_is_a_conflict_and_nothing_is_written(
    desk: Any, returns: Any, open_ticket: Any, api: Any
) -> None:
    ticket = open_ticket()
    version = Ticket.objects.get(pk=ticket.pk).version
    r = api(desk.agent).post(
        f"/tickets/{ticket.pk}/blueprint/transitions/label-sent",
        {"version": version - 1, "custom_fields": {"order_id": "AB123456"}, "note": "x"},
    )
    assert (r.status_code, r.json()["error"]["code"]) == (409, "stale_version")
    assert run_of(ticket).state == "received"


def test_inputs_the_transition_does_not_ask_for_are_refused(
    desk: Any, returns: Any, open_ticket: Any, transition: Any
) -> None:
    ticket = open_ticket()
    with pytest.raises(TransitionInputsInvalid) as refused:
        transition(
            ticket, "label-sent", custom_fields={"order_id": "AB123456", "refund_amount": "3"}, note="x"
        )
    assert refused.value.details == [
        {
            "code": "invalid_field",
            "field": "custom_fields.refund_amount",
            "message": "is not an input of this transition",
        }
    ]
    assert refused.value.field == "custom_fields.refund_amount"


# -- continuous blueprints ---------------------------------------------------------------------


def triage(desk: Any) -> dict[str, Any]:
    """Checked high-priority tickets are approved and finished by themselves."""
    return {
        "key": "triage",
        "name": "Triage",
        "department": desk.books.pk,
        "states": [
            {"key": "incoming", "name": "Incoming", "status": "open"},
            {"key": "checked", "name": "Checked", "status": "pending"},
            {"key": "approved", "name": "Approved", "status": "on_hold"},
            {"key": "done", "name": "Done", "status": "solved", "terminal": True},
        ],
        "transitions": [
            {"key": "check", "name": "Check", "from": "incoming", "to": "checked",
             "during": {"fields": [{"field": "ticket.priority"}]}},
            {"key": "approve", "name": "Approve", "from": "checked", "to": "approved", "auto": True,
             "available_when": {"field": "ticket.priority", "op": "is", "value": "high"},
             "after": [{"add_tags": ["approved"]}]},
            {"key": "finish", "name": "Finish", "from": "approved", "to": "done", "auto": True,
             "during": {"fields": [{"field": "ticket.custom.order_id", "required": True}]}},
            {"key": "decide", "name": "Decide", "from": "checked", "to": "done"},
            {"key": "give-up", "name": "Give up", "from": "approved", "to": "done"},
        ],
    }  # fmt: skip


def test_a_continuous_blueprint_runs_the_automatic_transitions_that_follow(
    desk: Any, fields: None, save_blueprint: Any, open_ticket: Any, transition: Any, api: Any
) -> None:
    save_blueprint(triage(desk))
    ticket = open_ticket(kind=None, custom_fields={"order_id": "AB123456"})
    # when the agent checks the ticket and makes it high priority
    r = api(desk.agent).post(
        f"/tickets/{ticket.pk}/blueprint/transitions/check", {"fields": {"priority": "high"}}
    )
    # then approve and finish run by themselves, in the same change
    assert r.status_code == 200, r.content
    done = r.json()
    assert [(s["transition"], s["automatic"]) for s in done["steps"]] == [
        ("check", False),
        ("approve", True),
        ("finish", True),
    ]
    assert (done["active"], done["state"]["key"], done["stopped_at"], done["capped"]) == (
        False,
        "done",
        None,
        False,
    )
    ticket.refresh_from_db()
    assert (ticket.status.key, ticket.priority, list(ticket.tags.values_list("name", flat=True))) == (
        "solved",
        3,
        ["approved"],
    )
    # and the log has one transition event per step, all in the one change
    events = TicketEvent.objects.filter(ticket=ticket, kind="blueprint", field="transition")
    assert [(recorded(e)["transition"], recorded(e)["automatic"]) for e in events] == [
        ("check", False),
        ("approve", True),
        ("finish", True),
    ]
    assert len({e.change_id for e in events}) == 1
    assert [f for f, _, _ in blueprint_events(ticket)][-1] == "completed"


def test_the_chain_stops_at_an_automatic_transition_that_needs_inputs(
    desk: Any, fields: None, save_blueprint: Any, open_ticket: Any, transition: Any
) -> None:
    save_blueprint(triage(desk))
    ticket = open_ticket(kind=None)  # no order id: `finish` cannot run by itself
    result = transition(ticket, "check", fields={"priority": "high"})
    assert [s.transition.key for s in result.plan.steps] == ["check", "approve"]
    stopped = result.plan.stopped_at
    assert (stopped.key if stopped is not None else None) == "finish"
    assert run_of(ticket).state == "approved"
    # and a normal priority waits after the check
    other = open_ticket(kind=None)
    transition(other, "check", fields={"priority": "normal"})
    assert run_of(other).state == "checked"


def test_an_automatic_loop_is_capped(
    desk: Any, fields: None, save_blueprint: Any, open_ticket: Any, transition: Any
) -> None:
    save_blueprint({
        "key": "loop", "name": "Loop", "department": desk.books.pk,
        "states": [{"key": "x", "name": "X", "status": "open"},
                   {"key": "y", "name": "Y", "status": "pending"},
                   {"key": "end", "name": "End", "status": "solved", "terminal": True}],
        "transitions": [
            {"key": "go", "name": "Go", "from": "x", "to": "y"},
            {"key": "back", "name": "Back", "from": "y", "to": "x", "auto": True},
            {"key": "forth", "name": "Forth", "from": "x", "to": "y", "auto": True},
            {"key": "stop", "name": "Stop", "from": "y", "to": "end"},
        ],
    })  # fmt: skip
    ticket = open_ticket(kind=None)
    result = transition(ticket, "go")
    assert (len(result.plan.steps), result.plan.capped) == (CHAIN_MAX, True)
    assert run_of(ticket).state == result.plan.final_state == "x"
    assert Ticket.objects.get(pk=ticket.pk).status.key == "open"


def test_a_failing_after_action_is_recorded_and_the_transition_stands(
    desk: Any, fields: None, save_blueprint: Any, open_ticket: Any, transition: Any
) -> None:
    # given a label transition that would assign the ticket to an agent of another department
    definition = returns_definition(desk)
    definition["transitions"][0]["after"] = [
        {"add_tags": ["label_sent"]},
        {"assign": {"agent": desk.outsider.pk}},
    ]
    save_blueprint(definition)
    ticket = open_ticket()
    # when it runs
    result = transition(ticket, "label-sent", custom_fields={"order_id": "AB123456"}, note="x")
    # then the ticket moved on, the step's actions are rolled back whole, and the failure is told
    ticket.refresh_from_db()
    assert (run_of(ticket).state, ticket.assignee_id, list(ticket.tags.values_list("name", flat=True))) == (
        "awaiting-item",
        None,
        [],
    )
    failure = TicketEvent.objects.get(change_id=result.outcome.change_id, field="action_failed")
    assert failure.actor_kind == "blueprint"
    assert recorded(failure)["transition"] == "label-sent"
    assert "not a member of the ticket's department" in recorded(failure)["error"]


def test_the_run_must_still_be_where_the_transition_started(
    desk: Any, returns: Any, open_ticket: Any, transition: Any
) -> None:
    ticket = open_ticket()
    transition(ticket, "label-sent", custom_fields={"order_id": "AB123456"}, note="x")
    with pytest.raises(TransitionNotAllowed):
        transition(ticket, "label-sent", custom_fields={"order_id": "AB123456"}, note="again")
    with pytest.raises(Conflict):
        transition(ticket, "no-such-transition")


def test_a_transition_that_sends_the_ticket_to_another_department_moves_then_leaves(
    desk: Any, fields: None, save_blueprint: Any, open_ticket: Any, transition: Any
) -> None:
    definition = returns_definition(desk)
    definition["transitions"][0]["after"] = [{"assign": {"department": desk.electronics.pk}}]
    save_blueprint(definition)
    ticket = open_ticket()
    transition(ticket, "label-sent", custom_fields={"order_id": "AB123456"}, note="Over to electronics")
    run = run_of(ticket)
    assert (run.state, run.active) == ("awaiting-item", False)
    assert [f for f, _, _ in blueprint_events(ticket)] == ["attached", "transition", "detached"]
    left = recorded(TicketEvent.objects.get(ticket=ticket, field="detached"))
    assert (left["from"], left["reason"]) == ("awaiting-item", "department")


def test_a_transition_into_a_solved_state_needs_the_fields_agents_must_fill_to_solve(
    desk: Any, returns: Any, open_ticket: Any, transition: Any
) -> None:
    from sportello.core.errors import ValidationFailed
    from sportello.tickets.fields_services import LayoutRowSpec, custom_field_create, layout_replace

    # given Books also needs a return reason before a ticket is solved
    custom_field_create(actor=None, key="reason", label="Reason", type="text")
    layout_replace(
        actor=None,
        department=desk.books,
        rows=[LayoutRowSpec(f) for f in ("kind", "order_id", "refund_amount")]
        + [LayoutRowSpec("reason", required="to_solve")],
    )
    ticket = open_ticket()
    transition(ticket, "label-sent", custom_fields={"order_id": "AB123456"}, note="Label sent")
    # when the admin refunds without it, the refund (which solves the ticket) is refused naming it
    with pytest.raises(ValidationFailed) as refused:
        transition(ticket, "refund", by=desk.admin, custom_fields={"refund_amount": "10"})
    assert (refused.value.field, refused.value.message) == (
        "custom_fields.reason",
        "is required to solve a ticket in this department",
    )
    assert run_of(ticket).state == "awaiting-item"
    # and once an agent gave it, the refund solves the ticket
    from sportello.core.actors import Via
    from sportello.tickets import services
    from testing import NOW

    services.ticket_update(
        principal=desk.admin,
        ticket_id=ticket.pk,
        via=Via.API,
        data={"version": Ticket.objects.get(pk=ticket.pk).version, "custom_fields": {"reason": "too small"}},
        now=NOW,
    )
    transition(ticket, "refund", by=desk.admin, custom_fields={"refund_amount": "10"})
    assert (run_of(ticket).state, Ticket.objects.get(pk=ticket.pk).status_category) == ("refunded", "solved")

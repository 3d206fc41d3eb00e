"""Macros through the services: saving versions, who sees what, applying, preview, bulk."""

from __future__ import annotations

from typing import Any

import pytest

from sportello.automation import macros
from sportello.automation.models import MacroVersion, RuleKind
from sportello.automation.services import rule_save
from sportello.core.actors import Via
from sportello.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from sportello.engine.actions import Reply, SetTags
from sportello.outbox.models import OutboxMessage
from sportello.tickets import services
from sportello.tickets.models import Message, Ticket, TicketEvent


def definition(
    key: str = "refund-ok", *, scope: str = "everyone", ids: list[int] | None = None, **kw: Any
) -> dict[str, Any]:
    return {
        "key": key,
        "name": kw.pop("name", "Refund approved"),
        "visibility": {"scope": scope, "ids": ids or []},
        "actions": kw.pop(
            "actions",
            [
                {"set": {"field": "ticket.priority", "value": "high"}},
                {"add_tags": ["refund_approved"]},
                {
                    "reply": {
                        "body": "Dear {{ requester.name }}, {{ agent.name }} approved your refund. "
                        "Priority {{ ticket.priority }}."
                    }
                },
            ],
        ),
    }


def open_ticket(desk: Any, now: Any, subject: str = "Refund please") -> Ticket:
    return services.ticket_open(
        principal=desk.agent,
        via=Via.API,
        data={
            "subject": subject,
            "description": "I want my money back.",
            "department_id": desk.books.pk,
            "requester_id": desk.alice.pk,
        },
        now=now,
    ).ticket


def test_plan_folds_tag_actions_in_order() -> None:
    from sportello.engine.actions import AddTags, RemoveTags

    # given add x, remove x, add y, set [a], add b, remove a
    plan = macros.plan_of((AddTags(("x",)), RemoveTags(("x",)), AddTags(("y",))))
    # then the last word on each tag wins
    assert (plan.tags_set, plan.tags_add, plan.tags_remove) == (None, ("y",), ("x",))
    plan = macros.plan_of(
        (AddTags(("y",)), SetTags(("a",)), AddTags(("b",)), RemoveTags(("a",)), Reply("hi"))
    )
    assert (plan.tags_set, plan.tags_add, plan.tags_remove) == (("a",), ("b",), ("a",))
    assert plan.message == Reply("hi")


def test_saving_writes_immutable_versions(desk: Any, now: Any) -> None:
    # given a macro created by an admin
    macro = macros.macro_create(definition=definition(), actor=desk.admin, now=now)
    # when saved again identically, then nothing is written; changed, then version 2
    _, written = macros.macro_update(key="refund-ok", definition=definition(), actor=desk.admin, now=now)
    assert written is False
    changed, written = macros.macro_update(
        key="refund-ok", definition=definition(name="Refund OK"), actor=desk.admin, now=now
    )
    assert (written, changed.version, changed.name) == (True, 2, "Refund OK")
    assert list(MacroVersion.objects.filter(macro=macro).values_list("version", "definition__name")) == [
        (1, "Refund approved"),
        (2, "Refund OK"),
    ]


@pytest.mark.parametrize(
    ("actions", "field"),
    [
        ([{"stop": True}], "actions[0].stop"),
        ([{"assign": {"policy": 1}}], "actions[0].assign"),
        ([{"note": {"body": "a"}}, {"reply": {"body": "b"}}], "actions[1].reply"),
        ([{"set": {"field": "ticket.nope", "value": 1}}], "actions[0].set.field"),
    ],
)
def test_invalid_definitions_are_refused_with_their_path(
    desk: Any, now: Any, actions: Any, field: str
) -> None:
    with pytest.raises(ValidationFailed) as info:
        macros.macro_create(definition=definition(actions=actions), actor=desk.admin, now=now)
    assert info.value.field == field


def test_agents_save_only_their_own_personal_macros(desk: Any, now: Any) -> None:
    # an agent may save a personal macro for themselves
    own = macros.macro_create(
        definition=definition("mine", scope="personal", ids=[desk.agent.pk]), actor=desk.agent, now=now
    )
    assert (own.visibility, own.owner_user_id) == ("personal", desk.agent.pk)
    # but not a shared one, nor one for someone else
    for d in (
        definition("team", scope="team", ids=[desk.team.pk]),
        definition("lia", scope="personal", ids=[desk.light.pk]),
    ):
        with pytest.raises(PermissionDenied):
            macros.macro_create(definition=d, actor=desk.agent, now=now)
    # and cannot change a shared macro they can see
    macros.macro_create(definition=definition("shared"), actor=desk.admin, now=now)
    with pytest.raises(PermissionDenied):
        macros.macro_update(
            key="shared", definition=definition("shared", name="Mine now"), actor=desk.agent, now=now
        )


def test_agents_see_the_macros_of_their_teams_departments_and_their_own(desk: Any, now: Any) -> None:
    # given one macro of each visibility
    for key, scope, ids in [
        ("all", "everyone", []),
        ("bruno", "personal", [desk.agent.pk]),
        ("eva", "personal", [desk.outsider.pk]),
        ("novels", "team", [desk.team.pk]),
        ("books", "department", [desk.books.pk]),
        ("electronics", "department", [desk.electronics.pk]),
    ]:
        macros.macro_create(
            definition=definition(key, scope=scope, ids=ids, name=key), actor=desk.admin, now=now
        )

    def keys(agent: Any) -> list[str]:
        return sorted(m.key for m in macros.macro_list_for(agent=agent))

    # then each sees exactly theirs; admins see all
    assert keys(desk.agent) == ["all", "books", "bruno", "novels"]
    assert keys(desk.light) == ["all", "books"]
    assert keys(desk.outsider) == ["all", "electronics", "eva"]
    assert keys(desk.admin) == ["all", "books", "bruno", "electronics", "eva", "novels"]
    with pytest.raises(NotFound):
        macros.macro_get_for(agent=desk.outsider, key="bruno")


def test_applying_makes_one_change_under_the_agent_with_the_macro_as_cause(desk: Any, now: Any) -> None:
    # given a ticket and a macro setting priority, a tag and replying with placeholders
    ticket = open_ticket(desk, now)
    macros.macro_create(definition=definition(), actor=desk.admin, now=now)
    # when Bruno applies it
    outcome = macros.macro_apply(key="refund-ok", ticket_id=ticket.pk, agent=desk.agent, via=Via.API, now=now)
    # then the ticket changed and the reply is public, rendered with the ticket after the macro
    ticket.refresh_from_db()
    assert ticket.priority == 3
    assert outcome.tags == ["refund_approved"]
    assert outcome.message is not None
    reply = Message.objects.get(pk=outcome.message.pk)
    assert (reply.public, reply.author_agent_id) == (True, desk.agent.pk)
    assert reply.body_text == "Dear Alice Acme, Bruno Books approved your refund. Priority high."
    # and every event of the change is Bruno's, caused by the macro at version 1
    events = TicketEvent.objects.filter(change_id=outcome.change_id)
    assert sorted((e.kind, e.field, e.actor_id, e.cause) for e in events) == [
        ("field", "priority", desk.agent.pk, "macro:refund-ok@1"),
        ("field", "status", desk.agent.pk, "macro:refund-ok@1"),  # a first public reply opens it
        ("field", "status_category", desk.agent.pk, "macro:refund-ok@1"),
        ("message", "public", desk.agent.pk, "macro:refund-ok@1"),
        ("tags", "tags", desk.agent.pk, "macro:refund-ok@1"),
    ]
    # and the reply is e-mailed to the customer like any agent reply
    assert OutboxMessage.objects.filter(change_id=outcome.change_id, kind="email").count() == 1


def test_event_rules_run_on_the_result_of_a_macro(desk: Any, now: Any) -> None:
    # given a rule tagging high-priority tickets
    rule_save(
        kind=RuleKind.EVENT,
        definition={
            "key": "hot",
            "name": "Hot",
            "when": {"field": "ticket.priority", "op": "changed_to", "value": "high"},
            "actions": [{"add_tags": ["hot"]}],
        },
        created_by=desk.admin,
        now=now,
    )
    ticket = open_ticket(desk, now)
    macros.macro_create(definition=definition(), actor=desk.admin, now=now)
    # when the macro raises the priority
    outcome = macros.macro_apply(key="refund-ok", ticket_id=ticket.pk, agent=desk.agent, via=Via.API, now=now)
    # then the rule fired on it
    assert outcome.tags == ["hot", "refund_approved"]


def test_notifications_and_webhooks_of_a_macro_are_queued_in_the_outbox(desk: Any, now: Any) -> None:
    ticket = open_ticket(desk, now)
    actions = [
        {
            "notify": {
                "subject": "Refund for #{{ ticket.number }}",
                "body": "by {{ agent.name }}",
                "to": ["address:boss@desk.test"],
            }
        },
        {"webhook": {"url": "https://hooks.example.com/refund", "body": "{{ ticket.tags | join(',') }}"}},
        {"add_tags": ["paid"]},
    ]
    macros.macro_create(definition=definition("notify", actions=actions), actor=desk.admin, now=now)
    outcome = macros.macro_apply(
        key="notify", ticket_id=ticket.pk, agent=desk.agent, via=Via.API, now=now, depth=2
    )
    rows = list(OutboxMessage.objects.filter(change_id=outcome.change_id).order_by("id"))
    assert [(r.kind, r.payload.get("rule")) for r in rows] == [
        ("email", "macro:notify@1"),
        ("webhook", "macro:notify@1"),
    ]
    assert (rows[0].payload["to"], rows[0].payload["subject"], rows[0].payload["body"]) == (
        ["boss@desk.test"],
        f"Refund for #{ticket.number}",
        "by Bruno Books",
    )
    assert (rows[1].payload["body"], rows[1].payload["headers"]) == ("paid", {"X-Sportello-Depth": "3"})


def test_a_light_agent_may_apply_only_note_macros(desk: Any, now: Any) -> None:
    ticket = open_ticket(desk, now)
    macros.macro_create(definition=definition(), actor=desk.admin, now=now)
    macros.macro_create(
        definition=definition("note", actions=[{"note": {"body": "Seen by {{ agent.name }}"}}]),
        actor=desk.admin,
        now=now,
    )
    # a macro changing fields is refused, with nothing written
    with pytest.raises(PermissionDenied) as info:
        macros.macro_apply(key="refund-ok", ticket_id=ticket.pk, agent=desk.light, via=Via.API, now=now)
    assert "only macros that add an internal note" in info.value.message
    assert Ticket.objects.get(pk=ticket.pk).version == ticket.version
    # a note macro works
    outcome = macros.macro_apply(key="note", ticket_id=ticket.pk, agent=desk.light, via=Via.API, now=now)
    assert outcome.message is not None
    assert (outcome.message.public, outcome.message.body_text) == (False, "Seen by Lia Light")


def test_preview_shows_the_diff_and_the_message_and_writes_nothing(desk: Any, now: Any) -> None:
    ticket = open_ticket(desk, now)
    macros.macro_create(definition=definition(), actor=desk.admin, now=now)
    events, outbox = TicketEvent.objects.count(), OutboxMessage.objects.count()
    preview = macros.macro_preview(key="refund-ok", ticket_id=ticket.pk, agent=desk.agent, now=now)
    assert preview.version == 1
    assert sorted((c.field, c.old, c.new) for c in preview.changes) == [
        ("priority", "normal", "high"),
        ("status", "new", "open"),  # the first public agent reply opens the ticket
        ("status_category", "new", "open"),
        ("tags", [], ["refund_approved"]),
    ]
    assert preview.message == {
        "public": True,
        "body": "Dear Alice Acme, Bruno Books approved your refund. Priority high.",
    }
    assert [e["kind"] for e in preview.effects] == ["email"]
    # nothing was written
    after = Ticket.objects.get(pk=ticket.pk)
    assert (after.version, after.priority) == (ticket.version, ticket.priority)
    assert (TicketEvent.objects.count(), OutboxMessage.objects.count()) == (events, outbox)
    # and a ticket the agent cannot read is not found
    with pytest.raises(NotFound):
        macros.macro_preview(key="refund-ok", ticket_id=ticket.pk, agent=desk.outsider, now=now)


def test_applying_a_stale_version_is_a_conflict(desk: Any, now: Any) -> None:
    ticket = open_ticket(desk, now)
    macros.macro_create(definition=definition(), actor=desk.admin, now=now)
    macros.macro_update(key="refund-ok", definition=definition(name="v2"), actor=desk.admin, now=now)
    with pytest.raises(Conflict) as info:
        macros.macro_apply(
            key="refund-ok", ticket_id=ticket.pk, agent=desk.agent, via=Via.API, now=now, version=1
        )
    assert info.value.code == "stale_macro_version"


def test_bulk_applies_each_ticket_on_its_own(desk: Any, now: Any) -> None:
    # given a good ticket, a closed one, one of another department and a missing id
    good = open_ticket(desk, now, "one")
    closed = open_ticket(desk, now, "two")
    services.ticket_update(
        principal=desk.admin,
        ticket_id=closed.pk,
        via=Via.API,
        data={"status": "closed", "version": closed.version},
        now=now,
    )
    other = services.ticket_open(
        principal=desk.admin,
        via=Via.API,
        data={
            "subject": "x",
            "description": "y",
            "department_id": desk.electronics.pk,
            "requester_id": desk.bob.pk,
        },
        now=now,
    ).ticket
    macros.macro_create(
        definition=definition("bad-team", actions=[{"assign": {"team": 999_999}}, {"add_tags": ["x"]}]),
        actor=desk.admin,
        now=now,
    )
    macros.macro_create(definition=definition(), actor=desk.admin, now=now)
    # when applied in bulk by Bruno
    results = macros.macro_apply_bulk(
        key="refund-ok",
        ticket_ids=[good.pk, closed.pk, other.pk, 999_999, good.pk],
        agent=desk.agent,
        via=Via.API,
        now=now,
    )
    # then each ticket has its own result, in order, repeats once
    assert [(r.ticket_id, r.ok, r.status, r.code) for r in results] == [
        (good.pk, True, None, None),
        (closed.pk, False, 409, "ticket_closed"),
        (other.pk, False, 404, "not_found"),
        (999_999, False, 404, "not_found"),
    ]
    assert Ticket.objects.get(pk=good.pk).priority == 3
    # and a validation error on one ticket is a 422 for it
    (bad,) = macros.macro_apply_bulk(
        key="bad-team", ticket_ids=[good.pk], agent=desk.agent, via=Via.API, now=now
    )
    assert (bad.ok, bad.status, bad.field) == (False, 422, "team")
    # and more than 100 tickets are refused before anything happens
    with pytest.raises(ValidationFailed):
        macros.macro_apply_bulk(
            key="refund-ok", ticket_ids=list(range(1, 102)), agent=desk.agent, via=Via.API, now=now
        )

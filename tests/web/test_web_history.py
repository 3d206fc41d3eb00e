"""The ticket page's history: every kind of event the pipeline and its extensions record reads
as words, never as raw data, and a kind without a renderer fails here."""

from __future__ import annotations

import ast
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import translation

import sportello
from sportello.accounts.services import agent_set_status
from sportello.automation.assignment import policy_save
from sportello.automation.models import RuleKind
from sportello.automation.services import rule_save
from sportello.tickets.models import EventKind, TicketEvent
from sportello.web.timeline import RENDERED_KINDS, changes

SRC = Path(sportello.__file__).parent


def _round_robin(desk: Any, now: Any) -> Any:
    """Books assigns every new ticket through a round-robin policy (the demo's Returns desk)."""
    agent_set_status(user=desk.agent, status="online", now=now)
    policy, _ = policy_save(
        definition={
            "key": "books-rr",
            "name": "Books round robin",
            "pool": {"department": desk.books.pk},
            "max_open_per_agent": 5,
            "offline": "skip",
            "backlog": True,
        },
        created_by=desk.admin,
        now=now,
    )
    rule_save(
        kind=RuleKind.EVENT,
        definition={
            "key": "books-round-robin",
            "name": "Books round robin",
            "on": ["ticket.created"],
            "when": {"all": []},
            "actions": [{"assign": {"policy": policy.pk}}],
        },
        created_by=desk.admin,
        now=now,
    )
    return policy


def test_a_ticket_assigned_by_round_robin_opens_and_says_who_got_it(
    desk: Any, now: Any, open_ticket: Callable[..., Any], browser: Callable[..., Any]
) -> None:
    # given a ticket assigned by round robin as it was created (through the API-facing service)
    _round_robin(desk, now)
    ticket = open_ticket("Broken spine")
    ticket.refresh_from_db()
    assert ticket.assignee_id == desk.agent.pk
    assert TicketEvent.objects.filter(ticket=ticket, kind=EventKind.ASSIGNMENT).count() == 1
    # when an agent opens it
    response = browser(desk.agent).get(f"/tickets/{ticket.pk}/")
    # then the page renders, and the history says in words who got the ticket
    assert response.status_code == 200
    html = response.content.decode()
    assert "assigned the ticket to Bruno Books by round robin" in html
    assert "&#x27;outcome&#x27;" not in html
    assert "{" not in _history(html)


def _history(html: str) -> str:
    start = html.index('id="events-title"')
    return html[start : html.index("</section>", start)]


# One event of every kind, with the data its producer records (see where each is written).
SAMPLES: dict[str, list[tuple[str, Any, str]]] = {
    EventKind.CREATED: [("", {"number": 7}, "opened the ticket")],
    EventKind.FIELD: [("priority", 3, "Priority")],
    EventKind.TAGS: [("tags", ["vip", "refund"], "vip, refund")],
    EventKind.MESSAGE: [("internal", {"message_id": None, "author_kind": "agent"}, "added an internal note")],
    EventKind.ATTACHMENT: [
        (
            "received",
            {"attachment_id": 1, "filename": "photo.jpg", "size": 2048},
            "attached photo.jpg (2.0\xa0KB)",
        ),
        ("staged", {"attachment_id": 2, "filename": "draft.pdf", "size": 10}, "uploaded draft.pdf (10"),
    ],
    EventKind.REFUSED: [
        (
            "causation_depth",
            {"depth": 6, "max": 5, "attempted": "reply"},
            "a change 6 automatic round trips deep was refused (at most 5)",
        )
    ],
    EventKind.NOTIFICATION: [
        (
            "suppressed",
            {"to": "alice@acme.test", "reason": "over the limit", "rule": "r@1", "template": "t"},
            "a notification to alice@acme.test was not sent",
        )
    ],
    EventKind.DELIVERY: [
        (
            "failed",
            {"outbox_id": 4, "message_id": "<m@x>", "to": ["alice@acme.test"], "error": "550 no such user"},
            "the e-mail to alice@acme.test could not be delivered",
        )
    ],
    EventKind.MAIL: [
        (
            "bounced",
            {
                "recipients": ["bob@example.test"],
                "permanent": True,
                "reason": "mailbox full",
                "original_message_id": "",
            },
            "the e-mail to bob@example.test bounced",
        ),
        (
            "bounced",
            {"recipients": ["bob@example.test"], "permanent": False, "reason": "try later"},
            "the e-mail to bob@example.test is delayed",
        ),
    ],
    EventKind.TASK: [
        (
            "created",
            {"task": 9, "title": "Call back", "assignee": "AGENT", "due_at": None, "status": "open"},
            "added the task “Call back” for Bruno Books",
        ),
        (
            "completed",
            {"task": 9, "title": "Call back", "assignee": None, "status": "done"},
            "completed the task",
        ),
        ("updated", {"task": 9, "due_at": "2026-11-03T10:00:00+00:00"}, "changed the task #9: due date"),
        ("reopened", {"task": 9, "title": "Call back", "assignee": None}, "reopened the task “Call back”"),
    ],
    EventKind.ASSIGNMENT: [
        (
            "assignee",
            {
                "policy": "p",
                "policy_id": 1,
                "version": 1,
                "outcome": "assigned",
                "agent": "AGENT",
                "reason": "load",
            },
            "assigned the ticket to Bruno Books by round robin",
        ),
        (
            "assignee",
            {
                "policy": "p",
                "outcome": "backlog",
                "agent": None,
                "reason": "every eligible agent is at capacity",
            },
            "the ticket waits in the backlog",
        ),
        (
            "assignee",
            {"policy": "p", "outcome": "none", "agent": None},
            "found no agent to assign by round robin",
        ),
    ],
    EventKind.SLA: [
        (
            "started",
            {
                "kind": "sla.started",
                "metric": "first_response",
                "instance": 0,
                "at": "",
                "cause": "created",
                "target_us": 2 * 3_600_000_000,
            },
            "First response clock started: target 2 h",
        ),
        (
            "breached",
            {"kind": "sla.breached", "metric": "resolution", "instance": 0},
            "Resolution target breached",
        ),
        ("paused", {"kind": "sla.paused", "metric": "resolution", "instance": 0}, "Resolution clock paused"),
        (
            "resumed",
            {"kind": "sla.resumed", "metric": "resolution", "instance": 0},
            "Resolution clock resumed",
        ),
        (
            "fulfilled",
            {"kind": "sla.fulfilled", "metric": "first_response", "instance": 0},
            "First response target met",
        ),
        (
            "superseded",
            {"kind": "sla.superseded", "metric": "resolution", "instance": 0},
            "Resolution clock replaced by a new policy",
        ),
        (
            "retargeted",
            {"kind": "sla.retargeted", "metric": "resolution", "instance": 0, "target_us": 90 * 60_000_000},
            "Resolution target changed to 1 h 30 min",
        ),
        (
            "escalated",
            {"metric": "first_response", "instance": 0, "level": 1, "due_at": "2026-11-03T15:00:00+00:00"},
            "First response due Tue 3 Nov 15:00: escalated",
        ),
        (
            "started",
            {"kind": "sla.started", "metric": "periodic_update", "instance": 0, "target_us": None},
            "Periodic update clock started",
        ),
        (
            "warning",
            {"metric": "next_response", "instance": 1, "level": 0, "due_at": "2026-11-03T14:00:00+00:00"},
            "Next response due Tue 3 Nov 14:00: warning",
        ),
    ],
    EventKind.TIER: [
        (
            "escalated",
            {"path": "support", "from": "t1", "to": "t2", "reason": "needs a specialist"},
            "escalated from t1 to t2: needs a specialist",
        ),
        (
            "entered",
            {"path": "support", "tier": "t1", "team": None},
            "entered t1 of the escalation path support",
        ),
        (
            "escalation_refused",
            {"reason": "r", "refused": "t2 is not above t2"},
            "a tier escalation was refused",
        ),
    ],
    EventKind.BLUEPRINT: [
        (
            "transition",
            {
                "blueprint": "returns",
                "version": 1,
                "transition": "inspect",
                "from": "received",
                "to": "inspected",
            },
            "moved the process returns from received to inspected (inspect)",
        ),
        (
            "completed",
            {"blueprint": "returns", "version": 1, "state": "refunded"},
            "completed the process returns",
        ),
        ("attached", {"blueprint": "returns", "version": 1, "to": "received"}, "entered the process returns"),
        (
            "bypassed",
            {"blueprint": "returns", "version": 1, "from": "received", "to": "refunded"},
            "outside its transitions",
        ),
        (
            "bypass_refused",
            {"blueprint": "returns", "version": 1},
            "a status change outside the process returns",
        ),
        ("detached", {"blueprint": "returns", "version": 1, "from": "inspected"}, "left the process returns"),
        (
            "time_limit",
            {
                "blueprint": "returns",
                "version": 1,
                "state": "received",
                "due_at": "2026-11-03T14:00:00+00:00",
            },
            "time limit of state received in process returns reached (due Tue 3 Nov 14:00)",
        ),
    ],
    EventKind.MERGE: [
        ("merged_into", {"ticket": 9, "number": 123, "messages": 3, "attachments": 2, "participants": 1},
         "merged this ticket into #123"),
        ("merged_from", {"ticket": 8, "number": 122, "messages": 3, "attachments": 2, "participants": 1},
         "merged #122 into this ticket: 3 messages, 2 attachments"),
    ],
    EventKind.SPLIT: [
        ("split_to", {"ticket": 9, "number": 124, "message": 5},
         "split a customer's message into the new ticket #124"),
        ("split_from", {"ticket": 8, "number": 121, "message": 5},
         "opened this ticket from a message of #121"),
    ],
    EventKind.RATING: [
        ("answered", {"rating": 1, "scale": "good_bad", "satisfaction": "bad", "comment": "Slow",
                      "ces": None, "nps": None}, "rated the support bad (bad)"),
        ("changed", {"rating": 4, "scale": "five", "satisfaction": "good", "comment": "",
                     "ces": 6, "nps": 9},
         "changed the satisfaction rating to 4/5 (good) · effort 6/7, recommend 9/10"),
    ],
}  # fmt: skip


def test_every_event_kind_has_a_renderer() -> None:
    assert set(EventKind) - RENDERED_KINDS == set()
    assert set(SAMPLES) == set(EventKind)


def test_every_event_kind_reads_as_a_sentence_on_the_ticket_page(
    desk: Any, now: Any, open_ticket: Callable[..., Any], browser: Callable[..., Any]
) -> None:
    # given a ticket holding an event of every kind the code knows, each as its producer writes it
    ticket = open_ticket("Everything happened")
    for kind in EventKind:
        for field, value, _ in SAMPLES[kind]:
            if isinstance(value, dict):
                value = {k: desk.agent.pk if v == "AGENT" else v for k, v in value.items()}
            TicketEvent.objects.create(
                ticket=ticket, change_id=uuid.uuid4(), at=now + timedelta(minutes=5), kind=kind, field=field,
                old_value=2 if kind == EventKind.FIELD else None, new_value=value, actor_kind="system",
                actor_label="System", via="system",
            )  # fmt: skip
    # every row has a renderer of its own (no generic fallback)
    rows = [row for change in changes(TicketEvent.objects.filter(ticket=ticket)) for row in change.rows]
    assert [r for r in rows if not r.known] == []
    # when an agent opens it
    response = browser(desk.agent).get(f"/tickets/{ticket.pk}/")
    # then each reads as words, never as the stored data
    assert response.status_code == 200
    history = _history(response.content.decode()).replace("&#x27;", "'").replace("&quot;", '"')
    for kind in EventKind:
        for _field, _value, expected in SAMPLES[kind]:
            assert expected in history, (kind, expected)
    assert "{" not in history
    assert "[" not in history


def test_an_event_of_an_unknown_kind_reads_as_its_name_not_its_data(
    desk: Any, open_ticket: Any, now: Any
) -> None:
    ticket = open_ticket("Old data")
    TicketEvent.objects.create(
        ticket=ticket, at=now, kind="survey", field="answered", new_value={"score": 5},
        actor_kind="system", via="system",
    )  # fmt: skip
    rows = [row for change in changes(TicketEvent.objects.filter(ticket=ticket)) for row in change.rows]
    assert (rows[-1].text, rows[-1].known) == ("survey answered", False)


def _kind_arguments() -> list[tuple[str, int, ast.expr]]:
    """Every `kind=` given to a `TicketEvent(...)`, `NewRecord(...)` or the audit's `event(...)`
    in the source, every kind a plug-in records with `ctx.record(kind, ...)`, and every module
    constant named `EVENT_KIND`."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                name = (
                    func.id
                    if isinstance(func, ast.Name)
                    else func.attr
                    if isinstance(func, ast.Attribute)
                    else ""
                )
                if name in ("TicketEvent", "NewRecord", "event", "create") and (
                    name != "create" or "TicketEvent.objects" in ast.unparse(func)
                ):
                    found += [(str(path), node.lineno, k.value) for k in node.keywords if k.arg == "kind"]
                elif (
                    name == "record" and isinstance(func, ast.Attribute) and ast.unparse(func.value) == "ctx"
                ):
                    found += [(str(path), node.lineno, node.args[0])] if node.args else []
            elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "EVENT_KIND" for t in node.targets
            ):
                found.append((str(path), node.lineno, node.value))
    return found


def test_every_recorded_event_kind_is_one_of_the_enumeration() -> None:
    found = _kind_arguments()
    assert len(found) >= 15
    literal = [(path, line) for path, line, value in found if isinstance(value, ast.Constant)]
    assert literal == []
    named = {ast.unparse(v) for _, _, v in found if ast.unparse(v).startswith("EventKind.")}
    assert {getattr(EventKind, n.removeprefix("EventKind.")) for n in named} <= set(EventKind)


@pytest.mark.parametrize("language", ["es", "it"])
def test_the_history_sentences_are_translated(
    language: str, desk: Any, now: Any, open_ticket: Callable[..., Any], browser: Callable[..., Any]
) -> None:
    _round_robin(desk, now)
    ticket = open_ticket("Lomo roto")
    client = browser(desk.agent)
    client.cookies["django_language"] = language
    html = client.get(f"/tickets/{ticket.pk}/").content.decode()
    expected = {
        "es": "asignó el ticket a Bruno Books por turnos",
        "it": "ha assegnato il ticket a Bruno Books a rotazione",
    }[language]
    assert expected in html


def test_tier_and_blueprint_events_name_tiers_states_and_transitions_by_their_names(
    desk: Any, now: Any, open_ticket: Callable[..., Any], browser: Callable[..., Any]
) -> None:
    from sportello.blueprints.models import Blueprint, BlueprintVersion
    from sportello.sla.models import TierPath

    # given a tier path and a blueprint, as their definitions name their tiers and states
    TierPath.objects.create(
        key="support", name="Support tiers", department=desk.books, created_at=now, updated_at=now,
        definition={"department": desk.books.pk, "tiers": [
            {"key": "t1", "name": "Tier 1", "team": desk.team.pk},
            {"key": "t2", "name": "Tier 2", "team": desk.team.pk},
        ]},
    )  # fmt: skip
    blueprint = Blueprint.objects.create(
        key="refunds", name="Refunds", department=desk.books, created_at=now, updated_at=now
    )
    states = [{"key": "triage", "name": "Triage"}, {"key": "investigation", "name": "Investigation"}]
    transitions = [{"key": "investigate", "name": "Investigate"}]
    BlueprintVersion.objects.create(
        blueprint=blueprint, version=1, created_at=now,
        definition={"states": states, "transitions": transitions},
    )  # fmt: skip
    ticket = open_ticket("Named")
    escalated = {"path": "support", "from": "t1", "to": "t2", "reason": "customer waiting"}
    moved = {
        "blueprint": "refunds",
        "version": 1,
        "transition": "investigate",
        "from": "triage",
        "to": "investigation",
    }
    for kind, field, value in (
        (EventKind.TIER, "escalated", escalated),
        (EventKind.BLUEPRINT, "transition", moved),
    ):
        TicketEvent.objects.create(
            ticket=ticket, change_id=uuid.uuid4(), at=now + timedelta(minutes=5), kind=kind, field=field,
            new_value=value, actor_kind="agent", actor_id=desk.agent.pk, via="web",
        )  # fmt: skip
    history = _history(browser(desk.agent).get(f"/tickets/{ticket.pk}/").content.decode())
    assert "escalated from Tier 1 to Tier 2: customer waiting" in history
    assert "moved the process Refunds from Triage to Investigation (Investigate)" in history


def test_the_history_names_what_the_page_read_already_without_asking_again(
    desk: Any, now: Any, open_ticket: Callable[..., Any], django_assert_num_queries: Any
) -> None:
    from sportello.accounts.models import Department, Team, User
    from sportello.contacts.models import Contact
    from sportello.core.actors import Via
    from sportello.tickets.models import Status
    from sportello.tickets.services import ticket_update
    from sportello.web.timeline import Known

    # given changes that name a status, an assignee, a team and a department by id, made by an
    # agent, on a ticket a customer opened
    ticket = open_ticket("Moved around")
    ticket = ticket_update(
        principal=desk.agent, ticket_id=ticket.pk, via=Via.WEB, now=now,
        data={"version": ticket.version, "status": "pending", "assignee_id": desk.agent.pk,
              "team_id": desk.team.pk},
    ).ticket  # fmt: skip
    ticket_update(
        principal=desk.admin, ticket_id=ticket.pk, via=Via.WEB, now=now,
        data={"version": ticket.version, "department_id": desk.electronics.pk},
    )  # fmt: skip
    events = list(TicketEvent.objects.filter(ticket=ticket))
    with translation.override("en"):  # the labels below, whatever an earlier test left active
        read = changes(events)
        # when the page has read those records already for its other panels
        known = Known(
            statuses=list(Status.objects.all()),
            records={
                "assignee": {u.pk: u for u in User.objects.all()},
                "requester": {c.pk: c for c in Contact.objects.all()},
                "team": {t.pk: t for t in Team.objects.all()},
                "department": {d.pk: d for d in Department.objects.all()},
            },
        )
        # then the history reads the same, without a query
        with django_assert_num_queries(0):
            again = changes(events, known)
        assert again == read
        assert {(r.field, r.new) for c in again for r in c.rows if r.kind == EventKind.FIELD} >= {
            ("Status", "Pending"), ("Assignee", "Bruno Books"), ("Team", "Novels"),
            ("Department", "Electronics"),
        }  # fmt: skip

"""The rule editor's replay over the recorded history (`console.rules.rule_replay`): the summary,
firings a day as a chart with its table, the tickets with what would have changed in words, the
comparison with the saved version, and the limits of the replay."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from sportello.automation.models import Rule, RuleKind
from sportello.automation.services import rule_save
from sportello.core.actors import Via
from sportello.tickets import services
from sportello.tickets.models import Ticket, TicketEvent
from testing import NOW, hand_clock

URGENT = """key: urgent-team
name: Urgent to Novels
on: [ticket.updated]
when:
  all:
    - {field: ticket.priority, op: is, value: urgent}
actions:
  - assign: {team: novels}
  - note: {body: "Urgent: {{ ticket.subject }}"}
"""


def days_ago(n: float) -> datetime:
    return NOW - timedelta(days=n)


def open_ticket(desk: Any, subject: str, at: datetime) -> Ticket:
    return services.ticket_open(
        principal=desk.agent,
        via=Via.API,
        data={
            "subject": subject,
            "description": "Help",
            "department_id": desk.books.pk,
            "requester_id": desk.alice.pk,
        },
        now=at,
    ).ticket


def set_priority(desk: Any, ticket: Ticket, at: datetime, priority: str) -> None:
    version = Ticket.objects.get(pk=ticket.pk).version
    services.ticket_update(
        principal=desk.agent,
        ticket_id=ticket.pk,
        via=Via.API,
        data={"priority": priority, "version": version},
        now=at,
    )


@pytest.fixture
def clock(monkeypatch: Any) -> Any:
    return hand_clock(monkeypatch, NOW)


def test_the_replay_lists_the_tickets_and_what_would_have_changed_in_words(
    desk: Any, browser: Any, clock: Any
) -> None:
    # given two tickets made urgent 3 and 40 days ago, and one high
    a = open_ticket(desk, "Screen broken", days_ago(50))
    set_priority(desk, a, days_ago(3), "urgent")
    b = open_ticket(desk, "Old urgency", days_ago(50))
    set_priority(desk, b, days_ago(40), "urgent")
    c = open_ticket(desk, "Only high", days_ago(5))
    set_priority(desk, c, days_ago(4), "high")
    events = TicketEvent.objects.count()
    # when the admin replays the new rule over the last 30 days
    reply = browser(desk.admin).post(
        "/console/rules/replay/", {"kind": "event", "yaml": URGENT, "days": "30"}
    )
    # then the summary, the chart with its numbers and the one ticket are shown in words
    assert reply.status_code == 200
    html = reply.content.decode()
    assert "Over the last 30 days it would have changed 1 ticket." in html
    assert "Recorded changes read: <strong>3</strong>" in html
    assert "Tickets read: <strong>2</strong>" in html
    assert '<svg viewBox="0 0 600 120"' in html
    assert html.count('class="rules-replay-bar"') == 31
    assert f'href="/tickets/{a.pk}/"' in html
    assert f'href="/tickets/{b.pk}/"' not in html
    (row,) = reply.context["rows"]
    (firing,) = row.firings
    assert firing.at == days_ago(3)
    assert [(c.label, c.before, c.after) for c in firing.what.changes] == [("Team", "nothing", "Novels")]
    assert firing.what.notes == ["Urgent: Screen broken"]
    assert "3\xa0days ago" in html  # (timesince joins with a no-break space)
    assert "What a replay cannot know exactly" in html
    # and nothing was written
    assert TicketEvent.objects.count() == events
    assert not Rule.objects.exists()


def test_editing_a_saved_rule_compares_with_what_it_did(desk: Any, browser: Any, clock: Any) -> None:
    # given the rule saved (urgent) while tickets changed
    rule_save(kind=RuleKind.EVENT, definition=_definition(), created_by=desk.admin, now=days_ago(60))
    a = open_ticket(desk, "Urgent one", days_ago(20))
    set_priority(desk, a, days_ago(10), "urgent")
    b = open_ticket(desk, "High one", days_ago(20))
    set_priority(desk, b, days_ago(9), "high")
    # when the admin replays a version firing on high instead
    text = URGENT.replace("value: urgent}", "value: high}")
    reply = browser(desk.admin).post("/console/rules/replay/", {"kind": "event", "yaml": text, "days": "30"})
    # then High one is newly affected and Urgent one no longer
    html = reply.content.decode()
    assert "Compared with saved version 1 over the same days: 1 newly affected, 1 no longer affected" in html
    labels = {row.number: row.comparison_label for row in reply.context["rows"]}
    assert labels == {b.number: "Newly affected", a.number: "No longer affected"}
    assert "This version would not have changed it." in html


def _definition() -> dict[str, Any]:
    from sportello.automation.services import load_rules_text

    data = load_rules_text(URGENT)
    assert isinstance(data, dict)
    return data


def test_the_replay_refuses_a_bad_window_and_a_bad_rule(desk: Any, browser: Any, clock: Any) -> None:
    client = browser(desk.admin)
    for days in ("0", "91", "x"):
        html = client.post(
            "/console/rules/replay/", {"kind": "event", "yaml": URGENT, "days": days}
        ).content.decode()
        assert "Choose a number of days from 1 to 90." in html
    bad = URGENT.replace("ticket.priority", "ticket.nothing")
    html = client.post("/console/rules/replay/", {"kind": "event", "yaml": bad, "days": "5"}).content.decode()
    assert "when.all[0].field" in html


def test_too_many_changes_ask_for_fewer_days(desk: Any, browser: Any, clock: Any, settings: Any) -> None:
    settings.SPORTELLO = {**settings.SPORTELLO, "REPLAY_CHANGES_MAX": 1}
    a = open_ticket(desk, "One", days_ago(3))
    set_priority(desk, a, days_ago(2), "urgent")
    html = (
        browser(desk.admin)
        .post("/console/rules/replay/", {"kind": "event", "yaml": URGENT, "days": "30"})
        .content.decode()
    )
    assert "choose fewer days" in html


def test_only_admins_replay(desk: Any, browser: Any, clock: Any) -> None:
    for who in (desk.agent, desk.light):
        reply = browser(who).post("/console/rules/replay/", {"kind": "event", "yaml": URGENT, "days": "30"})
        assert reply.status_code == 403


def test_the_replay_is_in_the_editors_language(desk: Any, browser: Any, clock: Any) -> None:
    a = open_ticket(desk, "Pantalla rota", days_ago(3))
    set_priority(desk, a, days_ago(2), "urgent")
    client = browser(desk.admin, HTTP_ACCEPT_LANGUAGE="es")
    client.cookies["django_language"] = "es"
    html = client.post(
        "/console/rules/replay/", {"kind": "event", "yaml": URGENT, "days": "30"}
    ).content.decode()
    assert "Over the last" not in html
    assert "Equipo" in html or "equipo" in html


def test_the_statements_do_not_grow_with_the_tickets(
    desk: Any, browser: Any, clock: Any, django_assert_max_num_queries: Any
) -> None:
    for i in range(8):
        t = open_ticket(desk, f"Ticket {i}", days_ago(5))
        set_priority(desk, t, days_ago(4), "urgent")
    client = browser(desk.admin)
    client.get("/console/rules/")  # the session and the desk's configuration read once
    with django_assert_max_num_queries(30):
        reply = client.post("/console/rules/replay/", {"kind": "event", "yaml": URGENT, "days": "30"})
    assert len(reply.context["rows"]) == 8

"""The history's filter: all, messages, changes, automation — in the page's URL, and as the
panel alone for HTMX."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

HX = {"HX-Request": "true"}


def _ticket_with_every_sort_of_change(desk: Any, open_ticket: Any, browser: Any, now: Any) -> Any:
    from sportello.tickets.models import EventKind, TicketEvent

    ticket = open_ticket("Mixed history")
    client = browser(desk.agent)
    client.post(f"/tickets/{ticket.pk}/reply/", {"kind": "internal", "body": "Looking"})
    ticket.refresh_from_db()
    client.post(
        f"/tickets/{ticket.pk}/properties/",
        {"status": "open", "priority": "high", "assignee": "", "team": "", "tags": "",
         "version": ticket.version},
    )  # fmt: skip
    later = now + timedelta(hours=2)  # after the agent's changes (the clock reads now + 1 hour)
    common = {"ticket": ticket, "at": later, "via": "system"}
    TicketEvent.objects.create(
        **common, change_id=uuid.uuid4(), kind=EventKind.SLA, field="breached",
        new_value={"metric": "first_response"}, actor_kind="sla", actor_label="SLA policy VIP",
    )  # fmt: skip
    TicketEvent.objects.create(
        **common, change_id=uuid.uuid4(), kind=EventKind.FIELD, field="priority", old_value="high",
        new_value="urgent", actor_kind="rule", actor_label="Rule Urgent words", cause="rule:urgent@1",
    )  # fmt: skip
    return ticket


def _shown(response: Any) -> list[str]:
    out = []
    for change in response.context["changes"]:
        for row in change.rows:
            out.append(row.text or row.field or row.kind)
    return out


def test_each_filter_lists_its_sort_of_change(desk: Any, open_ticket: Any, browser: Any, now: Any) -> None:
    ticket = _ticket_with_every_sort_of_change(desk, open_ticket, browser, now)
    client = browser(desk.agent)
    url = f"/tickets/{ticket.pk}/"
    everything = _shown(client.get(url))
    # the opening (with its description), the note, the agent's change, the SLA, the rule
    assert everything == [
        "created", "message", "message", "Priority", "Status", "First response target breached", "Priority"
    ]  # fmt: skip
    assert _shown(client.get(url, {"history": "messages"})) == ["created", "message", "message"]
    assert _shown(client.get(url, {"history": "changes"})) == ["Priority", "Status"]
    assert _shown(client.get(url, {"history": "automation"})) == [
        "First response target breached",
        "Priority",
    ]
    assert _shown(client.get(url, {"history": "nonsense"})) == everything


def test_the_chosen_filter_is_marked_and_each_is_a_link_in_the_url(
    desk: Any, open_ticket: Any, browser: Any, now: Any
) -> None:
    ticket = _ticket_with_every_sort_of_change(desk, open_ticket, browser, now)
    html = browser(desk.agent).get(f"/tickets/{ticket.pk}/", {"history": "automation"}).content.decode()
    assert f'<a id="history-filter-automation" href="/tickets/{ticket.pk}/?history=automation"' in html
    assert 'aria-current="true" class="current">Automation</a>' in html
    assert f'hx-push-url="/tickets/{ticket.pk}/?history=messages"' in html


def test_htmx_gets_the_panel_alone_and_a_plain_request_the_page(
    desk: Any, open_ticket: Any, browser: Any, now: Any
) -> None:
    ticket = _ticket_with_every_sort_of_change(desk, open_ticket, browser, now)
    client = browser(desk.agent)
    r = client.get(f"/tickets/{ticket.pk}/history/", {"history": "messages"}, headers=HX)
    assert r.status_code == 200
    html = r.content.decode()
    assert html.lstrip().startswith('<section class="card events" id="history"')
    assert "added an internal note" in html
    assert "breached" not in html
    r = client.get(f"/tickets/{ticket.pk}/history/", {"history": "messages"})
    assert (r.status_code, r["Location"]) == (302, f"/tickets/{ticket.pk}/?history=messages")


def test_the_history_is_for_agents_who_may_see_the_ticket(desk: Any, open_ticket: Any, browser: Any) -> None:
    from django.test import Client

    ticket = open_ticket("Private")
    url = f"/tickets/{ticket.pk}/history/"
    assert browser(desk.light).get(url, headers=HX).status_code == 200
    assert browser(desk.outsider).get(url, headers=HX).status_code == 404
    assert Client().get(url).status_code == 302


def test_causes_read_as_the_rule_or_policy_by_its_name(
    desk: Any, open_ticket: Any, browser: Any, now: Any
) -> None:
    from sportello.automation.models import RuleKind
    from sportello.automation.services import rule_save
    from sportello.tickets.models import EventKind, TicketEvent

    ticket = open_ticket("Causes")
    rule_save(
        kind=RuleKind.EVENT,
        definition={
            "key": "urgent-words",
            "name": "Urgent words",
            "on": ["ticket.created"],
            "when": {"all": []},
            "actions": [{"set": {"field": "ticket.priority", "value": "urgent"}}],
        },
        created_by=desk.admin,
        now=now,
    )
    causes = {
        "rule:urgent-words@1": "rule “Urgent words”",
        "timer:urgent-words@1#2": "a timer of rule “Urgent words”",
        "sla:gone@3:reflow": "SLA policy “gone”",  # a policy since deleted: its key
        "task:17": "task #17",
        "the customer called": "the customer called",  # a reason typed by a person
    }
    for i, cause in enumerate(causes):
        TicketEvent.objects.create(
            ticket=ticket, at=now + timedelta(hours=2, minutes=i), via="system", change_id=uuid.uuid4(),
            kind=EventKind.FIELD, field="priority", old_value="normal", new_value="high",
            actor_kind="rule", actor_label="Automation", cause=cause,
        )  # fmt: skip
    page = browser(desk.agent).get(f"/tickets/{ticket.pk}/")
    shown = [c.cause for c in page.context["changes"] if c.cause]
    assert shown == list(causes.values())
    assert "because: rule “Urgent words”" in page.content.decode()


def test_the_filter_stays_after_a_change_made_on_the_page(desk: Any, open_ticket: Any, browser: Any) -> None:
    ticket = open_ticket("Stays")
    r = browser(desk.agent).post(
        f"/tickets/{ticket.pk}/reply/",
        {"kind": "internal", "body": "Noted"},
        headers={**HX, "HX-Current-URL": f"http://testserver/tickets/{ticket.pk}/?history=changes"},
    )
    assert r.status_code == 200
    assert r.context["history_filter"] == "changes"

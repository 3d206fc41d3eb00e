"""The SLA panel of the ticket page: each targeted clock with its due instant (for the page's
countdown) and the instant its warning applies, in words: on track, due soon, breached, paused,
met. The views' clock is frozen an hour after the tickets were opened (tests/web/conftest.py)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from workflow_setup import customer_ticket, sla_policy


def clocks(html: str) -> list[tuple[str, str, str]]:
    """(metric, state class, badge text) of each clock on the page."""
    found = re.findall(
        r'<li class="sla-clock sla-(\w+)"[^>]*data-metric="([^"]+)">'
        r'.*?<span class="badge sla-badge">([^<]+)</span>',
        html,
        re.S,
    )
    return [(metric, state, badge) for state, metric, badge in found]


def test_running_clocks_show_due_and_warning_instants_for_the_countdown(
    desk: Any, browser: Any, now: datetime
) -> None:
    # given a policy of 2 hours to the first response, warned 15 minutes before
    sla_policy(desk, now, within="2h")
    ticket = customer_ticket(desk, now)
    # when the agent opens the ticket an hour later
    html = browser(desk.agent).get(f"/tickets/{ticket.pk}/").content.decode().replace("\xa0", " ")
    # then both clocks are on track, with their due and warning instants for the page's countdown
    assert "Standard support" in html
    assert clocks(html) == [("First response", "ok", "On track"), ("Resolution", "ok", "On track")]
    due = (now + timedelta(hours=2)).isoformat()
    warn = (now + timedelta(hours=1, minutes=45)).isoformat()
    assert f'data-due="{due}" data-warn="{warn}" data-metric="First response"' in html
    assert "1 hour left" in html
    assert 'data-label-warning="Due soon"' in html


def test_a_clock_inside_its_warning_window_shows_due_soon(desk: Any, browser: Any, now: datetime) -> None:
    # given a first response due 70 minutes after the ticket, warned 15 minutes before
    sla_policy(desk, now, within="70m")
    ticket = customer_ticket(desk, now)
    # when the agent looks 60 minutes in
    html = browser(desk.agent).get(f"/tickets/{ticket.pk}/").content.decode().replace("\xa0", " ")
    # then it is due soon, and the resolution is still on track
    assert clocks(html)[0] == ("First response", "warning", "Due soon")
    assert clocks(html)[1] == ("Resolution", "ok", "On track")


def test_a_breached_clock_says_so_and_how_long_ago(desk: Any, browser: Any, now: datetime) -> None:
    sla_policy(desk, now, within="30m")
    ticket = customer_ticket(desk, now)
    html = browser(desk.agent).get(f"/tickets/{ticket.pk}/").content.decode().replace("\xa0", " ")
    assert clocks(html)[0] == ("First response", "breached", "Breached")
    assert "30 minutes overdue" in html


def test_a_reply_meets_the_first_response_and_pending_pauses_the_resolution(
    desk: Any, browser: Any, now: datetime
) -> None:
    # given a ticket answered by the agent and set to pending
    from sportello.core.actors import Via
    from sportello.tickets import services

    sla_policy(desk, now, within="2h")
    ticket = customer_ticket(desk, now)
    services.message_add(
        principal=desk.agent, ticket_id=ticket.pk, via=Via.WEB, body="On it", body_html="", public=True,
        attachment_ids=[], version=None, now=now + timedelta(minutes=10),
    )  # fmt: skip
    ticket.refresh_from_db()
    services.ticket_update(
        principal=desk.agent, ticket_id=ticket.pk, via=Via.WEB,
        data={"status": "pending", "version": ticket.version}, now=now + timedelta(minutes=20),
    )  # fmt: skip
    # when the agent opens it
    html = browser(desk.agent).get(f"/tickets/{ticket.pk}/").content.decode().replace("\xa0", " ")
    # then the first response is met and the resolution paused, with the time it has left
    assert clocks(html) == [("First response", "met", "Met"), ("Resolution", "paused", "Paused")]
    assert "7 hours, 40 minutes left when it resumes" in html
    # a paused clock has nothing to count down
    assert html.count("data-due=") == 0


def test_no_sla_panel_without_clocks(desk: Any, browser: Any, now: datetime) -> None:
    ticket = customer_ticket(desk, now)
    html = browser(desk.agent).get(f"/tickets/{ticket.pk}/").content.decode().replace("\xa0", " ")
    assert 'id="sla-panel"' not in html


def test_light_agents_see_the_clocks_too(desk: Any, browser: Any, now: datetime) -> None:
    sla_policy(desk, now, within="2h")
    ticket = customer_ticket(desk, now)
    html = browser(desk.light).get(f"/tickets/{ticket.pk}/").content.decode().replace("\xa0", " ")
    assert clocks(html)[0] == ("First response", "ok", "On track")


def test_the_ticket_page_with_every_workflow_panel_costs_a_bounded_number_of_queries(
    desk: Any, browser: Any, now: datetime, django_assert_num_queries: Any
) -> None:
    # given a ticket with SLA clocks, a process, a tier path and three tasks
    from sportello.ticket_tasks.services import task_create
    from workflow_setup import returns_blueprint, returns_fields, tier_path

    sla_policy(desk, now, within="2h")
    returns_fields(desk)
    returns_blueprint(desk, now)
    tier_path(desk, now)
    ticket = customer_ticket(desk, now)
    for i in range(3):
        task_create(actor=desk.agent, ticket_id=ticket.pk, title=f"t{i}", assignee_id=desk.agent.pk, now=now)
    client = browser(desk.agent)
    client.get(f"/tickets/{ticket.pk}/")  # warm: parsed policies, paths and calendars are cached
    # then the page costs no more than a plain page, whatever the number of tasks (9): the
    # clocks, the tier and the process's run are read with the ticket (the policies' signature
    # is the page's, read once for every panel); the process's current version and the agent's
    # teams and departments come from the per-process caches (the ticket, its requester and the
    # custom fields its steps ask for are the page's); the tasks, in one statement (their
    # assignees and the people to offer are the desk's)
    # (+1: the customer panel's ratings; the process's facts read no survey: its conditions
    # name no satisfaction fact)
    with django_assert_num_queries(10):
        html = client.get(f"/tickets/{ticket.pk}/").content.decode()
    for panel in ("sla-panel", "blueprint-panel", "tasks-panel", "tier-panel"):
        assert f'id="{panel}"' in html


def test_the_clocks_read_in_the_agents_language(desk: Any, browser: Any, now: datetime) -> None:
    sla_policy(desk, now, within="2h")
    ticket = customer_ticket(desk, now)
    client = browser(desk.agent)
    client.cookies["django_language"] = "es"
    html = client.get(f"/tickets/{ticket.pk}/").content.decode().replace("\xa0", " ")
    assert clocks(html)[0] == ("Primera respuesta", "ok", "A tiempo")
    assert 'data-left="quedan %s"' in html
    client.cookies["django_language"] = "it"
    html = client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert clocks(html)[1] == ("Risoluzione", "ok", "In tempo")


def _history_of(html: str) -> str:
    start = html.index('id="events-title"')
    return html[start : html.index("</section>", start)].replace("\xa0", " ").replace("&#x27;", "'")


def test_the_history_reads_each_clock_event_with_its_instant_in_the_agents_time_zone(
    desk: Any, browser: Any, now: datetime
) -> None:
    # given an agent in Rome (UTC+1 in November), a 2-hour first response and an 8-hour resolution
    from sportello.core.actors import Via
    from sportello.tickets import services

    desk.agent.time_zone = "Europe/Rome"
    desk.agent.save(update_fields=["time_zone"])
    sla_policy(desk, now, within="2h")
    ticket = customer_ticket(desk, now)  # 09:30 UTC, 10:30 in Rome
    # when the agent answers 10 minutes in, sets it pending at 20 and opens it again at 60
    services.message_add(
        principal=desk.agent, ticket_id=ticket.pk, via=Via.WEB, body="On it", body_html="", public=True,
        attachment_ids=[], version=None, now=now + timedelta(minutes=10),
    )  # fmt: skip
    for minutes, status in ((20, "pending"), (60, "open")):
        ticket.refresh_from_db()
        services.ticket_update(
            principal=desk.agent, ticket_id=ticket.pk, via=Via.WEB,
            data={"status": status, "version": ticket.version}, now=now + timedelta(minutes=minutes),
        )  # fmt: skip
    history = _history_of(browser(desk.agent).get(f"/tickets/{ticket.pk}/").content.decode())
    # then each clock event reads as words with its instant, in Rome's time
    policy = "SLA policy “Standard support”"
    assert f"First response due Mon 2 Nov 12:30 — started by {policy}" in history
    assert f"Resolution due Mon 2 Nov 18:30 — started by {policy}" in history
    assert "(<bdi>target 2 h</bdi>)" in history
    assert "First response target met at Mon 2 Nov 10:40" in history
    assert "Resolution clock paused at Mon 2 Nov 10:50" in history
    # 40 minutes paused: the resolution is due 40 minutes later
    assert "Resolution clock resumed: due Mon 2 Nov 19:10" in history


def test_a_breach_reads_with_its_true_instant_and_in_the_agents_language(
    desk: Any, browser: Any, now: datetime
) -> None:
    # given a 2-hour first response nobody gave, and a note three hours in
    from sportello.core.actors import Via
    from sportello.tickets import services

    sla_policy(desk, now, within="2h")
    ticket = customer_ticket(desk, now)
    services.message_add(
        principal=desk.agent, ticket_id=ticket.pk, via=Via.WEB, body="Looking", body_html="", public=False,
        attachment_ids=[], version=None, now=now + timedelta(hours=3),
    )  # fmt: skip
    client = browser(desk.agent)
    # then the breach reads at the instant the target was missed (11:30 UTC), not the note's
    history = _history_of(client.get(f"/tickets/{ticket.pk}/").content.decode())
    assert "First response target breached at Mon 2 Nov 11:30" in history
    # and in Spanish, with the policy's name
    client.cookies["django_language"] = "es"
    history = _history_of(client.get(f"/tickets/{ticket.pk}/").content.decode())
    policy = "la política de SLA «Standard support»"
    assert f"Primera respuesta: vence el lun 2 Nov 11:30 — iniciado por {policy}" in history
    assert "objetivo de Primera respuesta incumplido el lun 2 Nov 11:30" in history

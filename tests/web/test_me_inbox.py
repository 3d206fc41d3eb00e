"""In-app notifications: created by the change pipeline (assignment, @mentions, SLA), shown
behind the bell, opened (read) and marked all read; only ever the agent's own."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from sportello.core.actors import Via
from sportello.inbox.mentions import Mentionable, mentioned
from sportello.inbox.models import Notification, NotificationKind
from sportello.tickets.services import message_add, ticket_update


def _note(desk: Any, ticket: Any, author: Any, body: str, now: Any) -> None:
    message_add(
        principal=author, ticket_id=ticket.pk, via=Via.WEB, body=body, body_html="", public=False,
        attachment_ids=[], version=None, now=now,
    )  # fmt: skip


def _kinds(user: Any) -> list[tuple[str, int]]:
    return [(n.kind, n.ticket_id) for n in Notification.objects.filter(recipient=user).order_by("id")]


# -- mentions, pure ----------------------------------------------------------------------------

MARTA = Mentionable(id=1, name="Marta Rossi", email="marta@desk.test")
MAR = Mentionable(id=2, name="Marta", email="m@desk.test")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@Marta Rossi please look", [1]),
        ("ping @marta rossi, thanks", [1]),
        ("@marta@desk.test can you?", [1]),
        ("@Marta can you?", [2]),
        ("@Marta Rossi and @Marta", [1, 2]),
        ("mail marta@desk.test", []),
        ("@Martina", []),
        ("no mention here", []),
        ("(@Marta Rossi)", [1]),
    ],
)
def test_mentions_match_whole_names_and_addresses_longest_first(text: str, expected: list[int]) -> None:
    assert mentioned(text, [MAR, MARTA]) == expected


# -- created by the pipeline -------------------------------------------------------------------


def test_a_note_mentioning_a_colleague_notifies_them_once(desk: Any, open_ticket: Any, now: Any) -> None:
    ticket = open_ticket("Damaged book")
    # when the admin mentions Bruno twice (name and address) and themselves
    _note(desk, ticket, desk.admin, "@Bruno Books and @bruno@desk.test, have a look. @Ada Admin", now)
    # then Bruno has one mention, with the note's words; the author none
    found = Notification.objects.get(recipient=desk.agent)
    assert (found.kind, found.ticket_id) == (NotificationKind.MENTION, ticket.pk)
    assert found.actor_label == "Ada Admin"
    assert found.parts == {"excerpt": "@Bruno Books and @bruno@desk.test, have a look. @Ada Admin"}
    assert found.read_at is None
    assert not Notification.objects.filter(recipient=desk.admin).exists()


def test_an_agent_who_cannot_see_the_ticket_is_not_notified(desk: Any, open_ticket: Any, now: Any) -> None:
    ticket = open_ticket("Books only")
    _note(desk, ticket, desk.agent, "@Eva Electronics could you check? @Lia Light too", now)
    assert not Notification.objects.filter(recipient=desk.outsider).exists()
    assert _kinds(desk.light) == [("mention", ticket.pk)]  # a light agent of Books may see it


def test_a_public_reply_never_notifies_mentions(desk: Any, open_ticket: Any, now: Any) -> None:
    ticket = open_ticket("Public")
    message_add(
        principal=desk.agent, ticket_id=ticket.pk, via=Via.WEB, body="Thanks @Lia Light", body_html="",
        public=True, attachment_ids=[], version=None, now=now,
    )  # fmt: skip
    assert not Notification.objects.exists()


def test_assignment_by_someone_else_notifies_the_assignee_but_not_self_assignment(
    desk: Any, open_ticket: Any, now: Any
) -> None:
    ticket = open_ticket("Assign me")
    # when the admin assigns Bruno
    out = ticket_update(
        principal=desk.admin, ticket_id=ticket.pk, via=Via.WEB,
        data={"assignee_id": desk.agent.pk, "version": ticket.version}, now=now,
    )  # fmt: skip
    assert _kinds(desk.agent) == [("assigned", ticket.pk)]
    assert Notification.objects.get(recipient=desk.agent).actor_label == "Ada Admin"
    # and when Bruno takes another ticket himself, he is not told
    other = open_ticket("Mine")
    ticket_update(
        principal=desk.agent, ticket_id=other.pk, via=Via.WEB,
        data={"assignee_id": desk.agent.pk, "version": other.version}, now=now,
    )  # fmt: skip
    assert _kinds(desk.agent) == [("assigned", ticket.pk)]
    assert out.ticket.assignee_id == desk.agent.pk


def test_an_sla_warning_and_breach_notify_the_assignee(desk: Any, open_ticket: Any, now: Any) -> None:
    from sportello.sla.services import policy_save
    from sportello.sla.timers import sla_fire_due

    policy_save(
        definition={
            "key": "std", "name": "Standard", "when": {"all": []},
            "targets": {"first_response": {"normal": {"within": "1h"}}},
            "warnings": [{"at_percent": 80, "metrics": ["first_response"]}],
        },
        actor=None, now=now,
    )  # fmt: skip
    open_ticket("Clock", assignee_id=desk.agent.pk)
    Notification.objects.all().delete()
    sla_fire_due(now=now + timedelta(minutes=50))
    sla_fire_due(now=now + timedelta(minutes=61))
    got = [(n.kind, n.parts) for n in Notification.objects.filter(recipient=desk.agent).order_by("id")]
    assert got == [
        ("sla_warning", {"metric": "first_response"}),
        ("sla_breach", {"metric": "first_response"}),
    ]


# -- the pages ---------------------------------------------------------------------------------


def _mention(desk: Any, open_ticket: Any, now: Any, subject: str = "Help") -> Any:
    ticket = open_ticket(subject)
    _note(desk, ticket, desk.admin, "@Bruno Books see this", now)
    return ticket


def test_the_bell_shows_the_unread_count_and_answers_304_when_nothing_changed(
    desk: Any, open_ticket: Any, browser: Any, now: Any
) -> None:
    _mention(desk, open_ticket, now)
    client = browser(desk.agent)
    r = client.get("/inbox/bell/", headers={"HX-Request": "true"})
    assert r.status_code == 200
    assert 'class="bell-count" aria-hidden="true">1<' in r.content.decode()
    assert "Notifications: 1 unread" in r.content.decode()
    assert "private" in r["Cache-Control"]
    assert "no-cache" in r["Cache-Control"]
    etag = r["ETag"]
    again = client.get("/inbox/bell/", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    # a new notification changes the tag
    _mention(desk, open_ticket, now, subject="Second")
    assert client.get("/inbox/bell/", headers={"If-None-Match": etag}).status_code == 200


def test_the_list_shows_notifications_newest_first_in_words(
    desk: Any, open_ticket: Any, browser: Any, now: Any
) -> None:
    first = _mention(desk, open_ticket, now, subject="Older one")
    second = _mention(desk, open_ticket, now, subject="Newer one")
    page = browser(desk.agent).get("/inbox/").content.decode()
    assert page.index(f"#{second.number}") < page.index(f"#{first.number}")
    assert "Ada Admin mentioned you in a note" in page
    assert "2 unread" in page


def test_opening_a_notification_marks_it_read_and_lands_on_the_ticket(
    desk: Any, open_ticket: Any, browser: Any, now: Any, frozen_clock: Any
) -> None:
    ticket = _mention(desk, open_ticket, now)
    found = Notification.objects.get(recipient=desk.agent)
    r = browser(desk.agent).post(f"/inbox/{found.pk}/open/")
    assert r.status_code == 302
    assert r["Location"] == f"/tickets/{ticket.pk}/"
    found.refresh_from_db()
    assert found.read_at == frozen_clock


def test_mark_all_read(desk: Any, open_ticket: Any, browser: Any, now: Any) -> None:
    _mention(desk, open_ticket, now)
    _mention(desk, open_ticket, now, subject="Two")
    r = browser(desk.agent).post("/inbox/read-all/")
    assert r.status_code == 302
    assert not Notification.objects.filter(recipient=desk.agent, read_at__isnull=True).exists()


def test_someone_elses_notification_is_a_404_and_stays_unread(
    desk: Any, open_ticket: Any, browser: Any, now: Any
) -> None:
    _mention(desk, open_ticket, now)
    found = Notification.objects.get(recipient=desk.agent)
    assert browser(desk.outsider).post(f"/inbox/{found.pk}/open/").status_code == 404
    assert browser(desk.light).post("/inbox/read-all/").status_code == 302
    found.refresh_from_db()
    assert found.read_at is None
    assert "see this" not in browser(desk.outsider).get("/inbox/").content.decode()


def test_inbox_pages_need_a_signed_in_agent(desk: Any) -> None:
    client = Client()
    assert client.get("/inbox/")["Location"] == "/login/?next=/inbox/"
    assert client.get("/inbox/bell/").status_code == 302
    assert client.post("/inbox/read-all/").status_code == 302
    assert client.get("/inbox/mentions/1/?q=a").status_code == 302


def test_the_inbox_page_query_count_is_bounded(
    desk: Any, open_ticket: Any, browser: Any, now: Any, django_assert_max_num_queries: Any
) -> None:
    for i in range(5):
        _mention(desk, open_ticket, now, subject=f"T{i}")
    client = browser(desk.agent)
    with django_assert_max_num_queries(4):
        assert client.get("/inbox/").status_code == 200
    with django_assert_max_num_queries(3):
        assert client.get("/inbox/bell/").status_code == 200


# -- the bell's panel --------------------------------------------------------------------------


def test_the_bell_panel_lists_the_latest_notifications_unread_first(
    desk: Any, open_ticket: Any, browser: Any, now: Any
) -> None:
    # given three mentions of the Books agent, the oldest of them still unread
    oldest = _mention(desk, open_ticket, now, subject="Oldest one")
    middle = _mention(desk, open_ticket, now, subject="Middle one")
    newest = _mention(desk, open_ticket, now, subject="Newest one")
    Notification.objects.filter(recipient=desk.agent, ticket__in=[middle, newest]).update(read_at=now)
    # when the agent opens the bell
    r = browser(desk.agent).get("/inbox/bell/panel/", headers={"HX-Request": "true"})
    # then the unread one comes first, then the read ones newest first, each opening its ticket
    assert r.status_code == 200
    html = r.content.decode()
    assert [m for m in re.findall(r"<bdi>([^<]+) one</bdi>", html)] == ["Oldest", "Newest", "Middle"]
    assert html.count("Unread:") == 1
    assert html.count("Ada Admin mentioned you in a note") == 3
    for ticket in (oldest, middle, newest):
        found = Notification.objects.get(recipient=desk.agent, ticket=ticket)
        assert f'action="/inbox/{found.pk}/open/"' in html
    assert 'href="/inbox/"' in html  # See all
    assert "Mark all read" in html
    assert "no-cache" in r["Cache-Control"]


def test_the_bell_panel_is_each_agents_own(desk: Any, open_ticket: Any, browser: Any, now: Any) -> None:
    _mention(desk, open_ticket, now, subject="For Bruno")
    # another department's agent and a light agent see none of Bruno's notifications
    for user in (desk.outsider, desk.light):
        r = browser(user).get("/inbox/bell/panel/", headers={"HX-Request": "true"})
        assert r.status_code == 200
        html = r.content.decode()
        assert "For Bruno" not in html
        assert "No notifications yet." in html
        assert "Mark all read" not in html
    # and nobody signed out gets a panel
    anonymous = Client().get("/inbox/bell/panel/")
    assert anonymous.status_code == 302
    assert anonymous["Location"] == "/login/?next=/inbox/bell/panel/"


def test_mark_all_read_from_the_panel_answers_the_panel_and_refreshes_the_bell(
    desk: Any, open_ticket: Any, browser: Any, now: Any
) -> None:
    _mention(desk, open_ticket, now)
    _mention(desk, open_ticket, now, subject="Two")
    r = browser(desk.agent).post("/inbox/read-all/", headers={"HX-Request": "true"})
    assert r.status_code == 200
    assert r["HX-Trigger"] == "inbox:changed"
    html = r.content.decode()
    assert "Unread:" not in html
    assert "Mark all read" not in html
    assert html.count("Ada Admin mentioned you in a note") == 2
    assert not Notification.objects.filter(recipient=desk.agent, read_at__isnull=True).exists()


def test_the_bell_panel_query_count_is_bounded(
    desk: Any, open_ticket: Any, browser: Any, now: Any, django_assert_num_queries: Any
) -> None:
    for i in range(5):
        _mention(desk, open_ticket, now, subject=f"T{i}")
    client = browser(desk.agent)
    # (the session and the agent; the latest with their tickets; the unread count)
    with django_assert_num_queries(4):
        assert client.get("/inbox/bell/panel/").status_code == 200


# -- mention suggestions -----------------------------------------------------------------------


def test_mention_suggestions_are_agents_who_may_see_the_ticket(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    ticket = open_ticket("Suggest")
    client = browser(desk.agent)
    names = [a["name"] for a in client.get(f"/inbox/mentions/{ticket.pk}/?q=").json()["agents"]]
    assert names == ["Ada Admin", "Bruno Books", "Lia Light"]  # not Eva (Electronics)
    got = client.get(f"/inbox/mentions/{ticket.pk}/?q=li").json()["agents"]
    assert [(a["name"], a["email"], a["handle"]) for a in got] == [
        ("Lia Light", "lia@desk.test", "Lia Light")
    ]
    assert client.get(f"/inbox/mentions/{ticket.pk}/?q=ev").json()["agents"] == []
    assert [a["name"] for a in client.get(f"/inbox/mentions/{ticket.pk}/?q=books").json()["agents"]] == [
        "Bruno Books"
    ]


def test_mention_suggestions_of_a_ticket_one_cannot_see_are_a_404(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    ticket = open_ticket("Hidden")
    assert browser(desk.outsider).get(f"/inbox/mentions/{ticket.pk}/?q=a").status_code == 404


def test_a_task_reminder_notifies_its_assignee_in_app_and_its_mail_links_to_the_ticket(
    desk: Any, open_ticket: Any, browser: Any, now: Any
) -> None:
    from sportello.outbox.models import OutboxMessage
    from sportello.ticket_tasks import reminders
    from sportello.ticket_tasks.services import task_create

    ticket = open_ticket("Call back")
    due = now + timedelta(days=1)
    for assignee in (desk.agent, desk.outsider):
        task_create(
            ticket_id=ticket.pk, actor=desk.admin, title=f"Phone {assignee.name}", assignee_id=assignee.pk,
            due_at=due, reminders=["1h"], now=now,
        )  # fmt: skip
    assert reminders.reminders_send_due(now=due - timedelta(hours=1)) == ["sent", "sent"]
    # the assignee who may see the ticket is notified in the app; the other only by mail
    [found] = Notification.objects.all()
    assert (found.recipient_id, found.kind, found.parts) == (
        desk.agent.pk, "task_due", {"title": "Phone Bruno Books", "overdue": False},
    )  # fmt: skip
    assert "Your task “Phone Bruno Books” is due soon" in browser(desk.agent).get("/inbox/").content.decode()
    bodies = [m.payload["body"] for m in OutboxMessage.objects.filter(payload__task__isnull=False)]
    assert all(b.endswith(f"Open the ticket: http://127.0.0.1:8000/tickets/{ticket.pk}/\n") for b in bodies)

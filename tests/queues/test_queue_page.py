import re
from typing import Any

import pytest

HX = {"HX-Request": "true"}
QUEUE = {"HX-Request": "true", "HX-Target": "queue"}


def _subjects(response: Any) -> list[str]:
    return [t.subject for t in response.context["tickets"]]


def test_queue_lists_unresolved_tickets_of_my_departments_by_priority_then_age(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    # given tickets in Books (the agent's department) and in Electronics
    open_ticket("Old normal", minutes_ago=50)
    open_ticket("New normal", minutes_ago=10)
    open_ticket("Urgent", priority="urgent", minutes_ago=5)
    open_ticket("Low", priority="low", minutes_ago=90)
    open_ticket("Broken TV", department=desk.electronics)
    solved = open_ticket("Done already")
    from sportello.core.actors import Via
    from sportello.tickets.services import ticket_update

    ticket_update(
        principal=desk.admin,
        ticket_id=solved.pk,
        via=Via.WEB,
        data={"status": "solved", "version": solved.version},
        now=solved.created_at,
    )
    # when the Books agent opens the queue
    r = browser(desk.agent).get("/")
    # then only unresolved Books tickets show, most urgent first, then oldest first
    assert r.status_code == 200
    assert _subjects(r) == ["Urgent", "Old normal", "New normal", "Low"]
    html = r.content.decode()
    assert "Broken TV" not in html
    assert "Done already" not in html


def test_admins_see_every_department(desk: Any, open_ticket: Any, browser: Any) -> None:
    open_ticket("Book")
    open_ticket("Broken TV", department=desk.electronics)
    r = browser(desk.admin).get("/")
    assert sorted(_subjects(r)) == ["Book", "Broken TV"]


def test_light_agents_see_their_departments_queue(desk: Any, open_ticket: Any, browser: Any) -> None:
    open_ticket("Book")
    open_ticket("Broken TV", department=desk.electronics)
    assert _subjects(browser(desk.light).get("/")) == ["Book"]


def test_filters_by_assignee_tag_category_and_department(desk: Any, open_ticket: Any, browser: Any) -> None:
    # given tickets that differ in assignee, tags and department
    open_ticket("Mine", assignee_id=desk.agent.pk, minutes_ago=30)
    open_ticket("Nobody's", tags=["Damaged Goods"], minutes_ago=20)
    open_ticket("TV", department=desk.electronics, minutes_ago=10)
    client = browser(desk.admin)
    # then each filter narrows the list (the tag is matched the way tags are stored)
    assert _subjects(client.get("/", {"assignee": "none"})) == ["Nobody's", "TV"]
    assert _subjects(client.get("/", {"tag": "damaged goods"})) == ["Nobody's"]
    assert _subjects(client.get("/", {"department": desk.electronics.pk})) == ["TV"]
    assert _subjects(client.get("/", {"status": "new"})) == ["Mine", "Nobody's", "TV"]
    assert _subjects(client.get("/", {"status": "pending"})) == []
    agent_view = browser(desk.agent).get("/", {"assignee": "me"})
    assert _subjects(agent_view) == ["Mine"]


def test_filtering_a_department_i_do_not_work_is_refused_inline(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    open_ticket("Book")
    r = browser(desk.agent).get("/", {"department": desk.electronics.pk})
    assert r.status_code == 200
    assert r.context["form"].errors["department"]
    assert _subjects(r) == ["Book"]


def test_htmx_filter_request_gets_only_the_queue_partial(desk: Any, open_ticket: Any, browser: Any) -> None:
    open_ticket("Book", tags=["gift"])
    r = browser(desk.agent).get("/", {"tag": "gift"}, headers={**HX, "HX-Target": "queue"})
    html = r.content.decode()
    assert html.lstrip().startswith('<section id="queue"')
    assert "<html" not in html
    assert "Book" in html
    assert "HX-Request" in r["Vary"]


def test_next_page_pages_through_the_view_with_a_cursor_in_the_url(
    desk: Any, open_ticket: Any, browser: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sportello.queues import views

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    for i in range(5):
        open_ticket(f"T{i}", minutes_ago=100 - i)
    client = browser(desk.agent)
    # given the first page of the landing view
    first = client.get("/")
    assert _subjects(first) == ["T0", "T1"]
    assert first.context["total"] == 5
    next_url = first.context["next_url"]
    assert "cursor=" in next_url
    assert "view=" in next_url
    # when "Next page" is followed (HTMX), the table is replaced by the next rows
    second = client.get(next_url, headers=QUEUE)
    assert _subjects(second) == ["T2", "T3"]
    assert second.content.decode().lstrip().startswith('<section id="queue"')
    assert second.context["first_url"]
    third = client.get(second.context["next_url"], headers=QUEUE)
    assert _subjects(third) == ["T4"]
    assert third.context["next_url"] is None
    # and a cursor that does not belong to the sort starts again at the first page
    assert _subjects(client.get("/", {"cursor": "garbage"})) == ["T0", "T1"]


def _row(html: str, subject: str) -> str:
    """The table row of the ticket `subject`, blanks between tags left out."""
    rows = re.findall(r"<tr data-row.*?</tr>", html, flags=re.S)
    row = next(r for r in rows if subject in r)
    return re.sub(r">\s+<", "><", row.strip())


def test_a_row_writes_every_column_escaped_and_labelled(
    desk: Any, open_ticket: Any, browser: Any, frozen_clock: Any, django_assert_num_queries: Any
) -> None:
    from datetime import timedelta

    from sportello.queues import selectors, services
    from sportello.queues.columns import STANDARD_COLUMNS
    from sportello.sla.models import TicketSla
    from sportello.tickets.fields_services import (
        FieldOption,
        LayoutRowSpec,
        custom_field_create,
        layout_replace,
    )

    # given a ticket with every column filled, a subject and a picklist label to escape
    custom_field_create(
        actor=desk.admin,
        key="region",
        label="Region <north>",
        type="picklist",
        options=[FieldOption("north", 'North & "far"')],
    )
    layout_replace(actor=desk.admin, department=desk.books, rows=[LayoutRowSpec(field="region")])
    ticket = open_ticket(
        'Torn "cover" <b> & co',
        priority="high",
        tags=["gift", "rma"],
        assignee_id=desk.agent.pk,
        team_id=desk.team.pk,
        custom_fields={"region": "north"},
        minutes_ago=90,
    )
    TicketSla.objects.create(
        ticket=ticket, state={}, next_breach_at=frozen_clock + timedelta(minutes=30), updated_at=frozen_clock
    )
    view = services.saved_view_create(
        actor=desk.admin,
        data=services.ViewInput(name="Everything", columns=[*STANDARD_COLUMNS, "custom.region"]),
        specs=selectors.view_context(user=desk.admin, now=frozen_clock).specs,
        now=frozen_clock,
    )
    client = browser(desk.admin)
    client.get("/")
    # when an admin lists it: session, user, views, departments, custom fields, counts, the
    # page, its tags, teams and assignees (nothing read again for a column)
    with django_assert_num_queries(10):
        html = client.get("/", {"view": view.pk}).content.decode()
    # then its row is exactly this
    assert _row(html, "Torn") == ROW.format(pk=ticket.pk, number=ticket.number)


ROW = (
    '<tr data-row class="prio-high"><td class="qt-check">'
    '<input type="checkbox" name="ticket" value="{pk}:1" aria-label="Select ticket {number}"'
    ' data-row-check></td><td class="qt-number" data-label="Number">'
    '<span class="num">#{number}</span></td><td class="qt-subject" data-label="Subject">'
    '<a href="/tickets/{pk}/" data-row-link title="Torn &quot;cover&quot; &lt;b&gt; &amp; co">'
    "<bdi>Torn &quot;cover&quot; &lt;b&gt; &amp; co</bdi></a></td>"
    '<td class="qt-requester" data-label="Requester"><bdi>Alice Acme</bdi></td>'
    '<td class="qt-organization" data-label="Organization"><bdi>Acme</bdi></td>'
    '<td class="qt-department" data-label="Department"><bdi>Books</bdi></td>'
    '<td class="qt-team" data-label="Team"><bdi>Novels</bdi></td>'
    '<td class="qt-assignee" data-label="Assignee"><bdi>Bruno Books</bdi></td>'
    '<td class="qt-status" data-label="Status"><span class="badge cat-new">New</span></td>'
    '<td class="qt-priority" data-label="Priority"><span class="badge prio prio-high">High</span>'
    '</td><td class="qt-sla" data-label="SLA">'
    '<time class="badge sla-warning" datetime="2026-11-02T11:00:00+00:00" title="Nov. 2, 2026, 11'
    ' a.m.">in 30 min</time></td><td class="qt-updated" data-label="Updated">'
    '<time datetime="2026-11-02T08:00:00+00:00" title="Nov. 2, 2026, 8 a.m.">'
    '<span aria-hidden="true">2 h</span><span class="visually-hidden">2\xa0hours ago</span></time></td>'
    '<td class="qt-created" data-label="Created">'
    '<time datetime="2026-11-02T08:00:00+00:00" title="Nov. 2, 2026, 8 a.m.">'
    '<span aria-hidden="true">2 h</span><span class="visually-hidden">2\xa0hours ago</span></time></td>'
    '<td class="qt-channel" data-label="Channel">Web</td><td class="qt-tags" data-label="Tags">'
    '<span class="qt-tag-list" title="gift, rma"><bdi class="tag">gift</bdi>'
    '<bdi class="tag">rma</bdi></span></td>'
    '<td class="qt-custom-region" data-label="Region &lt;north&gt;">'
    "<bdi>North &amp; &quot;far&quot;</bdi></td></tr>"
)

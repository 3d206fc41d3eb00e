from typing import Any

HX = {"HX-Request": "true"}


def _messages(ticket: Any) -> list[tuple[bool, str]]:
    from sportello.tickets.models import Message

    return [(m.public, m.body_text) for m in Message.objects.filter(ticket=ticket).order_by("id")]


def test_ticket_page_shows_header_conversation_and_history(desk: Any, open_ticket: Any, browser: Any) -> None:
    # given a ticket with a reply, a note and a change of priority
    from sportello.core.actors import Via
    from sportello.tickets import services

    ticket = open_ticket("Book arrived torn", description="Page 12 is torn.", tags=["damaged"])
    for public, body in ((True, "Sorry! A new copy is on its way."), (False, "Check the courier.")):
        services.message_add(
            principal=desk.agent,
            ticket_id=ticket.pk,
            via=Via.WEB,
            body=body,
            body_html="",
            public=public,
            attachment_ids=[],
            version=None,
            now=ticket.created_at,
        )
    ticket.refresh_from_db()
    services.ticket_update(
        principal=desk.agent,
        ticket_id=ticket.pk,
        via=Via.WEB,
        data={"priority": "urgent", "version": ticket.version},
        now=ticket.created_at,
    )
    # when the agent opens it
    r = browser(desk.agent).get(f"/tickets/{ticket.pk}/")
    html = r.content.decode()
    # then the header, both kinds of message and the audit trail are there
    assert r.status_code == 200
    assert f"#{ticket.number}" in html
    assert "Book arrived torn" in html
    assert "Alice Acme" in html
    assert "Acme" in html
    assert "VIP" in html
    assert "damaged" in html
    assert "Page 12 is torn." in html
    assert '<li class="message public author-agent"' in html
    assert '<li class="message internal author-agent"' in html
    assert "Check the courier." in html
    assert "Internal note" in html
    history = html[html.index('id="events-title"') :]
    assert "<strong><bdi>Ada Admin</bdi></strong>" in history
    assert "opened the ticket" in history
    assert "<strong><bdi>Bruno Books</bdi></strong>" in history
    assert "added an internal note" in history
    priority = '<span class="from"><bdi>Normal</bdi></span> → <span class="to"><bdi>Urgent</bdi></span>'
    assert priority in history
    assert '<span class="from"><bdi>New</bdi></span> → <span class="to"><bdi>Open</bdi></span>' in history
    # the values a ticket is opened with are its first state, not changes
    assert '<span class="to"><bdi>Books</bdi></span>' not in history


def test_history_names_people_not_ids(desk: Any, open_ticket: Any, browser: Any) -> None:
    ticket = open_ticket("Assign me")
    client = browser(desk.agent)
    client.post(
        f"/tickets/{ticket.pk}/properties/",
        {
            "status": "new",
            "priority": "normal",
            "assignee": desk.agent.pk,
            "team": desk.team.pk,
            "tags": "",
            "version": ticket.version,
        },
    )
    html = client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert '<span class="from"><bdi>—</bdi></span> → <span class="to"><bdi>Bruno Books</bdi></span>' in html
    assert '<span class="from"><bdi>—</bdi></span> → <span class="to"><bdi>Novels</bdi></span>' in html


def test_custom_fields_show_with_their_labels(desk: Any, open_ticket: Any, browser: Any) -> None:
    from sportello.tickets.models import CustomField, LayoutField

    field = CustomField.objects.create(key="order_no", label="Order number", type="text")
    LayoutField.objects.create(department=desk.books, field=field)
    ticket = open_ticket("With fields", custom_fields={"order_no": "A-1234"})
    # an agent edits it on the properties form, under its label
    html = browser(desk.agent).get(f"/tickets/{ticket.pk}/").content.decode()
    assert '<label for="id_cf_order_no">Order number</label>' in html
    assert 'name="cf_order_no" value="A-1234"' in html
    # a light agent reads it
    html = browser(desk.light).get(f"/tickets/{ticket.pk}/").content.decode()
    assert '<dt>Order number</dt><dd dir="auto">A-1234</dd>' in html


def test_the_fields_agents_must_fill_before_solving_are_shown_until_filled(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    from sportello.tickets.models import CustomField, LayoutField

    # given Books needs an order number to solve, and a ticket opened without one (as by mail)
    field = CustomField.objects.create(key="order_no", label="Order number", type="text")
    LayoutField.objects.create(department=desk.books, field=field, required="to_solve")
    ticket = open_ticket("No order number")
    # then the ticket page lists it
    html = browser(desk.agent).get(f"/tickets/{ticket.pk}/").content.decode()
    assert "<ul><li>Order number</li></ul>" in html
    # and once it is filled, it no longer does
    filled = open_ticket("With order number", custom_fields={"order_no": "A-1"})
    html = browser(desk.agent).get(f"/tickets/{filled.pk}/").content.decode()
    assert 'name="cf_order_no" value="A-1"' in html
    assert "fields-to-fill" not in html


def test_solving_without_a_field_required_to_solve_names_it_on_the_form(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    from sportello.tickets.models import CustomField, LayoutField

    field = CustomField.objects.create(key="order_no", label="Order number", type="text")
    LayoutField.objects.create(department=desk.books, field=field, required="to_solve")
    ticket = open_ticket("No order number")
    r = browser(desk.agent).post(
        f"/tickets/{ticket.pk}/properties/",
        {"status": "solved", "priority": "normal", "assignee": "", "team": "", "tags": "",
         "version": ticket.version},
        headers=HX,
    )  # fmt: skip
    assert r.status_code == 422
    assert "Fill in “Order number” before solving this ticket." in r.content.decode()
    ticket.refresh_from_db()
    assert ticket.status.key == "new"


def test_public_reply_through_htmx_adds_the_message_and_refreshes_the_ticket(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    ticket = open_ticket("Where is my order?")
    r = browser(desk.agent).post(
        f"/tickets/{ticket.pk}/reply/", {"kind": "public", "body": "It ships today."}, headers=HX
    )
    assert r.status_code == 200
    html = r.content.decode()
    assert html.lstrip().startswith('<article id="ticket"')
    assert "It ships today." in html
    assert _messages(ticket)[-1] == (True, "It ships today.")
    ticket.refresh_from_db()
    assert ticket.status_category == "open"
    # the refreshed properties form carries the new version, so the next save is not stale
    assert f'name="version" value="{ticket.version}"' in html


def test_internal_note_through_htmx(desk: Any, open_ticket: Any, browser: Any) -> None:
    ticket = open_ticket("Where is my order?")
    r = browser(desk.agent).post(
        f"/tickets/{ticket.pk}/reply/", {"kind": "internal", "body": "Courier says Monday."}, headers=HX
    )
    assert r.status_code == 200
    assert _messages(ticket)[-1] == (False, "Courier says Monday.")
    ticket.refresh_from_db()
    assert ticket.status_category == "new"  # a note is not an answer


def test_reply_without_htmx_redirects_back_to_the_ticket(desk: Any, open_ticket: Any, browser: Any) -> None:
    ticket = open_ticket("Where is my order?")
    r = browser(desk.agent).post(f"/tickets/{ticket.pk}/reply/", {"kind": "public", "body": "Hello"})
    assert r.status_code == 302
    assert r["Location"] == f"/tickets/{ticket.pk}/"


def test_empty_reply_is_refused_inline(desk: Any, open_ticket: Any, browser: Any) -> None:
    ticket = open_ticket("Where is my order?")
    before = _messages(ticket)
    r = browser(desk.agent).post(f"/tickets/{ticket.pk}/reply/", {"kind": "public", "body": "  "}, headers=HX)
    assert r.status_code == 422
    assert r["HX-Retarget"] == "#reply-form"
    assert r["HX-Reswap"] == "outerHTML"
    assert r.content.decode().lstrip().startswith('<form id="reply-form"')
    assert "This field is required." in r.content.decode()
    assert _messages(ticket) == before


def test_light_agent_cannot_reply_publicly_but_can_add_a_note(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    ticket = open_ticket("Where is my order?")
    before = _messages(ticket)
    client = browser(desk.light)
    # the page offers only the note, and no properties form
    page = client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert 'value="public"' not in page
    assert 'value="internal"' in page
    assert 'id="properties-form"' not in page
    # a public reply is refused, nothing is written
    r = client.post(f"/tickets/{ticket.pk}/reply/", {"kind": "public", "body": "Hi!"}, headers=HX)
    assert r.status_code == 422
    assert r.context["reply_form"].errors["kind"]
    assert _messages(ticket) == before
    # a note is accepted
    r = client.post(f"/tickets/{ticket.pk}/reply/", {"kind": "internal", "body": "FYI"}, headers=HX)
    assert r.status_code == 200
    assert _messages(ticket)[-1] == (False, "FYI")


def test_light_agent_cannot_change_properties(desk: Any, open_ticket: Any, browser: Any) -> None:
    ticket = open_ticket("Where is my order?")
    r = browser(desk.light).post(
        f"/tickets/{ticket.pk}/properties/",
        {
            "status": "new",
            "priority": "urgent",
            "assignee": "",
            "team": "",
            "tags": "",
            "version": ticket.version,
        },
        headers=HX,
    )
    assert r.status_code == 403
    assert "You are not allowed to make this change." in r.content.decode()
    ticket.refresh_from_db()
    assert ticket.priority == 2


def test_properties_form_updates_the_ticket(desk: Any, open_ticket: Any, browser: Any) -> None:
    ticket = open_ticket("Where is my order?", tags=["old"])
    r = browser(desk.agent).post(
        f"/tickets/{ticket.pk}/properties/",
        {
            "status": "pending",
            "priority": "high",
            "assignee": desk.agent.pk,
            "team": desk.team.pk,
            "tags": "Gift Wrap, late",
            "version": ticket.version,
        },
        headers=HX,
    )
    assert r.status_code == 200
    ticket.refresh_from_db()
    assert (ticket.status.key, ticket.priority, ticket.assignee_id, ticket.team_id) == (
        "pending",
        3,
        desk.agent.pk,
        desk.team.pk,
    )
    assert sorted(ticket.tags.values_list("name", flat=True)) == ["gift_wrap", "late"]
    assert ticket.version == 2


def test_stale_version_shows_the_conflict_and_writes_nothing(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    from sportello.tickets.models import TicketEvent

    # given an agent who loaded the ticket at version 1, and a colleague's change since
    ticket = open_ticket("Where is my order?")
    seen_version = ticket.version
    client = browser(desk.agent)
    client.post(f"/tickets/{ticket.pk}/reply/", {"kind": "internal", "body": "meanwhile"})
    ticket.refresh_from_db()
    events_before = TicketEvent.objects.filter(ticket=ticket).count()
    # when the first agent saves their properties form
    r = client.post(
        f"/tickets/{ticket.pk}/properties/",
        {
            "status": "new",
            "priority": "urgent",
            "assignee": "",
            "team": "",
            "tags": "",
            "version": seen_version,
        },
        headers=HX,
    )
    # then they see the inline conflict in place of the form, and nothing changed
    assert r.status_code == 409
    assert r["HX-Retarget"] == "#properties-form"
    html = r.content.decode()
    assert "This ticket changed since you opened it; reload the page to see the changes." in html
    assert "Reload" in html
    after = type(ticket).objects.get(pk=ticket.pk)
    assert (after.priority, after.version) == (ticket.priority, ticket.version)
    assert TicketEvent.objects.filter(ticket=ticket).count() == events_before


def test_service_validation_error_shows_next_to_its_field(desk: Any, open_ticket: Any, browser: Any) -> None:
    ticket = open_ticket("Where is my order?")
    r = browser(desk.agent).post(
        f"/tickets/{ticket.pk}/properties/",
        {
            "status": "new",
            "priority": "normal",
            "assignee": "",
            "team": "",
            "tags": "x" * 81,
            "version": ticket.version,
        },
        headers=HX,
    )
    assert r.status_code == 422
    assert r.context["properties_form"].errors["tags"]
    assert 'id="id_tags-error"' in r.content.decode()


def test_forbidden_ticket_is_a_404_like_a_missing_one(desk: Any, open_ticket: Any, browser: Any) -> None:
    ticket = open_ticket("Broken TV", department=desk.electronics)
    client = browser(desk.agent)
    assert client.get(f"/tickets/{ticket.pk}/").status_code == 404
    assert client.get("/tickets/999999/").status_code == 404
    r = client.post(f"/tickets/{ticket.pk}/reply/", {"kind": "internal", "body": "x"}, headers=HX)
    assert r.status_code == 404
    assert _messages(ticket) == [(True, "About: Broken TV")]


def test_script_in_a_message_is_not_rendered_as_a_script(desk: Any, open_ticket: Any, browser: Any) -> None:
    ticket = open_ticket(
        "<b>Subject</b>",
        description="",
        description_html=(
            '<p onclick="steal()">Hello</p><script>alert("x")</script><img src=x onerror=alert(1)>'
        ),
    )
    html = browser(desk.agent).get(f"/tickets/{ticket.pk}/").content.decode()
    assert "<p>Hello</p>" in html
    assert "alert(" not in html
    assert "onclick" not in html
    assert "onerror" not in html
    assert "&lt;b&gt;Subject&lt;/b&gt;" in html  # plain text fields are escaped


def test_htmx_post_passes_csrf_with_the_token_from_the_body_headers(desk: Any, open_ticket: Any) -> None:
    import json
    import re

    from django.test import Client

    # given a browser that enforces CSRF, on the ticket page
    ticket = open_ticket("Where is my order?")
    client = Client(enforce_csrf_checks=True)
    client.force_login(desk.agent)
    page = client.get(f"/tickets/{ticket.pk}/").content.decode()
    match = re.search(r"<body hx-headers='([^']+)'", page)
    assert match is not None
    token = json.loads(match.group(1))["X-CSRFToken"]
    url = f"/tickets/{ticket.pk}/reply/"
    data = {"kind": "internal", "body": "with token"}
    # then a post without the token is refused and one with the header HTMX sends is accepted
    assert client.post(url, data, headers=HX).status_code == 403
    assert client.post(url, data, headers={**HX, "X-CSRFToken": token}).status_code == 200
    assert _messages(ticket)[-1] == (False, "with token")


def _busy_ticket(open_ticket: Any, client: Any) -> Any:
    """A tagged ticket with five messages, replies and notes in turn, written by `client`."""
    ticket = open_ticket("Busy ticket", tags=["a", "b"])
    for i in range(5):
        client.post(
            f"/tickets/{ticket.pk}/reply/", {"kind": "public" if i % 2 else "internal", "body": f"m{i}"}
        )
    return ticket


def test_ticket_page_query_count_is_bounded(
    desk: Any, open_ticket: Any, browser: Any, django_assert_num_queries: Any
) -> None:
    client = browser(desk.agent)
    ticket = _busy_ticket(open_ticket, client)
    client.get(f"/tickets/{ticket.pk}/")
    # (9: the session and the agent; the ticket, in one statement with its tags, its requester
    # and their organization with the counts of their tickets, its SLA clocks, its tier, its
    # process if it follows one, how the replies' e-mails fared and the colleagues viewing or
    # replying; the configurations' signature, under which the statuses, the departments, the
    # teams, the people and the department's layout are the process's (for the forms, the
    # details, the history's names, the tasks' assignees and the messages' authors); the
    # tickets it is linked to by a merge or a follow-up; the tasks; the messages with their
    # attachments; the other tickets of the requester, open and earlier, in one; the history's
    # events. The composer's canned responses and macros are read when a picker is opened.)
    with django_assert_num_queries(10):  # (+1: the satisfaction ratings of the customer panel)
        client.get(f"/tickets/{ticket.pk}/")


def test_a_light_agents_ticket_page_reads_what_it_shows_once(
    desk: Any, open_ticket: Any, browser: Any, django_assert_num_queries: Any
) -> None:
    client = browser(desk.agent)
    ticket = _busy_ticket(open_ticket, client)
    light = browser(desk.light)
    light.get(f"/tickets/{ticket.pk}/")
    # (9: the agent's page; light agents read no process, which the ticket's statement holds
    # anyway. The details list names the department, the team and the assignee from the desk's,
    # read with the signature.)
    with django_assert_num_queries(10):  # (+1: the satisfaction ratings of the customer panel)
        html = light.get(f"/tickets/{ticket.pk}/").content.decode()
    assert '<dt>Department</dt><dd dir="auto">Books</dd>' in html


def test_a_ticket_in_a_blueprint_reuses_the_pages_ticket_for_its_process(
    desk: Any, browser: Any, now: Any, django_assert_num_queries: Any
) -> None:
    from workflow_setup import customer_ticket, returns_blueprint, returns_fields

    returns_fields(desk)
    returns_blueprint(desk, now)
    ticket = customer_ticket(desk, now)
    client = browser(desk.agent)
    client.get(f"/tickets/{ticket.pk}/")
    # (9, as for a ticket that follows none: its run is read with the ticket, its definition (the
    # history names its states from it) and the agent's departments and teams for who may
    # perform a step are the per-process caches'; the ticket and its tags, the requester and the
    # configurations' signature for its facts, the custom fields its forms ask for (the
    # layout's) are the page's.)
    # (+1: the customer panel's ratings; the process's facts read no survey: its conditions
    # name no satisfaction fact)
    with django_assert_num_queries(10):
        r = client.get(f"/tickets/{ticket.pk}/")
    assert "<bdi>Send the return label</bdi>" in r.content.decode()


def test_remote_images_in_a_customers_html_are_not_fetched_by_the_agents_browser(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    # given a message whose HTML references a tracking image elsewhere
    ticket = open_ticket("Photo", description_html='<p>See <img src="https://tracker.example/pixel.gif"></p>')
    # when an agent opens the ticket
    r = browser(desk.agent).get(f"/tickets/{ticket.pk}/")
    # then the page may show images only from the desk itself (the browser blocks the tracker)
    policy = dict(part.strip().split(" ", 1) for part in r.headers["Content-Security-Policy"].split(";"))
    assert policy["img-src"] == "'self' data:"
    assert policy["script-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"


def test_a_reply_whose_email_failed_says_so_and_quoted_history_is_collapsed(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    from sportello.core.actors import Via
    from sportello.outbox.models import OutboxMessage, OutboxStatus
    from sportello.tickets import services
    from sportello.tickets.models import Message

    # given a reply whose e-mail the customer's server refused, and a message with quoted history
    ticket = open_ticket("Torn page")
    reply = services.message_add(principal=desk.agent, ticket_id=ticket.pk, via=Via.WEB, body="New copy.",
                                  body_html="", public=True, attachment_ids=[], version=None,
                                  now=ticket.created_at).message  # fmt: skip
    assert reply is not None
    OutboxMessage.objects.filter(payload__message_id=reply.pk).update(
        status=OutboxStatus.FAILED,
        attempts=1,
        last_error="recipients refused: alice@acme.test: 550 no such user",
    )
    Message.objects.filter(ticket=ticket, author_kind="contact").update(quoted_text="> earlier words")
    # when an agent opens the ticket
    page = browser(desk.agent).get(f"/tickets/{ticket.pk}/").content.decode()
    # then the failure shows on the reply, and the quote is folded away, not lost
    assert "The e-mail was not delivered: recipients refused: alice@acme.test: 550 no such user" in page
    assert '<details class="quoted"><summary>Quoted text</summary><p>&gt; earlier words</p></details>' in page

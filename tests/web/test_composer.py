"""The composer: a reply and its status in one change, the mode kept, formatting sanitised,
uploads, canned responses, macros previewed then applied, follow-ups of closed tickets."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

HX = {"HX-Request": "true"}


def _messages(ticket: Any) -> list[tuple[bool, str]]:
    from sportello.tickets.models import Message

    return [(m.public, m.body_text) for m in Message.objects.filter(ticket=ticket).order_by("id")]


def _last_message(ticket: Any) -> Any:
    from sportello.tickets.models import Message

    return Message.objects.filter(ticket=ticket).order_by("-id").first()


def _close(desk: Any, ticket: Any) -> Any:
    from sportello.core.actors import Via
    from sportello.tickets import services

    ticket.refresh_from_db()
    return services.ticket_update(
        principal=desk.admin,
        ticket_id=ticket.pk,
        via=Via.WEB,
        data={"status": "closed", "version": ticket.version},
        now=ticket.created_at,
    ).ticket


# --- reply and status ------------------------------------------------------------------------


def test_send_and_set_pending_adds_the_reply_and_sets_the_status_in_one_change(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    from sportello.tickets.models import TicketEvent

    # given a new ticket
    ticket = open_ticket("Where is my order?")
    # when the agent sends a reply with "Send and set Pending"
    r = browser(desk.agent).post(
        f"/tickets/{ticket.pk}/reply/",
        {"kind": "public", "body": "It ships today.", "status": "pending"},
        headers=HX,
    )
    # then the message is there and the ticket is pending, both in one change of the audit trail
    assert r.status_code == 200
    assert r["HX-Trigger"] == "composer:sent"
    assert _messages(ticket)[-1] == (True, "It ships today.")
    ticket.refresh_from_db()
    assert ticket.status.key == "pending"
    status_event = TicketEvent.objects.filter(ticket=ticket, kind="field", field="status").last()
    assert status_event is not None
    assert (status_event.old_value, status_event.new_value) == ("new", "pending")
    assert (
        TicketEvent.objects.filter(ticket=ticket, kind="message", change_id=status_event.change_id).count()
        == 1
    )
    assert (status_event.via, status_event.actor_id) == ("web", desk.agent.pk)


def test_the_split_button_offers_the_statuses_but_not_the_current_one(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    ticket = open_ticket("Where is my order?")
    html = browser(desk.agent).get(f"/tickets/{ticket.pk}/").content.decode()
    for key, label in (
        ("open", "Open"),
        ("pending", "Pending"),
        ("on_hold", "On hold"),
        ("solved", "Solved"),
    ):
        assert f'<button type="submit" name="status" value="{key}">Send and set {label}</button>' in html
    assert 'name="status" value="new"' not in html
    assert 'name="status" value="closed"' not in html


def test_setting_the_status_a_colleague_set_meanwhile_is_accepted(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    # given a page shown while the ticket was open, and a colleague who set it Pending since
    ticket = open_ticket("Where is my order?")
    client = browser(desk.agent)
    client.post(
        f"/tickets/{ticket.pk}/reply/", {"kind": "public", "body": "On it", "status": "pending"}, headers=HX
    )
    ticket.refresh_from_db()
    assert ticket.status.key == "pending"
    # when "Send and set Pending" is sent from the older page, the reply is kept
    r = client.post(
        f"/tickets/{ticket.pk}/reply/",
        {"kind": "public", "body": "Waiting for you", "status": "pending"},
        headers=HX,
    )
    assert r.status_code == 200
    assert (True, "Waiting for you") in _messages(ticket)


def test_a_refused_status_writes_nothing_and_keeps_what_was_typed(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    from sportello.tickets.models import CustomField, LayoutField

    # given a field required to solve that is empty
    field = CustomField.objects.create(key="order_number", label="Order number", type="text")
    LayoutField.objects.create(department=desk.books, field=field, required="to_solve")
    ticket = open_ticket("No order number")
    before = _messages(ticket)
    # when the agent sends a reply with "Send and set Solved"
    r = browser(desk.agent).post(
        f"/tickets/{ticket.pk}/reply/",
        {"kind": "public", "body": "All done!", "status": "solved"},
        headers=HX,
    )
    # then nothing is written and the form comes back with the text and the field named
    assert r.status_code == 422
    html = r.content.decode()
    assert r["HX-Retarget"] == "#reply-form"
    assert "Fill in “Order number” before solving this ticket." in html
    assert "All done!</textarea>" in html
    assert _messages(ticket) == before
    ticket.refresh_from_db()
    assert ticket.status.key == "new"


def test_an_unknown_status_is_refused_inline(desk: Any, open_ticket: Any, browser: Any) -> None:
    ticket = open_ticket("Where is my order?")
    before = _messages(ticket)
    r = browser(desk.agent).post(
        f"/tickets/{ticket.pk}/reply/", {"kind": "public", "body": "Hi", "status": "nonsense"}, headers=HX
    )
    assert r.status_code == 422
    assert r.context["reply_form"].errors["status"]
    assert _messages(ticket) == before


def test_light_agent_has_only_the_note_and_no_status_to_set(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    ticket = open_ticket("Where is my order?")
    client = browser(desk.light)
    html = client.get(f"/tickets/{ticket.pk}/").content.decode()
    composer = html[html.index('id="reply-form"') : html.index("</form>", html.index('id="reply-form"'))]
    assert 'value="public"' not in composer
    assert 'name="status" value=' not in composer  # (the top bar's availability buttons are others)
    assert "Canned responses" not in html
    # a status sent anyway is refused and nothing is written
    before = _messages(ticket)
    r = client.post(
        f"/tickets/{ticket.pk}/reply/", {"kind": "internal", "body": "FYI", "status": "solved"}, headers=HX
    )
    assert r.status_code == 422
    assert _messages(ticket) == before


def test_outsider_and_anonymous_cannot_reply(desk: Any, open_ticket: Any, browser: Any, client: Any) -> None:
    ticket = open_ticket("Where is my order?")
    before = _messages(ticket)
    r = browser(desk.outsider).post(f"/tickets/{ticket.pk}/reply/", {"kind": "internal", "body": "x"})
    assert r.status_code == 404
    r = client.post(f"/tickets/{ticket.pk}/reply/", {"kind": "internal", "body": "x"})
    assert r.status_code == 302
    assert r["Location"].startswith("/login/")
    assert _messages(ticket) == before


# --- mode ------------------------------------------------------------------------------------


def test_after_a_note_the_composer_stays_in_note_mode(desk: Any, open_ticket: Any, browser: Any) -> None:
    ticket = open_ticket("Where is my order?")
    other = open_ticket("Another one")
    client = browser(desk.agent)
    # a fresh composer opens on the public reply
    assert 'class="card reply-form mode-public"' in client.get(f"/tickets/{ticket.pk}/").content.decode()
    # when the agent sends a note
    r = client.post(f"/tickets/{ticket.pk}/reply/", {"kind": "internal", "body": "Check stock."}, headers=HX)
    # then the refreshed composer is still a note, here and on the next ticket they open
    assert 'class="card reply-form mode-internal"' in r.content.decode()
    assert 'value="internal" id="id_kind_1" required checked' in r.content.decode()
    assert 'class="card reply-form mode-internal"' in client.get(f"/tickets/{other.pk}/").content.decode()
    # until they send a public reply
    client.post(f"/tickets/{ticket.pk}/reply/", {"kind": "public", "body": "On its way."}, headers=HX)
    assert 'class="card reply-form mode-public"' in client.get(f"/tickets/{other.pk}/").content.decode()


def test_composer_carries_the_shortcuts_and_offers_mentions_in_notes_only(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    ticket = open_ticket("Where is my order?")
    html = browser(desk.agent).get(f"/tickets/{ticket.pk}/").content.decode()
    assert 'data-shortcut="r"' in html
    assert 'data-shortcut="n"' in html
    assert 'data-shortcut="m"' in html
    # in public-reply mode the mention endpoint is known but not active (the script sets it on
    # switching to a note)
    assert f'data-mentions-url="/inbox/mentions/{ticket.pk}/"' in html
    assert 'data-mentions="' not in html


# --- formatting ------------------------------------------------------------------------------


def test_formatting_is_rendered_to_html_and_the_text_kept_for_email(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    ticket = open_ticket("Where is my order?")
    body = (
        "Hello **Alice**, *sorry*!\n\n- one\n- two\n\n> you wrote\n\n"
        "See [the page](https://shop.test/a?b=1&c=2) and `code`"
    )
    browser(desk.agent).post(f"/tickets/{ticket.pk}/reply/", {"kind": "public", "body": body}, headers=HX)
    message = _last_message(ticket)
    assert message.body_text == body
    assert "<strong>Alice</strong>" in message.body_html
    assert "<em>sorry</em>" in message.body_html
    assert "<ul><li>one</li><li>two</li></ul>" in message.body_html
    assert "<blockquote><p>you wrote</p></blockquote>" in message.body_html
    assert (
        '<a href="https://shop.test/a?b=1&amp;c=2" rel="noopener noreferrer nofollow">the page</a>'
        in message.body_html
    )
    assert "<code>code</code>" in message.body_html


def test_hostile_html_in_a_reply_is_stripped(desk: Any, open_ticket: Any, browser: Any) -> None:
    ticket = open_ticket("Where is my order?")
    body = (
        '<script>alert(1)</script><img src=x onerror="alert(2)"> '
        "[click](javascript:alert(3)) **<b onclick=alert(4)>x</b>**"
    )
    r = browser(desk.agent).post(f"/tickets/{ticket.pk}/reply/", {"kind": "public", "body": body}, headers=HX)
    message = _last_message(ticket)
    for bad in ("<script", "<img", 'href="javascript', "<b "):
        assert bad not in message.body_html
        assert bad not in r.content.decode().split('id="conversation-title"')[1].split("</section>")[0]
    assert "&lt;script&gt;" in message.body_html


# --- attachments -----------------------------------------------------------------------------


def _upload(client: Any, ticket: Any, name: str = "receipt.txt", data: bytes = b"paid 12 EUR") -> Any:
    return client.post(
        f"/tickets/{ticket.pk}/uploads/", {"file": SimpleUploadedFile(name, data, "text/plain")}
    )


def test_upload_then_send_attaches_the_file_to_the_message(desk: Any, open_ticket: Any, browser: Any) -> None:
    from sportello.tickets.models import Attachment

    ticket = open_ticket("Where is my order?")
    client = browser(desk.agent)
    r = _upload(client, ticket)
    assert r.status_code == 201
    reply = r.json()
    assert (reply["filename"], reply["size"]) == ("receipt.txt", 11)
    attachment = Attachment.objects.get(pk=reply["id"])
    assert attachment.message_id is None
    client.post(
        f"/tickets/{ticket.pk}/reply/",
        {"kind": "public", "body": "Receipt attached.", "attachment_ids": [reply["id"]], "status": "pending"},
        headers=HX,
    )
    attachment.refresh_from_db()
    assert attachment.message_id == _last_message(ticket).pk
    ticket.refresh_from_db()
    assert ticket.status.key == "pending"


def test_an_oversized_upload_is_refused_with_its_reason(
    desk: Any, open_ticket: Any, browser: Any, settings: Any
) -> None:
    from sportello.tickets.models import Attachment

    settings.SPORTELLO = {**settings.SPORTELLO, "ATTACHMENT_MAX_BYTES": 10}
    ticket = open_ticket("Where is my order?")
    r = _upload(browser(desk.agent), ticket, data=b"x" * 11)
    assert r.status_code == 413
    assert r.json() == {"error": "The file is larger than 10\xa0bytes."}
    assert not Attachment.objects.filter(ticket=ticket).exists()


def test_uploads_follow_the_ticket_permissions(
    desk: Any, open_ticket: Any, browser: Any, client: Any
) -> None:
    from sportello.tickets.models import Attachment

    ticket = open_ticket("Where is my order?")
    assert _upload(browser(desk.light), ticket).status_code == 201  # notes may carry files
    assert _upload(browser(desk.outsider), ticket).status_code == 404
    assert _upload(client, ticket).status_code == 302
    assert Attachment.objects.filter(ticket=ticket).count() == 1


def test_an_attachment_of_another_ticket_is_refused(desk: Any, open_ticket: Any, browser: Any) -> None:
    ticket, other = open_ticket("Where is my order?"), open_ticket("Other")
    client = browser(desk.agent)
    foreign = _upload(client, other).json()["id"]
    before = _messages(ticket)
    r = client.post(
        f"/tickets/{ticket.pk}/reply/",
        {"kind": "public", "body": "Here.", "attachment_ids": [foreign]},
        headers=HX,
    )
    assert r.status_code in (404, 409, 422)
    assert _messages(ticket) == before


# --- canned responses ------------------------------------------------------------------------


@pytest.fixture
def canned(desk: Any, now: Any) -> Any:
    from sportello.notifications.canned import canned_create

    return canned_create(
        actor=desk.admin,
        title="Shipping delay",
        body="Hi {{ requester.name }}, ticket #{{ ticket.number }} is delayed.",
        department_id=desk.books.pk,
        now=now,
    )


def test_canned_response_is_rendered_for_the_ticket(
    desk: Any, open_ticket: Any, browser: Any, canned: Any
) -> None:
    ticket = open_ticket("Where is my order?")
    client = browser(desk.agent)
    listed = client.get(f"/tickets/{ticket.pk}/canned/", headers=HX).content.decode()
    assert f'data-canned-url="/tickets/{ticket.pk}/canned/{canned.pk}/"' in listed
    assert "<bdi>Shipping delay</bdi>" in listed
    r = client.get(f"/tickets/{ticket.pk}/canned/{canned.pk}/")
    assert r.status_code == 200
    assert r.json() == {"text": f"Hi Alice Acme, ticket #{ticket.number} is delayed."}


def test_canned_responses_are_not_for_outsiders_or_light_agents(
    desk: Any, open_ticket: Any, browser: Any, canned: Any
) -> None:
    ticket = open_ticket("Where is my order?")
    assert browser(desk.outsider).get(f"/tickets/{ticket.pk}/canned/{canned.pk}/").status_code == 404
    assert browser(desk.light).get(f"/tickets/{ticket.pk}/canned/{canned.pk}/").status_code == 403


# --- the pickers' lists, loaded when a picker is opened ------------------------------------------


def test_the_ticket_page_offers_the_pickers_but_reads_their_lists_only_when_opened(
    desk: Any, open_ticket: Any, browser: Any, canned: Any, macro: Any
) -> None:
    ticket = open_ticket("Where is my order?")
    page = browser(desk.agent).get(f"/tickets/{ticket.pk}/").content.decode()
    # the pickers are there, each loading its list on its first opening
    assert f'hx-get="/tickets/{ticket.pk}/canned/" hx-trigger="toggle once"' in page
    assert f'hx-get="/tickets/{ticket.pk}/macros/" hx-trigger="toggle once"' in page
    # and neither list is in the page
    assert "Shipping delay" not in page
    assert "Refund approved" not in page


def test_the_canned_responses_picker_lists_what_the_agent_sees(
    desk: Any, open_ticket: Any, browser: Any, canned: Any, now: Any
) -> None:
    from sportello.notifications.canned import canned_create

    # given a canned response of Electronics, which the Books agent does not see
    canned_create(
        actor=desk.admin, title="Electronics only", body="Hi", department_id=desk.electronics.pk, now=now,
    )  # fmt: skip
    ticket = open_ticket("Where is my order?")
    # when the Books agent opens the picker
    r = browser(desk.agent).get(f"/tickets/{ticket.pk}/canned/", headers=HX)
    # then the list holds exactly the canned responses they see, by title
    assert r.status_code == 200
    html = r.content.decode()
    assert re.findall(r"<bdi>([^<]+)</bdi>", html) == ["Shipping delay"]
    assert f'data-canned-url="/tickets/{ticket.pk}/canned/{canned.pk}/"' in html


def test_the_canned_responses_picker_is_not_for_light_agents_outsiders_or_anonymous(
    desk: Any, open_ticket: Any, browser: Any, canned: Any
) -> None:
    ticket = open_ticket("Where is my order?")
    url = f"/tickets/{ticket.pk}/canned/"
    # a light agent writes notes only: the page has no canned picker and the list is refused
    assert url not in browser(desk.light).get(f"/tickets/{ticket.pk}/").content.decode()
    refused = browser(desk.light).get(url, headers=HX)
    assert refused.status_code == 403
    assert "Shipping delay" not in refused.content.decode()
    # an agent of another department does not see the ticket
    assert browser(desk.outsider).get(url, headers=HX).status_code == 404
    # and nobody signed out gets anything but the way to the sign-in page
    anonymous = Client().get(url, headers=HX)
    assert anonymous["HX-Redirect"].startswith("/login/")
    assert "Shipping delay" not in anonymous.content.decode()
    assert Client().get(url)["Location"].startswith("/login/")


def test_the_macros_picker_lists_the_macros_the_agent_may_use(
    desk: Any, open_ticket: Any, browser: Any, macro: Any, now: Any
) -> None:
    from sportello.automation import macros

    # given a second macro only the Electronics agents may use
    macros.macro_create(
        definition={
            "key": "electronics-only", "name": "Electronics only",
            "visibility": {"scope": "department", "ids": [desk.electronics.pk]},
            "actions": [{"add_tags": ["x"]}],
        },
        actor=desk.admin, now=now,
    )  # fmt: skip
    ticket = open_ticket("Refund please")
    url = f"/tickets/{ticket.pk}/macros/"
    # the Books agent and light agent get the macro they may use, not the other
    for user in (desk.agent, desk.light):
        r = browser(user).get(url, headers=HX)
        assert r.status_code == 200
        html = r.content.decode()
        assert re.findall(r"<bdi>([^<]+)</bdi>", html) == ["Refund approved"]
        assert f'hx-get="/tickets/{ticket.pk}/macros/refund-ok/"' in html
    # an agent of another department does not see the ticket; nobody signed out gets nothing
    assert browser(desk.outsider).get(url, headers=HX).status_code == 404
    assert Client().get(url, headers=HX)["HX-Redirect"].startswith("/login/")
    assert "Refund approved" not in Client().get(url).content.decode()


# --- macros ----------------------------------------------------------------------------------


@pytest.fixture
def macro(desk: Any, now: Any) -> Any:
    from sportello.automation import macros

    return macros.macro_create(
        definition={
            "key": "refund-ok",
            "name": "Refund approved",
            "visibility": {"scope": "everyone", "ids": []},
            "actions": [
                {"set": {"field": "ticket.priority", "value": "high"}},
                {"set": {"field": "ticket.status", "value": "pending"}},
                {"add_tags": ["refund_approved"]},
                {"reply": {"body": "Dear {{ requester.name }}, your refund is approved."}},
            ],
        },
        actor=desk.admin,
        now=now,
    )


def test_macro_preview_shows_exactly_what_will_change_and_writes_nothing(
    desk: Any, open_ticket: Any, browser: Any, macro: Any
) -> None:
    ticket = open_ticket("Refund please")
    client = browser(desk.agent)
    assert (
        f'hx-get="/tickets/{ticket.pk}/macros/refund-ok/"'
        in client.get(f"/tickets/{ticket.pk}/macros/", headers=HX).content.decode()
    )
    r = client.get(f"/tickets/{ticket.pk}/macros/refund-ok/", headers=HX)
    html = r.content.decode()
    assert r.status_code == 200
    assert "Apply “Refund approved”?" in html
    row = '<tr><th scope="row">%s</th><td><bdi>%s</bdi></td><td><strong><bdi>%s</bdi></strong></td></tr>'
    assert row % ("Priority", "Normal", "High") in html
    assert row % ("Status", "New", "Pending") in html
    assert "refund_approved" in html
    assert "Public reply it adds" in html
    assert "Dear Alice Acme, your refund is approved." in html
    assert f'name="version" value="{macro.version}"' in html
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.status.key, ticket.version) == (2, "new", 1)


def test_macro_apply_changes_the_ticket_and_refreshes_it(
    desk: Any, open_ticket: Any, browser: Any, macro: Any
) -> None:
    from sportello.tickets.models import TicketEvent

    ticket = open_ticket("Refund please")
    r = browser(desk.agent).post(
        f"/tickets/{ticket.pk}/macros/refund-ok/apply/", {"version": macro.version}, headers=HX
    )
    assert r.status_code == 200
    assert r.content.decode().lstrip().startswith('<article id="ticket"')
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.status.key) == (3, "pending")
    assert _messages(ticket)[-1] == (True, "Dear Alice Acme, your refund is approved.")
    assert TicketEvent.objects.filter(
        ticket=ticket, cause=f"macro:refund-ok@{macro.version}", via="web"
    ).exists()


def test_a_refused_macro_says_why_in_the_dialog(
    desk: Any, open_ticket: Any, browser: Any, macro: Any
) -> None:
    ticket = open_ticket("Refund please")
    # a light agent may not apply a macro that changes fields
    r = browser(desk.light).get(f"/tickets/{ticket.pk}/macros/refund-ok/", headers=HX)
    assert r.status_code == 200
    assert 'role="alert"' in r.content.decode()
    assert "You are not allowed to make this change." in r.content.decode()
    r = browser(desk.light).post(
        f"/tickets/{ticket.pk}/macros/refund-ok/apply/", {"version": macro.version}, headers=HX
    )
    assert r.status_code == 403
    assert r["HX-Retarget"] == "#macro-preview"
    # a macro changed since the preview is a conflict
    r = browser(desk.agent).post(
        f"/tickets/{ticket.pk}/macros/refund-ok/apply/", {"version": macro.version + 5}, headers=HX
    )
    assert r.status_code == 409
    assert "preview it again" in r.content.decode()
    ticket.refresh_from_db()
    assert ticket.version == 1


def test_macros_of_an_outsider_ticket_are_not_found(
    desk: Any, open_ticket: Any, browser: Any, macro: Any
) -> None:
    ticket = open_ticket("Refund please")
    assert browser(desk.outsider).get(f"/tickets/{ticket.pk}/macros/refund-ok/").status_code == 404
    assert (
        browser(desk.outsider)
        .post(f"/tickets/{ticket.pk}/macros/refund-ok/apply/", {"version": 1})
        .status_code
        == 404
    )


# --- follow-up -------------------------------------------------------------------------------


def test_a_closed_ticket_offers_a_follow_up_instead_of_the_composer(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    ticket = open_ticket("Broken spine")
    _close(desk, ticket)
    html = browser(desk.agent).get(f"/tickets/{ticket.pk}/").content.decode()
    assert 'id="reply-form"' not in html
    assert 'id="followup-form"' in html
    assert "Create a follow-up" in html


def test_follow_up_opens_a_linked_ticket_with_the_agents_message(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    from sportello.tickets.models import Message, Ticket, TicketEvent

    ticket = open_ticket("Broken spine", priority="high")
    _close(desk, ticket)
    r = browser(desk.agent).post(
        f"/tickets/{ticket.pk}/follow-up/", {"body": "We are **sending** another copy."}, headers=HX
    )
    assert r.status_code == 200
    new = Ticket.objects.exclude(pk=ticket.pk).get()
    assert r["HX-Redirect"] == f"/tickets/{new.pk}/"
    assert (new.subject, new.requester_id, new.department_id, new.priority) == (
        "Re: Broken spine",
        ticket.requester_id,
        ticket.department_id,
        3,
    )
    assert list(new.tags.values_list("name", flat=True)) == ["follow_up"]
    first = Message.objects.get(ticket=new)
    assert (first.public, first.author_agent_id, first.body_text) == (
        True,
        desk.agent.pk,
        "We are **sending** another copy.",
    )
    assert "<strong>sending</strong>" in first.body_html
    created = TicketEvent.objects.get(ticket=new, kind="created")
    assert (created.cause, created.via) == (f"follow-up of #{ticket.number}", "web")


def test_follow_up_of_an_open_ticket_is_refused(desk: Any, open_ticket: Any, browser: Any) -> None:
    from sportello.tickets.models import Ticket

    ticket = open_ticket("Broken spine")
    r = browser(desk.agent).post(f"/tickets/{ticket.pk}/follow-up/", {"body": "Hi"}, headers=HX)
    assert r.status_code == 409
    assert Ticket.objects.count() == 1


def test_follow_up_permissions(desk: Any, open_ticket: Any, browser: Any, client: Any) -> None:
    from sportello.tickets.models import Ticket

    ticket = open_ticket("Broken spine")
    _close(desk, ticket)
    assert browser(desk.outsider).post(f"/tickets/{ticket.pk}/follow-up/", {"body": "Hi"}).status_code == 404
    assert (
        browser(desk.light).post(f"/tickets/{ticket.pk}/follow-up/", {"body": "Hi"}, headers=HX).status_code
        == 403
    )
    assert client.post(f"/tickets/{ticket.pk}/follow-up/", {"body": "Hi"}).status_code == 302
    assert Ticket.objects.count() == 1


def test_an_upload_without_the_csrf_token_is_refused_and_stores_nothing(desk: Any, open_ticket: Any) -> None:
    from django.test import Client

    from sportello.tickets.models import Attachment

    ticket = open_ticket("Where is my order?")
    client = Client(enforce_csrf_checks=True)
    client.force_login(desk.agent)
    assert _upload(client, ticket).status_code == 403
    assert not Attachment.objects.filter(ticket=ticket).exists()
    # with the token (as the composer sends it, in a header) the file is stored
    client.get(f"/tickets/{ticket.pk}/")
    token = client.cookies["csrftoken"].value
    r = client.post(
        f"/tickets/{ticket.pk}/uploads/",
        {"file": SimpleUploadedFile("a.txt", b"abc", "text/plain")},
        headers={"X-CSRFToken": token},
    )
    assert r.status_code == 201
    assert Attachment.objects.filter(ticket=ticket).count() == 1

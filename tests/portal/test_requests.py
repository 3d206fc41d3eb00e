"""Submitting a request in the portal and following it: the department's form (the layout's
customer fields, attachments), the conversation (public messages only), replies, closing and
reopening; hostile probes of other customers' tickets and files answer 404 as for missing ones."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from sportello.core.actors import Actor, ActorKind, Via
from sportello.portal import services
from sportello.tickets import pipeline
from sportello.tickets.models import Attachment, Message, StatusCategory, Ticket, TicketEvent
from testing import NOW

pytestmark = pytest.mark.django_db


def _file(name: str = "receipt.pdf", data: bytes = b"%PDF-1.4 receipt") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/pdf")


def _agent_reply(desk: Any, ticket: Ticket, body: str, *, public: bool = True) -> None:
    actor = Actor(kind=ActorKind.AGENT, id=desk.agent.pk, label=desk.agent.email, principal=desk.agent)
    pipeline.ticket_apply(
        ticket_id=ticket.pk,
        mutation=pipeline.Mutation(
            actor=actor, via=Via.WEB, message=pipeline.NewMessage(body=body, public=public)
        ),
        now=NOW,
    )


def test_the_department_picker_lists_active_departments(desk: Any) -> None:
    page = Client().get("/portal/requests/new/")
    assert page.status_code == 200
    assert b"?department=%d" % desk.books.pk in page.content
    assert b"?department=%d" % desk.electronics.pk in page.content


def test_a_signed_in_customer_submits_a_books_request_with_files_and_custom_fields(
    desk: Any, layouts: Any, attachment_store: Any, customer: Any
) -> None:
    client = customer(desk.alice)
    form = client.get(f"/portal/requests/new/?department={desk.books.pk}")
    assert b'name="cf_order_number"' in form.content
    assert b'name="cf_product_code"' not in form.content
    assert b'id="suggestions"' in form.content
    assert b'hx-get="/suggest/portal/"' in form.content
    response = client.post(
        "/portal/requests/new/",
        {
            "department": desk.books.pk,
            "subject": "Missing pages",
            "description": "Pages 30 to 40 are blank.",
            "cf_order_number": "A-1001",
            "cf_subcategory": "novels",
            "attachments": [_file(), _file("photo.png", b"\x89PNG\r\n\x1a\n" + b"x" * 20)],
        },
    )
    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/portal/tickets/{ticket.number}/"
    assert (ticket.requester_id, ticket.department_id, ticket.channel) == (
        desk.alice.pk,
        desk.books.pk,
        "portal",
    )
    assert ticket.custom_fields == {"order_number": "A-1001", "subcategory": "novels"}
    (message,) = Message.objects.filter(ticket=ticket)
    assert (message.author_contact_id, message.via, message.public) == (desk.alice.pk, "portal", True)
    assert sorted(a.filename for a in message.attachments.all()) == ["photo.png", "receipt.pdf"]
    created = TicketEvent.objects.filter(ticket=ticket).first()
    assert created is not None
    assert (created.actor_kind, created.via) == ("contact", "portal")


def test_a_too_large_file_keeps_what_was_typed_and_creates_nothing(
    desk: Any, attachment_store: Any, customer: Any, settings: Any
) -> None:
    settings.SPORTELLO = {**settings.SPORTELLO, "ATTACHMENT_MAX_BYTES": 10}
    client = customer(desk.alice)
    response = client.post(
        "/portal/requests/new/",
        {
            "department": desk.books.pk,
            "subject": "Big",
            "description": "See the file",
            "attachments": [_file()],
        },
    )
    assert response.status_code == 422
    assert b"receipt.pdf is larger than" in response.content
    assert b'value="Big"' in response.content
    assert b"See the file" in response.content
    assert not Ticket.objects.exists()
    assert not list(attachment_store.rglob("*")) or all(p.is_dir() for p in attachment_store.rglob("*"))


def test_a_new_customer_is_created_in_the_pages_language_and_signed_in(desk: Any) -> None:
    client = Client(headers={"accept-language": "it"})
    response = client.post(
        "/portal/requests/new/",
        {
            "department": desk.books.pk,
            "name": "Giulia",
            "email": "giulia@posta.test",
            "subject": "Libro rovinato",
            "description": "La copertina è strappata.",
        },
    )
    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert ticket.requester.email == "giulia@posta.test"
    assert ticket.requester.language == "it"
    assert client.session["portal_contact_id"] == ticket.requester_id


def test_a_known_address_not_signed_in_gets_the_ticket_created_but_not_shown(desk: Any) -> None:
    client = Client()
    response = client.post(
        "/portal/requests/new/",
        {
            "department": desk.books.pk,
            "name": "Someone",
            "email": "alice@acme.test",
            "subject": "Hello",
            "description": "Is this Alice?",
        },
    )
    assert response.status_code == 200
    assert b"check your e-mail" in response.content
    ticket = Ticket.objects.get()
    assert ticket.requester_id == desk.alice.pk
    main = response.content[response.content.index(b"<main") :]
    assert b"Hello" not in main
    assert f"/tickets/{ticket.number}/".encode() not in main
    assert "portal_contact_id" not in client.session


def test_the_ticket_page_shows_public_messages_only_and_the_reply_is_kept(
    desk: Any, open_ticket: Any, customer: Any, attachment_store: Any
) -> None:
    ticket = open_ticket("Missing pages")
    _agent_reply(desk, ticket, "Internal: customer is VIP", public=False)
    _agent_reply(desk, ticket, "We are sending a new copy.")
    client = customer(desk.alice)
    page = client.get(f"/portal/tickets/{ticket.number}/")
    assert page.status_code == 200
    assert b"We are sending a new copy." in page.content
    assert b"Internal: customer is VIP" not in page.content
    stale_version = ticket.version
    reply = client.post(
        f"/portal/tickets/{ticket.number}/",
        {"body": "Thank you!", "version": stale_version, "attachments": [_file()]},
    )
    assert reply.status_code == 302
    last = Message.objects.filter(ticket=ticket).last()
    assert last is not None
    assert (last.body_text, last.author_contact_id, last.via) == (
        "Thank you!",
        desk.alice.pk,
        "portal",
    )
    (att,) = last.attachments.all()
    download = client.get(f"/portal/tickets/{ticket.number}/files/{att.pk}/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"%PDF-1.4 receipt"


def test_an_empty_reply_is_refused_inline(desk: Any, open_ticket: Any, customer: Any) -> None:
    ticket = open_ticket("Missing pages")
    client = customer(desk.alice)
    response = client.post(f"/portal/tickets/{ticket.number}/", {"body": "  "})
    assert response.status_code == 422
    assert b"Write a reply or attach a file." in response.content
    assert Message.objects.filter(ticket=ticket).count() == 1


def test_close_and_reopen_through_the_pipeline_as_the_customer(
    desk: Any, open_ticket: Any, customer: Any
) -> None:
    ticket = open_ticket("Missing pages")
    client = customer(desk.alice)
    closed = client.post(f"/portal/tickets/{ticket.number}/close/", {"version": ticket.version})
    assert closed.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status_category == StatusCategory.SOLVED
    event = TicketEvent.objects.filter(ticket=ticket, field="status").last()
    assert event is not None
    assert (event.actor_kind, event.actor_id, event.via) == (
        "contact",
        desk.alice.pk,
        "portal",
    )
    # a stale page does not reopen: nothing written
    stale = client.post(f"/portal/tickets/{ticket.number}/reopen/", {"version": ticket.version - 1})
    assert stale.status_code == 409
    ticket.refresh_from_db()
    assert ticket.status_category == StatusCategory.SOLVED
    reopened = client.post(f"/portal/tickets/{ticket.number}/reopen/", {"version": ticket.version})
    assert reopened.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status_category == StatusCategory.OPEN


def test_other_customers_tickets_and_files_are_404_as_missing_ones(
    desk: Any, open_ticket: Any, customer: Any, attachment_store: Any
) -> None:
    bobs = open_ticket("Bob's order", requester=desk.bob)
    services.request_reply(
        contact=desk.bob,
        ticket=bobs,
        body="Receipt attached",
        uploads=[services.Upload(stream=_file(), filename="receipt.pdf", content_type="application/pdf")],
        now=NOW,
    )
    att = Attachment.objects.get(ticket=bobs)
    client = customer(desk.alice)
    missing = client.get("/portal/tickets/999999/")
    probes = [
        client.get(f"/portal/tickets/{bobs.number}/"),
        client.get(f"/portal/tickets/{bobs.number}/files/{att.pk}/"),
        client.post(f"/portal/tickets/{bobs.number}/", {"body": "hijack"}),
        client.post(f"/portal/tickets/{bobs.number}/close/", {"version": bobs.version}),
    ]
    assert missing.status_code == 404
    assert [p.status_code for p in probes] == [404, 404, 404, 404]
    assert probes[0].content == missing.content
    assert not Message.objects.filter(body_text="hijack").exists()
    bobs.refresh_from_db()
    assert bobs.status_category != StatusCategory.SOLVED
    # Alice's own ticket does not open Bob's file either
    alices = open_ticket("Alice's order")
    assert client.get(f"/portal/tickets/{alices.number}/files/{att.pk}/").status_code == 404


def test_an_internal_notes_file_is_404(
    desk: Any, open_ticket: Any, customer: Any, attachment_store: Any
) -> None:
    ticket = open_ticket("Missing pages")
    from sportello.tickets.attachments import attachment_upload

    att = attachment_upload(
        principal=desk.agent,
        ticket_id=ticket.pk,
        stream=_file(),
        filename="x.pdf",
        declared_content_type="application/pdf",
        via=Via.WEB,
        now=NOW,
    )
    actor = Actor(kind=ActorKind.AGENT, id=desk.agent.pk, label=desk.agent.email, principal=desk.agent)
    pipeline.ticket_apply(
        ticket_id=ticket.pk,
        mutation=pipeline.Mutation(
            actor=actor,
            via=Via.WEB,
            message=(pipeline.NewMessage(body="note", public=False, attachment_ids=(att.pk,))),
        ),
        now=NOW,
    )
    client = customer(desk.alice)
    assert client.get(f"/portal/tickets/{ticket.number}/files/{att.pk}/").status_code == 404


def test_my_requests_lists_open_first_in_a_pinned_number_of_statements(
    desk: Any, open_ticket: Any, customer: Any, django_assert_num_queries: Any
) -> None:
    solved = open_ticket("Old question")
    client = customer(desk.alice)
    client.post(f"/portal/tickets/{solved.number}/close/", {"version": solved.version})
    for i in range(5):
        open_ticket(f"Question {i}")
    with django_assert_num_queries(5):
        page = client.get("/portal/tickets/")
    text = page.content.decode()
    assert text.index("Question 4") < text.index("Old question")


def test_the_ticket_page_in_a_pinned_number_of_statements(
    desk: Any, open_ticket: Any, customer: Any, django_assert_num_queries: Any
) -> None:
    ticket = open_ticket("Missing pages")
    for i in range(4):
        _agent_reply(desk, ticket, f"Answer {i}")
    client = customer(desk.alice)
    client.get(f"/portal/tickets/{ticket.number}/")
    with django_assert_num_queries(8):  # the survey prompt: one
        client.get(f"/portal/tickets/{ticket.number}/")

"""Attachments on the ticket page: links through the session-authenticated download view,
which applies the API's permission check (a 404 alike for a missing and a forbidden file)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _attach(desk: Any, ticket: Any, name: str, content: bytes, ctype: str, *, public: bool = True) -> Any:
    """A file uploaded by an agent and sent with a reply (public) or a note."""
    from sportello.core.actors import Via
    from sportello.tickets import attachments, services
    from sportello.tickets.models import Ticket
    from testing import NOW

    att = attachments.attachment_upload(
        principal=desk.agent,
        ticket_id=ticket.pk,
        stream=io.BytesIO(content),
        filename=name,
        declared_content_type=ctype,
        via=Via.WEB,
        now=NOW,
    )
    services.message_add(
        principal=desk.agent,
        ticket_id=ticket.pk,
        via=Via.WEB,
        body=f"See {name}",
        body_html="",
        public=public,
        attachment_ids=[att.pk],
        version=Ticket.objects.get(pk=ticket.pk).version,
        now=NOW,
    )
    att.refresh_from_db()
    return att


def test_an_image_shows_as_a_lazy_thumbnail_with_its_name_and_size(
    desk: Any, open_ticket: Any, browser: Any, attachment_store: Path
) -> None:
    ticket = open_ticket("Broken cover")
    att = _attach(desk, ticket, "cover.png", PNG, "image/png")
    html = browser(desk.agent).get(f"/tickets/{ticket.pk}/").content.decode()
    assert f'<img class="thumb" src="/attachments/{att.pk}/" alt="cover.png" loading="lazy"' in html
    assert '<span class="file-name"><bdi>cover.png</bdi></span>' in html
    assert "72\xa0bytes" in html


def test_a_document_links_to_its_download_with_a_type_icon(
    desk: Any, open_ticket: Any, browser: Any, attachment_store: Path
) -> None:
    ticket = open_ticket("Invoice")
    att = _attach(desk, ticket, "invoice.pdf", b"%PDF-1.4 fake", "application/pdf")
    html = browser(desk.agent).get(f"/tickets/{ticket.pk}/").content.decode()
    assert f'<a href="/attachments/{att.pk}/" download>' in html
    assert '<span class="file-icon" aria-hidden="true">PDF</span>' in html


def test_an_image_is_served_inline_without_sniffing(
    desk: Any, open_ticket: Any, browser: Any, attachment_store: Path
) -> None:
    ticket = open_ticket("Broken cover")
    att = _attach(desk, ticket, "cover.png", PNG, "image/png")
    r = browser(desk.agent).get(f"/attachments/{att.pk}/")
    assert r.status_code == 200
    assert r["Content-Type"] == "image/png"
    assert r["Content-Disposition"].startswith('inline; filename="cover.png"')
    assert r["X-Content-Type-Options"] == "nosniff"
    assert b"".join(r.streaming_content) == PNG


def test_anything_else_is_a_download_of_opaque_bytes(
    desk: Any, open_ticket: Any, browser: Any, attachment_store: Path
) -> None:
    ticket = open_ticket("Page")
    att = _attach(desk, ticket, "page.html", b"<script>alert(1)</script>", "text/html")
    r = browser(desk.agent).get(f"/attachments/{att.pk}/")
    assert r.status_code == 200
    assert r["Content-Type"] == "application/octet-stream"
    assert r["Content-Disposition"].startswith('attachment; filename="page.html"')
    assert r["X-Content-Type-Options"] == "nosniff"
    assert r["Content-Security-Policy"] == "sandbox; default-src 'none'"


def test_a_light_agent_of_the_department_may_open_a_notes_file(
    desk: Any, open_ticket: Any, browser: Any, attachment_store: Path
) -> None:
    ticket = open_ticket("Internal")
    att = _attach(desk, ticket, "notes.txt", b"internal", "text/plain", public=False)
    assert browser(desk.light).get(f"/attachments/{att.pk}/").status_code == 200


def test_an_agent_of_another_department_gets_a_404_like_a_missing_file(
    desk: Any, open_ticket: Any, browser: Any, attachment_store: Path
) -> None:
    ticket = open_ticket("Private")
    att = _attach(desk, ticket, "secret.txt", b"secret", "text/plain")
    client = browser(desk.outsider)
    assert client.get(f"/attachments/{att.pk}/").status_code == 404
    assert client.get("/attachments/999999/").status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(desk: Any, open_ticket: Any, attachment_store: Path) -> None:
    from django.test import Client

    ticket = open_ticket("Private")
    att = _attach(desk, ticket, "secret.txt", b"secret", "text/plain")
    r = Client().get(f"/attachments/{att.pk}/")
    assert r.status_code == 302
    assert r["Location"].startswith("/login/")


def test_the_page_reads_as_many_statements_for_many_files_and_tickets_as_for_one(
    desk: Any, open_ticket: Any, browser: Any, attachment_store: Path
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def statements(ticket: Any) -> int:
        client = browser(desk.agent)
        client.get(f"/tickets/{ticket.pk}/")
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"/tickets/{ticket.pk}/").status_code == 200
        return len(ctx.captured_queries)

    # given a ticket with one file, and one with many files over many messages and a requester
    # with many other tickets
    small = open_ticket("One file", requester=desk.bob)
    _attach(desk, small, "one.png", PNG, "image/png")
    big = open_ticket("Many files")
    for i in range(6):
        _attach(desk, big, f"photo-{i}.png", PNG, "image/png")
        _attach(desk, big, f"doc-{i}.pdf", b"%PDF-1.4", "application/pdf")
        open_ticket(f"Other {i}")
    # then both pages read the same number of statements
    assert statements(big) == statements(small)

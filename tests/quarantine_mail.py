"""Raw test messages for the quarantine's tests."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime

from testing import NOW

BOOKS = "books@shop.test"


def mail(
    *,
    sender: str = "Carla Rossi <carla@customer.test>",
    to: str = BOOKS,
    subject: str = "My order arrived damaged",
    body: str = "Hello, the book cover is torn.\n\nCarla",
    message_id: str | None = "<m1@customer.test>",
    html: str | None = None,
) -> bytes:
    m = EmailMessage()
    m["From"] = sender
    m["To"] = to
    m["Subject"] = subject
    m["Date"] = format_datetime(NOW)
    if message_id:
        m["Message-ID"] = message_id
    if html is not None and body:
        m.set_content(body)
        m.add_alternative(html, subtype="html")
    elif html is not None:
        m.set_content(html, subtype="html")
    else:
        m.set_content(body)
    return m.as_bytes()

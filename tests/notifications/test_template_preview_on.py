"""`notifications.services.template_preview_on`: a draft rendered on a built-in sample ticket
(nothing saved) or on a ticket by its number, in the language asked for; refused drafts say
which field and line."""

from __future__ import annotations

from typing import Any

import pytest

from sportello.contacts.models import Contact
from sportello.core.errors import NotFound, PermissionDenied, ValidationFailed
from sportello.notifications.services import template_preview_on
from sportello.tickets.models import Ticket
from testing import NOW


def test_the_sample_ticket_renders_in_the_language_asked_for_and_saves_nothing(desk: Any) -> None:
    draft = {"subject": "{{ ticket.priority_name }} #{{ ticket.number }}", "body_text": "{{ agent.name }}"}
    tickets, contacts = Ticket.objects.count(), Contact.objects.count()
    es = template_preview_on(principal=desk.admin, key="ticket_received", language="es", ticket_number=None,
                             draft=draft, now=NOW)  # fmt: skip
    it = template_preview_on(principal=desk.admin, key="ticket_received", language="it", ticket_number=None,
                             draft=draft, now=NOW)  # fmt: skip
    assert (es.subject, it.subject) == ("Alta #1042", "Alta #1042")
    assert es.text == "Sam Sample"
    assert (es.language, it.language) == ("es", "it")
    assert (Ticket.objects.count(), Contact.objects.count()) == (tickets, contacts)


def test_a_real_ticket_by_its_number(desk: Any, open_ticket: Any) -> None:
    ticket = open_ticket(desk.alice, subject="Where is my parcel?").ticket
    draft = {"subject": "{{ ticket.subject }}", "body_text": ""}
    number = ticket.number
    out = template_preview_on(
        principal=desk.admin, key="x", language="en", ticket_number=number, draft=draft, now=NOW
    )
    assert out.subject == "Where is my parcel?"
    with pytest.raises(NotFound):
        template_preview_on(
            principal=desk.admin, key="x", language="en", ticket_number=10**6, draft={}, now=NOW
        )


def test_refused_drafts_and_principals(desk: Any) -> None:
    with pytest.raises(ValidationFailed) as refused:
        template_preview_on(principal=desk.admin, key="x", language="en", ticket_number=None,
                            draft={"body_html": "<p>\n{{ a }</p>"}, now=NOW)  # fmt: skip
    assert refused.value.field == "body_html"
    assert "(line 2)" in refused.value.message
    with pytest.raises(ValidationFailed):
        template_preview_on(
            principal=desk.admin, key="x", language="fr", ticket_number=None, draft={}, now=NOW
        )
    with pytest.raises(PermissionDenied):
        template_preview_on(
            principal=desk.light, key="x", language="en", ticket_number=None, draft={}, now=NOW
        )

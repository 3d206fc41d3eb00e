"""The knowledge base's fixtures: a category with a section, and an article in English."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest


@pytest.fixture
def kb_section(desk: Any, now: datetime) -> Any:
    from sportello.kb.services import category_create, section_create

    category = category_create(
        slug="orders", title={"en": "Orders", "it": "Ordini"}, actor=desk.admin, now=now
    )
    return section_create(
        category=category, slug="returns", title={"en": "Returns", "it": "Resi"}, actor=desk.admin, now=now
    )


@pytest.fixture
def kb_article(desk: Any, kb_section: Any, now: datetime) -> Any:
    from sportello.kb.services import article_create

    return article_create(section=kb_section, source_language="en", actor=desk.agent, now=now)


QUESTION = (
    "Hello, my order B1234567 arrived broken. I am Alice Acme, reach me at alice@acme.test "
    "or +39 333 123 4567."
)
ANSWER = (
    "Hi Alice, sorry about that: print the label at https://shop.example/label?token=s3cr3tT0k3n "
    "and drop the parcel at any post office. We refund within 5 days. Bruno"
)


@pytest.fixture
def solved_ticket(desk: Any, open_ticket: Any, now: datetime) -> Any:
    """A ticket Alice opened about a broken order, answered by Bruno and solved."""
    from sportello.core.actors import Via
    from sportello.tickets.models import Ticket
    from sportello.tickets.services import message_add

    ticket = open_ticket("Broken parcel for Alice Acme", by=desk.alice, description=QUESTION)
    message_add(
        principal=desk.agent,
        ticket_id=ticket.pk,
        via=Via.WEB,
        body=ANSWER,
        body_html="",
        public=True,
        attachment_ids=[],
        version=None,
        status="solved",
        now=now,
    )
    return Ticket.objects.get(pk=ticket.pk)

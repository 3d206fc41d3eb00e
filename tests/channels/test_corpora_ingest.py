"""Every message of the offline corpora (mail nobody here wrote: the standard library's e-mail
test messages, mail-parser, django-mailbox, talon, flufl.bounce) goes through the whole intake
and ends as a ticket, a reply, a bounce record, a quarantine entry with a reason, or an ignored
loop — never an exception. One test per family; failures are collected and named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from corpora import Corpora
from sportello.channels.inbound import mail_ingest
from sportello.channels.models import InboundMail, InboundStatus, Mailbox
from testing import NOW

FAMILIES = ("stdlib", "mail_parser", "django_mailbox", "talon_replies", "flufl_bounce")
OUTCOMES = {s.value for s in InboundStatus}


@pytest.fixture
def desk_mail(desk: Any, attachment_store: Path) -> None:
    # Corpus mail is addressed to all sorts of people: take it all in at one address.
    Mailbox.objects.create(address="support@corpus.test", department=desk.books, created_at=NOW)


@pytest.mark.parametrize("family", FAMILIES)
def test_every_corpus_message_is_taken_care_of(desk_mail: None, corpora: Corpora, family: str) -> None:
    files = [f for f in corpora.require(family) if f.suffix in (".eml", ".txt", "")]
    assert files
    problems: list[str] = []
    new = 0
    for path in files:
        try:
            result = mail_ingest(raw=path.read_bytes(), via="pipe", recipient="support@corpus.test", now=NOW)
        except Exception as exc:  # the point of the test: name every message that raised
            problems.append(f"{path.name}: raised {type(exc).__name__}: {exc}")
            continue
        new += not result.duplicate
        if result.status not in OUTCOMES:
            problems.append(f"{path.name}: unknown outcome {result.status!r}")
        elif result.status == InboundStatus.QUARANTINE and not result.reason:
            problems.append(f"{path.name}: quarantined without a reason")
        elif result.status in (InboundStatus.TICKET, InboundStatus.REPLY) and result.message_id is None:
            problems.append(f"{path.name}: {result.status} without a message")
    assert not problems, "\n".join(problems)
    # and each message is listed once (a file repeating another is a duplicate), its bytes kept
    rows = InboundMail.objects.all()
    assert rows.count() == new
    assert not rows.filter(raw_key="").exists()

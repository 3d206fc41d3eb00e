"""Pinned statement counts of mail intake (`channels.inbound.mail_ingest`): a change here is a
deliberate, reviewed change. Savepoints are not counted (the pipeline's block inside the
message's transaction); everything else is."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from channels.test_inbound import _mail, ingest, mail  # noqa: F401  (`_mail`: the mailbox, autouse)
from sportello.accounts.models import User
from sportello.channels.models import InboundMail, InboundStatus, Mailbox
from sportello.contacts.models import Contact
from testing import NOW

# A new request from a known sender (9): whether the message was seen before and how much its
# sender sent lately (one statement); the configuration's signatures (the mailboxes, our and the
# agents' addresses, the department, the statuses: from the per-process cache under them, for
# the intake and its change); the sender's contact (the change's author and requester: read
# once); the ticket number; the ticket, its description, its events and its search document; the
# message's record (`InboundMail`); the reports' figures (the ticket's facts, its day's roll-up
# row and its counts row: `reports.rollups.on_change`).
KNOWN_SENDER = {"sqlite": 12, "postgresql": 12}
# A new sender: and their domain's organization, and their contact inserted (`ON CONFLICT DO
# NOTHING`, no savepoint).
NEW_SENDER = {"sqlite": 14, "postgresql": 14}
# A reply (In-Reply-To naming the customer's first message): the probe, the signatures and the
# contact; the tickets of the messages it names (one statement, on the index of the Message-IDs),
# the ticket named (is the sender taking part, is it closed or merged); the ticket locked (its
# bare row, then what threading needs); the pipeline's lock and read of the ticket, its update,
# the message, the events, the search document (SQLite: read, then its full-text row and its row
# updated; PostgreSQL: one update); the message's record; the ticket's report facts read (a
# customer's message that reopens nothing counts nothing: no roll-up row).
REPLY = {"sqlite": 17, "postgresql": 16}
# The same message again: the probe finds it, and its record is read for the answer.
DUPLICATE = 2


def count(fn: Any) -> tuple[int, Any]:
    with CaptureQueriesContext(connection) as ctx:
        out = fn()
    statements = [
        q for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]
    return len(statements), out


def _warm() -> None:
    """A first message: the per-process caches (configuration, addresses, templates) are built."""
    for sender, message_id in (
        ("Warm <warm@other.test>", "<w0@other.test>"),
        ("Carla <carla@customer.test>", "<c0@x>"),
    ):
        assert ingest(mail(sender=sender, message_id=message_id)).status == "ticket"


def test_a_new_request_from_a_known_sender_costs_ten_statements(desk: Any) -> None:
    _warm()
    n, result = count(lambda: ingest(mail(message_id="<c1@customer.test>", subject="Another order")))
    assert result.status == "ticket"
    assert n == KNOWN_SENDER[connection.vendor] <= 12


def test_a_new_sender_costs_two_statements_more(desk: Any) -> None:
    _warm()
    n, result = count(lambda: ingest(mail(sender="Neo <neo@fresh.test>", message_id="<n1@fresh.test>")))
    assert result.status == "ticket"
    assert Contact.objects.filter(email="neo@fresh.test", name="Neo").count() == 1
    assert n == NEW_SENDER[connection.vendor]


def test_a_reply_costs_a_fixed_number_of_statements(desk: Any) -> None:
    _warm()
    first = ingest(mail(message_id="<c1@customer.test>", subject="Another order"))
    reply = mail(message_id="<c2@customer.test>", subject="Re: Another order", body="Any news?",
                 headers={"In-Reply-To": "<c1@customer.test>"})  # fmt: skip
    n, result = count(lambda: ingest(reply))
    assert (result.status, result.ticket_id) == ("reply", first.ticket_id)
    assert n == REPLY[connection.vendor]
    n, again = count(lambda: ingest(reply))
    assert (again.duplicate, again.inbound_id) == (True, result.inbound_id)
    assert n == DUPLICATE


def test_a_mailbox_added_is_seen_by_the_next_message(desk: Any) -> None:
    # Given the addresses cached by a first message
    _warm()
    # When an admin adds a mailbox (another process would see the signature move the same way)
    Mailbox.objects.create(address="games@shop.test", department=desk.books, created_at=NOW)
    # Then mail to it is taken
    result = ingest(mail(to="games@shop.test", message_id="<g1@customer.test>"))
    assert (result.status, InboundMail.objects.get(pk=result.inbound_id).recipient) == (
        "ticket",
        "games@shop.test",
    )


def test_what_the_poller_writes_on_a_mailbox_moves_no_signature(desk: Any) -> None:
    from sportello.core.config import signatures

    _warm()
    before = signatures()["desk"]
    box = Mailbox.objects.get(address="books@shop.test")
    Mailbox.objects.filter(pk=box.pk).update(last_uid=7, last_error="timeout")
    box.lease_until = NOW
    box.save(update_fields=["lease_until"])
    assert signatures()["desk"] == before
    box.imap_folder = "Support"
    box.save(update_fields=["imap_folder", "uidvalidity", "last_uid"])
    assert signatures()["desk"] != before


def test_a_new_agent_writing_in_is_quarantined_at_once(desk: Any) -> None:
    # Given the agents' addresses cached by a first message
    _warm()
    # When a new agent is added and writes in by mail
    User.objects.create_user("newagent@shop.test", "x-secret-1", name="New Agent")
    result = ingest(mail(sender="New Agent <newagent@shop.test>", message_id="<a1@shop.test>"))
    # Then the message is quarantined: agents answer in the desk
    assert result.status == InboundStatus.QUARANTINE
    assert "agent" in result.reason

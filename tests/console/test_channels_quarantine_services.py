"""The quarantine's services (`channels.quarantine`): held messages by the kind of their reason,
a safe preview, release into the desk past the check that held it (audited on the ticket,
idempotent), and discard."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from quarantine_mail import BOOKS, mail
from sportello.channels import quarantine as q
from sportello.channels.inbound import mail_ingest
from sportello.channels.models import InboundMail, Mailbox
from sportello.core.errors import NotFound, PermissionDenied, ValidationFailed
from sportello.tickets.models import Ticket, TicketEvent
from testing import NOW


@pytest.fixture(autouse=True)
def _mail(settings: Any, attachment_store: Path, desk: Any) -> None:
    settings.SPORTELLO = {**settings.SPORTELLO, "MAIL_DOMAIN": "desk.test"}
    Mailbox.objects.create(address=BOOKS, department=desk.books, created_at=NOW)


def held(raw: bytes, **kw: Any) -> InboundMail:
    result = mail_ingest(raw=raw, via="mta", now=kw.pop("now", NOW), **kw)
    assert result.status == "quarantine", result
    return InboundMail.objects.get(pk=result.inbound_id)


def test_held_messages_are_listed_by_the_kind_of_their_reason(desk: Any) -> None:
    agent = held(mail(sender="bruno@desk.test", message_id="<a@x>"))
    stray = held(mail(to="someone@else.test", message_id="<b@x>"))
    nobody = held(mail(sender="", message_id="<c@x>"))
    mail_ingest(raw=mail(message_id="<d@x>"), via="mta", now=NOW)  # a ticket, not held
    assert {r.pk for r in q.quarantine_list(actor=desk.admin)} == {agent.pk, stray.pk, nobody.pk}
    assert [r.pk for r in q.quarantine_list(actor=desk.admin, reason=q.HoldReason.AGENT)] == [agent.pk]
    assert [r.pk for r in q.quarantine_list(actor=desk.admin, reason=q.HoldReason.NOT_OURS)] == [stray.pk]
    assert [r.pk for r in q.quarantine_list(actor=desk.admin, reason=q.HoldReason.NO_SENDER)] == [nobody.pk]
    assert q.hold_reason(agent.reason) is q.HoldReason.AGENT
    assert q.hold_reason("something else") is None


def test_only_admins_see_or_change_the_quarantine(desk: Any) -> None:
    row = held(mail(sender="bruno@desk.test"))
    for who in (desk.agent, desk.light):
        with pytest.raises(PermissionDenied):
            q.quarantine_list(actor=who)
        with pytest.raises(PermissionDenied):
            q.quarantine_release(inbound_id=row.pk, actor=who, now=NOW)
        with pytest.raises(PermissionDenied):
            q.quarantine_discard(inbound_id=row.pk, actor=who)
    row.refresh_from_db()
    assert row.status == "quarantine"


def test_the_preview_is_text_never_html(desk: Any) -> None:
    html = '<p>Hello <b>there</b></p><script>alert(1)</script><img src="https://track.test/x.png">'
    row = held(mail(sender="bruno@desk.test", body="", html=html))
    preview = q.quarantine_preview(row)
    assert "Hello" in preview.text
    assert "there" in preview.text
    assert "<" not in preview.text
    assert "alert" not in preview.text
    long = held(mail(to="x@else.test", body="word " * 2000, message_id="<long@x>"))
    cut = q.quarantine_preview(long)
    assert cut.cut
    assert len(cut.text) == q.PREVIEW_CHARS


def test_a_message_from_an_agents_address_released_becomes_a_ticket_audited(desk: Any) -> None:
    row = held(mail(sender="Bruno <bruno@desk.test>", subject="Forwarded complaint"))
    later = NOW + timedelta(hours=2)
    out = q.quarantine_release(inbound_id=row.pk, actor=desk.admin, now=later)
    assert out.changed
    row.refresh_from_db()
    assert row.status == "ticket"
    assert row.reason.startswith("released from the quarantine by Ada Admin (held: sent from an agent's")
    assert row.ticket_id is not None
    ticket = Ticket.objects.get(pk=row.ticket_id)
    assert ticket.subject == "Forwarded complaint"
    assert ticket.department_id == desk.books.pk
    event = TicketEvent.objects.get(ticket=ticket, kind="mail", field="released")
    assert (event.actor_kind, event.actor_id) == ("agent", desk.admin.pk)
    assert event.via == "web"
    assert event.new_value is not None
    assert event.new_value["held"].startswith("sent from an agent's address")
    # released again: nothing more happens
    again = q.quarantine_release(inbound_id=row.pk, actor=desk.admin, now=later)
    assert not again.changed
    assert Ticket.objects.count() == 1
    assert TicketEvent.objects.filter(kind="mail", field="released").count() == 1


def test_a_throttled_sender_released_is_taken_in(desk: Any, settings: Any) -> None:
    settings.SPORTELLO = {**settings.SPORTELLO, "MAIL_FLOOD_PER_5_MINUTES": 1}
    mail_ingest(raw=mail(message_id="<t0@x>"), via="mta", now=NOW)
    row = held(mail(message_id="<t1@x>", body="second"), now=NOW + timedelta(seconds=5))
    assert q.hold_reason(row.reason) is q.HoldReason.THROTTLED
    q.quarantine_release(inbound_id=row.pk, actor=desk.admin, now=NOW + timedelta(seconds=10))
    row.refresh_from_db()
    assert row.status in ("ticket", "reply")
    assert row.ticket_id is not None


def test_a_message_to_none_of_our_mailboxes_needs_one_to_be_released(desk: Any) -> None:
    row = held(mail(to="someone@else.test"))
    with pytest.raises(ValidationFailed, match="not addressed to any of our mailboxes"):
        q.quarantine_release(inbound_id=row.pk, actor=desk.admin, now=NOW)
    row.refresh_from_db()
    assert (row.status, row.ticket_id) == ("quarantine", None)
    assert row.reason.startswith("not addressed")
    box = Mailbox.objects.get(address=BOOKS)
    q.quarantine_release(inbound_id=row.pk, actor=desk.admin, now=NOW, mailbox_id=box.pk)
    row.refresh_from_db()
    assert row.status == "ticket"
    assert row.mailbox_id == box.pk
    with pytest.raises(NotFound):
        q.quarantine_release(inbound_id=row.pk, actor=desk.admin, now=NOW, mailbox_id=9999)


def test_a_message_without_a_sender_cannot_be_released(desk: Any) -> None:
    row = held(mail(sender=""))
    with pytest.raises(ValidationFailed, match="no sender address"):
        q.quarantine_release(inbound_id=row.pk, actor=desk.admin, now=NOW)
    row.refresh_from_db()
    assert row.status == "quarantine"
    assert row.reason == "no sender address"
    assert Ticket.objects.count() == 0


def test_an_oversized_message_released_is_read_whole(desk: Any, settings: Any) -> None:
    settings.SPORTELLO = {**settings.SPORTELLO, "MAIL_MAX_BYTES": 2000}
    row = held(mail(body="x" * 3000))
    assert q.hold_reason(row.reason) is q.HoldReason.TOO_LARGE
    q.quarantine_release(inbound_id=row.pk, actor=desk.admin, now=NOW)
    row.refresh_from_db()
    assert row.status == "ticket"


def test_a_discarded_message_is_set_aside_once(desk: Any) -> None:
    row = held(mail(sender="bruno@desk.test"))
    out = q.quarantine_discard(inbound_id=row.pk, actor=desk.admin)
    assert out.changed
    row.refresh_from_db()
    assert row.status == "ignored"
    assert row.reason.startswith("discarded from the quarantine by Ada Admin (held: sent from an agent")
    assert not q.quarantine_discard(inbound_id=row.pk, actor=desk.admin).changed
    assert not q.quarantine_release(inbound_id=row.pk, actor=desk.admin, now=NOW).changed
    assert Ticket.objects.count() == 0
    assert list(q.quarantine_list(actor=desk.admin)) == []
    with pytest.raises(NotFound):
        q.quarantine_discard(inbound_id=10**9, actor=desk.admin)

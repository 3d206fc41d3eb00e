"""`/api/v1/mail/inbound`: a raw RFC 5322 message from an MTA or a mail service (`POST`), and
what became of every message received (`GET`, `GET {id}/raw`: admins reviewing the quarantine).

For admins' tokens (create one for the MTA's account with `sportello token`). The body is the
message exactly as received (`Content-Type: message/rfc822`; `application/octet-stream` is
accepted too); `?recipient=` is the envelope recipient when the MTA knows it. The answer says
what became of it (201 for a new inbound message, 200 for a message already ingested): a new
ticket, a reply, a bounce, a quarantine entry with its reason, or ignored (a loop). Messages
above `SPORTELLO_MAIL_MAX_BYTES` are quarantined; above four times that, refused with 413.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from ninja import Router, Schema, Status

from sportello.accounts.http import ApiRequest
from sportello.accounts.services import require_admin
from sportello.core import clock
from sportello.core.errors import NotFound, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from sportello.core.http import MAIL_CONTENT_TYPES
from sportello.core.paging import SortKey, page_limit, paginate

from ..models import InboundMail, InboundStatus

router = Router(tags=["mail"])


class InboundOut(Schema):
    inbound_id: int
    status: str
    reason: str
    ticket_id: int | None
    message_id: int | None
    duplicate: bool


@router.post(
    "/mail/inbound",
    response={200: InboundOut, 201: InboundOut},
    summary="Ingest a raw e-mail message (admins; for MTAs and mail services)",
)
def ingest(request: ApiRequest, recipient: str | None = None) -> Status:
    require_admin(request.auth)
    kind = (request.content_type or "").lower()
    if kind not in MAIL_CONTENT_TYPES:
        raise UnsupportedMediaType(f"send the message as {MAIL_CONTENT_TYPES[0]}")
    cap = 4 * int(settings.SPORTELLO["MAIL_MAX_BYTES"])
    raw = request.read(cap + 1)  # the stream, not request.body: mail is larger than form posts
    if len(raw) > cap:
        raise PayloadTooLarge(f"a message may be at most {cap:,} bytes here")
    from ..inbound import mail_ingest

    result = mail_ingest(raw=raw, via="mta", recipient=recipient, now=clock.now())
    body: dict[str, Any] = {
        "inbound_id": result.inbound_id,
        "status": result.status,
        "reason": result.reason,
        "ticket_id": result.ticket_id,
        "message_id": result.message_id,
        "duplicate": result.duplicate,
    }
    return Status(200 if result.duplicate else 201, body)


class InboundRow(Schema):
    id: int
    status: str
    reason: str
    via: str
    mailbox_id: int | None
    recipient: str
    sender: str
    subject: str
    message_id_header: str
    size: int
    automatic: bool
    defects: list[str]
    ticket_id: int | None
    message_id: int | None
    received_at: datetime


class InboundPage(Schema):
    items: list[InboundRow]
    next_cursor: str | None


def inbound_out(row: InboundMail) -> dict[str, Any]:
    return {
        "id": row.pk,
        "status": row.status,
        "reason": row.reason,
        "via": row.via,
        "mailbox_id": row.mailbox_id,
        "recipient": row.recipient,
        "sender": row.sender,
        "subject": row.subject,
        "message_id_header": row.header_message_id,
        "size": row.size,
        "automatic": row.automatic,
        "defects": [str(d) for d in row.defects] if isinstance(row.defects, list) else [],
        "ticket_id": row.ticket_id,
        "message_id": row.message_id,
        "received_at": row.received_at,
    }


@router.get("/mail/inbound", response=InboundPage, summary="Messages received, newest first (admins)")
def list_inbound(
    request: ApiRequest,
    status: str | None = None,
    mailbox_id: int | None = None,
    sender: str | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Every message received and what became of it; `?status=quarantine` is the quarantine to
    review (each with its reason), `?sender=` one sender's (lower-cased address)."""
    require_admin(request.auth)
    qs = InboundMail.objects.all()
    if status is not None:
        if status not in InboundStatus.values:
            raise ValidationFailed(f"must be one of {', '.join(InboundStatus.values)}", field="status")
        qs = qs.filter(status=status)
    if mailbox_id is not None:
        qs = qs.filter(mailbox_id=mailbox_id)
    if sender is not None:
        qs = qs.filter(sender=sender.strip().lower())
    rows, nxt = paginate(qs, keys=[SortKey("id", descending=True)], cursor=cursor, limit=page_limit(limit))
    return {"items": [inbound_out(r) for r in rows], "next_cursor": nxt}


@router.get("/mail/inbound/{inbound_id}/raw", summary="A received message exactly as it arrived (admins)")
def inbound_raw(request: ApiRequest, inbound_id: int) -> HttpResponse:
    """The stored bytes, as a download (`message/rfc822`, never shown inline by the browser)."""
    from sportello.tickets.attachments import attachment_storage

    require_admin(request.auth)
    row = InboundMail.objects.filter(pk=inbound_id).first()
    if row is None or not row.raw_key:
        raise NotFound("no such inbound message")
    with attachment_storage().open(row.raw_key, "rb") as f:
        raw = f.read()
    response = HttpResponse(raw, content_type="message/rfc822")
    response["Content-Disposition"] = f'attachment; filename="inbound-{row.pk}.eml"'
    response["X-Content-Type-Options"] = "nosniff"
    return response

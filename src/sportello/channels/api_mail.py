"""`POST /api/v1/mail/inbound`: a raw RFC 5322 message from an MTA or a mail service.

For admins' tokens (create one for the MTA's account with `sportello token`). The body is the
message exactly as received (`Content-Type: message/rfc822`; `application/octet-stream` is
accepted too); `?recipient=` is the envelope recipient when the MTA knows it. The answer says
what became of it (201 for a new inbound message, 200 for a message already ingested): a new
ticket, a reply, a bounce, a quarantine entry with its reason, or ignored (a loop). Messages
above `SPORTELLO_MAIL_MAX_BYTES` are quarantined; above four times that, refused with 413.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja import Router, Schema, Status

from sportello.accounts.services import require_admin
from sportello.core import clock
from sportello.core.errors import PayloadTooLarge, UnsupportedMediaType

router = Router(tags=["mail"])
CONTENT_TYPES = ("message/rfc822", "application/octet-stream")


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
def ingest(request: HttpRequest, recipient: str | None = None) -> Status:
    require_admin(request.auth)  # type: ignore[arg-type]
    kind = (request.content_type or "").lower()
    if kind not in CONTENT_TYPES:
        raise UnsupportedMediaType(f"send the message as {CONTENT_TYPES[0]}")
    cap = 4 * int(settings.SPORTELLO["MAIL_MAX_BYTES"])
    raw = request.read(cap + 1)  # the stream, not request.body: mail is larger than form posts
    if len(raw) > cap:
        raise PayloadTooLarge(f"a message may be at most {cap:,} bytes here")
    from .inbound import mail_ingest

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

"""The quarantine: the messages the intake held, each with its reason, for an admin to review.

- `quarantine_list` / `quarantine_get`: held messages (newest first), filtered by the kind of
  reason (`HoldReason`, read from the reason's opening words, which the intake writes).
- `quarantine_preview`: a safe preview of a held message's text — plain text only (an HTML-only
  message is reduced to its text), shortened, read from the stored bytes; never its HTML.
- `quarantine_release`: the intake runs again on the message past the check that held it
  (`inbound.mail_release`): it becomes a new ticket or a reply as any message would, and the
  ticket records who released it (an event under the admin, via the web or the API). Releasing
  concurrently, or a message released already, changes nothing more: the row is locked, and only
  a held message is released.
- `quarantine_discard`: the message is set aside for good (status "ignored", its reason saying
  who discarded it and why it was held); its bytes stay for the record. Idempotent likewise.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet

from sportello.accounts.models import User
from sportello.accounts.services import require_admin
from sportello.core.actors import Actor, ActorKind, Via
from sportello.core.errors import NotFound, ValidationFailed
from sportello.core.text import sanitize_html
from sportello.engine.text import html_to_text
from sportello.mail.parse import parse_mail
from sportello.mail.types import Limits, MailTooLarge
from sportello.tickets import pipeline
from sportello.tickets.attachments import attachment_storage
from sportello.tickets.models import EventKind
from sportello.tickets.pipeline import Mutation, NewRecord

from .inbound import delete_stored_files, mail_release
from .models import InboundMail, InboundStatus, Mailbox

logger = logging.getLogger(__name__)

PREVIEW_CHARS = 4_000
RELEASED = "released from the quarantine"
DISCARDED = "discarded from the quarantine"


class HoldReason(StrEnum):
    TOO_LARGE = "too_large"
    NO_SENDER = "no_sender"
    NOT_OURS = "not_ours"
    AGENT = "agent"
    THROTTLED = "throttled"
    BAD_SENDER = "bad_sender"
    REFUSED = "refused"
    BOUNCE = "bounce"


# The opening words of the reasons the intake writes (channels.inbound), by kind.
REASON_PREFIXES: dict[HoldReason, tuple[str, ...]] = {
    HoldReason.TOO_LARGE: ("too large",),
    HoldReason.NO_SENDER: ("no sender address", "several sender addresses"),
    HoldReason.NOT_OURS: ("not addressed to any of our mailboxes",),
    HoldReason.AGENT: ("sent from an agent's address",),
    HoldReason.THROTTLED: ("sender throttled",),
    HoldReason.BAD_SENDER: ("unusable sender address",),
    HoldReason.REFUSED: ("refused by the desk",),
    HoldReason.BOUNCE: ("a delivery failure notice",),
}


def hold_reason(reason: str) -> HoldReason | None:
    """The kind of a quarantine reason; None for a reason of no known kind."""
    for kind, prefixes in REASON_PREFIXES.items():
        if reason.startswith(prefixes):
            return kind
    return None


def quarantine_list(*, actor: User, reason: HoldReason | None = None) -> QuerySet[InboundMail]:
    """The held messages with their mailbox (newest first, for `paging.paginate` by id)."""
    require_admin(actor)
    qs = InboundMail.objects.filter(status=InboundStatus.QUARANTINE).select_related("mailbox")
    if reason is not None:
        match = Q()
        for prefix in REASON_PREFIXES[reason]:
            match |= Q(reason__startswith=prefix)
        qs = qs.filter(match)
    return qs


def quarantine_get(*, actor: User, inbound_id: int) -> InboundMail:
    """A received message (held or not: after a release the page says what became of it)."""
    require_admin(actor)
    if not 0 < inbound_id < 2**63:
        raise NotFound("no such message")
    row = InboundMail.objects.select_related("mailbox", "ticket").filter(pk=inbound_id).first()
    if row is None:
        raise NotFound("no such message")
    return row


def release_mailboxes(*, actor: User) -> list[Mailbox]:
    """The mailboxes a message addressed to none of ours may be released into (with their
    department: the one its ticket goes to)."""
    require_admin(actor)
    return list(Mailbox.objects.select_related("department").order_by("address"))


@dataclass(frozen=True, slots=True)
class Preview:
    text: str  # plain text, never HTML
    cut: bool  # shortened to PREVIEW_CHARS
    attachments: tuple[str, ...]  # file names
    unreadable: str = ""  # why there is no preview (bytes not kept, too large to read)


def quarantine_preview(row: InboundMail) -> Preview:
    """What the held message says, safely: its text part, else its HTML reduced to text (the
    HTML itself is never shown), shortened to PREVIEW_CHARS."""
    if not row.raw_key:
        return Preview("", False, (), unreadable="its bytes were not kept")
    try:
        with attachment_storage().open(row.raw_key, "rb") as f:
            raw = f.read()
    except OSError:
        return Preview("", False, (), unreadable="its stored bytes could not be read")
    sp = settings.SPORTELLO
    limits = Limits(
        max_bytes=4 * int(sp["MAIL_MAX_BYTES"]),
        max_parts=4 * int(sp["MAIL_MAX_PARTS"]),
        max_attachments=4 * int(sp["MAIL_MAX_ATTACHMENTS"]),
    )
    try:
        parsed = parse_mail(raw, limits=limits)
    except MailTooLarge as exc:
        return Preview("", False, (), unreadable=exc.reason)
    text = parsed.text  # the parser reads an HTML-only message's text from its HTML
    if not text.strip() and parsed.html.strip():
        text = html_to_text(sanitize_html(parsed.html[: PREVIEW_CHARS * 20]))
    text = text.strip()
    cut = len(text) > PREVIEW_CHARS
    names = tuple(a.filename for a in parsed.attachments)
    return Preview(text[:PREVIEW_CHARS], cut, names)


@dataclass(frozen=True, slots=True)
class Outcome:
    row: InboundMail
    changed: bool  # False: it was no longer held (released or discarded before)


def _held(inbound_id: int) -> InboundMail:
    if not 0 < inbound_id < 2**63:
        raise NotFound("no such message")
    row = InboundMail.objects.select_for_update().filter(pk=inbound_id).first()
    if row is None:
        raise NotFound("no such message")
    return row


def _who(actor: User) -> str:
    return actor.name or actor.email


def quarantine_release(
    *, inbound_id: int, actor: User, now: datetime, via: Via = Via.WEB, mailbox_id: int | None = None
) -> Outcome:
    """Release a held message into the desk (see the module). `mailbox_id`: the mailbox it is
    taken in at when it named none of ours. ValidationFailed with the reason when it still
    cannot be placed (then nothing changed); NotFound for an unknown message or mailbox."""
    require_admin(actor)
    mailbox = None
    if mailbox_id is not None:
        mailbox = Mailbox.objects.filter(pk=mailbox_id).first()
        if mailbox is None:
            raise NotFound("no such mailbox")
    stored: list[str] = []
    try:
        with transaction.atomic():
            row = _held(inbound_id)
            if row.status != InboundStatus.QUARANTINE:
                return Outcome(row, changed=False)
            held = row.reason
            stored = mail_release(row=row, mailbox=mailbox, now=now)
            note = f"{RELEASED} by {_who(actor)} (held: {held})"
            row.reason = (f"{note}; {row.reason}" if row.reason else note)[:500]
            row.save()
            if row.ticket_id is not None:
                who = Actor(ActorKind.AGENT, actor.pk, _who(actor), principal=actor)
                record = NewRecord(
                    kind=EventKind.MAIL, field="released", new={"inbound": row.pk, "held": held[:300]}
                )
                pipeline.ticket_apply(
                    ticket_id=row.ticket_id,
                    mutation=Mutation(
                        actor=who, via=via, cause="mail:release", records=(record,), authorised=True
                    ),
                    now=now,
                )
    except ValidationFailed:
        raise
    except BaseException:
        delete_stored_files(stored)
        raise
    logger.info("inbound message %s released from the quarantine by user %s", row.pk, actor.pk)
    return Outcome(row, changed=True)


def quarantine_discard(*, inbound_id: int, actor: User) -> Outcome:
    """Set a held message aside for good (see the module). NotFound for an unknown message."""
    require_admin(actor)
    with transaction.atomic():
        row = _held(inbound_id)
        if row.status != InboundStatus.QUARANTINE:
            return Outcome(row, changed=False)
        row.status = InboundStatus.IGNORED
        row.reason = f"{DISCARDED} by {_who(actor)} (held: {row.reason})"[:500]
        row.save(update_fields=["status", "reason"])
    logger.info("inbound message %s discarded from the quarantine by user %s", row.pk, actor.pk)
    return Outcome(row, changed=True)


__all__ = [
    "HoldReason",
    "Outcome",
    "Preview",
    "hold_reason",
    "quarantine_discard",
    "quarantine_get",
    "quarantine_list",
    "quarantine_preview",
    "quarantine_release",
    "release_mailboxes",
]

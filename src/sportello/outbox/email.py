"""The e-mail transport: one outbox item (`OutboxMessage`, kind "email") as the message we
send, and sending it.

The message is built on every attempt from the item alone, so a retry sends the same message:
its Message-ID is derived from the item's delivery id, never drawn at random.

Payload (JSON) keys:
- `to` (list of addr-specs), `subject`, `body` (plain text): required;
- `ticket_number`: the ticket's number (the `[#n]` subject token, `X-Sportello-Ticket`);
- `message_id`: our `Message` pk when the mail is an agent's reply (its HTML, its author);
- `html`: the HTML alternative, already sanitised by its producer; without it a public
  message's stored (sanitised) HTML, else HTML generated from `body` (escaped, never linkified);
- `from`, `from_name`: the From address and display name, instead of the ticket's department
  (its address and name) or `DEFAULT_FROM_EMAIL`;
- `automatic` (bool): an automatic mail (`Auto-Submitted: auto-generated`, counted against the
  per-recipient cap of automatic replies); absent, every mail but an agent's reply (whose
  dedupe key starts with "reply:") is automatic;
- `contact_id`: the contact the one recipient is, for the signed Reply-To address (used only if
  that contact has the recipient's address); absent, the ticket's requester when the mail goes
  to the requester alone;
- `language`: a language tag for `Content-Language` and the HTML part.

Threading (so the customer's client keeps one conversation): In-Reply-To names the latest
message the customer sent on the ticket (`InboundMail`), else our latest mail sent to one of the
same recipients; References holds those Message-IDs, oldest first, at most the last 20. Our mails
to other people on the ticket (notifications to agents) are left out: the customer never saw them.

Header injection: every header value built here from data (subject, display names) is one line
of printable text; addresses are parsed as addr-specs and refused if they are anything else.

Sending: an SMTP 5xx answer to the message is a permanent failure; a 4xx answer, a refused or
broken connection or a timeout a transient one. Automatic mails are capped per recipient per day
(`MAIL_AUTO_REPLIES_PER_DAY`): past the cap a recipient is skipped, and a mail left with nobody to
go to fails as suppressed. The mail received on the ticket that threading reads comes from mail
intake, through `outbox.hooks.on_thread_lookup`.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import logging
import re
import smtplib
import unicodedata
from collections.abc import Sequence
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.utils import format_datetime, parseaddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Count

from sportello.contacts.models import Contact
from sportello.core.text import text_to_html
from sportello.mail import ids
from sportello.tickets.models import Message

from . import hooks
from .models import AutoReply, OutboxMessage, OutboxStatus
from .transport import Attempt, PermanentFailure, TransientFailure, Transport, register_transport

logger = logging.getLogger(__name__)

MAILER = "default"  # the `MAILERS` alias outbound mail is sent through
AUTO_REPLY_WINDOW = timedelta(hours=24)
# An e-mail is retried for at least this long after it was queued, however many attempts that
# takes (a relay down for a night loses nothing); SPORTELLO["MAIL_RETRY_WINDOW"] (seconds)
# overrides it.
MAIL_RETRY_WINDOW = 24 * 3600.0

REPLY_TOKEN_SALT = b"sportello.mail.reply-token"
REFERENCES_MAX = 20
# Rows read to find the thread, most recent first, before unusable Message-IDs and our mails
# to other recipients are skipped: a bound on the work for very long tickets.
SCAN_MAX = 200
SUBJECT_MAX_CHARS = 500
NAME_MAX_CHARS = 100
_LINE_BREAKS = {"Cc", "Zl", "Zp"}  # control characters, line and paragraph separators
# A Message-ID without its angle brackets: printable ASCII, no space, brackets, comment or quote
# characters, one "@".
_MSGID_RE = re.compile(r"[!#-'*-;=?A-\[\]-~]{1,250}@[!#-'*-;=?A-\[\]-~]{1,250}")
_LANGUAGE_RE = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8}){0,4}")


def reply_secret() -> bytes:
    """The key that signs reply-address tokens (`ids.reply_token`), derived from SECRET_KEY
    with a fixed salt so it is never SECRET_KEY itself. Ingestion verifies tokens with it."""
    return hmac.new(settings.SECRET_KEY.encode(), REPLY_TOKEN_SALT, hashlib.sha256).digest()


def is_automatic(*, dedupe_key: str, payload: dict[str, Any]) -> bool:
    """An automatic mail (a notification), not an agent's reply; see the module docstring."""
    if "automatic" in payload:
        return bool(payload["automatic"])
    return not dedupe_key.startswith("reply:")


def header_message_id(item: OutboxMessage) -> str:
    """The Message-ID (without angle brackets) of the mail an outbox item sends, the same on
    every attempt."""
    return _derived_message_id(
        ticket_id=item.ticket_id,
        delivery_id=item.delivery_id.hex,
        automatic=is_automatic(dedupe_key=item.dedupe_key, payload=item.payload),
    )


def one_line(value: object, *, max_chars: int) -> str:
    """`value` as one line: control characters and line separators become spaces, runs of
    white space collapse, and the result is cut to `max_chars`."""
    text = "".join(" " if unicodedata.category(c) in _LINE_BREAKS else c for c in str(value))
    return " ".join(text.split())[:max_chars].strip()


def subject_line(subject: object, *, number: int | None) -> str:
    """The subject as one line with the ticket's `[#n]` token exactly once (prefixed if it
    was missing; later repeats are dropped)."""
    text = one_line(subject, max_chars=SUBJECT_MAX_CHARS)
    if number is None:
        return text
    token = ids.subject_token(number)
    first = text.find(token)
    if first < 0:
        return f"{token} {text}".strip()[:SUBJECT_MAX_CHARS]
    head, tail = text[: first + len(token)], text[first + len(token) :]
    return " ".join(f"{head}{tail.replace(token, ' ')}".split())


def html_document(text: str, *, language: str = "") -> str:
    """Plain text as the HTML part of a mail (`core.text.text_to_html` in a document)."""
    lang = f' lang="{html.escape(language)}"' if language else ""
    head = f'<!DOCTYPE html>\n<html{lang}><head><meta charset="utf-8"></head><body>\n'
    return f"{head}{text_to_html(text)}</body></html>\n"


def recipients(payload: dict[str, Any]) -> list[str]:
    """The payload's `to` as addr-specs, in order, without repeats (ValueError if it is not a
    non-empty list of plain addresses)."""
    raw = payload.get("to")
    if not isinstance(raw, list) or not raw:
        raise ValueError("'to' must be a non-empty list of addresses")
    out: list[str] = []
    seen: set[str] = set()
    for value in raw:
        address = _addr_spec(value)
        if address.lower() not in seen:
            seen.add(address.lower())
            out.append(address)
    return out


def build_email(
    item: OutboxMessage, *, now: datetime, to: Sequence[str] | None = None
) -> EmailMultiAlternatives:
    """The message for an e-mail outbox item (multipart/alternative: text and HTML). `to`:
    the recipients to send to, a subset of the payload's (default: all of them). Raises
    KeyError, TypeError or ValueError for a payload that cannot make a message."""
    payload = item.payload
    if not isinstance(payload, dict):
        raise TypeError("the payload is not an object")
    to = list(to) if to is not None else recipients(payload)
    ticket = item.ticket if item.ticket_id is not None else None
    number = _ticket_number(payload, ticket)
    automatic = is_automatic(dedupe_key=item.dedupe_key, payload=payload)
    body = str(payload["body"])
    language = str(payload.get("language") or "")
    language = language if _LANGUAGE_RE.fullmatch(language) else ""

    department = ticket.department if ticket is not None else None
    if department is not None and department.email:
        desk_name, desk_address = department.name, _addr_spec(department.email)
    else:
        desk_name, desk_address = parseaddr(settings.DEFAULT_FROM_EMAIL)
        desk_address = _addr_spec(desk_address)
    from_address = _addr_spec(payload["from"]) if payload.get("from") else desk_address
    from_name = payload["from_name"] if payload.get("from_name") is not None else desk_name
    sender = _mailbox(from_address, name=from_name)

    requester = ticket.requester if ticket is not None else None
    to_headers = [
        _mailbox(a, name=requester.name if requester and a.lower() == requester.email.lower() else "")
        for a in to
    ]

    headers: dict[str, str] = {
        "Message-ID": f"<{header_message_id(item)}>",
        "Date": format_datetime(now),
    }
    in_reply_to, references = _thread(item, to=to)
    if in_reply_to:
        headers["In-Reply-To"] = f"<{in_reply_to}>"
        headers["References"] = " ".join(f"<{r}>" for r in references)
    if automatic:
        headers["Auto-Submitted"] = "auto-generated"
        headers["X-Auto-Response-Suppress"] = "All"
    if number is not None:
        headers["X-Sportello-Ticket"] = str(number)
    # Names our desk: one of our messages coming back in is recognised as a loop even when a
    # relay rewrote its Message-ID.
    headers["X-Sportello-Loop"] = str(settings.SPORTELLO["MAIL_DOMAIN"]).lower()
    if language:
        headers["Content-Language"] = language

    reply_to: list[str] = []
    contact_id = _reply_contact(payload, ticket=ticket, to=to)
    if ticket is not None and contact_id is not None:
        token = ids.reply_token(secret=reply_secret(), ticket_id=ticket.pk, contact_id=contact_id)
        tagged = ids.reply_address(address=desk_address, ticket_id=ticket.pk, token=token)
        reply_to.append(_mailbox(tagged, name=from_name))

    message = EmailMultiAlternatives(
        subject=subject_line(payload["subject"], number=number),
        body=body,
        from_email=sender,
        to=to_headers,
        reply_to=reply_to,
        headers=headers,
    )
    message.attach_alternative(_html(payload, item=item, body=body, language=language), "text/html")
    return message


# --------------------------------------------------------------------------------------------


def _derived_message_id(*, ticket_id: int | None, delivery_id: str, automatic: bool) -> str:
    return ids.message_id(
        domain=settings.SPORTELLO["MAIL_DOMAIN"],
        kind="notice" if automatic else "reply",
        ticket_id=ticket_id or 0,
        unique=delivery_id,
    )


def _addr_spec(value: object) -> str:
    """A plain address (local@domain) or ValueError: no display name, comment or line break."""
    if not isinstance(value, str):
        raise TypeError("an address must be a string")
    address = Address(addr_spec=value.strip())
    if not address.username or not address.domain:
        raise ValueError(f"not an address: {value[:100]!r}")
    return address.addr_spec


def _mailbox(address: str, *, name: object) -> str:
    local, _, domain = address.rpartition("@")
    clean = one_line(name or "", max_chars=NAME_MAX_CHARS)
    return str(Address(display_name=clean, username=local, domain=domain))


def _ticket_number(payload: dict[str, Any], ticket: Any) -> int | None:
    value = payload.get("ticket_number")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(ticket.number) if ticket is not None else None


def _reply_contact(payload: dict[str, Any], *, ticket: Any, to: list[str]) -> int | None:
    """The contact a signed reply address is made for: the one recipient, when that is the
    payload's contact or else the ticket's requester. Never for several recipients (a token
    shared with others would let them answer as that contact) nor for a contact whose address
    is not the recipient's."""
    if ticket is None or len(to) != 1:
        return None
    value = payload.get("contact_id")
    if value is None:
        requester = ticket.requester
        return int(requester.pk) if requester.email.lower() == to[0].lower() else None
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    return value if Contact.objects.filter(pk=value, email__iexact=to[0]).exists() else None


def _normal_message_id(value: str) -> str | None:
    text = value.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    return text if _MSGID_RE.fullmatch(text) else None


def _thread(item: OutboxMessage, *, to: list[str]) -> tuple[str | None, list[str]]:
    """(In-Reply-To, References) for an item's mail: see the module docstring."""
    if item.ticket_id is None:
        return None, []
    inbound: list[tuple[datetime, str]] = []
    received = hooks.received_message_ids(ticket_id=item.ticket_id, limit=SCAN_MAX)
    for raw, received_at in received:
        if len(inbound) >= REFERENCES_MAX:
            break
        if (mid := _normal_message_id(raw)) is not None:
            inbound.append((received_at, mid))
    wanted = {a.lower() for a in to}
    ours: list[tuple[datetime, str]] = []
    sent = (
        OutboxMessage.objects.filter(ticket_id=item.ticket_id, kind="email", status=OutboxStatus.SENT)
        .exclude(pk=item.pk)
        .order_by("-sent_at", "-id")
        .values_list("delivery_id", "dedupe_key", "payload__automatic", "payload__to", "sent_at")
    )
    for delivery_id, dedupe_key, automatic, sent_to, sent_at in sent[:SCAN_MAX]:
        if len(ours) >= REFERENCES_MAX:
            break
        if sent_at is None or not isinstance(sent_to, list) or not wanted & {str(a).lower() for a in sent_to}:
            continue  # (a sent message has its sent_at)
        flags = {} if automatic is None else {"automatic": automatic}
        ours.append(
            (
                sent_at,
                _derived_message_id(
                    ticket_id=item.ticket_id,
                    delivery_id=delivery_id.hex,
                    automatic=is_automatic(dedupe_key=dedupe_key, payload=flags),
                ),
            )
        )
    if not inbound and not ours:
        return None, []
    in_reply_to = inbound[0][1] if inbound else ours[0][1]
    chain = sorted([*inbound, *ours], key=lambda pair: pair[0])
    references: list[str] = []
    for _, mid in chain:
        if mid in references:
            references.remove(mid)
        references.append(mid)
    return in_reply_to, references[-REFERENCES_MAX:]


def _html(payload: dict[str, Any], *, item: OutboxMessage, body: str, language: str) -> str:
    if payload.get("html"):
        return str(payload["html"])
    message_id = payload.get("message_id")
    if isinstance(message_id, int) and not isinstance(message_id, bool) and item.ticket_id is not None:
        stored = (
            Message.objects.filter(pk=message_id, ticket_id=item.ticket_id, public=True)
            .values_list("body_html", flat=True)
            .first()
        )
        if stored:
            return str(stored)
    return html_document(body, language=language)


# --------------------------------------------------------------------------------------------
# Sending


def deliver(attempt: Attempt) -> tuple[str, ...]:
    """Send an e-mail item (the transport of kind "email"); returns the recipients to count as
    sent an automatic reply."""
    now = attempt.now
    item = (
        OutboxMessage.objects.select_related("ticket__department", "ticket__requester")
        .filter(pk=attempt.outbox_id)
        .first()
    )
    if item is None:
        raise PermanentFailure("the outbox item no longer exists")
    try:
        to = recipients(item.payload)
        automatic = is_automatic(dedupe_key=item.dedupe_key, payload=item.payload)
    except (AttributeError, TypeError, ValueError) as exc:
        raise PermanentFailure(f"unusable e-mail payload: {exc}") from exc
    if automatic:
        to = _under_auto_reply_cap(to, now=now)
    try:
        msg = build_email(item, now=now, to=to)
        msg.message()  # every header is checked now: a bad one is the payload's fault, for good
    except (KeyError, TypeError, ValueError) as exc:
        raise PermanentFailure(f"unusable e-mail payload: {type(exc).__name__}: {exc}") from exc
    try:
        msg.send(using=MAILER)
    except smtplib.SMTPException as exc:
        raise smtp_failure(exc) from exc
    except ValueError as exc:  # an address the backend cannot send to
        raise PermanentFailure(f"unusable address: {exc}") from exc
    return tuple(a.lower() for a in to) if automatic else ()


def _under_auto_reply_cap(to: list[str], *, now: datetime) -> list[str]:
    """The recipients still under the daily cap of automatic replies; PermanentFailure
    ("suppressed: …") when none is."""
    cap = int(settings.SPORTELLO["MAIL_AUTO_REPLIES_PER_DAY"])
    counts = dict(
        AutoReply.objects.filter(recipient__in=[a.lower() for a in to], sent_at__gt=now - AUTO_REPLY_WINDOW)
        .order_by()
        .values_list("recipient")
        .annotate(n=Count("id"))
        .values_list("recipient", "n")
    )
    capped = [a for a in to if counts.get(a.lower(), 0) >= cap]
    if capped:
        logger.info("automatic mail not sent to %s: capped at %s a day", ", ".join(capped), cap)
    kept = [a for a in to if a not in capped]
    if not kept:
        raise PermanentFailure(f"suppressed: automatic replies to {', '.join(capped)} capped at {cap} a day")
    return kept


def _smtp_text(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return " ".join(f"{code} {text}".split())


def smtp_failure(exc: smtplib.SMTPException) -> PermanentFailure | TransientFailure:
    """What an SMTP error means for the message: a 5xx answer to the message (its sender, its
    recipients, its data) is permanent; a 4xx answer is transient, and so is a failure to
    talk to our relay at all (greeting, HELO, authentication: our configuration, not the
    message, is at fault and a fix makes the retry succeed)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = sorted(exc.recipients.items())
        text = "recipients refused: " + "; ".join(f"{a}: {_smtp_text(c, m)}" for a, (c, m) in refused)
        permanent = bool(refused) and all(code >= 500 for _, (code, _) in refused)
        return PermanentFailure(text) if permanent else TransientFailure(text)
    if isinstance(exc, smtplib.SMTPConnectError | smtplib.SMTPHeloError | smtplib.SMTPAuthenticationError):
        return TransientFailure(f"{type(exc).__name__}: {_smtp_text(exc.smtp_code, exc.smtp_error)}")
    if isinstance(exc, smtplib.SMTPResponseException):
        what = {smtplib.SMTPSenderRefused: "sender refused", smtplib.SMTPDataError: "message refused"}
        text = f"{what.get(type(exc), 'SMTP error')}: {_smtp_text(exc.smtp_code, exc.smtp_error)}"
        return PermanentFailure(text) if exc.smtp_code >= 500 else TransientFailure(text)
    return TransientFailure(f"{type(exc).__name__}: {exc}")


TRANSPORT = register_transport(
    Transport(
        kind="email",
        deliver=deliver,
        queue="email",
        retry_window_setting="MAIL_RETRY_WINDOW",
        retry_window_default=MAIL_RETRY_WINDOW,
    )
)

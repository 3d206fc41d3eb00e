"""Mail in: one raw RFC 5322 message → a new ticket, a reply on a ticket, a bounce record or a
quarantine entry with a reason. Never an exception for bad mail.

`mail_ingest` is the one entry point (IMAP polling, the MTA endpoint and `sportello mail ingest`
all call it). In order:

1. **Parse** best-effort (`mail.parse`) and, unless it was ingested before (2), **keep the raw
   bytes** (attachment storage, written once); above the size, part or attachment limits the
   message is quarantined unparsed.
2. **Idempotency.** The dedupe key is the Message-ID with the sender's address (a forged
   Message-ID from someone else does not suppress a different message), or without a
   Message-ID the bytes' SHA-256. Ingesting the same message again writes nothing. One
   statement tells a message seen before and how much its sender sent lately (the flood check).
3. **Where it came in**: the mailbox polled, else the envelope recipient, else the first of
   Delivered-To / To / Cc that is one of our mailboxes (tagged reply addresses count as their
   base address). The mailbox gives the department. The mailboxes, our own addresses and the
   agents' addresses come from a per-process cache (`channels.addresses`); the whole message
   reads the configuration's signature once (`config.read_once`), its change included.
4. **Noise and loops** (`mail.classify`): our own messages coming back are ignored; bounces
   (delivery status notifications) mark the address bouncing and are recorded on the ticket of
   the message that bounced, never opening a ticket; a sender over the flood limit is
   throttled (quarantined for a while); mail without exactly one usable From, or from an
   agent's address, is quarantined. Automatic mail (auto-replies, lists, bulk) is accepted but
   marked: nothing automatic is sent back to it and it reopens nothing.
5. **Threading**: a tagged reply address whose token is valid for the sender, then
   In-Reply-To/References naming one of our messages or a message of a ticket, then a subject
   token `[#1234]`. A reply is appended only when its sender is a participant of that ticket
   (the requester, or an address that was on a message of the ticket); a matching header never
   grants access — otherwise a new ticket is opened. A ticket merged into another sends the
   reply on to where its conversation went (through chains: A into B, B into C lands on C),
   the reason saying so; a person writing to a closed ticket opens a follow-up of it (linked,
   `Ticket.follow_up_of`, tagged `follow_up`).
6. **The change** goes through the ticket pipeline (rules, SLA, blueprints, audit, outbox) as
   the contact, via e-mail: new senders become contacts (organization by domain, language from
   Content-Language or else detected in their first message, `contacts.language`); the body is
   the text part (or text derived from HTML), sanitised HTML beside it, a reply's quoted history
   split off (`Message.quoted_text`); attachments are stored and handed to the pipeline with
   the message (`NewMessage.files`), which attaches them and records them.
7. Everything received gets an `InboundMail` row (status, reason, defects, the ticket and
   message it became), written in the same transaction as the change.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.db.models import Q

from sportello.contacts.language import new_contact_language
from sportello.contacts.models import Contact
from sportello.contacts.services import contact_get_or_create
from sportello.core import config
from sportello.core.actors import Actor, ActorKind, Via
from sportello.core.errors import DomainError
from sportello.core.text import fit_line, sanitize_html
from sportello.engine.text import html_to_text
from sportello.mail import classify, ids
from sportello.mail.parse import parse_mail
from sportello.mail.quotes import split_quoted
from sportello.mail.types import Limits, MailTooLarge, ParsedMail
from sportello.outbox.email import reply_secret
from sportello.tickets import pipeline
from sportello.tickets.attachments import (
    attachment_storage,
    choose_content_type,
    storage_key_new,
)
from sportello.tickets.links import CHAIN_MAX, merge_destination
from sportello.tickets.locks import ticket_lock
from sportello.tickets.models import (
    MESSAGE_SUBJECT_MAX_LENGTH,
    SUBJECT_MAX_LENGTH,
    EventKind,
    StatusCategory,
    Ticket,
)
from sportello.tickets.pipeline import Mutation, NewMessage, NewRecord, StoredFile
from sportello.tickets.services import FOLLOW_UP_TAG

from .addresses import MailboxAddress, addresses
from .models import MESSAGE_ID_PREFIX, AddressHealth, InboundMail, InboundStatus, Mailbox, MessageIdPrefix

logger = logging.getLogger(__name__)

INBOUND_SUBJECT_MAX = 255  # InboundMail.subject: the review list's column
NO_SUBJECT = "(no subject)"
NO_BODY = "(no text: see the attachments)"
EMPTY_BODY = "(empty message)"
VIAS = ("imap", "mta", "pipe")
LANGUAGE_SAMPLE = 5_000  # characters of a first message read to tell its language
THROTTLED = "sender throttled"
PARTICIPANTS_MAX = 48  # addresses in To/Cc of one message that become participants of its ticket
# What threading reads of a ticket: whether the sender takes part, whether it is closed or merged.
_THREAD_FIELDS = ("id", "number", "status_category", "merged_into_id", "requester_id")


@dataclass(frozen=True, slots=True)
class InboundResult:
    inbound_id: int
    status: str  # InboundStatus value
    ticket_id: int | None
    message_id: int | None
    duplicate: bool  # already ingested: nothing new was written
    reason: str = ""


def _limits() -> Limits:
    return Limits(
        max_bytes=int(settings.SPORTELLO["MAIL_MAX_BYTES"]),
        max_parts=int(settings.SPORTELLO["MAIL_MAX_PARTS"]),
        max_attachments=int(settings.SPORTELLO["MAIL_MAX_ATTACHMENTS"]),
    )


def mail_domain() -> str:
    return str(settings.SPORTELLO["MAIL_DOMAIN"]).lower()


# --------------------------------------------------------------------------------------------
# The entry point


def mail_ingest(
    *, raw: bytes, via: str, now: datetime, mailbox: Mailbox | None = None, recipient: str | None = None
) -> InboundResult:
    """Ingest one message (see the module's docstring). Returns once its outcome is committed.
    Raises only for infrastructure failures (database, storage): then nothing was written and
    the message may be offered again."""
    if via not in VIAS:
        raise ValueError(f"via must be one of {VIAS}")
    # The mailboxes, our addresses and the desk's configuration are read under one signature
    # read for the whole message, its change included.
    with config.read_once():
        return _ingest(raw=raw, via=via, now=now, mailbox=mailbox, recipient=recipient)


def _ingest(
    *, raw: bytes, via: str, now: datetime, mailbox: Mailbox | None, recipient: str | None
) -> InboundResult:
    try:
        parsed: ParsedMail | None = parse_mail(raw, limits=_limits())
        too_large = ""
    except MailTooLarge as exc:
        parsed, too_large = None, exc.reason
    sha = parsed.sha256 if parsed is not None else hashlib.sha256(raw).hexdigest()
    key = _dedupe_key(parsed, sha)
    sender = _sender(parsed)
    seen = _seen(key=key, sender=sender, now=now)
    if seen.duplicate is not None:
        return _result(InboundMail.objects.get(pk=seen.duplicate), duplicate=True)
    storage = attachment_storage()
    raw_key = storage.save(storage_key_new(), ContentFile(raw))
    stored = [raw_key]
    try:
        with transaction.atomic():
            row = InboundMail(
                mailbox=mailbox,
                via=via,
                dedupe_key=key,
                header_message_id=(parsed.message_id or "")[:998] if parsed else "",
                sha256=sha,
                size=len(raw),
                raw_key=raw_key,
                sender=sender,
                received_at=now,
            )
            if parsed is None:
                _quarantine(row, f"too large: {too_large}")
            else:
                _Ingest(
                    row=row,
                    parsed=parsed,
                    mailbox=mailbox,
                    recipient=recipient,
                    now=now,
                    stored=stored,
                    flooding=seen.flooding,
                ).run()
            row.save(force_insert=True)
    except IntegrityError:
        # The same message, ingested concurrently by another worker, committed first: its
        # insert under the unique dedupe key failed and the whole change rolled back.
        delete_stored_files(stored)
        found = InboundMail.objects.filter(dedupe_key=key).first()
        if found is None:
            raise
        return _result(found, duplicate=True)
    except BaseException:
        delete_stored_files(stored)
        raise
    return _result(row, duplicate=False)


@dataclass(frozen=True, slots=True)
class _Seen:
    duplicate: int | None  # the message already ingested under the dedupe key
    flooding: bool  # the sender is over the flood limit, or throttled within the block window


def _seen(*, key: str, sender: str, now: datetime) -> _Seen:
    """Whether the message was ingested before, and whether its sender is flooding us, in one
    statement (on the unique dedupe key's index and the sender's). Written out: the ORM's
    aggregate with filters costs more to build than the statement to run, on every message."""
    limit = int(settings.SPORTELLO["MAIL_FLOOD_PER_5_MINUTES"])
    block = timedelta(seconds=float(settings.SPORTELLO["MAIL_FLOOD_BLOCK_SECONDS"]))
    window = timedelta(minutes=5)
    table = connection.ops.quote_name(InboundMail._meta.db_table)
    if not sender:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT id FROM {table} WHERE dedupe_key = %s", [key])  # noqa: S608  (table)
            row = cursor.fetchone()
        return _Seen(duplicate=row[0] if row is not None else None, flooding=False)
    at = connection.ops.adapt_datetimefield_value
    since, recent, blocked = at(now - max(block, window)), at(now - window), at(now - block)
    sql = (
        "SELECT MAX(CASE WHEN dedupe_key = %s THEN id END), "  # noqa: S608  (the model's table)
        "COUNT(CASE WHEN sender = %s AND received_at >= %s THEN 1 END), "
        "COUNT(CASE WHEN sender = %s AND received_at >= %s AND SUBSTR(reason, 1, %s) = %s THEN 1 END) "
        f"FROM {table} WHERE dedupe_key = %s OR (sender = %s AND received_at >= %s)"
    )
    params = [key, sender, recent, sender, blocked, len(THROTTLED), THROTTLED, key, sender, since]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        duplicate, sent, throttled = cursor.fetchone()
    return _Seen(duplicate=duplicate, flooding=bool(throttled) or sent >= limit)


def _sender(parsed: ParsedMail | None) -> str:
    """The sender's address, lower-case, when the message has exactly one From; else ""."""
    if parsed is None or len(parsed.from_) != 1:
        return ""
    return parsed.from_[0].email.lower()[:254]


def _result(row: InboundMail, *, duplicate: bool) -> InboundResult:
    return InboundResult(
        inbound_id=row.pk,
        status=row.status,
        ticket_id=row.ticket_id,
        message_id=row.message_id,
        duplicate=duplicate,
        reason=row.reason,
    )


def _dedupe_key(parsed: ParsedMail | None, sha: str) -> str:
    if parsed is not None and parsed.message_id:
        sender = parsed.from_[0].email.lower() if len(parsed.from_) == 1 else ""
        basis = f"mid\n{sender}\n{parsed.message_id}"
        return "m:" + hashlib.sha256(basis.encode("utf-8", "replace")).hexdigest()
    return "r:" + sha


def delete_stored_files(keys: Iterable[str]) -> None:
    storage = attachment_storage()
    for key in keys:
        try:
            storage.delete(key)
        except OSError:
            logger.warning("could not delete stored file %s after a failed ingestion", key)


def _quarantine(row: InboundMail, reason: str) -> None:
    row.status = InboundStatus.QUARANTINE
    row.reason = reason[:500]


# --------------------------------------------------------------------------------------------
# One message


class _Ingest:
    def __init__(
        self,
        *,
        row: InboundMail,
        parsed: ParsedMail,
        mailbox: Mailbox | None,
        recipient: str | None,
        now: datetime,
        stored: list[str],
        flooding: bool,
        released: bool = False,
    ) -> None:
        self.row, self.parsed, self.now, self.stored = row, parsed, now, stored
        self.flooding = flooding
        # Released from the quarantine by an admin: the checks an admin may overrule are passed
        # (an unreadable failure notice, an agent's address, a flood); the others still hold.
        self.released = released
        # The mailbox it came in at: the one polled, else found among the cached addresses.
        self.mailbox: MailboxAddress | None = (
            MailboxAddress(
                id=mailbox.pk, address=mailbox.address.lower(), department_id=mailbox.department_id
            )
            if mailbox is not None
            else None
        )
        self.recipient = (recipient or "").strip().lower()
        row.subject = fit_line(parsed.subject, max_length=INBOUND_SUBJECT_MAX)
        self.subject = fit_line(parsed.subject, max_length=MESSAGE_SUBJECT_MAX_LENGTH)
        row.defects = list(parsed.defects)[:100]

    def run(self) -> None:
        row, parsed = self.row, self.parsed
        known = addresses()
        ours = known.ours | {str(settings.DEFAULT_FROM_EMAIL).lower()}
        message = parsed.message or EmailMessage()
        auto = classify.automation(
            message,
            our_domain=mail_domain(),
            our_addresses=ours,
            sender_overrides=[str(a).lower() for a in settings.SPORTELLO["MAIL_HUMAN_SENDERS"]],
        )
        row.automatic = auto.automatic
        if auto.ours:
            row.status, row.reason = InboundStatus.IGNORED, "our own message came back (mail loop)"
            return
        mailbox = self.mailbox or self._mailbox(known.mailboxes)
        if mailbox is not None:
            self.mailbox = mailbox
            row.mailbox_id = mailbox.id
            row.recipient = mailbox.address
        if not self.released and classify.looks_like_bounce(message):
            bounce = classify.bounce(message, our_domain=mail_domain())
            if bounce is not None and bounce.recipients:
                self._bounce(bounce)
                return
            if not auto.human or not parsed.from_:
                _quarantine(row, "a delivery failure notice whose failed recipient could not be read")
                return
        if len(parsed.from_) != 1:
            _quarantine(row, "no sender address" if not parsed.from_ else "several sender addresses")
            return
        sender = parsed.from_[0].email.lower()
        if sender in ours:
            row.status, row.reason = InboundStatus.IGNORED, f"sent from our own address {sender} (mail loop)"
            return
        if mailbox is None:
            _quarantine(row, "not addressed to any of our mailboxes")
            return
        if sender in known.agents and not self.released:
            _quarantine(row, "sent from an agent's address: agents answer in the desk, not by mail")
            return
        if self.flooding and not self.released:
            limit = settings.SPORTELLO["MAIL_FLOOD_PER_5_MINUTES"]
            _quarantine(row, f"sender throttled: more than {limit} messages in 5 minutes")
            return
        try:
            contact = contact_get_or_create(
                email=sender, name=parsed.from_[0].name[:200], language=self._language
            )
        except DomainError as exc:
            _quarantine(row, f"unusable sender address: {exc}")
            return
        named = self._thread(contact)
        ticket = self._locked(named) if named is not None else None
        if ticket is not None and named is not None and ticket.pk != named.pk:
            row.reason = f"ticket #{named.number} was merged into #{ticket.number}: the message went there"
        closed = None
        if ticket is not None and ticket.status_category == StatusCategory.CLOSED:
            if auto.automatic:
                # An out-of-office answering a closed ticket: kept and linked, nothing opened.
                row.status, row.ticket = InboundStatus.IGNORED, ticket
                row.reason = "automatic reply to a closed ticket: kept, no follow-up opened"
                return
            # A person writing again about a closed ticket: a follow-up ticket, linked to it.
            closed, ticket = ticket, None
        try:
            if ticket is not None:
                self._reply(ticket, contact, auto)
            else:
                self._new_ticket(contact, mailbox.department_id, auto, follow_up_of=closed)
        except DomainError as exc:
            # The pipeline refused the change (a layout rule, a closed ticket raced): keep the
            # message in quarantine with the reason rather than lose it.
            _quarantine(row, f"refused by the desk: {exc}")

    def _language(self) -> str:
        """A new sender's language (`contacts.language`): the message's Content-Language when
        it names a language we speak, else the language its subject and text part (or the text
        of its HTML), quotes and signature left out, are written in, else the desk's default.
        Called only when the sender is new."""
        text, html = self.parsed.text, self.parsed.html
        if not text.strip() and html.strip():
            text = html_to_text(sanitize_html(html[: LANGUAGE_SAMPLE * 20]))
        return new_contact_language(
            header=self.parsed.header("content-language"),
            subject=self.parsed.subject,
            body=text[:LANGUAGE_SAMPLE],
        )

    # -- where it came in ---------------------------------------------------------------------

    def _mailbox(self, by_address: dict[str, MailboxAddress]) -> MailboxAddress | None:
        candidates = [self.recipient, *self.parsed.delivered_to]
        candidates += [a.email.lower() for a in (*self.parsed.to, *self.parsed.cc)]
        for address in candidates:
            if not address:
                continue
            tagged = ids.parse_reply_address(address)
            base = tagged[0] if tagged is not None else address
            if base in by_address:
                return by_address[base]
        return None

    # -- noise ----------------------------------------------------------------------------------

    def _bounce(self, bounce: classify.Bounce) -> None:
        row = self.row
        row.status = InboundStatus.BOUNCE
        row.reason = f"delivery failed for {', '.join(bounce.recipients)}: {bounce.reason}"[:500]
        failed = {a.lower() for a in bounce.failed}
        for address in bounce.recipients:
            health, _ = AddressHealth.objects.select_for_update().get_or_create(email=address.lower()[:254])
            health.bounces += 1
            health.last_bounce_at = self.now
            health.last_reason = bounce.reason[:500]
            # A permanent failure marks the address; a delay only counts.
            health.bouncing = health.bouncing or address.lower() in failed
            health.save()
        ticket_id = ids.ticket_of_message_id(bounce.original_message_id or "", domain=mail_domain())
        if ticket_id is None:
            for mid in (*self.parsed.in_reply_to, *self.parsed.references):
                ticket_id = ids.ticket_of_message_id(mid, domain=mail_domain())
                if ticket_id is not None:
                    break
        ticket = Ticket.objects.filter(pk=ticket_id).first() if ticket_id is not None else None
        if ticket is None:
            return
        row.ticket = ticket
        record = NewRecord(
            kind=EventKind.MAIL,
            field="bounced",
            new={
                "recipients": list(bounce.recipients),
                "permanent": bounce.permanent,
                "reason": bounce.reason[:300],
                "original_message_id": bounce.original_message_id,
            },
        )
        pipeline.ticket_apply(
            ticket_id=ticket.pk,
            mutation=Mutation(
                actor=Actor(ActorKind.SYSTEM, None, "Mail delivery"),
                via=Via.EMAIL,
                cause="mail:bounce",
                records=(record,),
                authorised=True,
            ),
            now=self.now,
        )

    # -- threading ------------------------------------------------------------------------------

    def _thread(self, contact: Contact) -> Ticket | None:
        """The ticket this message answers, if its sender takes part in it (closed tickets
        included: the caller decides what a message to a closed ticket becomes). A merged ticket
        counts for the ticket it went to, and its participants are that ticket's too."""
        closed: Ticket | None = None
        for ticket_id, verified in self._candidates(contact):
            ticket = Ticket.objects.filter(pk=ticket_id).only(*_THREAD_FIELDS).first()
            if ticket is None:
                continue
            went = self._destination(ticket)
            if not (verified or self._participant(ticket, contact) or self._participant(went, contact)):
                continue
            if went.status_category != StatusCategory.CLOSED:
                return ticket
            closed = closed or ticket
        return closed

    def _destination(self, ticket: Ticket) -> Ticket:
        """Where a merged ticket's conversation went, at the end of the chain (read unlocked: a
        link never changes once set); the ticket itself when it was not merged."""
        if ticket.merged_into_id is None:
            return ticket
        went = merge_destination(ticket=ticket)
        return Ticket.objects.only(*_THREAD_FIELDS).get(pk=went.id)

    def _locked(self, ticket: Ticket) -> Ticket:
        """The ticket the message goes to, under its lock: a change committed meanwhile (the
        ticket closed, set pending, merged into another) is seen here, and none comes before
        this message. A merge committed meanwhile sends it on to the merge's target."""
        for _hop in range(CHAIN_MAX):
            # A ticket already merged is not locked (it changes no more): its destination is.
            ticket = ticket_lock(ticket_id=self._destination(ticket).pk, only=_THREAD_FIELDS)
            if ticket.merged_into_id is None:
                break
        return ticket

    def _candidates(self, contact: Contact) -> list[tuple[int, bool]]:
        parsed, domain = self.parsed, mail_domain()
        out: list[tuple[int, bool]] = []
        addresses = [
            self.recipient,
            *parsed.delivered_to,
            *(a.email.lower() for a in (*parsed.to, *parsed.cc)),
        ]
        for address in addresses:
            tagged = ids.parse_reply_address(address) if address else None
            if tagged is None:
                continue
            _, ticket_id, token = tagged
            secret = reply_secret()
            if ids.verify_reply_token(secret=secret, ticket_id=ticket_id, contact_id=contact.pk, token=token):
                out.append((ticket_id, True))
        referenced = [*parsed.in_reply_to, *reversed(parsed.references)]
        for mid in referenced:
            referenced_id = ids.ticket_of_message_id(mid, domain=domain)
            if referenced_id is not None:
                out.append((referenced_id, False))
        known = {mid[:998] for mid in referenced if not ids.is_ours(mid, domain=domain)}
        if known:
            # By the indexed prefix (SQLite uses an index on an expression only when the query
            # names the column through it alone), then exactly.
            rows = InboundMail.objects.alias(prefix=MessageIdPrefix()).filter(
                prefix__in=sorted({mid[:MESSAGE_ID_PREFIX] for mid in known}), ticket__isnull=False
            )
            found = rows.values_list("header_message_id", "ticket_id")
            out += [(t, False) for mid, t in found if mid in known]
        if parsed.subject:
            numbers = ids.subject_numbers(parsed.subject)
            if numbers:
                numbered = Ticket.objects.filter(number__in=numbers[:5]).values_list("pk", flat=True)
                out += [(t, False) for t in numbered]
        return out

    def _participant(self, ticket: Ticket, contact: Contact) -> bool:
        if ticket.requester_id == contact.pk:
            return True
        email = contact.email.lower()
        # An address that was on an accepted message of the ticket (a customer's colleague in Cc).
        accepted = InboundMail.objects.filter(
            ticket=ticket, status__in=[InboundStatus.TICKET, InboundStatus.REPLY]
        )
        return accepted.filter(Q(sender=email) | Q(participants__contains=f",{email},")).exists()

    # -- the change -----------------------------------------------------------------------------

    def _bodies(self, *, split: bool) -> tuple[str, str, str]:
        """(text, sanitised html, quoted history) for the message."""
        parsed = self.parsed
        html = sanitize_html(parsed.html) if parsed.html.strip() else ""
        text = parsed.text if parsed.text.strip() else (html_to_text(html) if html else "")
        quoted = ""
        if split and text.strip():
            text, quoted = split_quoted(text)
        if not text.strip():
            text = NO_BODY if parsed.attachments else EMPTY_BODY
        limit = int(settings.SPORTELLO["MESSAGE_MAX_CHARS"])
        if len(text) > limit:
            text = text[: limit - 60] + "\n\n[… cut: the whole message is kept as received]"
        if len(html) > limit:
            html = ""
        return text, html, quoted[:limit]

    def _unverified(self) -> str:
        """Why the sender is not verified: the receiving MTA's (topmost) Authentication-Results
        says DMARC failed. A forged failure only hurts its forger; a pass is never trusted from
        the message alone, so a pass changes nothing."""
        results = (self.parsed.header("authentication-results") or "").lower()
        return "dmarc=fail" if re.search(r"\bdmarc\s*=\s*fail\b", results) else ""

    def _reply(self, ticket: Ticket, contact: Contact, auto: classify.Automation) -> None:
        text, html, quoted = self._bodies(split=True)
        unverified = self._unverified()
        # An unverified sender's reply is kept on the ticket but changes nothing (no reopening).
        reopen = auto.human and not unverified and self._may_reopen(ticket)
        if unverified:
            why = f"unverified sender ({unverified}): posted without reopening the ticket"
            self.row.reason = f"{self.row.reason}; {why}" if self.row.reason else why
        waiting = ticket.status_category in pipeline.WAITING_CATEGORIES
        author = Actor(ActorKind.CONTACT, contact.pk, contact.name or contact.email, principal=contact)
        # The requester writes as themself; another participant (a colleague in Cc) may not
        # change the ticket through the customer's permissions, so the mail intake (the system,
        # having checked participation) posts their message under their name.
        actor = author if ticket.requester_id == contact.pk else Actor(ActorKind.SYSTEM, None, "Mail intake")
        outcome = pipeline.ticket_apply(
            ticket_id=ticket.pk,
            mutation=Mutation(
                actor=actor,
                via=Via.EMAIL,
                cause="mail",
                message=NewMessage(
                    body=text,
                    body_html=html,
                    quoted=quoted,
                    subject=self.subject,
                    author=author,
                    files=self._files(),
                ),
                no_auto_reply=auto.automatic,
                reopen=reopen,
            ),
            now=self.now,
        )
        self.row.reopened = waiting and outcome.ticket.status_category == StatusCategory.OPEN
        self._done(InboundStatus.REPLY, outcome)

    def _may_reopen(self, ticket: Ticket) -> bool:
        if ticket.status_category not in pipeline.WAITING_CATEGORIES:
            return True
        since = self.now - timedelta(hours=1)
        reopened = InboundMail.objects.filter(ticket=ticket, reopened=True, received_at__gte=since).count()
        return reopened < int(settings.SPORTELLO["MAIL_REOPENS_PER_HOUR"])

    def _new_ticket(
        self,
        contact: Contact,
        department_id: int,
        auto: classify.Automation,
        *,
        follow_up_of: Ticket | None = None,
    ) -> None:
        text, html, _ = self._bodies(split=False)
        # A long subject is shortened for the ticket; the message keeps it whole.
        subject = fit_line(self.subject, max_length=SUBJECT_MAX_LENGTH) or NO_SUBJECT
        if follow_up_of is not None:
            why = f"ticket #{follow_up_of.number} is closed: a follow-up of it was opened"
            self.row.reason = f"{self.row.reason}; {why}" if self.row.reason else why
        outcome = pipeline.ticket_create(
            actor=Actor(ActorKind.CONTACT, contact.pk, contact.name or contact.email, principal=contact),
            via=Via.EMAIL,
            subject=subject,
            requester_id=contact.pk,
            department_id=department_id,
            description=NewMessage(body=text, body_html=html, subject=self.subject, files=self._files()),
            fields={"channel": "email"},
            tags=(FOLLOW_UP_TAG,) if follow_up_of is not None else (),
            cause="mail",
            no_auto_reply=auto.automatic,
            follow_up_of=follow_up_of.pk if follow_up_of is not None else None,
            now=self.now,
        )
        self._done(InboundStatus.TICKET, outcome)

    def _files(self) -> tuple[StoredFile, ...]:
        """The message's attachments, stored now (and deleted again if the change fails)."""
        storage = attachment_storage()
        files = []
        for item in self.parsed.attachments:
            if not item.content:
                continue
            key = storage.save(storage_key_new(), ContentFile(item.content))
            self.stored.append(key)
            files.append(
                StoredFile(
                    storage_key=key,
                    filename=item.filename,  # the parser gave its display name
                    content_type=choose_content_type(declared=item.content_type, head=item.content[:2048]),
                    size=len(item.content),
                    sha256=hashlib.sha256(item.content).hexdigest(),
                )
            )
        return tuple(files)

    def _done(self, status: str, outcome: pipeline.Outcome) -> None:
        row = self.row
        row.status = status
        row.ticket = outcome.ticket
        row.message = outcome.message
        others = sorted({a.email.lower() for a in (*self.parsed.to, *self.parsed.cc)} - {row.recipient})
        others = others[:PARTICIPANTS_MAX]
        row.participants = f",{','.join(others)}," if others else ""


# --------------------------------------------------------------------------------------------
# Released from the quarantine


def mail_release(*, row: InboundMail, mailbox: Mailbox | None, now: datetime) -> list[str]:
    """Run the intake again on a quarantined message, in the caller's transaction with `row`
    locked: read from its stored bytes (up to four times the size limits), past the checks an
    admin may overrule — an unreadable delivery failure notice, an agent's address, a flooding
    sender, the size — and into `mailbox` when it named none of ours. What still cannot be
    placed (no single sender, no mailbox, an unusable address, a change the desk refuses) raises
    `ValidationFailed` with the reason, and the caller's transaction leaves everything as it
    was. Returns the storage keys of the files it stored (to delete if the transaction fails)."""
    from sportello.core.errors import ValidationFailed

    if not row.raw_key:
        raise ValidationFailed("the message's bytes were not kept: it cannot be released")
    with attachment_storage().open(row.raw_key, "rb") as f:
        raw = f.read()
    base = _limits()
    limits = Limits(
        max_bytes=4 * base.max_bytes,
        max_parts=4 * base.max_parts,
        max_attachments=4 * base.max_attachments,
    )
    try:
        parsed = parse_mail(raw, limits=limits)
    except MailTooLarge as exc:
        raise ValidationFailed(f"still too large to read: {exc.reason}") from None
    stored: list[str] = []
    row.reason = ""
    with config.read_once():
        _Ingest(
            row=row,
            parsed=parsed,
            mailbox=mailbox if mailbox is not None else row.mailbox,
            recipient=row.recipient or None,
            now=now,
            stored=stored,
            flooding=False,
            released=True,
        ).run()
    if row.status == InboundStatus.QUARANTINE:
        delete_stored_files(stored)
        raise ValidationFailed(row.reason)
    return stored

"""Reading a mailbox over IMAP: one poller at a time, by UID, never losing or doubling a message.

A poll (`mailbox_poll`):
1. takes the mailbox's lease in a short transaction (row claimed `FOR UPDATE SKIP LOCKED` on
   PostgreSQL, the write lock on SQLite): free or expired → ours until `now + IMAP_LEASE`; held →
   "busy" at once. However many workers run, one reads a mailbox;
2. logs in (TLS from the start, STARTTLS, or plain text on loopback only) and opens the folder;
3. the first read of a folder, or a new UIDVALIDITY (the folder was recreated, UIDs
   renumbered), restarts from UID 0: the ingestion's de-duplication keeps messages already
   applied from being applied twice, and the messages already marked read up to the folder's
   highest UID then are left alone (`skip_read_through`) — years of old mail in an account the
   desk starts reading do not become tickets — unless the mailbox says `imap_take_read`;
4. for each UID above `last_uid`, in ascending order and at most `IMAP_BATCH` of them: fetch
   with `BODY.PEEK[]` (not marking it read), hand the bytes to the ingestion (which commits),
   and only then flag it `\\Seen` on the server and move `last_uid` forward. A crash between
   the commit and the flag leaves the message unflagged and `last_uid` behind: the next poll
   fetches it again and the ingestion reports it as a duplicate. An ingestion that raises (an
   infrastructure failure: bad mail is quarantined, never raised) stops the poll there;
5. records `last_polled_at` and `last_error` and releases the lease, whatever happened.

Messages are never deleted or moved, and they are addressed by UID only: an expunge by another
client between two polls (or between the search and the fetch) renumbers sequence numbers but
not UIDs, so nothing is skipped.
"""

from __future__ import annotations

import base64
import contextlib
import imaplib
import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest

from sportello.accounts.models import User
from sportello.core.errors import NotFound
from sportello.core.timers import claim

from .mailboxes import host_is_loopback, mailbox_draft
from .models import ImapSecurity, Mailbox

logger = logging.getLogger(__name__)

DEFAULT_EVERY = 60.0  # seconds between two polls of a mailbox, unless SPORTELLO["IMAP_EVERY"] says
ERROR_MAX = 1_000  # characters of an error kept in `last_error`
_UID = re.compile(rb"\bUID (\d+)", re.IGNORECASE)
_BODY = re.compile(rb"\bBODY\[\]", re.IGNORECASE)


class PollStatus(StrEnum):
    OK = "ok"  # the mailbox was read (maybe with nothing new)
    BUSY = "busy"  # another poller holds the lease
    DISABLED = "disabled"  # inactive, or not read over IMAP
    ERROR = "error"  # the poll stopped: see `error` (also in the mailbox's `last_error`)


@dataclass(frozen=True, slots=True)
class PollOutcome:
    mailbox_id: int
    status: PollStatus
    fetched: int = 0  # messages downloaded
    ingested: int = 0  # applied for the first time
    duplicates: int = 0  # already ingested before (a re-fetch after a crash, a new UIDVALIDITY)
    failed: int = 0  # the ingestion raised: the message stays unread, retried next poll
    error: str = ""


class Ingested(Protocol):
    @property
    def duplicate(self) -> bool: ...


class Ingest(Protocol):
    """`channels.inbound.mail_ingest`: applies one raw message in its own transaction."""

    def __call__(
        self,
        *,
        raw: bytes,
        via: str,
        now: datetime,
        mailbox: Mailbox | None = None,
        recipient: str | None = None,
    ) -> Ingested: ...


type Connect = Callable[[Mailbox], imaplib.IMAP4]


class ImapFailure(Exception):
    """A step of the conversation with the server failed; the poll stops there."""


def poll_every() -> timedelta:
    return timedelta(seconds=float(settings.SPORTELLO.get("IMAP_EVERY", DEFAULT_EVERY)))


# --------------------------------------------------------------------------------------------
# The IMAP conversation


def _text(exc: BaseException) -> str:
    """An exception as one readable line (imaplib puts the server's bytes in `args`)."""
    parts = [a.decode("utf-8", "replace") if isinstance(a, bytes) else str(a) for a in exc.args]
    return " ".join(" ".join(parts).split()) or type(exc).__name__


def _reply(data: list[Any]) -> str:
    return " ".join(
        d.decode("utf-8", "replace") if isinstance(d, bytes) else str(d) for d in data if d is not None
    )


def imap_connect(mailbox: Mailbox, *, timeout: float | None = None) -> imaplib.IMAP4:
    """An open connection to the mailbox's server, encrypted as configured (certificates checked
    against the system's authorities). Plain text is refused unless the host is loopback.
    `timeout`: seconds per network operation (SPORTELLO["IMAP_TIMEOUT"] by default)."""
    host, port = mailbox.imap_host.strip().strip("[]"), mailbox.imap_port
    if timeout is None:
        timeout = float(settings.SPORTELLO["IMAP_TIMEOUT"])
    security = mailbox.imap_security
    if security == ImapSecurity.SSL:
        return imaplib.IMAP4_SSL(host, port, ssl_context=ssl.create_default_context(), timeout=timeout)
    if security == ImapSecurity.STARTTLS:
        client = imaplib.IMAP4(host, port, timeout=timeout)
        try:
            client.starttls(ssl_context=ssl.create_default_context())
        except BaseException:
            client.shutdown()
            raise
        return client
    if security != ImapSecurity.NONE:
        raise ImapFailure(f"unknown IMAP security {security!r}")
    if not host_is_loopback(host):
        raise ImapFailure(
            f"refusing to send the password in clear text to {host}: without TLS only a loopback "
            "host (127.0.0.1, ::1, localhost) is allowed"
        )
    return imaplib.IMAP4(host, port, timeout=timeout)


def folder_name(folder: str) -> str:
    """A folder name as an IMAP quoted string, non-ASCII in modified UTF-7 (RFC 3501 5.1.3)."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            encoded = base64.b64encode("".join(pending).encode("utf-16-be")).decode("ascii")
            out.append("&" + encoded.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for ch in folder:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    escaped = "".join(out).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _login(client: imaplib.IMAP4, mailbox: Mailbox) -> None:
    user, password = mailbox.imap_username, mailbox.imap_password
    if (user + password).isascii():
        client.login(user, password)
        return
    # LOGIN's strings are ASCII in imaplib; SASL PLAIN carries UTF-8 (RFC 4616).
    plain = b"\0" + user.encode("utf-8") + b"\0" + password.encode("utf-8")
    client.authenticate("PLAIN", lambda _challenge: plain)


def _open(client: imaplib.IMAP4, mailbox: Mailbox) -> int:
    """Log in and open the folder for writing; its UIDVALIDITY."""
    try:
        _login(client, mailbox)
    except imaplib.IMAP4.error as exc:
        raise ImapFailure(f"login as {mailbox.imap_username!r} failed: {_text(exc)}") from None
    typ, data = client.select(folder_name(mailbox.imap_folder))
    if typ != "OK":
        raise ImapFailure(f"cannot open folder {mailbox.imap_folder!r}: {_reply(data)}")
    _, found = client.response("UIDVALIDITY")
    values = [int(v) for v in found if v is not None and v.strip().isdigit()]
    if not values:
        raise ImapFailure(f"the server sent no UIDVALIDITY for folder {mailbox.imap_folder!r}")
    return values[-1]


def _uids_after(client: imaplib.IMAP4, last_uid: int) -> list[int]:
    """UIDs above `last_uid`, ascending. `n:*` always matches the highest UID, even below `n`
    (RFC 3501 6.4.8): that one is filtered out here."""
    found = _search(client, "UID", f"{last_uid + 1}:*")
    return sorted(uid for uid in found if uid > last_uid)


def _body_of(data: list[Any], uid: int) -> bytes | None:
    """The `BODY[]` literal of message `uid` among FETCH responses (which may also hold
    unsolicited flag updates of other messages, and put `UID n` before or after the literal)."""
    for i, item in enumerate(data):
        if not isinstance(item, tuple) or len(item) < 2 or not _BODY.search(item[0]):
            continue
        found = _UID.search(item[0])
        if found is None and i + 1 < len(data) and isinstance(data[i + 1], bytes):
            found = _UID.search(data[i + 1])
        if found is not None and int(found.group(1)) == uid:
            return bytes(item[1])
    return None


def _search(client: imaplib.IMAP4, *criteria: str) -> set[int]:
    typ, data = client.uid("SEARCH", *criteria)
    if typ != "OK":
        raise ImapFailure(f"UID SEARCH {' '.join(criteria)} failed: {_reply(data)}")
    return {int(tok) for chunk in data if isinstance(chunk, bytes) for tok in chunk.split() if tok.isdigit()}


def _highest_uid(client: imaplib.IMAP4) -> int | None:
    """The folder's highest UID now (None: it is empty)."""
    found = _search(client, "UID", "*")
    return max(found) if found else None


def _unseen(client: imaplib.IMAP4) -> set[int]:
    return _search(client, "UNSEEN")


def _pass_backlog(mailbox: Mailbox, skip: int) -> None:
    """The read messages up to `skip` stay unread by us: the cursor moves past them for good."""
    Mailbox.objects.filter(pk=mailbox.pk, skip_read_through=skip, uidvalidity=mailbox.uidvalidity).update(
        last_uid=Greatest(F("last_uid"), skip), skip_read_through=None
    )
    mailbox.last_uid = max(mailbox.last_uid, skip)
    mailbox.skip_read_through = None


def _fetch(client: imaplib.IMAP4, uid: int) -> bytes | None:
    """Message `uid`'s raw bytes, without setting `\\Seen`; None if it was expunged since."""
    typ, data = client.uid("FETCH", str(uid), "(UID BODY.PEEK[])")
    if typ != "OK":
        raise ImapFailure(f"UID FETCH {uid} failed: {_reply(data)}")
    raw = _body_of(data, uid)
    if raw is None:
        typ, data = client.uid("SEARCH", f"UID {uid}")
        still_there = typ == "OK" and any(
            str(uid).encode() in chunk.split() for chunk in data if isinstance(chunk, bytes)
        )
        if still_there:
            raise ImapFailure(f"UID FETCH {uid}: the server returned no message body")
    return raw


def _mark_seen(client: imaplib.IMAP4, uid: int) -> None:
    typ, data = client.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Seen)")
    if typ != "OK":
        raise ImapFailure(f"UID STORE {uid} +FLAGS (\\Seen) failed: {_reply(data)}")


def _close(client: imaplib.IMAP4) -> None:
    try:
        client.logout()
    except (imaplib.IMAP4.error, OSError, EOFError):
        with contextlib.suppress(OSError):
            client.shutdown()


# --------------------------------------------------------------------------------------------
# The lease and the cursor (each a short transaction of its own)


def _lease_take(*, mailbox_id: int, now: datetime) -> tuple[Mailbox, datetime] | PollOutcome:
    lease = timedelta(seconds=float(settings.SPORTELLO["IMAP_LEASE"]))
    with transaction.atomic():
        mailbox = claim(Mailbox.objects.filter(pk=mailbox_id)).first()
        if mailbox is None:
            if not Mailbox.objects.filter(pk=mailbox_id).exists():
                raise NotFound(f"no mailbox with id {mailbox_id}")
            return PollOutcome(mailbox_id, PollStatus.BUSY)  # locked by another poller right now
        if not mailbox.active or not mailbox.imap_host:
            return PollOutcome(mailbox_id, PollStatus.DISABLED)
        if mailbox.lease_until is not None and mailbox.lease_until > now:
            return PollOutcome(mailbox_id, PollStatus.BUSY)
        mailbox.lease_until = now + lease
        mailbox.save(update_fields=["lease_until"])
    return mailbox, mailbox.lease_until


def _restart(mailbox: Mailbox, uidvalidity: int, highest: int | None) -> None:
    """The folder is read for the first time, or its UIDs were renumbered: read it from the
    start — its read messages up to `highest` left alone unless the mailbox takes them."""
    skip = None if mailbox.imap_take_read else highest
    Mailbox.objects.filter(pk=mailbox.pk).update(uidvalidity=uidvalidity, last_uid=0, skip_read_through=skip)
    mailbox.skip_read_through = skip
    if mailbox.uidvalidity is not None:
        logger.warning(
            "mailbox %s: UIDVALIDITY %s → %s, reading the folder from the start",
            mailbox.address,
            mailbox.uidvalidity,
            uidvalidity,
        )
    mailbox.uidvalidity, mailbox.last_uid = uidvalidity, 0


def _advance(mailbox: Mailbox, uid: int) -> None:
    """`last_uid` forward to `uid` (never back; not if the folder was renumbered meanwhile)."""
    Mailbox.objects.filter(pk=mailbox.pk, uidvalidity=mailbox.uidvalidity, last_uid__lt=uid).update(
        last_uid=uid
    )
    mailbox.last_uid = max(mailbox.last_uid, uid)


def _finish(*, mailbox_id: int, token: datetime, now: datetime, error: str) -> None:
    with transaction.atomic():
        Mailbox.objects.filter(pk=mailbox_id).update(last_polled_at=now, last_error=error[:ERROR_MAX])
        Mailbox.objects.filter(pk=mailbox_id, lease_until=token).update(lease_until=None)


# --------------------------------------------------------------------------------------------
# Polling


@dataclass(slots=True)
class _Counts:
    fetched: int = 0
    ingested: int = 0
    duplicates: int = 0
    failed: int = 0


def _read(*, mailbox: Mailbox, now: datetime, ingest: Ingest, connect: Connect, counts: _Counts) -> None:
    batch = int(settings.SPORTELLO["IMAP_BATCH"])
    try:
        client = connect(mailbox)
    except (imaplib.IMAP4.error, OSError, EOFError) as exc:
        where = f"{mailbox.imap_host}:{mailbox.imap_port}"
        raise ImapFailure(f"cannot connect to {where} ({mailbox.imap_security}): {_text(exc)}") from None
    try:
        uidvalidity = _open(client, mailbox)
        if uidvalidity != mailbox.uidvalidity:
            _restart(mailbox, uidvalidity, _highest_uid(client))
        uids = _uids_after(client, mailbox.last_uid)
        skip = mailbox.skip_read_through
        if skip is not None:
            unseen = _unseen(client)
            uids = [u for u in uids if u > skip or u in unseen]
            if not any(u <= skip for u in uids):
                _pass_backlog(mailbox, skip)  # every unread message of the backlog is in
        for uid in uids[:batch]:
            raw = _fetch(client, uid)
            if raw is None:  # expunged by someone else since the search: gone for good
                _advance(mailbox, uid)
                continue
            counts.fetched += 1
            try:
                result = ingest(raw=raw, via="imap", mailbox=mailbox, recipient=mailbox.address, now=now)
            except Exception as exc:
                counts.failed += 1
                logger.exception("mailbox %s: ingesting UID %s failed", mailbox.address, uid)
                raise ImapFailure(f"UID {uid}: ingestion failed: {type(exc).__name__}: {exc}") from None
            if result.duplicate:
                counts.duplicates += 1
            else:
                counts.ingested += 1
            _mark_seen(client, uid)
            _advance(mailbox, uid)
        skip = mailbox.skip_read_through
        if skip is not None and mailbox.last_uid >= skip:
            _pass_backlog(mailbox, skip)  # the backlog's last unread message is in
    except (imaplib.IMAP4.error, OSError, EOFError) as exc:
        raise ImapFailure(f"IMAP: {_text(exc)}") from None
    finally:
        _close(client)


def mailbox_poll(
    *, mailbox_id: int, now: datetime, ingest: Ingest | None = None, connect: Connect = imap_connect
) -> PollOutcome:
    """Read what is new in one mailbox (see the module's docstring). Never raises for the
    server's failures (those are the outcome's `error` and the mailbox's `last_error`);
    NotFound for an unknown mailbox."""
    if ingest is None:
        from .inbound import mail_ingest

        ingest = mail_ingest
    taken = _lease_take(mailbox_id=mailbox_id, now=now)
    if isinstance(taken, PollOutcome):
        return taken
    mailbox, token = taken
    counts = _Counts()
    error = ""
    try:
        _read(mailbox=mailbox, now=now, ingest=ingest, connect=connect, counts=counts)
    except ImapFailure as exc:
        error = str(exc)
        logger.warning("mailbox %s: %s", mailbox.address, error)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        logger.exception("mailbox %s: poll failed", mailbox.address)
    finally:
        _finish(mailbox_id=mailbox_id, token=token, now=now, error=error)
    return PollOutcome(
        mailbox_id,
        PollStatus.ERROR if error else PollStatus.OK,
        fetched=counts.fetched,
        ingested=counts.ingested,
        duplicates=counts.duplicates,
        failed=counts.failed,
        error=error[:ERROR_MAX],
    )


# --------------------------------------------------------------------------------------------
# Test connection


class ProbeFailure(StrEnum):
    DNS = "dns"  # the host name does not resolve
    REFUSED = "refused"  # nothing listens there (or a firewall says no)
    NETWORK = "network"  # unreachable, reset, closed early
    TIMEOUT = "timeout"  # no answer within the probe's time
    TLS = "tls"  # the TLS handshake or the certificate failed
    AUTH = "auth"  # the server refused the user name or the password
    FOLDER = "folder"  # logged in, but the folder cannot be opened
    PROTOCOL = "protocol"  # the server answered something that is not IMAP as expected


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What `imap_probe` found: `ok` with the folder's message count, or the step that failed
    (`failure`) and the server's or the system's words for it (`detail`)."""

    ok: bool
    failure: ProbeFailure | None = None
    detail: str = ""
    messages: int | None = None
    seconds: float = 0.0


def probe_timeout() -> float:
    return float(settings.SPORTELLO["IMAP_PROBE_TIMEOUT"])


def _resolve(host: str, port: int, timeout: float) -> ProbeResult | None:
    """Resolve the host in a thread of its own (a resolver may not honour socket timeouts):
    None when it resolves in time, else the failure."""
    name = host.strip().strip("[]")
    outcome: list[BaseException | None] = []

    def lookup() -> None:
        try:
            socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
            outcome.append(None)
        except (OSError, UnicodeError) as exc:
            outcome.append(exc)

    worker = threading.Thread(target=lookup, daemon=True)
    worker.start()
    worker.join(timeout)
    if not outcome:
        return ProbeResult(False, ProbeFailure.TIMEOUT, f"looking up {name} took longer than {timeout:g}s")
    error = outcome[0]
    if error is not None:
        return ProbeResult(False, ProbeFailure.DNS, f"cannot resolve {name}: {_text(error)}")
    return None


def _connect_failure(exc: BaseException, *, expired: bool, timeout: float) -> ProbeResult:
    if expired or isinstance(exc, TimeoutError):
        return ProbeResult(False, ProbeFailure.TIMEOUT, f"no answer within {timeout:g}s")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return ProbeResult(False, ProbeFailure.TLS, f"certificate: {exc.verify_message}")
    if isinstance(exc, ssl.SSLError):
        return ProbeResult(False, ProbeFailure.TLS, _text(exc))
    if isinstance(exc, ConnectionRefusedError):
        return ProbeResult(False, ProbeFailure.REFUSED, _text(exc))
    if isinstance(exc, socket.gaierror):
        return ProbeResult(False, ProbeFailure.DNS, _text(exc))
    if isinstance(exc, ImapFailure):
        return ProbeResult(False, ProbeFailure.TLS, str(exc))
    if isinstance(exc, imaplib.IMAP4.error):
        detail = _text(exc)
        kind = ProbeFailure.TLS if "TLS" in detail.upper() else ProbeFailure.PROTOCOL
        return ProbeResult(False, kind, detail)
    return ProbeResult(False, ProbeFailure.NETWORK, _text(exc))


def _converse(client: imaplib.IMAP4, mailbox: Mailbox) -> ProbeResult:
    """Log in and open the folder read-only (EXAMINE: nothing is marked or changed)."""
    try:
        _login(client, mailbox)
    except imaplib.IMAP4.error as exc:
        detail = f"login as {mailbox.imap_username!r} failed: {_text(exc)}"
        return ProbeResult(False, ProbeFailure.AUTH, detail)
    typ, data = client.select(folder_name(mailbox.imap_folder), readonly=True)
    if typ != "OK":
        return ProbeResult(
            False, ProbeFailure.FOLDER, f"cannot open folder {mailbox.imap_folder!r}: {_reply(data)}"
        )
    first = data[0] if data else None
    count = int(first) if isinstance(first, bytes) and first.strip().isdigit() else None
    return ProbeResult(True, messages=count)


def imap_probe(*, mailbox: Mailbox, timeout: float | None = None) -> ProbeResult:
    """Try the mailbox's IMAP settings (saved or not) as the poller would: resolve the host,
    connect with its security, log in and open its folder read-only, then log out. Never
    raises for the server's or the network's failures: the result names the step that failed.
    Bounded: the whole probe is cut after `timeout` seconds (SPORTELLO["IMAP_PROBE_TIMEOUT"], 10
    by default), however slowly a server trickles its answers."""
    limit = probe_timeout() if timeout is None else timeout
    started = time.monotonic()

    def done(result: ProbeResult) -> ProbeResult:
        return ProbeResult(
            result.ok, result.failure, result.detail[:ERROR_MAX], result.messages, time.monotonic() - started
        )

    failed = _resolve(mailbox.imap_host, mailbox.imap_port, limit)
    if failed is not None:
        return done(failed)
    remaining = max(0.05, limit - (time.monotonic() - started))
    expired = threading.Event()
    holder: list[imaplib.IMAP4] = []

    def cut() -> None:  # a server that trickles cannot stretch the probe past its bound
        expired.set()
        for client in holder:
            with contextlib.suppress(OSError):
                client.sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(remaining, cut)
    watchdog.daemon = True
    watchdog.start()
    try:
        try:
            client = imap_connect(mailbox, timeout=remaining)
        except (imaplib.IMAP4.error, ImapFailure, OSError, EOFError) as exc:
            return done(_connect_failure(exc, expired=expired.is_set(), timeout=limit))
        holder.append(client)
        try:
            result = _converse(client, mailbox)
        except (imaplib.IMAP4.error, OSError, EOFError) as exc:
            if expired.is_set() or isinstance(exc, TimeoutError):
                result = ProbeResult(False, ProbeFailure.TIMEOUT, f"no answer within {limit:g}s")
            else:
                result = ProbeResult(False, ProbeFailure.NETWORK, _text(exc))
        finally:
            _close(client)
        return done(result)
    finally:
        watchdog.cancel()


def mailbox_probe(
    *,
    actor: User | None,
    data: Mapping[str, Any],
    mailbox_id: int | None = None,
    timeout: float | None = None,
) -> ProbeResult:
    """ "Test connection" for admins: the IMAP settings in `data` (a form's, unsaved; on a
    stored mailbox a password left out is the stored one) validated as a save would
    (`ValidationFailed` otherwise), then tried with `imap_probe`. Nothing is saved."""
    draft = mailbox_draft(actor=actor, data=data, mailbox_id=mailbox_id)
    return imap_probe(mailbox=draft, timeout=timeout)


def _pollable() -> Any:
    return Mailbox.objects.filter(active=True).exclude(imap_host="")


def imap_poll(now: datetime, *, ingest: Ingest | None = None) -> datetime | None:
    """The worker's poller: poll every active IMAP mailbox whose turn has come (every
    `IMAP_EVERY` seconds, counted from its last poll, whatever its outcome) and is not leased
    by another worker; return when the next one is due (None: no IMAP mailbox)."""
    every = poll_every()
    free = Q(lease_until__isnull=True) | Q(lease_until__lte=now)
    due = Q(last_polled_at__isnull=True) | Q(last_polled_at__lte=now - every)
    for mailbox_id in list(_pollable().filter(free & due).order_by("id").values_list("pk", flat=True)):
        try:
            mailbox_poll(mailbox_id=mailbox_id, now=now, ingest=ingest)
        except NotFound:  # deleted meanwhile
            continue
    upcoming: datetime | None = None
    for polled, lease in _pollable().values_list("last_polled_at", "lease_until"):
        at = now if polled is None else polled + every
        if lease is not None and lease > at:
            at = lease
        if upcoming is None or at < upcoming:
            upcoming = at
    return None if upcoming is None else max(upcoming, now + timedelta(seconds=1))


def register() -> None:
    from sportello.core.worker import register_poller

    register_poller("imap", imap_poll)

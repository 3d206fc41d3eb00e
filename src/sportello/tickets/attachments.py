"""Attachments: staged uploads, their audit event, and the helpers the download edge needs.

An upload is *staged*: it belongs to a ticket but to no message (`message=None`) until a
message claims it through `attachment_ids` (the pipeline does that, inside its transaction).
Staging changes no ticket field, so it does not run the pipeline's trigger cycle or bump the
ticket's `version` (a client that uploads and then replies with the version it loaded must not
get a 409 for its own upload). It is still audited like every change: one `attachment` event
with actor, via and cause, written in the same transaction that inserts the row while the
ticket row is locked. The claim by a message is a pipeline mutation, where rules see it.

Files are written to the `attachments` storage under a generated key before the transaction
(storage may be remote: no network call inside a transaction) and removed again when the
transaction fails, so a failed upload leaves neither a row nor a file.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage, storages
from django.db import transaction

from sportello.accounts.models import User
from sportello.contacts.models import Contact
from sportello.core.actors import Actor, ActorKind, Via
from sportello.core.errors import Conflict, NotFound, PayloadTooLarge, ValidationFailed
from sportello.engine.text import FALLBACK_FILENAME, sanitize_filename

from . import permissions
from .locks import ticket_lock
from .models import Attachment, AuthorKind, EventKind, StatusCategory, Ticket, TicketEvent

STORAGE_ALIAS = "attachments"
CONTENT_TYPE_MAX = 150
CHUNK_SIZE = 64 * 1024
OCTET_STREAM = "application/octet-stream"

# Image types a browser may be given as-is: they cannot carry script. SVG is not among them.
SAFE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),  # after "RIFF" + 4 length bytes
    (b"%PDF-", 0, "application/pdf"),
)
# type/subtype, RFC 6838 restricted-name characters only; parameters are dropped.
_CONTENT_TYPE_RE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$")


def max_bytes() -> int:
    return int(settings.SPORTELLO["ATTACHMENT_MAX_BYTES"])


def attachment_storage() -> Storage:
    return storages[STORAGE_ALIAS]


# --------------------------------------------------------------------------------------------
# Pure helpers


def sniff_content_type(head: bytes) -> str | None:
    for magic, offset, ctype in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            if ctype == "image/webp" and not head.startswith(b"RIFF"):
                continue
            return ctype
    return None


def choose_content_type(*, declared: str | None, head: bytes) -> str:
    """What we record. A sniffed type wins; the client's word is kept only when it is well
    formed, and never when it claims an image type the bytes do not confirm. Serving never
    trusts this value beyond `serving_content_type`."""
    sniffed = sniff_content_type(head)
    if sniffed:
        return sniffed
    ctype = (declared or "").split(";", 1)[0].strip().lower()
    if not ctype or not _CONTENT_TYPE_RE.match(ctype) or len(ctype) > CONTENT_TYPE_MAX:
        return OCTET_STREAM
    if ctype in SAFE_IMAGE_TYPES:
        return OCTET_STREAM
    return ctype


def serving_content_type(stored: str) -> str:
    """Recorded image types were confirmed by their bytes at upload; anything else is served
    as opaque bytes."""
    return stored if stored in SAFE_IMAGE_TYPES else OCTET_STREAM


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback and the RFC 5987 UTF-8 form (RFC 6266 §4.3).
    Quotes, backslashes, control characters and non-ASCII never reach the quoted form."""
    from urllib.parse import quote

    fallback = "".join(ch if 0x20 <= ord(ch) < 0x7F and ch not in '"\\%;' else "_" for ch in filename)
    fallback = fallback or FALLBACK_FILENAME
    encoded = quote(filename.encode("utf-8", "replace"), safe="")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def storage_key_new() -> str:
    key = uuid.uuid4().hex
    return f"{key[:2]}/{key[2:4]}/{key}"


# --------------------------------------------------------------------------------------------
# Reading the upload


@dataclass(frozen=True, slots=True)
class Digest:
    size: int
    sha256: str
    head: bytes


def _chunks(stream: IO[bytes] | File) -> Iterator[bytes]:
    if isinstance(stream, File):
        yield from stream.chunks(CHUNK_SIZE)
        return
    while chunk := stream.read(CHUNK_SIZE):
        yield chunk


def digest_stream(stream: IO[bytes] | File, *, limit: int) -> Digest:
    """Size, SHA-256 and the first bytes of `stream`, chunk by chunk with a running count:
    over `limit` → PayloadTooLarge as soon as the count passes it."""
    h = hashlib.sha256()
    size = 0
    head = b""
    for chunk in _chunks(stream):
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"an attachment is at most {limit} bytes", field="file")
        if len(head) < 64:
            head += chunk[: 64 - len(head)]
        h.update(chunk)
    return Digest(size=size, sha256=h.hexdigest(), head=head)


# --------------------------------------------------------------------------------------------
# The service


def check_may_upload(*, principal: User | Contact, ticket: Ticket | None) -> None:
    """Agents and light agents (for internal notes) may upload; customers only to their own
    tickets, as they may reply there."""
    is_contact = isinstance(principal, Contact)
    permissions.check_may_change(
        principal=principal,
        ticket=ticket,
        fields=False,
        public_message=is_contact,
        internal_message=not is_contact,
    )


def _actor_for(principal: User | Contact) -> Actor:
    if isinstance(principal, Contact):
        return Actor(kind=ActorKind.CONTACT, id=principal.pk, label=principal.email or str(principal))
    return Actor(kind=ActorKind.AGENT, id=principal.pk, label=principal.email)


def attachment_upload(
    *,
    principal: User | Contact,
    ticket_id: int,
    stream: IO[bytes] | File,
    filename: str | None,
    declared_content_type: str | None,
    via: Via,
    now: datetime,
    cause: str = "",
) -> Attachment:
    """Stage one file on a ticket: store it under a generated key, then insert the row and its
    audit event in one transaction with the ticket locked."""
    digest = digest_stream(stream, limit=max_bytes())
    if digest.size == 0:
        raise ValidationFailed("the file is empty", field="file")
    stream.seek(0)
    storage = attachment_storage()
    key = storage.save(storage_key_new(), stream if isinstance(stream, File) else File(stream))
    try:
        return _attachment_record(
            principal=principal,
            ticket_id=ticket_id,
            key=key,
            filename=sanitize_filename(filename),
            content_type=choose_content_type(declared=declared_content_type, head=digest.head),
            digest=digest,
            via=via,
            cause=cause,
            now=now,
        )
    except BaseException:
        storage.delete(key)
        raise


@transaction.atomic
def _attachment_record(
    *,
    principal: User | Contact,
    ticket_id: int,
    key: str,
    filename: str,
    content_type: str,
    digest: Digest,
    via: Via,
    cause: str,
    now: datetime,
) -> Attachment:
    ticket = ticket_lock(
        ticket_id=ticket_id, principal=principal, only=("id", "requester_id", "status_category")
    )
    check_may_upload(principal=principal, ticket=ticket)
    if ticket.status_category == StatusCategory.CLOSED:
        raise Conflict("closed tickets cannot change; open a follow-up ticket instead", code="ticket_closed")
    actor = _actor_for(principal)
    attachment = Attachment.objects.create(
        ticket_id=ticket.pk,
        message=None,
        storage_key=key,
        filename=filename,
        content_type=content_type,
        size=digest.size,
        sha256=digest.sha256,
        uploaded_by_kind=AuthorKind.CONTACT if isinstance(principal, Contact) else AuthorKind.AGENT,
        uploaded_by_id=principal.pk,
        created_at=now,
    )
    TicketEvent.objects.create(
        ticket_id=ticket.pk,
        change_id=uuid.uuid4(),
        at=now,
        kind=EventKind.ATTACHMENT,
        field="staged",
        new_value=_event_value(attachment),
        actor_kind=str(actor.kind),
        actor_id=actor.id,
        actor_label=actor.label[:200],
        via=str(via),
        cause=cause[:200],
    )
    return attachment


def _event_value(a: Attachment) -> dict[str, Any]:
    return {
        "attachment_id": a.pk,
        "filename": a.filename,
        "content_type": a.content_type,
        "size": a.size,
        "sha256": a.sha256,
    }


def attachment_open(*, attachment: Attachment) -> File:
    """The stored bytes of an attachment the caller has already fetched with an access check."""
    try:
        return attachment_storage().open(attachment.storage_key, "rb")
    except FileNotFoundError:
        raise NotFound("attachment not found") from None

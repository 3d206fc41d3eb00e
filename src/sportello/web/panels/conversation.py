"""Ticket page panel: the conversation, with each message's attachments (a link through the
permission-checked download view, a thumbnail for images, the size and a type icon)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from django.db.models import OuterRef, QuerySet
from django.http import HttpRequest

from sportello.accounts.models import User
from sportello.accounts.structure import structure
from sportello.core import clock
from sportello.core.compiled import STATEMENTS
from sportello.tickets import selectors
from sportello.tickets.attachments import SAFE_IMAGE_TYPES
from sportello.tickets.models import Attachment, AuthorKind, Message, Ticket

from .reads import json_rows

ARCHIVE_TYPES = frozenset(
    {"application/zip", "application/x-7z-compressed", "application/gzip", "application/x-tar"}
)


class FileLike(Protocol):
    @property
    def content_type(self) -> str: ...
    @property
    def filename(self) -> str: ...


@dataclass(frozen=True, slots=True)
class File:
    """An attachment as the conversation shows it, with its `kind` (`file_kind`)."""

    pk: int
    filename: str
    content_type: str
    size: int
    kind: str


def file_kind(attachment: FileLike) -> str:
    """The kind of file, for its icon: image, pdf, text, sheet, archive or file."""
    ctype = attachment.content_type
    name = attachment.filename.lower()
    if ctype in SAFE_IMAGE_TYPES:
        return "image"
    if ctype == "application/pdf" or name.endswith(".pdf"):
        return "pdf"
    if ctype in ARCHIVE_TYPES or name.endswith((".zip", ".7z", ".gz", ".tar")):
        return "archive"
    if name.endswith((".csv", ".xls", ".xlsx", ".ods")):
        return "sheet"
    if ctype.startswith("text/") or name.endswith((".txt", ".log", ".md", ".doc", ".docx", ".odt")):
        return "text"
    return "file"


def _file(row: dict[str, Any]) -> File:
    f = File(int(row["id"]), row["filename"], row["content_type"], int(row["size"]), "")
    return replace(f, kind=file_kind(f))


def _messages(user: User, ticket_id: int) -> QuerySet[Message]:
    files = json_rows(
        Attachment.objects.filter(message_id=OuterRef("pk")),
        "message_id",
        id="id",
        filename="filename",
        content_type="content_type",
        size="size",
    )
    return (
        selectors.message_list(principal=user, ticket=Ticket(pk=ticket_id))
        .select_related(None)
        .select_related("author_contact")
        .prefetch_related(None)
        .annotate(file_rows=files)
    )


def _conversation(user: User, ticket: Ticket, memo: dict[str, Any] | None = None) -> list[Message]:
    """The messages, in one statement with their attachments (`files`, by id, each with its
    kind); each agent reply with how its e-mail fared (`delivery`, or None: read with the ticket
    by `reads.page_ticket`, else one statement). The agents who wrote them are the desk's."""
    from sportello.outbox.services import delivery_states

    messages: list[Message] = STATEMENTS.rows(
        ("conversation", type(user).__name__),
        lambda ident, at: _messages(user, ident),
        ids=(ticket.pk,),
        now=clock.now(),
    )
    people = structure(memo).users
    for m in messages:
        if m.author_agent_id is not None and (author := people.get(m.author_agent_id)) is not None:
            m.author_agent = author
    states = getattr(ticket, "page_deliveries", None)
    if states is None:
        states = delivery_states([m.pk for m in messages if m.public and m.author_kind == AuthorKind.AGENT])
    for m in messages:
        replied = m.public and m.author_kind == AuthorKind.AGENT
        m.delivery = states.get(m.pk) if replied else None  # type: ignore[attr-defined]
        m.files = sorted((_file(r) for r in m.file_rows or []), key=lambda f: f.pk)  # type: ignore[attr-defined]
    return messages


def context(request: HttpRequest, ticket: Ticket, *, now: datetime, shared: dict[str, Any]) -> dict[str, Any]:
    memo = shared["reads"].memo if "reads" in shared else None
    return {"conversation": _conversation(request.user, ticket, memo)}  # type: ignore[arg-type]

"""Ticket page panel: the conversation, with each message's attachments (a link through the
permission-checked download view, a thumbnail for images, the size and a type icon)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest

from sportello.accounts.models import User
from sportello.tickets import selectors
from sportello.tickets.attachments import SAFE_IMAGE_TYPES
from sportello.tickets.models import Attachment, AuthorKind, Message, Ticket

ARCHIVE_TYPES = frozenset(
    {"application/zip", "application/x-7z-compressed", "application/gzip", "application/x-tar"}
)


def file_kind(attachment: Attachment) -> str:
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


def _conversation(user: User, ticket: Ticket) -> list[Message]:
    """The messages, each agent reply with how its e-mail fared (`delivery`, or None), each
    attachment with its kind (`kind`)."""
    from sportello.outbox.services import delivery_states

    messages = list(selectors.message_list(principal=user, ticket=ticket))
    states = delivery_states([m.pk for m in messages if m.public and m.author_kind == AuthorKind.AGENT])
    for m in messages:
        m.delivery = states.get(m.pk)  # type: ignore[attr-defined]
        m.files = sorted(m.attachments.all(), key=lambda a: a.pk)  # type: ignore[attr-defined]
        for a in m.files:  # type: ignore[attr-defined]
            a.kind = file_kind(a)
    return messages


def context(request: HttpRequest, ticket: Ticket, *, now: datetime, shared: dict[str, Any]) -> dict[str, Any]:
    return {"conversation": _conversation(request.user, ticket)}  # type: ignore[arg-type]

"""`/api/v1/mailboxes`: the addresses the desk receives mail at and their IMAP accounts (admins).

The IMAP password is write-only: it is accepted on create and change and never returned
(`imap_password_set` says whether one is stored). `DELETE` deactivates a mailbox (what it
received stays); `POST /mailboxes/{id}/poll` reads it now and reports what came in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field

from sportello.accounts.http import ApiRequest
from sportello.core import clock
from sportello.core.paging import SortKey, page_limit, paginate

from .. import imap, mailboxes
from ..models import Mailbox

router = Router(tags=["mailboxes"])

BY_ID = [SortKey("id")]
TEXT_INPUT_MAX = 10_000
Security = Literal["ssl", "starttls", "none"]


class Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class MailboxOut(Schema):
    id: int
    address: str
    department_id: int
    active: bool
    imap_host: str = Field(description="empty: mail arrives from an MTA, not read over IMAP")
    imap_port: int
    imap_security: str
    imap_username: str
    imap_password_set: bool = Field(description="a password is stored (it is never returned)")
    imap_folder: str
    imap_take_read: bool = Field(description="the first read of the folder takes read messages too")
    uidvalidity: int | None
    last_uid: int = Field(description="the highest UID whose message is ingested")
    last_polled_at: datetime | None
    last_error: str = Field(description="why the last poll stopped; empty when it went well")
    created_at: datetime


class MailboxPage(Schema):
    items: list[MailboxOut]
    next_cursor: str | None


class MailboxCreateIn(Strict):
    address: str = Field(max_length=TEXT_INPUT_MAX)
    department_id: int
    active: bool = True
    imap_host: str = Field(default="", max_length=TEXT_INPUT_MAX)
    imap_port: int = 993
    imap_security: Security = "ssl"
    imap_username: str = Field(default="", max_length=TEXT_INPUT_MAX)
    imap_password: str = Field(default="", max_length=TEXT_INPUT_MAX)
    imap_folder: str = Field(default="INBOX", max_length=TEXT_INPUT_MAX)
    imap_take_read: bool = Field(
        default=False, description="on the first read of the folder, take messages already read too"
    )


class MailboxPatchIn(Strict):
    address: str | None = Field(default=None, max_length=TEXT_INPUT_MAX)
    department_id: int | None = None
    active: bool | None = None
    imap_host: str | None = Field(default=None, max_length=TEXT_INPUT_MAX)
    imap_port: int | None = None
    imap_security: Security | None = None
    imap_username: str | None = Field(default=None, max_length=TEXT_INPUT_MAX)
    imap_password: str | None = Field(default=None, max_length=TEXT_INPUT_MAX)
    imap_folder: str | None = Field(default=None, max_length=TEXT_INPUT_MAX)
    imap_take_read: bool | None = None


class PollOut(Schema):
    status: str = Field(description="ok, busy (another poller is reading it), disabled or error")
    fetched: int
    ingested: int = Field(description="new messages applied")
    duplicates: int = Field(description="messages already received before")
    failed: int
    error: str


def mailbox_out(m: Mailbox) -> dict[str, Any]:
    return {
        "id": m.pk,
        "address": m.address,
        "department_id": m.department_id,
        "active": m.active,
        "imap_host": m.imap_host,
        "imap_port": m.imap_port,
        "imap_security": m.imap_security,
        "imap_username": m.imap_username,
        "imap_password_set": bool(m.imap_password),
        "imap_folder": m.imap_folder,
        "imap_take_read": m.imap_take_read,
        "uidvalidity": m.uidvalidity,
        "last_uid": m.last_uid,
        "last_polled_at": m.last_polled_at,
        "last_error": m.last_error,
        "created_at": m.created_at,
    }


@router.get("/mailboxes", response=MailboxPage, summary="List mailboxes (admins)")
def list_mailboxes(
    request: ApiRequest, cursor: str | None = None, limit: int | None = None
) -> dict[str, Any]:
    qs = mailboxes.mailbox_list(principal=request.auth)
    rows, nxt = paginate(qs, keys=BY_ID, cursor=cursor, limit=page_limit(limit))
    return {"items": [mailbox_out(m) for m in rows], "next_cursor": nxt}


@router.post("/mailboxes", response={201: MailboxOut}, summary="Create a mailbox (admins)")
def create_mailbox(request: ApiRequest, payload: MailboxCreateIn) -> Status[dict[str, Any]]:
    mailbox = mailboxes.mailbox_create(actor=request.auth, data=payload.model_dump(), now=clock.now())
    return Status(201, mailbox_out(mailbox))


@router.get("/mailboxes/{mailbox_id}", response=MailboxOut, summary="Get a mailbox (admins)")
def get_mailbox(request: ApiRequest, mailbox_id: int) -> dict[str, Any]:
    return mailbox_out(mailboxes.mailbox_get(principal=request.auth, mailbox_id=mailbox_id))


@router.patch("/mailboxes/{mailbox_id}", response=MailboxOut, summary="Change a mailbox (admins)")
def patch_mailbox(request: ApiRequest, mailbox_id: int, payload: MailboxPatchIn) -> dict[str, Any]:
    """Only the fields sent change; a null leaves a field as it is."""
    data = {k: v for k, v in payload.model_dump(exclude_unset=True).items() if v is not None}
    mailbox = mailboxes.mailbox_update(actor=request.auth, mailbox_id=mailbox_id, data=data, now=clock.now())
    return mailbox_out(mailbox)


@router.delete("/mailboxes/{mailbox_id}", response=MailboxOut, summary="Deactivate a mailbox (admins)")
def delete_mailbox(request: ApiRequest, mailbox_id: int) -> dict[str, Any]:
    return mailbox_out(
        mailboxes.mailbox_deactivate(actor=request.auth, mailbox_id=mailbox_id, now=clock.now())
    )


@router.post("/mailboxes/{mailbox_id}/poll", response=PollOut, summary="Read a mailbox now (admins)")
def poll_mailbox(request: ApiRequest, mailbox_id: int) -> dict[str, Any]:
    """Reads the new messages now, as the worker would (at most `IMAP_BATCH` of them), and says
    what came of it. A server failure is not an HTTP error: it is `status: error` with the
    reason (also kept as the mailbox's `last_error`)."""
    mailboxes.mailbox_get(principal=request.auth, mailbox_id=mailbox_id)
    outcome = imap.mailbox_poll(mailbox_id=mailbox_id, now=clock.now())
    return {
        "status": str(outcome.status),
        "fetched": outcome.fetched,
        "ingested": outcome.ingested,
        "duplicates": outcome.duplicates,
        "failed": outcome.failed,
        "error": outcome.error,
    }

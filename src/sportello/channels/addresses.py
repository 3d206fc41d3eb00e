"""The addresses mail intake tells messages apart by, as a per-process cache: the active
mailboxes (by address, with their department), our own addresses (those mailboxes and the
departments' addresses: mail from them is a loop) and the addresses of the people who work in
the desk (agents answer in the desk, not by mail).

It is built under the desk's signature (`core.config`, "desk") from the desk's structure
(`accounts.structure`: departments and users) and one read of the mailboxes, so a message reads
none of them: only the signature, once per message (`config.read_once`), shared with its change.
Any process saving or deleting a mailbox, a department or a user moves the signature (`watch`,
registered in `ChannelsConfig.ready`), and the next message rebuilds the value. What the IMAP
poller writes on a mailbox as it reads it — its UID cursor, its lease, when it last polled and
what failed (`RUNTIME`, mostly by `QuerySet.update`, which sends no signal) — is not
configuration and moves nothing.

The values returned are shared by every message of the process: read them, never change them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sportello.accounts.structure import DESK, structure
from sportello.core.config import config_cached

from .models import Mailbox

# The columns the IMAP poller writes (`channels.imap`): saving only these is no configuration change.
RUNTIME = frozenset(
    {"uidvalidity", "last_uid", "skip_read_through", "lease_until", "last_polled_at", "last_error"}
)


@dataclass(frozen=True, slots=True)
class MailboxAddress:
    """An active mailbox as intake needs it."""

    id: int
    address: str  # lower-case
    department_id: int


@dataclass(frozen=True, slots=True)
class Addresses:
    mailboxes: dict[str, MailboxAddress]  # the active mailboxes by their (lower-case) address
    ours: frozenset[str]  # the active mailboxes' and every department's addresses, lower-case
    agents: frozenset[str]  # every user's address (active or not), lower-case


def _read(memo: dict[str, Any] | None) -> Addresses:
    desk = structure(memo)
    mailboxes = {
        address.lower(): MailboxAddress(id=pk, address=address.lower(), department_id=department_id)
        for pk, address, department_id in Mailbox.objects.filter(active=True).values_list(
            "id", "address", "department_id"
        )
    }
    departments = {d.email.lower() for d in desk.departments.values() if d.email}
    return Addresses(
        mailboxes=mailboxes,
        ours=frozenset(mailboxes) | frozenset(departments),
        agents=frozenset(u.email.lower() for u in desk.users.values() if u.email),
    )


def addresses(memo: dict[str, Any] | None = None) -> Addresses:
    """The mailboxes and addresses as last committed (one signature read per message; one read
    of the mailboxes, and the structure's, after another process changed them)."""
    if memo is None:
        memo = {}
    return config_cached("channels.addresses", lambda: _read(memo), memo, signature=DESK)

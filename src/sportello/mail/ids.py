"""Our identifiers in mail headers, and reading them back from replies.

- **Message-IDs** of what we send: `sportello.<kind>.<ticket id>.<unique>@<mail domain>`. A
  reply's In-Reply-To/References naming one of ours points at its ticket without a lookup;
  a message coming back into our own inbox with one of ours as its Message-ID is a loop.
- **Subject token** `[#1234]` (the ticket number), for clients that drop the headers.
- **Reply addresses** `returns+t<ticket id>.<token>@shop.example` (plus-addressing on the
  department's address): `token` is an HMAC of (ticket id, recipient contact id) under the
  desk's secret, so a reply to it is bound to the one person it was sent to.

None of these grants anything alone: a reply is appended to the ticket it names only when its
sender is one of the ticket's participants (`channels.inbound`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

PREFIX = "sportello"
TOKEN_CHARS = 12  # base32 characters of the truncated HMAC (60 bits)
_ID_RE = re.compile(rf"^{PREFIX}\.([a-z0-9-]{{1,20}})\.([0-9]{{1,18}})\.([A-Za-z0-9_-]{{1,64}})@(.+)$")
_SUBJECT_TOKEN_RE = re.compile(r"\[#([0-9]{1,18})\]")
_REPLY_RE = re.compile(rf"^([^+@\s]+)\+t([0-9]{{1,18}})\.([a-z2-7]{{{TOKEN_CHARS}}})@([^@\s]+)$")


def message_id(*, domain: str, kind: str, ticket_id: int, unique: str) -> str:
    """One of our Message-IDs, without the angle brackets. `kind`: reply, notification, …;
    `unique`: what makes it unique (a message or outbox id, a uuid)."""
    if not re.fullmatch(r"[a-z0-9-]{1,20}", kind) or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", unique):
        raise ValueError("kind and unique must be short tokens")
    return f"{PREFIX}.{kind}.{ticket_id}.{unique}@{domain.lower()}"


def ticket_of_message_id(value: str, *, domain: str) -> int | None:
    """The ticket id one of our Message-IDs names (None if it is not ours)."""
    m = _ID_RE.match(value.strip().strip("<>"))
    if m is None or m.group(4).lower() != domain.lower():
        return None
    return int(m.group(2))


def is_ours(value: str, *, domain: str) -> bool:
    return ticket_of_message_id(value, domain=domain) is not None


def subject_token(number: int) -> str:
    return f"[#{number}]"


def subject_numbers(subject: str) -> list[int]:
    """The ticket numbers of the `[#1234]` tokens in a subject, in order, without repeats."""
    seen: list[int] = []
    for m in _SUBJECT_TOKEN_RE.finditer(subject):
        n = int(m.group(1))
        if n not in seen:
            seen.append(n)
    return seen


def reply_token(*, secret: bytes, ticket_id: int, contact_id: int) -> str:
    mac = hmac.new(secret, f"reply:{ticket_id}:{contact_id}".encode(), hashlib.sha256).digest()
    return base64.b32encode(mac).decode("ascii").lower()[:TOKEN_CHARS]


def reply_address(*, address: str, ticket_id: int, token: str) -> str:
    """The department's `address` with the ticket's tagged part: local+t<id>.<token>@domain."""
    local, _, domain = address.rpartition("@")
    if not local or not domain:
        raise ValueError("not an address")
    return f"{local}+t{ticket_id}.{token}@{domain}"


def parse_reply_address(value: str) -> tuple[str, int, str] | None:
    """(base address, ticket id, token) of a tagged reply address, else None."""
    m = _REPLY_RE.match(value.strip().lower())
    if m is None:
        return None
    return f"{m.group(1)}@{m.group(4)}", int(m.group(2)), m.group(3)


def verify_reply_token(*, secret: bytes, ticket_id: int, contact_id: int, token: str) -> bool:
    expected = reply_token(secret=secret, ticket_id=ticket_id, contact_id=contact_id)
    return hmac.compare_digest(expected, token.lower())

"""What a parsed message is, as the rest of the desk reads it. Produced by `parse.parse_mail`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage


@dataclass(frozen=True, slots=True)
class Address:
    """One mailbox: the addr-spec (`email`, domain lower-cased, local part as written) and the
    display name (decoded; never used to identify anyone)."""

    email: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class MailAttachment:
    filename: str  # a display name: no path, no control or bidi characters, at most 255 chars
    content_type: str  # as declared, lower-cased `type/subtype` ("application/octet-stream" if unusable)
    content: bytes
    inline: bool = False  # Content-Disposition inline with a Content-ID (an image in the HTML)
    content_id: str | None = None  # without the angle brackets
    origin: str = "part"  # "part"; "rfc822" (a forwarded message kept as .eml); "tnef" (unpacked winmail.dat)


@dataclass(frozen=True, slots=True)
class ParsedMail:
    """A message read best-effort. Text is NUL-free and valid Unicode; nothing here raises on
    access. `defects` says what was wrong and what was done about it."""

    raw_size: int
    sha256: str  # of the raw bytes
    message_id: str | None  # without <>; None when absent or unusable
    in_reply_to: tuple[str, ...]  # ids without <>, leniently extracted
    references: tuple[str, ...]
    subject: str  # decoded, one line (folding and control characters removed)
    from_: tuple[Address, ...]  # every From mailbox (none, or several, is a reason to quarantine)
    sender: Address | None
    reply_to: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    delivered_to: tuple[str, ...]  # Delivered-To, X-Original-To, Envelope-To: addr-specs, lower-cased
    return_path: str | None  # None: no header; "": the null reverse path <>
    date: datetime | None  # aware (UTC) when the Date header could be read, else None
    headers: Mapping[str, tuple[str, ...]]  # lower-cased name -> decoded values, in order
    text: str  # the text body: text/plain, else derived from the HTML; "" when none
    html: str  # the HTML body as sent (NOT sanitised: sanitise before showing), "" when none
    attachments: tuple[MailAttachment, ...] = ()
    defects: tuple[str, ...] = ()
    message: EmailMessage | None = field(default=None, compare=False, repr=False)  # the stdlib parse

    def header(self, name: str) -> str | None:
        """The first value of a header (case-insensitive), or None."""
        values = self.headers.get(name.lower())
        return values[0] if values else None


class MailTooLarge(Exception):
    """The message exceeds a configured limit (bytes, parts, nesting, attachments): it is not
    parsed further and goes to quarantine with this reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int = 25 * 1024 * 1024
    max_parts: int = 500
    max_depth: int = 20
    max_attachments: int = 100
    max_header_chars: int = 64 * 1024  # one header's decoded value; longer ones are cut (a defect)

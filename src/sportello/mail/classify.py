"""Telling automatic, bulk and looping mail apart, and reading bounces.

- `automation` reads the headers that say a message was sent by a program (RFC 3834
  `Auto-Submitted`, `Precedence`, list headers, loop headers, Outlook's
  `X-Auto-Response-Suppress`, a null or daemon sender) and whether it is one of our own messages
  coming back. The desk never sends an automatic reply to an automatic message, and only a
  `human` one may reopen a ticket.
- `bounce` reads a delivery failure: an RFC 3464 delivery-status report parsed here (failed and
  delayed recipients, status, diagnostic, the Message-ID of the message that bounced), else one
  of the free-text formats of older or proprietary servers through `flufl.bounce`, but only for a
  message that looks like a bounce (`looks_like_bounce`), so a customer writing about an
  "undeliverable" parcel is never read as one.

Everything reads the raw header strings: a malformed header counts as absent and nothing here
raises on hostile input. Only the bounce's recipients and the original's Message-ID are read,
never the embedded original's From, which anyone can forge.
"""

from __future__ import annotations

import email.header
import email.parser
import email.policy
import email.utils
import re
import unicodedata
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from email.message import EmailMessage, Message

from flufl.bounce import all_failures

from sportello.mail import ids

MAX_REASON_CHARS = 300
_MAX_PARTS = 200  # parts looked at when walking a message for report parts
_MAX_TEXT_CHARS = 64 * 1024  # of one text part, when searching it for ids or a diagnostic line

_DAEMON_LOCALS = {"mailer-daemon": "mailer-daemon sender", "mdaemon": "mailer-daemon sender"}
_POSTMASTER_LOCALS = {"postmaster": "postmaster sender"}
_BULK_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
_SUPPRESS_TOKENS = {"all": "All", "oof": "OOF", "autoreply": "AutoReply"}
_OURS_REASONS = ("our Message-ID", "our own address", "our loop header")
_KEYWORD_RE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_-]{0,63})\s*(?:[;(].*)?$", re.DOTALL)
_FOLD_RE = re.compile(r"\r?\n[ \t]*|\r")
_STATUS_RE = re.compile(r"(?<![0-9.])([245])\.([0-9]{1,3})\.([0-9]{1,3})(?![0-9])")
# An enhanced status code (5.1.1) or an SMTP reply code (550 , 550-) that is not part of a number
# or a telephone number (480-624-2500).
_DIAGNOSTIC_LINE_RE = re.compile(
    r"(?<![0-9.A-Za-z-])(?:[45]\.[0-9]{1,3}\.[0-9]{1,3}(?![0-9])|[45][0-9]{2}(?=[ -])(?![ -][0-9]{3}\b))"
)
_TYPED_VALUE_RE = re.compile(r"^\s*([A-Za-z0-9_.+-]{1,40})\s*;\s*(.*)$", re.DOTALL)
_XTEXT_UTF8_RE = re.compile(r"\\x\{([0-9A-Fa-f]{1,6})\}")
_ADDRESS_CHARS = r"[^\s@<>()\[\]\\,;:\"\ufffd]"
_ADDRESS_RE = re.compile(rf"^{_ADDRESS_CHARS}+@{_ADDRESS_CHARS}+\.{_ADDRESS_CHARS}+$")
_MESSAGE_ID_LINE_RE = re.compile(r"^[ \t>]*message-id:[ \t]*<([^<>\s]{1,900})>", re.IGNORECASE | re.MULTILINE)
_ANGLE_ID_RE = re.compile(r"<([^<>\s]{1,900})>")
_LOOP_TOKEN_RE = re.compile(r"[^\s<>,;()\"']+")

# Subjects that mail servers put on their failure reports and that customers do not type: a
# customer's "Delivery failed, order 1234" or "Undeliverable parcel" must not match, and a reply
# or a forward ("Re: Undeliverable: ...") is a person's message, hence anchored at the start.
_BOUNCE_SUBJECT_RE = re.compile(
    r"^\s*(?:"
    r"undeliver(?:able|ed)(?::|\s+mail\b|\s+message\b)"
    r"|delivery\s+status\s+notification"
    r"|delivery\s+notification\s*:"
    r"|delivery\s+report\s*(?:\(|$)"
    r"|(?:mail\s+|message\s+)delivery\s+(?:has\s+)?fail(?:ed|ure)\b"
    r"|delivery\s+failure(?:\s+notification)?\s*(?::|$)"
    r"|delivery\s+has\s+failed\b"
    r"|permanent\s+delivery\s+failure"
    r"|mail\s+delivery\s+(?:problem|warning|error)"
    r"|failure\s+(?:notice|delivery)\s*$"
    r"|returned\s+mail\s*[:-]"
    r"|non-?delivery(?:\s+report|\s+notification)?\s*:"
    r"|mail\s+(?:could\s+)?not\s+(?:be\s+)?delivered"
    r"|failed\s+mail\b"
    r"|delayed\s+mail\s*\("
    r"|message\s+delayed\s*\("
    r"|warning:\s+(?:message\b.*\bdelayed|message\s+has\s+not\s+yet\s+been\s+delivered|could\s+not\s+send)"
    r"|mail\s+system\s+error\b"
    r")",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Automation:
    """What the headers say about who sent a message.

    `automatic`: never send an automatic reply to it (one or more `reasons`). `human`: it still
    counts as a person's message, so it may reopen a ticket (an Outlook user's reply carries
    `X-Auto-Response-Suppress`; a list post carries `List-Id`). `ours`: one of our own messages
    came back (a loop): it is automatic and not human."""

    automatic: bool
    reasons: tuple[str, ...]
    human: bool
    ours: bool


@dataclass(frozen=True)
class Bounce:
    """A delivery failure report about a message we sent.

    `recipients`: every failing address, lower-cased: `failed` (permanent: the server gave up)
    then `delayed` (temporary: still being retried). `permanent` is True when any recipient
    failed for good. `original_message_id`: the Message-ID (without <>) of the message that
    bounced, when the report names it. `reason`: the first diagnostic, one line, at most
    300 characters. A Bounce always names at least one recipient."""

    recipients: tuple[str, ...]
    permanent: bool
    original_message_id: str | None
    reason: str
    failed: tuple[str, ...] = ()
    delayed: tuple[str, ...] = ()


# --- header access that never raises -------------------------------------------------------


def _unescape(text: str) -> str:
    """Text parsed from bytes keeps undecodable bytes as surrogates: read them as UTF-8, with
    U+FFFD for what is not."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeError:
        return text.encode("utf-8", "replace").decode("utf-8", "replace")


def _header_values(message: Message, name: str) -> list[str]:
    """The raw values of a header, unfolded and stripped, in order (none when unreadable)."""
    wanted = name.lower()
    values: list[str] = []
    try:
        for key, value in message.raw_items():
            if str(key).lower() == wanted:
                values.append(_FOLD_RE.sub(" ", _unescape(str(value))).strip())
    except Exception:
        return []
    return values


def _header(message: Message, name: str) -> str | None:
    values = _header_values(message, name)
    return values[0] if values else None


def _keyword(value: str) -> str | None:
    """A header's keyword value, lower-cased (`auto-replied`, `bulk`), optionally followed by
    `;` parameters or a comment; None when the value is anything else (malformed counts as
    absent)."""
    match = _KEYWORD_RE.match(value)
    return match.group(1).lower() if match else None


def _first_word(value: str) -> str:
    """The value's first word, lower-cased ("" when none)."""
    return re.split(r"[;\s(]", value.strip(), maxsplit=1)[0].lower()


def _addresses(value: str | None) -> list[str]:
    """The addr-specs of an address header, lower-cased ("" for a null address `<>`)."""
    if value is None:
        return []
    try:
        pairs = email.utils.getaddresses([value])
    except Exception:
        return []
    return [address.strip().lower() for _name, address in pairs]


def _local_part(address: str) -> str:
    return address.rpartition("@")[0] if "@" in address else address


def _is_null_path(value: str | None) -> bool:
    return value is not None and re.fullmatch(r"<\s*>", value.strip()) is not None


def _content_type(message: Message) -> tuple[str, str | None]:
    """(`type/subtype` lower-cased, the `report-type` parameter lower-cased or None), from the raw
    header; ("", None) when absent or unreadable."""
    value = _header(message, "content-type")
    if value is None:
        return "", None
    main = value.split(";", 1)[0].strip().lower()
    match = re.search(r";\s*report-type\s*=\s*\"?([A-Za-z0-9_.-]+)", value, re.IGNORECASE)
    return main, match.group(1).lower() if match else None


def _part_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "application/octet-stream"


def _decoded_subject(message: Message) -> str:
    raw = _header(message, "subject") or ""
    try:
        return str(email.header.make_header(email.header.decode_header(raw)))
    except Exception:
        return raw


def _one_line(text: str, limit: int = MAX_REASON_CHARS) -> str:
    """Printable text on one line: control and format characters become spaces, runs of
    whitespace one space, at most `limit` characters."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --- automatic, bulk and looping mail ------------------------------------------------------


def automation(
    message: EmailMessage,
    *,
    our_domain: str,
    our_addresses: Collection[str],
    sender_overrides: Collection[str] = (),
) -> Automation:
    """Classify a message by its headers. `our_domain`: the domain of our Message-IDs;
    `our_addresses`: the desk's own addresses (a From equal to one of them, or to a tagged reply
    address on one of them, is our own message); `sender_overrides`: senders whose
    `Auto-Submitted: auto-generated` is ignored (ServiceNow and similar stamp it on what their
    human users write)."""
    domain = our_domain.strip().lower()
    ours_set = {a.strip().lower() for a in our_addresses}
    overrides = {a.strip().lower() for a in sender_overrides}
    from_addresses = _addresses(_header(message, "from"))
    return_path = _header(message, "return-path")

    reasons: list[str] = []
    not_human = False
    loop_names_us = False

    def add(reason: str, *, human: bool) -> None:
        nonlocal not_human
        if reason not in reasons:
            reasons.append(reason)
        if not human:
            not_human = True

    for value in _header_values(message, "auto-submitted"):
        keyword = _keyword(value)
        if keyword is None or keyword == "no":
            continue
        if keyword == "auto-generated" and from_addresses and set(from_addresses) <= overrides:
            continue
        add(f"Auto-Submitted: {keyword}", human=False)

    for name in ("X-Autoreply", "X-Autorespond"):
        for value in _header_values(message, name):
            token = _keyword(value)
            if token is not None and token not in ("no", "false", "0"):
                add(name, human=False)

    for name in ("Precedence", "X-Precedence"):
        for value in _header_values(message, name):
            token = _keyword(value)
            if token in _BULK_PRECEDENCE:
                add(f"{name}: {token}", human=False)

    if any(v for v in _header_values(message, "list-id")):
        add("List-Id", human=True)
    if any(v for v in _header_values(message, "list-unsubscribe")):
        add("List-Unsubscribe", human=True)

    for name in ("X-Loop", "X-Sportello-Loop"):
        for value in _header_values(message, name):
            if not value:
                continue
            add(name, human=True)
            if _names_us(value, domain=domain, addresses=ours_set):
                loop_names_us = True

    for value in _header_values(message, "x-auto-response-suppress"):
        tokens = [t.strip().lower() for t in value.split(",")]
        found = [_SUPPRESS_TOKENS[t] for t in tokens if t in _SUPPRESS_TOKENS]
        if found:
            add("X-Auto-Response-Suppress: " + ", ".join(dict.fromkeys(found)), human=True)

    if _is_null_path(return_path):
        add("null return path", human=False)
    raw_from = _header(message, "from")
    if raw_from is not None and re.search(r"<\s*>\s*$", raw_from):
        add("null sender", human=False)
    for address in [*from_addresses, *_addresses(return_path)]:
        local = _local_part(address)
        reason = _DAEMON_LOCALS.get(local) or _POSTMASTER_LOCALS.get(local)
        if reason is not None:
            add(reason, human=False)

    content_type, _report_type = _content_type(message)
    if content_type == "multipart/report":
        add("multipart/report", human=False)

    message_id = _header(message, "message-id")
    if message_id and ids.is_ours(message_id, domain=domain):
        add("our Message-ID", human=False)
    if any(_is_our_address(a, ours_set) for a in from_addresses if a):
        add("our own address", human=False)
    if loop_names_us:
        add("our loop header", human=False)
    ours = [r for r in reasons if r in _OURS_REASONS]

    return Automation(automatic=bool(reasons), reasons=tuple(reasons), human=not not_human, ours=bool(ours))


def _is_our_address(address: str, ours: set[str]) -> bool:
    if address in ours:
        return True
    tagged = ids.parse_reply_address(address)
    return tagged is not None and tagged[0] in ours


def _names_us(value: str, *, domain: str, addresses: set[str]) -> bool:
    """Whether a loop header's value names our domain or one of our addresses."""
    for token in _LOOP_TOKEN_RE.findall(value.lower()):
        token = token.strip(".")
        if token == domain or token.endswith("@" + domain) or token in addresses:
            return True
    return False


# --- bounces -------------------------------------------------------------------------------


def looks_like_bounce(message: EmailMessage) -> bool:
    """The cheap test for a delivery failure report: a null return path or sender, a
    MAILER-DAEMON or postmaster sender, an exim `X-Failed-Recipients`, a delivery-status report
    (RFC 3464), or a subject that servers put on failure reports. Read receipts and abuse
    reports (other multipart/report types) are not bounces."""
    try:
        if _is_null_path(_header(message, "return-path")):
            return True
        raw_from = _header(message, "from")
        if raw_from is not None and re.search(r"<\s*>\s*$", raw_from):
            return True
        senders = [*_addresses(raw_from), *_addresses(_header(message, "return-path"))]
        if any(_local_part(a) in _DAEMON_LOCALS or _local_part(a) in _POSTMASTER_LOCALS for a in senders):
            return True
        if any(_header_values(message, "x-failed-recipients")):
            return True
        content_type, report_type = _content_type(message)
        if content_type == "multipart/report" and report_type in (None, "delivery-status"):
            return True
        if _BOUNCE_SUBJECT_RE.match(_decoded_subject(message)):
            return True
        return any(_part_type(part) in _STATUS_TYPES for part in _report_parts(message))
    except Exception:
        return False


_STATUS_TYPES = ("message/delivery-status", "message/global-delivery-status")
_HEADERS_TYPES = ("text/rfc822-headers", "message/global-headers")
_EMBEDDED_TYPES = ("message/rfc822", "message/global")


def _report_parts(message: Message) -> Iterator[Message]:
    """The parts of a message, depth first, without descending into an embedded message (the
    original that bounced may itself be anything) nor into a delivery-status part's blocks."""
    stack: list[Message] = [message]
    seen = 0
    while stack and seen < _MAX_PARTS:
        part = stack.pop()
        seen += 1
        yield part
        kind = _part_type(part)
        if kind in _STATUS_TYPES or kind in _EMBEDDED_TYPES or not kind.startswith("multipart/"):
            continue
        payload = _payload(part)
        if isinstance(payload, list):
            stack.extend(reversed([p for p in payload if isinstance(p, Message)]))


def _payload(part: Message) -> object:
    """The part's payload as parsed (a list of parts, or a string), None when unreadable."""
    try:
        return part.get_payload()
    except Exception:
        return None


def _part_text(part: Message) -> str:
    """A non-multipart part's text, decoded best-effort (unknown charsets as UTF-8 with
    replacement), at most 64 KiB."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        return ""
    if not isinstance(payload, bytes):
        return ""
    payload = payload[:_MAX_TEXT_CHARS]
    try:
        charset = part.get_content_charset() or "utf-8"
        return payload.decode(charset, "replace")
    except Exception:
        return payload.decode("utf-8", "replace")


def _status_blocks(part: Message) -> list[dict[str, str]]:
    """The header blocks of a delivery-status part as {lower-cased field: value} (first value of
    each field wins): per-message fields first, then one block per recipient. The stdlib parses
    `message/delivery-status` into blocks, `message/global-delivery-status` into one message
    whose body holds the recipient blocks, and a part it could not split into text."""
    payload = _payload(part)
    if not isinstance(payload, list):
        return _text_blocks(_part_text(part))
    blocks: list[dict[str, str]] = []
    for block in payload:
        if not isinstance(block, Message):
            continue
        fields: dict[str, str] = {}
        try:
            items = list(block.raw_items())
        except Exception:
            items = []
        for key, value in items:
            fields.setdefault(str(key).lower(), _FOLD_RE.sub(" ", _unescape(str(value))).strip())
        blocks.append(fields)
        rest = _payload(block)
        if isinstance(rest, str) and rest.strip():
            blocks.extend(_text_blocks(_unescape(rest[:_MAX_TEXT_CHARS])))
    return blocks


def _text_blocks(text: str) -> list[dict[str, str]]:
    """Header blocks separated by blank lines, read from text."""
    blocks: list[dict[str, str]] = []
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    for chunk in re.split(r"\n[ \t]*\n", text):
        fields: dict[str, str] = {}
        for line in re.sub(r"\n[ \t]+", " ", chunk).split("\n"):
            name, sep, value = line.partition(":")
            if sep and name.strip() and " " not in name.strip():
                fields.setdefault(name.strip().lower(), value.strip())
        if fields:
            blocks.append(fields)
    return blocks


def _clean_address(value: str) -> str | None:
    """A plausible addr-spec, lower-cased, or None."""
    value = value.strip().strip("<>").strip()
    if value.lower().startswith("mailto:"):
        value = value[7:]
    if not _ADDRESS_RE.match(value) or ".." in value:
        return None
    local = value.rpartition("@")[0]
    if local.startswith(".") or local.endswith(".") or len(value) > 320:
        return None
    return value.lower()


def _dsn_address(value: str) -> str | None:
    """The address of an `Original-Recipient`/`Final-Recipient` value (`rfc822; a@b`, RFC 6533
    `utf-8; a\\x{E9}@b`, or a bare address)."""
    match = _TYPED_VALUE_RE.match(value)
    kind, address = (match.group(1).lower(), match.group(2)) if match else ("rfc822", value)
    if kind == "utf-8":
        try:
            address = _XTEXT_UTF8_RE.sub(lambda m: chr(int(m.group(1), 16)), address)
        except ValueError:
            return None
    elif kind != "rfc822":
        return None
    return _clean_address(address)


@dataclass(frozen=True)
class _Entry:
    address: str
    failed: bool
    status: str | None
    diagnostic: str | None


def _dsn_entries(message: Message) -> tuple[list[_Entry], bool]:
    """The failed and delayed recipients of the message's delivery-status parts, and whether any
    recipient block was read at all (a report that only says "delivered" is not a bounce)."""
    entries: list[_Entry] = []
    saw_recipient = False
    for part in _report_parts(message):
        if _part_type(part) not in _STATUS_TYPES:
            continue
        for fields in _status_blocks(part):
            address = None
            for name in ("original-recipient", "final-recipient"):
                if fields.get(name):
                    address = _dsn_address(fields[name])
                    if address is not None:
                        break
            if address is None:
                continue
            saw_recipient = True
            status_match = _STATUS_RE.search(fields.get("status", ""))
            status = ".".join(status_match.groups()) if status_match else None
            action = _first_word(fields.get("action", ""))
            if action.startswith(("fail", "error")):
                failed = True
            elif action.startswith("delayed"):
                failed = False
            elif not action and status is not None and status[0] in "45":
                failed = status[0] == "5"
            else:
                continue  # delivered, relayed, expanded
            diagnostic = fields.get("diagnostic-code")
            if diagnostic:
                typed = _TYPED_VALUE_RE.match(diagnostic)
                diagnostic = typed.group(2) if typed else diagnostic
            entries.append(_Entry(address, failed, status, _one_line(diagnostic) if diagnostic else None))
    return entries, saw_recipient


def _message_id(value: str | None) -> str | None:
    if not value:
        return None
    match = _ANGLE_ID_RE.search(value)
    candidate = match.group(1) if match else value.strip()
    if not candidate or any(c.isspace() for c in candidate) or len(candidate) > 900:
        return None
    return _one_line(candidate)


def _original_message_id(message: Message, *, domain: str) -> str | None:
    """The Message-ID of the message that bounced: from the embedded original or its headers,
    else a `Message-ID:` line quoted in the report's text; one of ours is preferred, and a
    report that names none may still point at ours through In-Reply-To/References."""
    embedded: list[str] = []
    quoted: list[str] = []
    for part in _report_parts(message):
        kind = _part_type(part)
        if kind in _EMBEDDED_TYPES or kind in _HEADERS_TYPES:
            payload = _payload(part)
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message):
                found = _message_id(_header(inner, "message-id"))
            else:
                found = _headers_message_id(_part_text(part))
            if found:
                embedded.append(found)
        elif kind == "text/plain":
            quoted.extend(m.group(1) for m in _MESSAGE_ID_LINE_RE.finditer(_part_text(part)))
    threaded: list[str] = []
    for name in ("in-reply-to", "references"):
        for value in _header_values(message, name):
            threaded.extend(m.group(1) for m in _ANGLE_ID_RE.finditer(value))
    for candidate in [*embedded, *quoted, *threaded]:
        if ids.is_ours(candidate, domain=domain):
            return _one_line(candidate)
    for candidate in [*embedded, *quoted]:
        return _one_line(candidate)
    return None


def _headers_message_id(text: str) -> str | None:
    try:
        headers = email.parser.HeaderParser(policy=email.policy.compat32).parsestr(text)
    except Exception:
        return None
    return _message_id(_header(headers, "message-id"))


def _text_reason(message: Message) -> str | None:
    """The first line of the report's own text that carries an SMTP reply or status code."""
    for part in _report_parts(message):
        if _part_type(part) != "text/plain":
            continue
        for line in _part_text(part).splitlines()[:400]:
            if _DIAGNOSTIC_LINE_RE.search(line) and not re.match(r"\s*[A-Za-z-]+:\s", line):
                reason = _one_line(line)
                if reason:
                    return reason
    return None


def _decode_address(value: object) -> str | None:
    if isinstance(value, bytes):
        text = value.decode("utf-8", "replace")
    elif isinstance(value, str):
        text = value
    else:
        return None
    return _clean_address(text)


def bounce(message: EmailMessage, *, our_domain: str) -> Bounce | None:
    """The delivery failure this message reports, or None when it is not one (or names no
    recipient that can be read; `looks_like_bounce` still tells such a message apart).

    An RFC 3464 report is read here: only recipients whose Action is failed (permanent) or
    delayed (temporary) count. Other bounce-shaped messages go through `flufl.bounce`."""
    domain = our_domain.strip().lower()
    try:
        if not looks_like_bounce(message):
            return None
        entries, saw_recipient = _dsn_entries(message)
    except Exception:
        return None
    failed = list(dict.fromkeys(e.address for e in entries if e.failed))
    delayed = [a for a in dict.fromkeys(e.address for e in entries if not e.failed) if a not in failed]
    reason: str | None = None
    if entries:
        first = next((e for e in entries if e.failed), entries[0])
        if first.diagnostic:
            reason = first.diagnostic
        elif first.status:
            reason = f"status {first.status}"
        else:
            reason = "delivery failed" if first.failed else "delivery delayed"
    elif saw_recipient:
        return None  # a report of successful delivery, relaying or expansion
    else:
        try:
            temporary, permanent = all_failures(message)
        except Exception:
            return None
        failed = sorted({a for a in map(_decode_address, permanent) if a})
        delayed = sorted({a for a in map(_decode_address, temporary) if a} - set(failed))
        if not failed and not delayed:
            return None
        try:
            reason = _text_reason(message)
        except Exception:
            reason = None
        if not reason:
            reason = _one_line(_decoded_subject(message)) or (
                "delivery failed" if failed else "delivery delayed"
            )
    try:
        original = _original_message_id(message, domain=domain)
    except Exception:
        original = None
    return Bounce(
        recipients=(*failed, *delayed),
        permanent=bool(failed),
        original_message_id=original,
        reason=_one_line(reason or ""),
        failed=tuple(failed),
        delayed=tuple(delayed),
    )

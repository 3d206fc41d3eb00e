"""Inbound mail read best-effort: raw RFC 5322 bytes in, a `ParsedMail` out.

The only exception `parse_mail` raises is `MailTooLarge` (the message is above a configured
limit and goes to quarantine). Everything else odd about a message — unknown charsets, bytes
invalid for the declared charset, broken MIME structure, unparseable dates, ambiguous address
headers, malformed winmail.dat — is read as well as it can be and written down in `defects`.

How the parse stays bounded whatever the input:
- the stdlib parser runs with a policy that cuts header values at the configured length
  (MIME structure headers much shorter, with a bounded number of parameters), flattens
  pathologically nested comments, caches each parsed header, and counts parts and nesting as
  they are created so a message above the limits is abandoned early;
- headers, addresses, encoded words and identifiers are then read by this module's own linear
  code (the stdlib's header parser is slow on long hostile values);
- winmail.dat is walked once by a cheap pre-check before `tnefparse` is trusted with it.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import hashlib
import quopri
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.feedparser import BytesFeedParser
from email.generator import BytesGenerator
from email.message import EmailMessage, Message
from email.policy import EmailPolicy
from email.policy import default as default_policy
from io import BytesIO
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from sportello.engine.text import BIDI_CHARACTERS, FILENAME_MAX, html_to_text
from sportello.mail.decoding import (
    clean_body,
    clean_line,
    decode_bytes,
    decode_words,
    guess_decode,
    short,
    unfold,
    unsurrogate,
)
from sportello.mail.filenames import sanitize_filename
from sportello.mail.tnef import unpack_tnef
from sportello.mail.types import Address, Limits, MailAttachment, MailTooLarge, ParsedMail

__all__ = ["decode_words", "html_to_text", "parse_mail", "sanitize_filename"]

# MIME structure headers are parsed by the stdlib on every access; its parser is slow on long
# parameter lists, so these are cut much shorter than other headers.
_STRUCTURE_HEADERS = frozenset({"content-type", "content-disposition", "content-transfer-encoding"})
_STRUCTURE_MAX_CHARS = 4096
_STRUCTURE_MAX_PARAMS = 64
_MAX_COMMENT_DEPTH = 16
_MAX_HEADER_FIELDS = 10_000  # fields kept in ParsedMail.headers
_MAX_DEFECTS = 200
_MAX_REFERENCES = 100
_MAX_ID_CHARS = 998
_MAX_ADDRESS_CHARS = 320
_MAX_FILENAME_CHARS = FILENAME_MAX
_TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})

# --------------------------------------------------------------------------------------------
# The bounded parsing policy


@dataclass
class _ParseState:
    limits: Limits
    notes: list[str] = field(default_factory=list)
    cache: dict[tuple[str, str], Any] = field(default_factory=dict)
    parts: int = 0
    counting: bool = False
    parser: Any = None


def _parens(value: str) -> tuple[int, bool]:
    """(deepest nesting of the comments, whether every parenthesis is matched); backslash
    escapes are skipped. A closing parenthesis without an opening one unbalances for good."""
    depth = deepest = 0
    balanced = True
    escaped = False
    for ch in value:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == ")":
            if depth == 0:
                balanced = False
            depth = max(0, depth - 1)
    return deepest, balanced and depth == 0


if TYPE_CHECKING:
    _EmailPolicy = EmailPolicy[EmailMessage]
else:
    _EmailPolicy = EmailPolicy  # not subscriptable at run time


class _IntakePolicy(_EmailPolicy):
    """policy.default, bounded: header values cut as they are read from the source, nested
    comments flattened, parsed headers cached (the stdlib re-parses on every access)."""

    state: _ParseState | None = None

    def __init__(self, *, state: _ParseState | None = None) -> None:
        super().__init__()
        object.__setattr__(self, "state", state)  # policies are immutable once made

    def header_source_parse(self, sourcelines: list[str]) -> tuple[str, str]:
        name, value = super().header_source_parse(sourcelines)
        state = self.state
        if state is None:
            return name, value
        limit = state.limits.max_header_chars
        if (
            len(value) <= min(limit, _STRUCTURE_MAX_CHARS)
            and value.count("(") <= _MAX_COMMENT_DEPTH
            and value.count(";") <= _STRUCTURE_MAX_PARAMS
        ):
            return name, value  # the common case, checked cheaply
        label = short(unsurrogate(name), 40)
        if name.strip().lower() in _STRUCTURE_HEADERS:
            limit = min(limit, _STRUCTURE_MAX_CHARS)
            if value.count(";") > _STRUCTURE_MAX_PARAMS:
                value = ";".join(value.split(";", _STRUCTURE_MAX_PARAMS + 1)[: _STRUCTURE_MAX_PARAMS + 1])
                state.notes.append(f"header {label!r}: parameters beyond {_STRUCTURE_MAX_PARAMS} dropped")
        if len(value) > limit:
            value = value[:limit]
            state.notes.append(f"header {label!r}: cut to {limit} characters")
        if value.count("(") > _MAX_COMMENT_DEPTH and _parens(value)[0] > _MAX_COMMENT_DEPTH:
            value = value.replace("(", "").replace(")", "")
            state.notes.append(f"header {label!r}: comments nested too deeply, parentheses removed")
        return name, value

    def header_fetch_parse(self, name: str, value: str) -> Any:
        state = self.state
        if state is None or not isinstance(value, str) or hasattr(value, "name"):
            return super().header_fetch_parse(name, value)
        key = (name.lower(), value)
        parsed = state.cache.get(key)
        if parsed is None:
            try:
                parsed = super().header_fetch_parse(name, value)
            except Exception:  # the stdlib header parser on hostile input
                parsed = super().header_fetch_parse(name, "")
            state.cache[key] = parsed
        return parsed


def _message_factory(state: _ParseState) -> Callable[..., EmailMessage]:
    """Makes the parser's messages, counting them: a message above the part or nesting limit is
    abandoned while it is being parsed (its cost is bounded by the limits, not by the input)."""

    def make(policy: Any = None) -> EmailMessage:
        if state.counting:
            state.parts += 1
            if state.parts > state.limits.max_parts:
                raise MailTooLarge(f"more than {state.limits.max_parts} MIME parts")
            # The feedparser's stack of open containers (private; checked again after parsing).
            stack = getattr(state.parser, "_msgstack", None)
            if isinstance(stack, list) and len(stack) > state.limits.max_depth:
                raise MailTooLarge(f"MIME parts nested more than {state.limits.max_depth} deep")
        return EmailMessage(policy=policy if policy is not None else default_policy)

    return make


_GENERATOR_POLICY = default_policy.clone(refold_source="none", max_line_length=0, linesep="\r\n")

# --------------------------------------------------------------------------------------------
# Header fields


def _raw_values(msg: Message, name: str) -> list[str]:
    """The raw values of a header (unfolded), without the stdlib's header parsing."""
    lname = name.lower()
    out: list[str] = []
    try:
        for key, value in msg.raw_items():
            if key.lower() == lname:
                out.append(unfold(str(value)))
    except Exception:
        return out
    return out


def _header_text(raw: str) -> str:
    return clean_line(decode_words(unfold(raw))).replace("\t", " ").strip()


_ID_RE = re.compile(r"<([^<>\s]{1,998})>")


def _usable_id(value: str) -> str | None:
    value = clean_line(unsurrogate(value)).strip().strip("<>").strip()
    if not value or len(value) > _MAX_ID_CHARS or any(c.isspace() for c in value):
        return None
    return value


def _ids(value: str) -> list[str]:
    """Message ids in a header value, leniently: every <…> id; without any, the bare tokens
    containing "@" (so a truncated `<abc@example` still yields "abc@example")."""
    found = [m.group(1) for m in _ID_RE.finditer(value)]
    if not found:
        found = [t.strip("<>,;\"'()[]") for t in value.split() if "@" in t]
    usable = (_usable_id(candidate) for candidate in found)
    return list(dict.fromkeys(u for u in usable if u is not None))


def _strip_quoted(value: str) -> str:
    """The value without its quoted strings (as CPython's strict getaddresses counts commas)."""
    out: list[str] = []
    in_quote = escaped = False
    for ch in value:
        if escaped:
            escaped = False
            if not in_quote:
                out.append(ch)
            continue
        if ch == "\\":
            escaped = True
            if not in_quote:
                out.append(ch)
            continue
        if ch == '"':
            in_quote = not in_quote
            continue
        if not in_quote:
            out.append(ch)
    return "".join(out)


def _strict_getaddresses(value: str) -> list[tuple[str, str]] | None:
    """`email.utils.getaddresses([value], strict=True)` of Python ≥ 3.12.6 (the CVE-2023-27043
    fix), on every Python: None when the header is ambiguous (unbalanced parentheses, or the
    parser found a different number of addresses than the header has commas)."""
    if not _parens(_strip_quoted(value))[1]:
        return None
    try:
        pairs = email.utils.getaddresses([value])
    except Exception:  # includes RecursionError on deeply nested comments
        return None
    if len(pairs) != 1 + _strip_quoted(value).count(","):
        return None
    return [(name, addr) if "[" not in addr else ("", "") for name, addr in pairs]


_DOMAIN_RE = re.compile(r"[^\s@()<>\[\]\\,;:\"]+")


def _addr_spec(addr: str) -> str | None:
    """The addr-spec with its domain lower-cased, or None when it is not a usable mailbox."""
    addr = clean_line(addr).strip()
    if not addr or len(addr) > _MAX_ADDRESS_CHARS or "@" not in addr:
        return None
    local, _, domain = addr.rpartition("@")
    if not local or not _DOMAIN_RE.fullmatch(domain) or domain.startswith(".") or domain.endswith("."):
        return None
    if '"' not in local and any(c.isspace() or c in "<>()[],;:\\" for c in local):
        return None
    return f"{local}@{domain.lower()}"


def _addresses(values: Sequence[str], label: str, notes: list[str]) -> tuple[Address, ...]:
    out: list[Address] = []
    for raw in values:
        value = unsurrogate(unfold(raw))
        if not value.strip():
            continue
        pairs = _strict_getaddresses(value)
        if pairs is None:
            notes.append(f"{label}: ambiguous address header ignored: {short(value)!r}")
            continue
        for name, addr in pairs:
            if not addr.strip():
                continue  # empty list element or group syntax ("undisclosed-recipients:;")
            spec = _addr_spec(addr)
            if spec is None:
                notes.append(f"{label}: unusable address {short(addr)!r} ignored")
                continue
            display = clean_line(decode_words(name)).replace("\t", " ").strip()
            out.append(Address(email=spec, name=display))
    return tuple(out)


def _return_path(values: Sequence[str]) -> str | None:
    if not values:
        return None
    value = clean_line(unsurrogate(values[0])).strip()
    m = re.search(r"<([^<>]*)>", value)
    inner = m.group(1).strip() if m else (value.split() or [""])[0]
    if not inner:
        return ""
    spec = _addr_spec(inner)
    return spec if spec is not None else inner[:_MAX_ADDRESS_CHARS]


def _date(values: Sequence[str], notes: list[str]) -> datetime | None:
    if not values:
        return None
    value = clean_line(unsurrogate(values[0])).strip()
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except Exception:  # TypeError, ValueError, OverflowError, IndexError …
        notes.append(f"date: unreadable {short(value)!r}")
        return None
    if parsed is None:  # pragma: no cover - older Pythons returned None
        notes.append(f"date: unreadable {short(value)!r}")
        return None
    if parsed.tzinfo is None:
        notes.append("date: no time zone, read as UTC")
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        notes.append(f"date: out of range {short(value)!r}")
        return None


# --------------------------------------------------------------------------------------------
# Content types

_CONTENT_TYPE_RE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")


# --------------------------------------------------------------------------------------------
# Parts


def _content_type(part: Message) -> str:
    """The type the stdlib reads (defaults applied: text/plain, message/rfc822 in a digest)."""
    try:
        return part.get_content_type()
    except Exception:
        return "text/plain"


def _declared_type(part: Message, effective: str) -> str:
    """The type as declared, lower-cased; application/octet-stream when it is unusable."""
    raw = _raw_values(part, "content-type")
    if not raw:
        return effective
    declared = unsurrogate(raw[0]).split(";", 1)[0].strip().lower()
    return declared if _CONTENT_TYPE_RE.fullmatch(declared) else "application/octet-stream"


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:
        raw = _raw_values(part, "content-disposition")
        return raw[0].split(";", 1)[0].strip().lower() if raw else None


def _filename(part: Message) -> str:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if not isinstance(name, str):
        return ""
    name = unsurrogate(name)
    if "=?" in name:
        name = decode_words(name)
    return name


def _content_id(part: Message) -> str | None:
    raw = _raw_values(part, "content-id")
    if not raw:
        return None
    return _usable_id(raw[0])


def _charset(part: Message) -> str | None:
    try:
        value = part.get_param("charset")
    except Exception:
        return None
    if isinstance(value, tuple):
        value = value[2]
    return value if isinstance(value, str) else None


def _payload_bytes(part: Message, label: str, notes: list[str]) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception as exc:
        notes.append(f"{label}: payload could not be decoded ({type(exc).__name__}), kept raw")
        data = None
    if isinstance(data, bytes):
        return data
    try:
        raw = part.get_payload()
    except Exception:
        return b""
    if isinstance(raw, str):
        try:
            return raw.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            return raw.encode("utf-8", "replace")
    return b""


def _part_text(part: Message, label: str, notes: list[str]) -> str:
    data = _payload_bytes(part, label, notes)
    return decode_bytes(data, _charset(part), label, notes)


def _message_bytes(msg: Message, label: str, notes: list[str]) -> bytes:
    """A message serialised as it came (no refolding); the generator may fail on broken
    structure, then the compat32 generator and finally its text are tried."""
    for policy in (_GENERATOR_POLICY, msg.policy):
        out = BytesIO()
        try:
            BytesGenerator(out, mangle_from_=False, policy=policy).flatten(msg)
        except Exception:
            out.close()
        if not out.closed:
            return out.getvalue()
    try:
        return msg.as_string().encode("utf-8", "surrogateescape")
    except Exception:
        notes.append(f"{label}: embedded message could not be serialised")
        return b""


def _embedded_bytes(part: Message, label: str, notes: list[str]) -> bytes:
    """The body of a message/* part as bytes: the embedded message(s) serialised."""
    try:
        payload = part.get_payload()
    except Exception:
        payload = None
    if isinstance(payload, list):
        content = b"\r\n".join(_message_bytes(m, label, notes) for m in payload if isinstance(m, Message))
    else:
        content = _payload_bytes(part, label, notes)
    cte = (_raw_values(part, "content-transfer-encoding") or [""])[0].strip().lower()
    if cte == "base64":  # not allowed on message/*, sent anyway by some clients
        try:
            content = base64.b64decode(b"".join(content.split()))
        except (binascii.Error, ValueError):
            notes.append(f"{label}: base64 of the embedded message is damaged, kept as is")
    elif cte == "quoted-printable":
        content = quopri.decodestring(content)
    return content


# --------------------------------------------------------------------------------------------
# The walk over the MIME tree


@dataclass
class _Bodies:
    limits: Limits
    notes: list[str]
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[MailAttachment] = field(default_factory=list)
    tnef_body: str = ""
    # multipart/alternative containers (by id) that already gave a plain / an HTML body
    alternatives: set[tuple[int, str]] = field(default_factory=set)

    def body(self, kind: str, text: str, *, alternative: int | None) -> None:
        """Keeps a text/plain or text/html body part. Of one multipart/alternative only the
        first of each kind counts; inline text parts elsewhere (text around an inline image)
        are all kept, in order."""
        if alternative is not None:
            if (alternative, kind) in self.alternatives:
                return
            self.alternatives.add((alternative, kind))
        (self.plain if kind == "plain" else self.html).append(text)

    def attach(self, attachment: MailAttachment) -> None:
        self.attachments.append(attachment)
        if len(self.attachments) > self.limits.max_attachments:
            raise MailTooLarge(f"more than {self.limits.max_attachments} attachments")


def _forwarded(part: Message, label: str, bodies: _Bodies) -> None:
    """A message/* part: one attachment (a forwarded message/rfc822 kept whole as .eml)."""
    content_type = _content_type(part)
    content = _embedded_bytes(part, label, bodies.notes)
    if content_type in ("message/rfc822", "message/global"):
        subject = ""
        payload = part.get_payload() if part.is_multipart() else None
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            subject = _header_text((_raw_values(payload[0], "subject") or [""])[0])
        stem = subject.replace("/", "_").replace("\\", "_").strip() or "forwarded"
        filename = sanitize_filename(stem[: _MAX_FILENAME_CHARS - 4] + ".eml", content_type=content_type)
        bodies.attach(
            MailAttachment(filename=filename, content_type=content_type, content=content, origin="rfc822")
        )
        return
    filename = sanitize_filename(_filename(part), content_type=content_type)
    bodies.attach(MailAttachment(filename=filename, content_type=content_type, content=content))


def _leaf(part: Message, label: str, parent: Message | None, bodies: _Bodies) -> None:
    parent_type = _content_type(parent) if parent is not None else ""
    alternative = id(parent) if parent_type == "multipart/alternative" else None
    content_type = _content_type(part)
    disposition = _disposition(part)
    filename = _filename(part)
    is_attachment = disposition == "attachment" or bool(filename.strip())
    maintype = content_type.split("/", 1)[0]
    is_tnef = content_type in _TNEF_TYPES or filename.strip().lower() == "winmail.dat"

    if maintype == "multipart" and not is_attachment:
        # A multipart whose boundary was never found: the stdlib leaves its body as one text.
        bodies.notes.append(f"{label}: {content_type} without usable parts, read as text")
        bodies.body("plain", _part_text(part, label, bodies.notes), alternative=alternative)
        return
    if not is_attachment and not is_tnef and maintype == "text" and content_type != "text/calendar":
        if content_type in ("text/plain", "text/html"):
            kind = "plain" if content_type == "text/plain" else "html"
            bodies.body(kind, _part_text(part, label, bodies.notes), alternative=alternative)
            return
        if alternative is not None:
            return  # another rendering of the same content (text/enriched, text/watch-html …)

    content = _payload_bytes(part, label, bodies.notes)
    declared = _declared_type(part, content_type)
    content_id = _content_id(part)
    display = sanitize_filename(filename or ("winmail.dat" if is_tnef else ""), content_type=declared)
    if filename and (display != filename.strip() or any(c in BIDI_CHARACTERS for c in filename)):
        bodies.notes.append(f"{label}: filename {short(filename)!r} shown as {display!r}")
    bodies.attach(
        MailAttachment(
            filename=display,
            content_type=declared,
            content=content,
            inline=content_id is not None and disposition != "attachment",
            content_id=content_id,
        )
    )
    if is_tnef:
        files, body = unpack_tnef(content, label, bodies.notes)
        for unpacked in files:
            bodies.attach(unpacked)
        if body.strip() and not bodies.tnef_body:
            bodies.tnef_body = body


def _walk(msg: EmailMessage, limits: Limits, notes: list[str]) -> _Bodies:
    """Every part once, depth-first in document order: bodies and attachments from the parts of
    this message (not from inside forwarded messages, which stay whole); limits checked on all."""
    bodies = _Bodies(limits=limits, notes=notes)
    stack: list[tuple[Message, int, Message | None, bool]] = [(msg, 0, None, False)]
    index = 0
    while stack:
        part, depth, parent, embedded = stack.pop()
        label = "message" if index == 0 else f"part {index}"
        index += 1
        if index > limits.max_parts:
            raise MailTooLarge(f"more than {limits.max_parts} MIME parts")
        if depth > limits.max_depth:
            raise MailTooLarge(f"MIME parts nested more than {limits.max_depth} deep")
        content_type = _content_type(part)
        try:
            children = part.get_payload() if part.is_multipart() else None
        except Exception:
            children = None
        if isinstance(children, list):
            inner = embedded or content_type.startswith("message/")
            if not embedded and content_type.startswith("message/"):
                _forwarded(part, label, bodies)
            for child in reversed(children):
                if isinstance(child, Message):
                    stack.append((child, depth + 1, part, inner))
        elif not embedded:
            _leaf(part, label, parent, bodies)
        for defect in getattr(part, "defects", ()):
            notes.append(f"{label}: {type(defect).__name__}")
    return bodies


# --------------------------------------------------------------------------------------------
# The entry point


def _header_fields(
    msg: Message, notes: list[str]
) -> tuple[dict[str, list[str]], MappingProxyType[str, tuple[str, ...]]]:
    """(lower-cased name -> raw unfolded values, for reading fields; lower-cased name ->
    decoded values, the first 10,000 fields, for ParsedMail.headers) in one pass."""
    raw: dict[str, list[str]] = {}
    decoded: dict[str, list[str]] = {}
    try:
        items = list(msg.raw_items())
    except Exception:
        items = []
    for count, (name, value) in enumerate(items, start=1):
        key = name.strip().lower()
        if not key.isascii() or not key.isprintable():
            key = clean_line(unsurrogate(key)).strip()
        text = unfold(str(value))
        raw.setdefault(key, []).append(text)
        if count <= _MAX_HEADER_FIELDS:
            decoded.setdefault(key, []).append(clean_line(decode_words(text)))
    if len(items) > _MAX_HEADER_FIELDS:
        notes.append(f"{len(items) - _MAX_HEADER_FIELDS} header fields beyond {_MAX_HEADER_FIELDS} not kept")
    return raw, MappingProxyType({k: tuple(v) for k, v in decoded.items()})


def _bounded_refs(ids: list[str]) -> tuple[str, ...]:
    if len(ids) <= _MAX_REFERENCES:
        return tuple(ids)
    return (ids[0], *ids[-(_MAX_REFERENCES - 1) :])  # the thread's root and the latest


def _collect_ids(values: Iterable[str]) -> list[str]:
    """The ids of all the values, in order, each once."""
    return list(dict.fromkeys(found for value in values for found in _ids(value)))


def _unparsed(raw: bytes, notes: list[str], digest: str) -> ParsedMail:
    text, _ = guess_decode(raw)
    return ParsedMail(
        raw_size=len(raw),
        sha256=digest,
        message_id=None,
        in_reply_to=(),
        references=(),
        subject="",
        from_=(),
        sender=None,
        reply_to=(),
        to=(),
        cc=(),
        delivered_to=(),
        return_path=None,
        date=None,
        headers=MappingProxyType({}),
        text=clean_body(text),
        html="",
        defects=tuple(clean_line(n) for n in notes),
        message=None,
    )


def parse_mail(raw: bytes, *, limits: Limits = Limits()) -> ParsedMail:  # noqa: B008 - immutable
    """Reads a raw message best-effort. Raises only `MailTooLarge` (size, parts, nesting or
    attachments above `limits`); every other oddity is read as well as possible and listed in
    `defects`. All strings returned are NUL-free and encodable as UTF-8."""
    raw = bytes(raw)
    if len(raw) > limits.max_bytes:
        raise MailTooLarge(f"message of {len(raw)} bytes is larger than {limits.max_bytes}")
    digest = hashlib.sha256(raw).hexdigest()
    state = _ParseState(limits=limits)
    notes = state.notes
    policy = _IntakePolicy(state=state)
    try:
        parser = BytesFeedParser(_message_factory(state), policy=policy)
        state.parser, state.counting = parser, True
        parser.feed(raw)
        msg = parser.close()
    except MailTooLarge:
        raise
    except RecursionError:
        raise MailTooLarge("MIME structure nested too deeply to parse") from None
    except Exception as exc:  # the stdlib parser on input it cannot handle
        notes.append(f"message could not be parsed as MIME ({type(exc).__name__}); read as text")
        return _unparsed(raw, notes, digest)
    finally:
        state.counting, state.parser = False, None
    if not isinstance(msg, EmailMessage):  # pragma: no cover - the factory makes EmailMessages
        return _unparsed(raw, notes, digest)

    try:
        bodies = _walk(msg, limits, notes)
    except RecursionError:
        raise MailTooLarge("MIME structure nested too deeply to read") from None

    plain = "\n".join(bodies.plain)
    html = "\n".join(bodies.html)
    if plain.strip():
        text = plain
    elif html.strip():
        text = html_to_text(html)
    else:
        text = bodies.tnef_body or plain

    raw_headers, headers = _header_fields(msg, notes)

    def values(name: str) -> list[str]:
        return raw_headers.get(name, [])

    subject_values = values("subject")
    sender = _addresses(values("sender"), "sender", notes)
    delivered = dict.fromkeys(
        address.email.lower()
        for name in ("delivered-to", "x-original-to", "envelope-to")
        for address in _addresses(values(name), name, notes)
    )
    message_ids = _collect_ids(values("message-id"))
    in_reply_to = tuple(_collect_ids(values("in-reply-to")))
    references = _bounded_refs(_collect_ids(values("references")))
    from_ = _addresses(values("from"), "from", notes)
    reply_to = _addresses(values("reply-to"), "reply-to", notes)
    to = _addresses(values("to"), "to", notes)
    cc = _addresses(values("cc"), "cc", notes)
    date = _date(values("date"), notes)
    defects = [clean_line(n) for n in notes]
    if len(defects) > _MAX_DEFECTS:
        defects = [*defects[:_MAX_DEFECTS], f"{len(defects) - _MAX_DEFECTS} more defects not listed"]
    return ParsedMail(
        raw_size=len(raw),
        sha256=digest,
        message_id=message_ids[0] if message_ids else None,
        in_reply_to=in_reply_to,
        references=references,
        subject=_header_text(subject_values[0]) if subject_values else "",
        from_=from_,
        sender=sender[0] if sender else None,
        reply_to=reply_to,
        to=to,
        cc=cc,
        delivered_to=tuple(delivered),
        return_path=_return_path(values("return-path")),
        date=date,
        headers=headers,
        text=clean_body(text),
        html=clean_body(html),
        attachments=tuple(bodies.attachments),
        defects=tuple(defects),
        message=msg,
    )

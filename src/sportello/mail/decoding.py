"""Bytes and header words to text, best-effort: declared charsets (with fallbacks when a
charset is unknown or the bytes are invalid for it), RFC 2047 encoded words, and the small
cleaning helpers the parser applies to every value it keeps."""

from __future__ import annotations

import base64
import binascii
import codecs
import re

# --------------------------------------------------------------------------------------------
# Small text helpers

_C0_EXCEPT_TAB_NL = {c: None for c in range(32) if c not in (9, 10)}
_LINE_DROP = {c: None for c in (*range(32), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029) if c != 9}


def _utf8_safe(value: str) -> str:
    """The string, with anything UTF-8 cannot encode (lone surrogates) replaced."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace").decode("utf-8")
    return value


def unsurrogate(value: str) -> str:
    """Raw 8-bit header bytes (kept by the parser as surrogate escapes) read as UTF-8 when they
    are valid UTF-8, else as windows-1252."""
    if value.isascii():
        return value
    try:
        data = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return _utf8_safe(value)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def clean_line(value: str) -> str:
    """One line of text: controls (tab kept), C1 controls and line separators removed."""
    return _utf8_safe(value.translate(_LINE_DROP))


def clean_body(value: str) -> str:
    """Body text: newlines normalised to \\n, C0 controls other than tab and newline removed."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return _utf8_safe(value.translate(_C0_EXCEPT_TAB_NL))


def short(value: str, limit: int = 80) -> str:
    value = clean_line(value)
    return value if len(value) <= limit else value[:limit] + "…"


# --------------------------------------------------------------------------------------------
# Charsets

# Codecs Python has that are no mail charsets (or that cannot decode with replacement).
_NOT_MAIL_CODECS = frozenset(
    {"unicode_escape", "raw_unicode_escape", "idna", "punycode", "undefined", "mbcs", "oem"}
)
_CHARSET_TOKEN_RE = re.compile(r"[a-z0-9][a-z0-9_.:-]{1,40}")


def _codec(label: str | None) -> str | None:
    """Python's codec name for a declared charset, or None when Python does not know it."""
    if not label:
        return None
    label = label.strip().strip("\"'").strip().lower()
    if not label or len(label) > 64:
        return None
    try:
        info = codecs.lookup(label)
    except (LookupError, ValueError, TypeError):
        return None
    if info.name in _NOT_MAIL_CODECS or not getattr(info, "_is_text_encoding", True):
        return None
    return info.name


def guess_decode(data: bytes) -> tuple[str, str]:
    """(text, how): UTF-8 when the bytes are valid UTF-8, else windows-1252."""
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace"), "cp1252 with replacement"


def decode_bytes(data: bytes, declared: str | None, where: str, notes: list[str] | None) -> str:
    """Text from bytes in a declared charset, never raising: an unknown charset falls back to
    UTF-8 then windows-1252, invalid bytes become U+FFFD; each fallback is noted."""
    codec = _codec(declared)
    if declared and codec is None and len(declared) <= 64:
        # "_iso-2022-jp$esc" and the like: a known charset name inside a mangled one.
        codec = next((c for t in _CHARSET_TOKEN_RE.findall(declared.lower()) if (c := _codec(t))), None)
        if codec is not None and notes is not None:
            notes.append(f"{where}: charset {short(declared)!r} read as {codec}")
    if codec is None:
        text, how = guess_decode(data)
        if notes is not None:
            if declared:
                notes.append(f"{where}: unknown charset {short(declared)!r}, decoded as {how}")
            elif not data.isascii():
                notes.append(f"{where}: 8-bit text without a charset, decoded as {how}")
        return text
    if codec in ("ascii", "iso8859-1", "cp1252") and not data.isascii():
        if codec == "ascii":
            text, how = guess_decode(data)
            if notes is not None:
                notes.append(f"{where}: 8-bit bytes in {short(declared or '')!r} text, decoded as {how}")
            return text
        try:
            return data.decode("cp1252")  # what senders mean by iso-8859-1 (as browsers read it)
        except UnicodeDecodeError:
            return data.decode("iso8859-1")
    strict: str | None
    try:
        strict = data.decode(codec, "strict")
    except Exception:  # a codec may raise anything on hostile bytes
        strict = None
    if strict is not None:
        return strict
    try:
        text = data.decode(codec, "replace")
        how = "with replacement characters"
    except Exception:
        text, how = guess_decode(data)
        how = f"as {how}"
    if notes is not None:
        notes.append(f"{where}: bytes invalid for charset {short(declared or '')!r}, decoded {how}")
    return text


# --------------------------------------------------------------------------------------------
# Encoded words (RFC 2047)

_EW_RE = re.compile(r"=\?([^?\s]{1,64})\?([bBqQ])\?([^?\s]*)\?=")
_FOLD_RE = re.compile(r"\r?\n(?=[ \t])")


def unfold(value: str) -> str:
    return _FOLD_RE.sub("", value)


def _ew_bytes(encoding: str, payload: str) -> bytes | None:
    try:
        data = payload.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return None
    try:
        if encoding in "qQ":
            return binascii.a2b_qp(data, header=True)
        data = data.rstrip(b"=")
        data += b"=" * (-len(data) % 4)
        return base64.b64decode(data)
    except (binascii.Error, ValueError):
        try:
            return base64.b64decode(data[: len(data) // 4 * 4])
        except (binascii.Error, ValueError):
            return None


def decode_words(value: str, *, notes: list[str] | None = None, where: str = "header") -> str:
    """A header value with its RFC 2047 encoded words decoded (adjacent words of one charset
    joined before decoding, so a character split across words survives; whitespace between
    encoded words dropped) and raw 8-bit text read as UTF-8 or windows-1252. Linear time."""
    pieces: list[str] = []
    pending: bytearray | None = None
    pending_charset = ""
    last_end = 0

    def flush() -> None:
        nonlocal pending
        if pending is not None:
            pieces.append(decode_bytes(bytes(pending), pending_charset, where, notes))
            pending = None

    for m in _EW_RE.finditer(value):
        gap = value[last_end : m.start()]
        charset = m.group(1).split("*", 1)[0]
        data = _ew_bytes(m.group(2), m.group(3))
        if data is None:
            flush()
            pieces.append(unsurrogate(gap + m.group(0)))
            last_end = m.end()
            continue
        if pending is not None and not gap.strip() and charset.lower() == pending_charset.lower():
            pending += data
        else:
            if pending is None or gap.strip():
                flush()
                pieces.append(unsurrogate(gap))
            else:
                flush()  # whitespace between encoded words is dropped
            pending = bytearray(data)
            pending_charset = charset
        last_end = m.end()
    flush()
    pieces.append(unsurrogate(value[last_end:]))
    return "".join(pieces)

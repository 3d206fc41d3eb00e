"""winmail.dat (TNEF): walked once by a cheap pre-check that bounds objects, copies and nesting
before `tnefparse` is trusted with it; then its attachments and its body."""

from __future__ import annotations

import struct
from typing import Any

import tnefparse  # type: ignore[import-untyped]

from sportello.engine.text import html_to_text
from sportello.mail.decoding import decode_bytes
from sportello.mail.filenames import guess_type, sanitize_filename
from sportello.mail.types import MailAttachment

# --------------------------------------------------------------------------------------------
# winmail.dat

_TNEF_SIGNATURE = 0x223E9F78
_TNEF_MAX_OBJECTS = 10_000
_TNEF_MAX_COPY = 4 << 30  # bytes tnefparse copies while walking its objects (it slices the rest each time)
_TNEF_MAX_NESTING = 3
_IMESSAGE_SIG = b"\x07\x03\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46"
_MAPI_FIXED = {0x2: 2, 0xB: 2, 0x3: 4, 0x4: 4, 0xA: 4, 0x5: 8, 0x6: 8, 0x7: 8, 0x14: 8, 0x40: 8, 0x48: 16}
_MAPI_VARIABLE = frozenset({0x0, 0xD, 0x1E, 0x1F, 0x102})
_MAPI_SLACK = 64


class _TnefUnsafe(Exception):
    pass


def _u16(data: bytes, offset: int) -> int:
    return int(struct.unpack_from("<H", data, offset)[0])


def _u32(data: bytes, offset: int) -> int:
    return int(struct.unpack_from("<I", data, offset)[0])


def _check_mapi(data: bytes, offset: int, budget: list[int], depth: int) -> int | None:
    """Walks MAPI properties as tnefparse 1.4 does (`decode_mapi`), without building them:
    raises _TnefUnsafe where tnefparse would loop over counts its data cannot hold (it does not
    stop at the end of the data there). Returns the end offset, or None where tnefparse stops
    with an exception."""
    n = len(data)
    if offset + 4 > n:
        return None
    count = _u32(data, offset)
    offset += 4
    if count > (n - offset) // 4 + _MAPI_SLACK:
        raise _TnefUnsafe("MAPI property count larger than its data")
    for _ in range(count):
        if offset >= n:
            break
        if offset + 4 > n:
            return offset
        attr_type, attr_name = _u16(data, offset), _u16(data, offset + 2)
        offset += 4
        if attr_name >= 0x8000:
            if offset + 24 > n:
                return offset
            kind = _u32(data, offset + 16)
            offset += 20
            if kind == 0:
                offset += 4
            else:
                length = _u32(data, offset)
                offset += 4 + length + (-length % 4)
        multi = None
        if attr_type & 0x1000:
            attr_type ^= 0x1000
            if offset + 4 > n:
                return offset
            multi = _u32(data, offset)
            offset += 4
        values = multi or 1
        if attr_type in _MAPI_FIXED:
            size = _MAPI_FIXED[attr_type]
            if values > max(0, n - offset) // size + _MAPI_SLACK:
                raise _TnefUnsafe("MAPI value count larger than its data")
            offset += size * values
            if values % 2 and attr_type in (0x2, 0xB):
                offset += 2
        elif attr_type in _MAPI_VARIABLE:
            items: list[bytes] = []
            for _ in range(values):
                if multi:
                    strings = 1
                else:
                    if offset + 4 > n:
                        return offset
                    strings = _u32(data, offset)
                    offset += 4
                for _ in range(strings):
                    if offset + 4 > n:
                        return offset
                    length = _u32(data, offset)
                    offset += 4 + length + (-length % 4)
                    if attr_name == 0x3701:  # an attached file's data: maybe an embedded message
                        items.append(data[offset - length - (-length % 4) : offset].rstrip(b"\x00"))
            if items and attr_type in (0xD, 0x102, 0x0):
                joined = b"".join(items)
                if joined.startswith(_IMESSAGE_SIG):
                    _check_tnef(joined[len(_IMESSAGE_SIG) :], budget, depth + 1)
        else:
            return offset  # tnefparse raises on unknown types and stops
    return offset


def _check_tnef(data: bytes, budget: list[int], depth: int = 0) -> None:
    """Raises _TnefUnsafe when tnefparse 1.4 would take unbounded time or memory on `data`
    (its object walk copies the rest of the data once per object; its MAPI decoding trusts
    counts). Mirrors `TNEF.__init__` closely enough to bound it, not to parse."""
    if depth > _TNEF_MAX_NESTING:
        raise _TnefUnsafe("embedded messages nested too deeply")
    n = len(data)
    if n < 6 or _u32(data, 0) != _TNEF_SIGNATURE:
        return  # tnefparse rejects it at once
    offset = 6
    objects = 0
    while offset + 12 < n:
        level, name = data[offset], _u16(data, offset + 1)
        length = min(n - offset, _u32(data, offset + 5) + 11)
        objects += 1
        budget[0] -= n - offset
        if objects > _TNEF_MAX_OBJECTS or budget[0] < 0:
            raise _TnefUnsafe("too many objects")
        body = data[offset + 9 : offset + max(9, length - 2)]
        if (level == 2 and name == 0x9005) or (level != 2 and name == 0x9003):
            _check_mapi(body, 0, budget, depth)
        elif level != 2 and name == 0x9004 and len(body) >= 4:
            rows, row_offset = _u32(body, 0), 4
            for _ in range(rows):
                end = _check_mapi(body, row_offset, budget, depth)
                if end is None:
                    break
                row_offset = end
        offset += length


def _tnef_text(value: object, codepage: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return decode_bytes(
            value.rstrip(b"\x00"), codepage if isinstance(codepage, str) else "cp1252", "", None
        )
    return ""


def _tnef_filename(att: Any) -> str:
    try:
        name = att.long_filename()
    except Exception:  # tnefparse decodes names as strict UTF-8
        name = None
    text = _tnef_text(name, getattr(att, "codepage", None))
    if not text:
        text = _tnef_text(getattr(att, "_name", b""), getattr(att, "codepage", None))
    return text.replace("\x00", "")


def unpack_tnef(data: bytes, label: str, notes: list[str]) -> tuple[list[MailAttachment], str]:
    """The files in a winmail.dat (origin "tnef") and its plain-text body ("" when none).
    A malformed or hostile TNEF yields nothing, with a note; it never raises."""
    try:
        _check_tnef(data, [_TNEF_MAX_COPY])
        tnef = tnefparse.TNEF(data, do_checksum=True)
    except _TnefUnsafe as exc:
        notes.append(f"{label}: winmail.dat not unpacked ({exc})")
        return [], ""
    except Exception as exc:  # tnefparse on malformed data
        notes.append(f"{label}: malformed winmail.dat not unpacked ({type(exc).__name__})")
        return [], ""
    files: list[MailAttachment] = []
    for att in getattr(tnef, "attachments", ()):
        content = getattr(att, "data", b"")
        content = content if isinstance(content, bytes) else b""
        name = _tnef_filename(att)
        if not content and not name:
            continue
        content_type = guess_type(name) if name else "application/octet-stream"
        files.append(
            MailAttachment(
                filename=sanitize_filename(name, content_type=content_type),
                content_type=content_type,
                content=content,
                origin="tnef",
            )
        )
    codepage = getattr(tnef, "codepage", None)
    body = _tnef_text(getattr(tnef, "body", None), codepage)
    if not body.strip():
        html = _tnef_text(getattr(tnef, "htmlbody", None), codepage)
        body = html_to_text(html) if html.strip() else ""
    return files, body

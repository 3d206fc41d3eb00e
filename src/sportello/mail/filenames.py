"""Attachment file names and content types: the display name of a name as it came (in any
charset, with any characters), and the content type a name suggests."""

from __future__ import annotations

import mimetypes

from sportello.engine.text import sanitize_filename as display_filename
from sportello.mail.decoding import unsurrogate

_MIME_TYPES = mimetypes.MimeTypes()  # the built-in table only: the same answer on every machine
_EXTENSIONS = {
    "text/plain": ".txt",
    "text/html": ".html",
    "text/calendar": ".ics",
    "image/jpeg": ".jpg",
    "image/jpg": ".jpg",
    "image/pjpeg": ".jpg",
    "message/rfc822": ".eml",
    "message/global": ".eml",
    "message/delivery-status": ".txt",
    "message/disposition-notification": ".txt",
    "message/rfc822-headers": ".txt",
    "text/rfc822-headers": ".txt",
    "application/octet-stream": ".bin",
    "application/ms-tnef": ".dat",
    "application/vnd.ms-tnef": ".dat",
}


def _extension_for(content_type: str) -> str:
    ext = _EXTENSIONS.get(content_type)
    if ext is None:
        try:
            ext = _MIME_TYPES.guess_extension(content_type) or ""
        except Exception:
            ext = ""
    return ext


def sanitize_filename(name: str, *, content_type: str = "application/octet-stream") -> str:
    """A display name for an attachment (`engine.text.sanitize_filename`, of the name's raw
    8-bit bytes read as text): "attachment" plus an extension guessed from the content type
    when nothing is left."""
    return display_filename(unsurrogate(name), fallback="attachment" + _extension_for(content_type))


def guess_type(filename: str) -> str:
    try:
        guessed = _MIME_TYPES.guess_type(filename, strict=False)[0]
    except Exception:
        guessed = None
    return guessed or "application/octet-stream"

"""Text hygiene shared by every write path: sanitised HTML, text derived from HTML, checks
that keep bad input out of the database (NUL bytes, oversized bodies, multi-line subjects), and
single-line labels (subjects, names, tags) without control or bidirectional-override
characters."""

from __future__ import annotations

import html
import re
import unicodedata

import nh3
from django.conf import settings

from sportello.engine.text import BIDI_CONTROLS, html_to_text

from .errors import ValidationFailed

_ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "del",
    "div",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
}
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "*": {"dir", "lang"},
}
_URL_SCHEMES = {"http", "https", "mailto", "cid"}


def sanitize_html(html: str) -> str:
    """Allow-list sanitising: no scripts, styles, event handlers or javascript: URLs."""
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def text_to_html(text: str) -> str:
    """Plain text as an HTML fragment: every character escaped, blank lines between paragraphs,
    line breaks kept. Nothing is linkified: a URL in a customer's name or a template stays text."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "".join("<p>" + html.escape(p.strip("\n")).replace("\n", "<br>\n") + "</p>\n" for p in paragraphs)


ELLIPSIS = "…"
_JOINERS = frozenset("\u200d\u034f")  # zero-width joiner, combining grapheme joiner


def _joins_previous(char: str) -> bool:
    """`char` belongs to the character before it (a combining accent, a variation selector, an
    emoji modifier): cutting before it would split one visible character."""
    return (
        unicodedata.combining(char) != 0
        or unicodedata.category(char) in ("Mn", "Me", "Mc")
        or "\ufe00" <= char <= "\ufe0f"
        or "\U0001f3fb" <= char <= "\U0001f3ff"
        or char in _JOINERS
    )


def fit_line(value: str, *, max_length: int) -> str:
    """`value` as one line of at most `max_length` characters: whitespace collapsed, and when it
    is longer, cut on a character boundary (never inside an accented letter or an emoji
    sequence), at a word boundary when one is near, and ended with "…". For text the desk
    derives or receives (an e-mail's subject), never for what a user typed: that gets an error."""
    if max_length < 1:
        raise ValueError("max_length must be at least 1")
    value = " ".join(value.split())
    if len(value) <= max_length:
        return value
    cut = max_length - len(ELLIPSIS)
    while cut > 0 and (_joins_previous(value[cut]) or value[cut - 1] in _JOINERS):
        cut -= 1
    space = value.rfind(" ", 0, cut + 1)
    if space > cut - 20 and space > 0:
        cut = space
    return value[:cut].rstrip() + ELLIPSIS


def storable_problem(value: str) -> str | None:
    """Why a database could not hold `value` as text (PostgreSQL refuses NUL; lone surrogates
    cannot be encoded as UTF-8), or None."""
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text"
    return None


# What a single-line label drops: bidirectional embeddings, overrides and isolates (in a label they
# reorder what follows and, unbalanced, the text around it on the page; the marks reorder nothing
# and stay), and C0/C1 controls (whitespace is folded to spaces).
_LABEL_DROP = {ord(c): None for c in BIDI_CONTROLS} | {
    c: None for c in (*range(32), 0x7F, *range(0x80, 0xA0)) if not chr(c).isspace()
}


def label_text(value: str) -> str:
    """One line of text as a label: whitespace runs (line breaks included) folded into single
    spaces, control and bidirectional-override characters removed."""
    return " ".join(value.translate(_LABEL_DROP).split())


def clean_text(
    value: str, *, field: str, max_length: int, single_line: bool = False, required: bool = False
) -> str:
    """Reject what the database cannot hold or the user did not mean; never truncate silently.
    A single-line value is a label (`label_text`)."""
    if "\x00" in value:
        raise ValidationFailed("must not contain NUL characters", field=field)
    if single_line:
        value = label_text(value)
    if required and not value.strip():
        raise ValidationFailed("is required", field=field)
    if len(value) > max_length:
        raise ValidationFailed(f"must be at most {max_length} characters", field=field)
    # Lone surrogates cannot be encoded as UTF-8 and would fail in the database driver.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationFailed("must be valid Unicode text", field=field) from None
    return value


def message_bodies(*, text: str, html: str) -> tuple[str, str]:
    """Validated (text, sanitised html) for a message. Either may be given; text wins for the
    plain body, and is derived from the HTML when only HTML was sent."""
    limit = settings.SPORTELLO["MESSAGE_MAX_CHARS"]
    html = clean_text(html or "", field="body_html", max_length=limit)
    clean_html = sanitize_html(html) if html.strip() else ""
    text = clean_text(text or "", field="body", max_length=limit)
    if not text.strip() and clean_html:
        text = html_to_text(clean_html)
    if not text.strip():
        raise ValidationFailed("a message needs a body", field="body")
    return text, clean_html

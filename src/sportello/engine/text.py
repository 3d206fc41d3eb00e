"""Text from untrusted input, the same everywhere, in pure Python: HTML read as plain text, the
display name of an attachment, and the bidirectional control characters. Mail intake, the
agents' HTML, uploads, labels and rules all use these; golden tests pin what they give
(`tests/engine/test_text.py`).

- `html_to_text`: tags removed, scripts, styles and comments dropped, block elements and <br>
  as line breaks, entities decoded, whitespace collapsed outside <pre>, blockquotes as "> "
  lines. Linear in the input (`html_scan` moves forward only): a hostile document cannot make
  it slow. Never raises.
- `sanitize_filename`: the last path component only, NFC, without control, surrogate, byte-order
  or bidirectional characters, whitespace folded to single spaces, no leading or trailing dots
  or spaces, at most 255 characters with the extension kept; a fallback when nothing is left.
  Never a storage path: files are stored under generated keys.
- `BIDI_CONTROLS`: embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069), which
  reorder what follows ("invoice\u202efdp.exe" reads "invoiceexe.pdf") and, unbalanced, the
  text around them; `BIDI_MARKS` (U+061C, U+200E, U+200F) reorder nothing; `BIDI_CHARACTERS`
  is both.
"""

from __future__ import annotations

import html as html_lib
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
BIDI_MARKS = frozenset("\u061c\u200e\u200f")
BIDI_CHARACTERS = BIDI_CONTROLS | BIDI_MARKS

# --------------------------------------------------------------------------------------------
# HTML scanning


@dataclass(frozen=True, slots=True)
class HtmlTag:
    name: str  # lower-cased
    closing: bool
    attrs: str  # the raw attribute text


_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9:._-]{0,63}")
_QUOTE_OR_GT_RE = re.compile(r"[\"'>]")
_ATTR_RE = re.compile(r"""([^\s"'=<>/]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?""")
# Elements whose content is raw text up to their end tag; dropped from text except textarea.
_RAW_TEXT = frozenset({"script", "style", "title", "template", "textarea", "xmp", "iframe", "noembed"})
_close_tag_res: dict[str, re.Pattern[str]] = {}


def _close_tag_re(name: str) -> re.Pattern[str]:
    pattern = _close_tag_res.get(name)
    if pattern is None:
        pattern = re.compile(rf"</{re.escape(name)}(?=[\s/>]|$)", re.IGNORECASE)
        _close_tag_res[name] = pattern
    return pattern


def html_scan(html: str) -> Iterator[tuple[str, int, int, HtmlTag | None]]:
    """The HTML as a flat sequence of ("text" | "tag" | "raw", start, end, tag): text runs,
    tags (start or end, attributes unparsed), and the raw content of script-like elements
    (with the element's start tag). Comments, doctypes and processing instructions are skipped.
    Never raises; linear in the input (every search moves forward)."""
    n = len(html)
    i = 0
    text_start = 0
    # Where the last search for each raw-text end tag found one (-1: none after that point), so
    # that many unclosed <script> tags do not each search to the end.
    found_close: dict[str, tuple[int, int]] = {}
    while i < n:
        lt = html.find("<", i)
        if lt < 0:
            break
        if html.startswith("<!--", lt):
            end = html.find("-->", lt + 4)
            end = n if end < 0 else end + 3
            if lt > text_start:
                yield "text", text_start, lt, None
            i = text_start = end
            continue
        nxt = html[lt + 1 : lt + 2]
        if nxt in ("!", "?") or (nxt == "/" and not _NAME_RE.match(html, lt + 2)):
            gt = html.find(">", lt + 1)
            end = n if gt < 0 else gt + 1
            if lt > text_start:
                yield "text", text_start, lt, None
            i = text_start = end
            continue
        closing = nxt == "/"
        m = _NAME_RE.match(html, lt + 2 if closing else lt + 1)
        if m is None:
            i = lt + 1  # a lone "<" is text
            continue
        # Find the end of the tag, stepping over quoted attribute values.
        j = m.end()
        end = n
        while True:
            k = _QUOTE_OR_GT_RE.search(html, j)
            if k is None:
                break
            if html[k.start()] == ">":
                end = k.start() + 1
                break
            close = html.find(html[k.start()], k.start() + 1)
            if close < 0:
                break
            j = close + 1
        if lt > text_start:
            yield "text", text_start, lt, None
        tag = HtmlTag(name=m.group(0).lower(), closing=closing, attrs=html[m.end() : max(m.end(), end - 1)])
        yield "tag", lt, end, tag
        i = text_start = end
        if not closing and tag.name in _RAW_TEXT and not tag.attrs.rstrip().endswith("/"):
            searched_from, close_at = found_close.get(tag.name, (n + 1, -1))
            if not (searched_from <= end and (close_at == -1 or close_at >= end)):
                close_m = _close_tag_re(tag.name).search(html, end)
                close_at = close_m.start() if close_m is not None else -1
                found_close[tag.name] = (end, close_at)
            if close_at >= end:
                if close_at > end:
                    yield "raw", end, close_at, tag
                i = text_start = close_at
    if n > text_start:
        yield "text", text_start, n, None


def html_attributes(tag: HtmlTag) -> dict[str, str]:
    """The tag's attributes (names lower-cased; first occurrence wins)."""
    attrs: dict[str, str] = {}
    for m in _ATTR_RE.finditer(tag.attrs):
        name = m.group(1).lower()
        if name not in attrs:
            attrs[name] = next((g for g in m.groups()[1:] if g is not None), "")
    return attrs


# --------------------------------------------------------------------------------------------
# HTML to text

_BLOCK = frozenset(
    {
        "address", "article", "aside", "caption", "center", "dd", "details", "dialog", "div", "dl",
        "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5",
        "h6", "header", "hr", "li", "main", "menu", "nav", "ol", "section", "summary", "table",
        "tbody", "tfoot", "thead", "tr", "ul", "body", "html",
    }
)  # fmt: skip
_WS_RE = re.compile(r"[ \t\n\r\f\v]+")
_MAX_QUOTE_PREFIX = 8  # deeper blockquotes are shown at this depth
_SPACES_RE = re.compile(r" {2,}")


class _TextWriter:
    """Collects text into lines: whitespace collapsed outside <pre>, lines inside blockquotes
    prefixed with "> " (so the plain-text quote splitter sees them as quoted)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.parts: list[str] = []
        self.quote_depth = 0
        self.pre_depth = 0

    def text(self, value: str) -> None:
        value = html_lib.unescape(value).replace("\xa0", " ")
        if self.pre_depth:
            chunks = value.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            for index, chunk in enumerate(chunks):
                if index:
                    self.flush(force=True)
                self.parts.append(chunk)
        else:
            value = _WS_RE.sub(" ", value)
            if value:
                self.parts.append(value)

    def flush(self, *, force: bool = False) -> None:
        line = "".join(self.parts)
        self.parts = []
        line = line.rstrip() if self.pre_depth else _SPACES_RE.sub(" ", line).strip()
        if not line and not force:
            return
        if self.quote_depth:
            depth = min(self.quote_depth, _MAX_QUOTE_PREFIX)
            line = "> " * depth + line if line else ">" * depth
        self.lines.append(line)

    def blank_line(self) -> None:
        self.flush()
        if self.lines and self.lines[-1].strip(">"):
            self.lines.append(">" * min(self.quote_depth, _MAX_QUOTE_PREFIX))

    def result(self) -> str:
        self.flush()
        out: list[str] = []
        for line in self.lines:
            blank = not line.strip(">")
            if blank and (not out or not out[-1].strip(">")):
                continue  # no leading blank lines, no runs of them
            out.append(line)
        while out and not out[-1].strip(">"):
            out.pop()
        return "\n".join(out)


def html_to_text(html: str) -> str:
    """Readable plain text of an HTML body: tags removed, scripts, styles and comments dropped,
    block elements and <br> as line breaks, entities decoded, blockquotes as "> " lines."""
    writer = _TextWriter()
    for kind, start, end, tag in html_scan(html):
        if kind == "text":
            writer.text(html[start:end])
        elif kind == "raw":
            if tag is not None and tag.name == "textarea":
                writer.text(html[start:end])
        elif tag is not None:
            name = tag.name
            if name == "br":
                writer.flush(force=True)
            elif name == "p":
                if tag.closing:
                    writer.blank_line()
                else:
                    writer.flush()
            elif name == "blockquote":
                writer.flush()
                writer.quote_depth = max(0, writer.quote_depth + (-1 if tag.closing else 1))
            elif name in ("pre", "listing", "plaintext"):
                writer.flush()
                writer.pre_depth = max(0, writer.pre_depth + (-1 if tag.closing else 1))
            elif name in _BLOCK:
                writer.flush()
            elif name in ("td", "th") and not tag.closing:
                writer.parts.append(" ")
    return writer.result()


# --------------------------------------------------------------------------------------------
# File names

FILENAME_MAX = 255
FALLBACK_FILENAME = "attachment"
_EXTENSION_MAX = 16
_BYTE_ORDER_MARK = "\ufeff"


def _filename_char(ch: str) -> str:
    if ch in "\t\n\r\v\f" or unicodedata.category(ch) in ("Zs", "Zl", "Zp"):
        return " "
    if ch in BIDI_CHARACTERS or ch == _BYTE_ORDER_MARK or unicodedata.category(ch) in ("Cc", "Cs"):
        return ""
    return ch


def sanitize_filename(raw: str | None, *, fallback: str = FALLBACK_FILENAME) -> str:
    """A display name that is safe to store and show (see the module docstring); `fallback`
    when nothing is left of `raw`."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = unicodedata.normalize("NFC", "".join(_filename_char(ch) for ch in name))
    name = " ".join(name.split()).strip(" .")
    if not name:
        return fallback
    if len(name) > FILENAME_MAX:
        stem, dot, ext = name.rpartition(".")
        if dot and stem and 0 < len(ext) <= _EXTENSION_MAX:
            name = stem[: FILENAME_MAX - len(ext) - 1].rstrip() + "." + ext
        else:
            name = name[:FILENAME_MAX]
    return name

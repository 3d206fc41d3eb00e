"""A reply's new text told apart from the history it quotes, in plain text and in HTML; and
HTML read as plain text (for mail that has no text/plain body).

The splitters are conservative: they cut only at a separator they recognise (a client's
attribution line followed by quoted lines, an Outlook "Original Message" line or header block, a
trailing block of `>` lines, a known quote container in HTML), never in the middle of the
customer's own words; new + quoted always hold every non-blank line of the input; and when a cut
would leave no new content, the whole input comes back as new content. Everything here is linear
in the input (string scanning, bounded regular expressions without nested repetition), so a
hostile message cannot make it slow.
"""

from __future__ import annotations

from collections.abc import Sequence

from sportello.engine.text import HtmlTag, html_attributes, html_scan, html_to_text

# --------------------------------------------------------------------------------------------
# Plain-text replies

_ATTRIBUTION_ENDINGS = (
    "wrote:",  # en
    "escribió:",  # es
    "escribio:",
    "ha scritto:",  # it
    "a écrit :",  # fr
    "a écrit:",
    "schrieb:",  # de
    "escreveu:",  # pt
    "написал:",  # ru
    "написала:",
    "napisał:",  # pl
    "napisała:",
    "skrev:",  # da, no, sv
    "kirjoitti:",  # fi
    "schreef:",  # nl
)
# German and Dutch clients put the name after the verb: "Am …, schrieb Name <a@b>:".
_ATTRIBUTION_VERBS = (" schrieb ", " schreef ")
_ORIGINAL_MESSAGE = frozenset(
    {
        "original message", "mensaje original", "messaggio originale", "message d'origine",
        "ursprüngliche nachricht", "oorspronkelijk bericht", "mensagem original",
        "исходное сообщение", "oprindelig meddelelse", "opprinnelig melding",
        "ursprungligt meddelande", "alkuperäinen viesti", "wiadomość oryginalna",
    }
)  # fmt: skip
# Header names of a quoted message's header block (Outlook and webmail), by role.
_HEADER_ROLES = {
    "from": "from", "de": "from", "da": "from", "von": "from", "van": "from", "od": "from",
    "от": "from", "fra": "from", "från": "from", "lähettäjä": "from",
    # "Sent:" is Outlook's own (a customer's text rarely says it), "Date:" everybody's.
    "sent": "sent", "enviado": "sent", "enviado el": "sent", "inviato": "sent", "gesendet": "sent",
    "envoyé": "sent", "verzonden": "sent", "отправлено": "sent", "sendt": "sent", "skickat": "sent",
    "date": "date", "fecha": "date", "data": "date", "datum": "date", "дата": "date",
    "to": "to", "para": "to", "a": "to", "an": "to", "à": "to", "aan": "to", "кому": "to",
    "do": "to", "til": "to", "till": "to",
    "cc": "cc", "copia": "cc", "kopie": "cc", "копия": "cc",
    "subject": "subject", "asunto": "subject", "oggetto": "subject", "betreff": "subject",
    "objet": "subject", "onderwerp": "subject", "тема": "subject", "assunto": "subject",
    "temat": "subject", "emne": "subject", "ämne": "subject", "aihe": "subject",
}  # fmt: skip
_MAX_SEPARATOR_CHARS = 1000  # longer lines are never separators


def _is_quoted(line: str) -> bool:
    return line.lstrip(" ").startswith(">")


def _is_blank(line: str) -> bool:
    return not line.strip()


# How an attribution's first line begins (when it is wrapped): a client's opening word, or a
# date ("02.04.2012 14:20 …", Android and Yandex).
_ATTRIBUTION_OPENERS = ("on ", "el ", "il ", "le ", "am ", "op ", "em ", "den ", "w dniu ", "dne ", "pe ")


def _ends_attribution(line: str) -> bool:
    low = " ".join(line.lower().split())
    if low.endswith(_ATTRIBUTION_ENDINGS):
        return True
    if low.endswith(">:") and "@" in low:
        return True  # "26.06.2014, 14:41, "Name" <a@b.c>:" (Yandex, Mail.ru, Gmail in some languages)
    return low.endswith(":") and any(verb in f" {low}" for verb in _ATTRIBUTION_VERBS)


def _attribution_start(lines: Sequence[str], end: int) -> int | None:
    """The first line of an attribution ("On <date>, <name> wrote:") whose last line is `end`,
    wrapped over at most three lines, else None. A wrapped attribution's first line opens like
    one (a client's opening word, or a date); the attribution holds a digit (every client
    writes a date or a time)."""
    line = lines[end]
    if _is_blank(line) or _is_quoted(line) or len(line) > 300 or not _ends_attribution(line):
        return None
    joined = line.strip()
    for start in range(end, max(-1, end - 3), -1):
        if start < end:
            previous = lines[start]
            if _is_blank(previous) or _is_quoted(previous) or len(previous) > 300:
                break
            joined = f"{previous.strip()} {joined}"
        first = lines[start].strip().lower()
        if (first.startswith(_ATTRIBUTION_OPENERS) or first[:1].isdigit()) and any(
            c.isdigit() for c in joined
        ):
            return start
    return end if any(c.isdigit() for c in line) else None


def _header_role(line: str) -> tuple[str | None, str]:
    """The role ("from", "date", "to", "cc", "subject") of a "Name: value" line, and the value."""
    stripped = line.strip().lstrip("*").strip()
    colon = stripped.find(":")
    if colon <= 0 or colon > 24:
        return None, ""
    key = stripped[:colon].strip(" *").lower()
    return _HEADER_ROLES.get(key), stripped[colon + 1 :].strip(" *")


def _is_header_block(lines: Sequence[str], i: int) -> bool:
    """Whether line i starts a quoted message's header block: a From line with a value, then
    (within the next lines, before a blank line) a date and a subject, or Outlook's "Sent:" and
    "To:". A customer's own "From: Rome / To: Milan / Date: …" is not one."""
    role, value = _header_role(lines[i])
    if role != "from" or not value:
        return False
    roles = {"from"}
    for line in lines[i + 1 : i + 12]:
        if _is_blank(line) or _is_quoted(line):
            break
        role, _ = _header_role(line)
        if role is not None:
            roles.add(role)
    return ("subject" in roles and bool(roles & {"date", "sent"})) or {"sent", "to"} <= roles


def _is_original_message(line: str) -> bool:
    stripped = line.strip()
    if not stripped.startswith("--"):
        return False
    return stripped.strip("-_ ").strip().lower() in _ORIGINAL_MESSAGE


def _is_rule(line: str) -> bool:
    stripped = line.strip()
    return len(stripped) >= 10 and not stripped.strip("_")


def _top_posted_cut(lines: Sequence[str]) -> int | None:
    """The first line of the quoted history under a top-posted reply, or None."""
    n = len(lines)
    # unquoted_from[k]: whether a non-blank unquoted line exists at index >= k.
    unquoted_from = [False] * (n + 1)
    for k in range(n - 1, -1, -1):
        unquoted_from[k] = unquoted_from[k + 1] or not (_is_blank(lines[k]) or _is_quoted(lines[k]))
    # next_content[k]: the index of the first non-blank line at index >= k (n if none).
    next_content = [n] * (n + 1)
    for k in range(n - 1, -1, -1):
        next_content[k] = k if not _is_blank(lines[k]) else next_content[k + 1]

    candidates: list[int] = []
    for i, line in enumerate(lines):
        if candidates and i > min(candidates) + 3:
            break  # an attribution ending later cannot start before the earliest cut
        if _is_blank(line) or _is_quoted(line) or len(line) > _MAX_SEPARATOR_CHARS:
            continue
        if _is_original_message(line) or _is_header_block(lines, i):
            candidates.append(i)
        elif _is_rule(line):
            following = next_content[i + 1]
            if following < n and _is_header_block(lines, following):
                candidates.append(i)
        start = _attribution_start(lines, i)
        if start is not None:
            first_quoted = next_content[i + 1]
            # Only when everything after it is quoted: an inline reply is not cut.
            if first_quoted < n and _is_quoted(lines[first_quoted]) and not unquoted_from[i + 1]:
                candidates.append(start)
    if candidates:
        return min(candidates)
    # A trailing block of quoted lines.
    k = n
    while k > 0 and (_is_blank(lines[k - 1]) or _is_quoted(lines[k - 1])):
        k -= 1
    k = next_content[k]
    if k < n:
        return k
    return None


def _bottom_posted_cut(lines: Sequence[str]) -> int | None:
    """The first line after a leading quoted block (an optional attribution, then `>` lines)
    when the rest holds no quoted line: the reply is written under the quote."""
    n = len(lines)
    i = 0
    while i < n and _is_blank(lines[i]):
        i += 1
    if i < n and not _is_quoted(lines[i]):
        end = next((j for j in range(i, min(i + 3, n)) if _attribution_start(lines, j) == i), None)
        if end is None:
            return None
        i = end + 1
    quoted = 0
    while i < n and (_is_blank(lines[i]) or _is_quoted(lines[i])):
        quoted += not _is_blank(lines[i])
        i += 1
    if not quoted or any(_is_quoted(line) for line in lines[i:]):
        return None
    return i


def _join(lines: Sequence[str]) -> str:
    start, end = 0, len(lines)
    while start < end and _is_blank(lines[start]):
        start += 1
    while end > start and _is_blank(lines[end - 1]):
        end -= 1
    return "\n".join(lines[start:end])


def split_quoted(text: str) -> tuple[str, str]:
    """(new content, quoted history) of a plain-text reply body.

    Recognised: a trailing block of `>` lines; an attribution ("On … wrote:", "El … escribió:",
    "Il … ha scritto:", and their French, German, Dutch, Portuguese, Russian, Polish and Nordic
    forms, also wrapped over two or three lines) followed only by quoted lines; Outlook's
    "-----Original Message-----" line, its "From:/Sent:/To:/Subject:" header block (English,
    Spanish, Italian, French, German … names) and the "_____" rule above it; a quote at the top
    with the reply written under it. Signature lines ("Sent from my iPhone") stay in the new
    content. Without a recognised separator, or when the cut would leave nothing new, the whole
    text is new content: (text, "")."""
    if not text.strip():
        return text, ""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cut = _top_posted_cut(lines)
    if cut is not None:
        new, quoted = _join(lines[:cut]), _join(lines[cut:])
        if new.strip():
            return new, quoted
    cut = _bottom_posted_cut(lines)
    if cut is not None:
        new, quoted = _join(lines[cut:]), _join(lines[:cut])
        if new.strip():
            return new, quoted
    return text, ""


# --------------------------------------------------------------------------------------------
# HTML replies

_QUOTE_CLASSES = frozenset(
    {
        "gmail_quote",
        "gmail_quote_container",
        "yahoo_quoted",
        "moz-cite-prefix",
        "protonmail_quote",
        "zmail_extra",
    }
)
_QUOTE_IDS = frozenset(
    {"divrplyfwdmsg", "appendonsend", "stopspelling", "mail-editor-reference-message-container"}
)


def _is_quote_marker(tag: HtmlTag) -> bool:
    if tag.closing or not tag.attrs:
        return False
    attrs = html_attributes(tag)
    if tag.name == "blockquote" and attrs.get("type", "").strip().lower() == "cite":
        return True
    element_id = attrs.get("id", "").strip().lower()
    if element_id in _QUOTE_IDS or element_id.startswith("yahoo_quoted"):
        return True
    return any(cls in _QUOTE_CLASSES for cls in attrs.get("class", "").lower().split())


def split_quoted_html(html: str) -> tuple[str, str]:
    """(new content, quoted history) of an HTML reply body, cut before the first known quote
    container: `<blockquote type="cite">` (Apple Mail, Thunderbird, with Thunderbird's
    `moz-cite-prefix` attribution), Gmail's `gmail_quote`, Outlook's `divRplyFwdMsg` /
    `appendonsend`, Hotmail's `<hr id="stopSpelling">`, Yahoo's `yahoo_quoted`. Both halves are
    fragments (the first has unclosed tags): sanitise before showing. When the cut would leave
    no visible text, the whole HTML is new content: (html, "")."""
    for kind, start, _end, tag in html_scan(html):
        if kind == "tag" and tag is not None and _is_quote_marker(tag):
            new, quoted = html[:start], html[start:]
            if html_to_text(new).strip():
                return new, quoted
            return html, ""
    return html, ""

"""The composer's light markup, rendered to HTML for a message's `body_html`.

Agents type what the toolbar writes: `**bold**`, `*italic*`, `` `code` ``, `[text](https://…)`,
lines starting with `- ` (bulleted list), `1. ` (numbered list) or `> ` (quote), and fenced code
blocks between lines of three backticks. Everything else is text: every character is escaped
before any markup is recognised, and the result goes through the pipeline's sanitiser
(`core.text.sanitize_html`) like any HTML a client sends. The typed text itself stays the
message's plain `body` (what e-mail's text part carries).
"""

from __future__ import annotations

import html
import re

_BULLET = re.compile(r"^\s*[-*]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d{1,9}[.)]\s+(.*)$")
_QUOTE = re.compile(r"^\s*>\s?(.*)$")
_FENCE = re.compile(r"^\s*```")
_CODE = re.compile(r"`([^`\n]+)`")
_LINK = re.compile(r"\[([^\]\n]+)\]\(((?:https?://|mailto:)[^\s()<>\"]+)\)")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_ITALIC = re.compile(r"(?<![\w*])[*_](?=\S)(.+?)(?<=\S)[*_](?![\w*])")


def _inline(text: str) -> str:
    """One line's inline markup; `text` is raw, the result is escaped HTML."""
    codes: list[str] = []

    def keep_code(m: re.Match[str]) -> str:
        codes.append(f"<code>{html.escape(m.group(1), quote=False)}</code>")
        return f"\x00{len(codes) - 1}\x00"

    text = _CODE.sub(keep_code, text.replace("\x00", ""))
    out = html.escape(text, quote=False)
    out = _LINK.sub(lambda m: f'<a href="{html.escape(html.unescape(m.group(2)))}">{m.group(1)}</a>', out)
    out = _BOLD.sub(r"<strong>\1</strong>", out)
    out = _ITALIC.sub(r"<em>\1</em>", out)
    return re.sub("\x00(\\d+)\x00", lambda m: codes[int(m.group(1))], out)


def markup_to_html(text: str) -> str:
    """`text` as an HTML fragment: paragraphs, line breaks, lists, quotes, code, links."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    blocks: list[str] = []
    paragraph: list[str] = []
    i = 0

    def flush() -> None:
        if paragraph:
            blocks.append("<p>" + "<br>\n".join(_inline(p) for p in paragraph) + "</p>")
            paragraph.clear()

    while i < len(lines):
        line = lines[i]
        if _FENCE.match(line):
            flush()
            code: list[str] = []
            i += 1
            while i < len(lines) and not _FENCE.match(lines[i]):
                code.append(lines[i])
                i += 1
            blocks.append("<pre><code>" + html.escape("\n".join(code), quote=False) + "</code></pre>")
            i += 1
            continue
        for pattern, tag in ((_BULLET, "ul"), (_NUMBERED, "ol")):
            if pattern.match(line):
                flush()
                items = []
                while i < len(lines) and (m := pattern.match(lines[i])):
                    items.append(f"<li>{_inline(m.group(1))}</li>")
                    i += 1
                blocks.append(f"<{tag}>" + "".join(items) + f"</{tag}>")
                break
        else:
            if _QUOTE.match(line):
                flush()
                quoted = []
                while i < len(lines) and (m := _QUOTE.match(lines[i])):
                    quoted.append(m.group(1))
                    i += 1
                blocks.append("<blockquote>" + markup_to_html("\n".join(quoted)) + "</blockquote>")
            elif not line.strip():
                flush()
                i += 1
            else:
                paragraph.append(line.strip())
                i += 1
    flush()
    return "\n".join(blocks)

"""Golden tests of the one text module (`engine.text`): what HTML reads as in plain text (agents'
HTML and mailed HTML alike), the display name an attachment gets (uploads and mail alike), and
the bidirectional character sets every label, tag, blueprint name and file name filters with.
Inputs include the hostile ones of the reference list (numbers in comments). Pure Python."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sportello.engine.text import (
    BIDI_CHARACTERS,
    BIDI_CONTROLS,
    BIDI_MARKS,
    FILENAME_MAX,
    html_to_text,
    sanitize_filename,
)

HTML_TO_TEXT = [
    ("", ""),
    ("plain text", "plain text"),
    ("a<br>b<br/>c", "a\nb\nc"),
    ("<p>one</p><p>two</p>", "one\n\ntwo"),
    ("<ul><li>first</li><li>second</li></ul>", "first\nsecond"),
    ("<h1>Title</h1><div>body</div>", "Title\nbody"),
    ("<pre>  keep\n   spaces</pre>", "  keep\n   spaces"),
    ("x &lt;y&gt; &#233; &eacute; &nbsp;&amp; &bogus;", "x <y> é é & &bogus;"),
    ("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>", "a b\nc d"),
    ("<blockquote>q<blockquote>qq</blockquote></blockquote>after", "> q\n> > qq\nafter"),
    ("<p>Hi</p><blockquote><p>old</p></blockquote><p>Bye</p>", "Hi\n\n> old\n>\nBye"),
    ("line1\r\nline2", "line1 line2"),
    ("<div>a   b\t\tc</div>", "a b c"),
    ("1 < 2 and 3 > 2", "1 < 2 and 3 > 2"),
    ("<a title='>'>link</a>", "link"),
    ("<textarea>kept</textarea>", "kept"),
    ("<title>t</title><head><title>x</title></head>body", "body"),
    ("caf\u0065\u0301 \U0001f600", "caf\u0065\u0301 \U0001f600"),  # 18: kept as they are
    # hostile markup: the text stays, what runs or loads never becomes text (1, 2, 3)
    ("<img src=x onerror=alert(1)>caption", "caption"),
    ("<svg onload=alert(1)>svg text</svg>", "svg text"),
    ("<details open ontoggle=alert(1)>details</details>", "details"),
    ('<a href="jav&#x09;ascript:alert(1)">link</a>', "link"),
    (
        "<base href=//evil><meta http-equiv=refresh content=0><form action=//evil>form</form>"
        "<style>@import 'x';</style>styled",
        "form\nstyled",
    ),
    ("<script>never</script>shown", "shown"),
    ("<script>unclosed", "unclosed"),
    ("<!-- unclosed comment", ""),
    # text is text: NUL and bidi controls are the write paths' business (17, 9)
    ("a\x00b", "a\x00b"),
    ("<p>invoice\u202efdp.exe</p>", "invoice\u202efdp.exe"),
]


@pytest.mark.parametrize(("html", "text"), HTML_TO_TEXT)
def test_html_reads_as_this_plain_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


@pytest.mark.parametrize(
    "html",
    [
        "<script>" * 50_000,  # many unclosed raw-text elements
        "<a title='" * 50_000,  # unclosed quoted attributes
        "<!--" * 50_000,
        "<blockquote>" * 50_000 + "deep",
        "<" * 200_000,
    ],
)
def test_hostile_html_is_read_in_linear_time(html: str) -> None:  # 27
    started = time.perf_counter()
    html_to_text(html)
    assert time.perf_counter() - started < 5.0


FILENAMES = [
    (None, "attachment"),
    ("", "attachment"),
    ("..", "attachment"),
    ("...", "attachment"),
    ("dir/", "attachment"),
    # 7: the last path component only, never a path
    ("../../etc/passwd", "passwd"),
    ("..\\..\\x", "x"),
    ("/abs/path", "path"),
    ("C:\\Users\\me\\report.docx", "report.docx"),
    # 17: NUL and other controls (C0, C1) are dropped
    ("a\x00.pdf", "a.pdf"),
    ("a\x00b\x1f.pdf", "ab.pdf"),
    ("c1\x85\x9f.txt", "c1.txt"),
    # whitespace of any kind is one space; none at either end, nor dots
    ("  tab\there  ", "tab here"),
    ("line\nbreak.txt", "line break.txt"),
    ("para\u2029graph.txt", "para graph.txt"),
    ("  spaced   out  .txt ", "spaced out .txt"),
    (".htaccess", "htaccess"),
    ("report.pdf.", "report.pdf"),
    # 18: NFC; characters that cannot be stored are dropped
    ("e\u0301.txt", "\u00e9.txt"),
    ("\ud800bad.txt", "bad.txt"),
    ("\ufeffbom.txt", "bom.txt"),
    ("Résumé \u2013 履歴書 📎.pdf", "Résumé \u2013 履歴書 📎.pdf"),
    # 9: bidirectional controls and marks never reach a file name
    ("invoice\u202efdp.exe", "invoicefdp.exe"),
    ("\u2066evil\u2069.txt\u200f", "evil.txt"),
    # 7: at most 255 characters, the extension kept when it is short
    ("x" * 300 + ".pdf", "x" * 251 + ".pdf"),
    ("y" * 300, "y" * 255),
    ("z" * 300 + "." + "e" * 17, ("z" * 300 + "." + "e" * 17)[:255]),
]


@pytest.mark.parametrize(("raw", "expected"), FILENAMES)
def test_a_file_name_is_shown_as_this(raw: str | None, expected: str) -> None:
    assert sanitize_filename(raw) == expected


def test_a_name_with_nothing_left_gets_the_fallback() -> None:
    assert sanitize_filename("../", fallback="attachment.bin") == "attachment.bin"


@given(st.text())
def test_sanitising_twice_changes_nothing(raw: str) -> None:
    # (mail is sanitised once, by the parser; an upload once, by the attachment service)
    once = sanitize_filename(raw)
    assert sanitize_filename(once) == once
    assert 0 < len(once) <= FILENAME_MAX
    assert not set(once) & BIDI_CHARACTERS
    assert "/" not in once
    assert "\\" not in once


def test_the_bidirectional_sets() -> None:
    assert sorted(f"{ord(c):04X}" for c in BIDI_CONTROLS) == [
        "202A", "202B", "202C", "202D", "202E", "2066", "2067", "2068", "2069",
    ]  # fmt: skip
    assert sorted(f"{ord(c):04X}" for c in BIDI_MARKS) == ["061C", "200E", "200F"]
    assert BIDI_CHARACTERS == BIDI_CONTROLS | BIDI_MARKS

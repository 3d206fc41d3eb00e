"""The parser and the quote splitter over real-world corpora (downloaded on first use; the
tests skip when a corpus cannot be obtained). One test per family loops over its files and
lists every failure at once."""

from __future__ import annotations

import base64
import email
import email.policy
from pathlib import Path

import pytest

from corpora import Corpora, string_problems
from sportello.mail.parse import html_to_text, parse_mail
from sportello.mail.quotes import split_quoted, split_quoted_html
from sportello.mail.types import ParsedMail

MAIL_FAMILIES = ("mail_parser", "django_mailbox", "talon_replies", "flufl_bounce", "stdlib")
# stdlib test messages whose source has no body content at all (empty parts, headers only).
EMPTY_BY_DESIGN = {"msg_08.txt", "msg_09.txt", "msg_12.txt", "msg_12a.txt", "msg_18.txt", "msg_24.txt"}


def _parse_all(files: list[Path]) -> tuple[dict[str, ParsedMail], list[str]]:
    parsed: dict[str, ParsedMail] = {}
    failures: list[str] = []
    for path in files:
        try:
            result = parse_mail(path.read_bytes())
        except Exception as exc:  # every exception is a failure here, MailTooLarge included
            failures.append(f"{path.name}: {exc!r}")
            continue
        parsed[path.name] = result
        failures.extend(f"{path.name}: {problem}" for problem in string_problems(result))
    return parsed, failures


def _mail_files(corpora: Corpora, family: str) -> list[Path]:
    return [p for p in corpora.require(family) if not p.name.endswith("_reply_text")]


@pytest.mark.parametrize("family", MAIL_FAMILIES)
def test_every_corpus_message_parses_to_clean_strings(corpora: Corpora, family: str) -> None:
    # Given every message of the family, when parsed, then none raises and every string is
    # NUL-free and encodable as UTF-8.
    files = _mail_files(corpora, family)
    _, failures = _parse_all(files)
    assert failures == []


@pytest.mark.parametrize("family", MAIL_FAMILIES)
def test_corpus_messages_keep_their_content(corpora: Corpora, family: str) -> None:
    # Text, HTML or attachments come out of at least 95% of the messages (of all but the
    # stdlib's few messages that have no content to begin with).
    parsed, _ = _parse_all(_mail_files(corpora, family))
    candidates = {name: p for name, p in parsed.items() if name not in EMPTY_BY_DESIGN}
    empty = sorted(
        name for name, p in candidates.items() if not (p.text.strip() or p.html.strip() or p.attachments)
    )
    assert len(empty) <= 0.05 * len(candidates), f"no content from: {empty}"


def test_stdlib_defective_messages_have_their_defects_recorded(corpora: Corpora) -> None:
    # Every defect the stdlib parser finds in a CPython test message is listed by class name.
    failures: list[str] = []
    for path in corpora.require("stdlib"):
        raw = path.read_bytes()
        expected = {
            type(defect).__name__
            for part in email.message_from_bytes(raw, policy=email.policy.default).walk()
            for defect in part.defects
        }
        recorded = " ".join(parse_mail(raw).defects)
        failures.extend(f"{path.name}: {name}" for name in sorted(expected) if name not in recorded)
    assert failures == []


def _named(corpora: Corpora, family: str, name: str) -> ParsedMail:
    files = {p.name: p for p in corpora.require(family)}
    return parse_mail(files[name].read_bytes())


def test_django_mailbox_unknown_charset_is_read(corpora: Corpora) -> None:
    # The stdlib's get_content() raises LookupError on this one.
    parsed = _named(corpora, "django_mailbox", "message_with_invalid_encoding.eml")
    assert parsed.subject == "Apply For Loans @ 2% Per Annum"
    assert parsed.text.strip() != ""
    assert parsed.defects == ("message: charset '_iso-2022-jp$ESC' read as iso2022_jp",)


def test_django_mailbox_koi8r_filenames_are_cyrillic(corpora: Corpora) -> None:
    parsed = _named(corpora, "django_mailbox", "message_with_koi8r_filename_attachments.eml")
    assert [a.filename for a in parsed.attachments] == [
        "Пакет предложений HSE Career Fair 8 апреля 2016.pdf",
        "Ведомости.pdf",
        "Пакет предложений 2016.pptx",
    ]


def test_django_mailbox_forwarded_message_is_one_eml_attachment(corpora: Corpora) -> None:
    parsed = _named(corpora, "django_mailbox", "message_with_rfc822_attachment.eml")
    assert [(a.filename, a.content_type, a.origin) for a in parsed.attachments] == [
        ("Attached email.eml", "message/rfc822", "rfc822")
    ]
    embedded = email.message_from_bytes(parsed.attachments[0].content, policy=email.policy.default)
    assert embedded["subject"] == "Attached email"


def test_django_mailbox_invalid_bytes_for_declared_charset(corpora: Corpora) -> None:
    parsed = _named(corpora, "django_mailbox", "message_with_invalid_content_for_declared_encoding.eml")
    assert parsed.text.strip() != ""
    assert any("us-ascii" in d for d in parsed.defects)


def test_flufl_qmail_08_with_unknown_charset_parses(corpora: Corpora) -> None:
    # The stdlib raises LookupError on its charset.
    parsed = _named(corpora, "flufl_bounce", "qmail_08.txt")
    assert parsed.subject == "Auto reply"
    assert parsed.text.strip() != ""
    assert parsed.defects == (
        "message: unknown charset 'ansi_x3.110-1983', decoded as cp1252 with replacement",
    )


def _tnef_mail(data: bytes) -> bytes:
    """A minimal message carrying `data` as an application/ms-tnef part."""
    return (
        b"From: a@example.com\r\nTo: b@example.com\r\nSubject: tnef\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n"
        b'Content-Type: application/ms-tnef; name="winmail.dat"\r\n'
        b"Content-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="winmail.dat"\r\n\r\n'
        + base64.encodebytes(data)
        + b"\r\n--XX--\r\n"
    )


def _tnef(corpora: Corpora, name: str) -> tuple[bytes, ParsedMail]:
    files = {p.name: p for p in corpora.require("tnef")}
    data = files[name].read_bytes()
    return data, parse_mail(_tnef_mail(data))


def test_every_tnef_example_parses_and_keeps_the_original(corpora: Corpora) -> None:
    failures: list[str] = []
    for path in corpora.require("tnef"):
        data = path.read_bytes()
        try:
            parsed = parse_mail(_tnef_mail(data))
        except Exception as exc:
            failures.append(f"{path.name}: {exc!r}")
            continue
        original = parsed.attachments[0] if parsed.attachments else None
        if original is None or (original.filename, original.content, original.origin) != (
            "winmail.dat",
            data,
            "part",
        ):
            failures.append(f"{path.name}: original winmail.dat not kept first")
        failures.extend(f"{path.name}: {problem}" for problem in string_problems(parsed))
    assert failures == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("one-file.tnef", [("AUTHORS", 244)]),
        ("two-files.tnef", [("AUTHORS", 244), ("README", 893)]),
    ],
)
def test_tnef_files_are_unpacked(corpora: Corpora, name: str, expected: list[tuple[str, int]]) -> None:
    _, parsed = _tnef(corpora, name)
    assert [(a.filename, len(a.content)) for a in parsed.attachments if a.origin == "tnef"] == expected


@pytest.mark.parametrize("name", ["bad_checksum.tnef", "garbage-at-end.tnef"])
def test_malformed_tnef_does_not_abort(corpora: Corpora, name: str) -> None:
    data, parsed = _tnef(corpora, name)
    assert parsed.attachments[0].content == data
    assert parsed.subject == "tnef"


def test_tnef_body_becomes_the_text_of_a_mail_without_one(corpora: Corpora) -> None:
    _, parsed = _tnef(corpora, "body.tnef")
    assert parsed.text.startswith("THE BILL OF RIGHTS")


ATTRIBUTION_MARKERS = ("wrote:", "Original Message", "написал:", "\nFrom:", "\n>")


def test_talon_standard_replies_lose_their_quoted_history(corpora: Corpora) -> None:
    # split_quoted(parse_mail(x).text) keeps new content and leaves the attribution line and
    # the quoted lines out of it, for (nearly) every client.
    files = _mail_files(corpora, "talon_replies")
    failures: list[str] = []
    for path in files:
        new, quoted = split_quoted(parse_mail(path.read_bytes()).text)
        if not new.strip() or not quoted.strip():
            failures.append(f"{path.name}: not split")
        elif any(marker in f"\n{new}" for marker in ATTRIBUTION_MARKERS):
            failures.append(f"{path.name}: quoted text left in {new!r}")
    assert len(files) == 12
    assert len(failures) <= 2, failures


@pytest.mark.parametrize("client", ["iphone", "sparrow"])
def test_talon_replies_match_talons_expected_text(corpora: Corpora, client: str) -> None:
    files = {p.name: p for p in corpora.require("talon_replies")}
    new, _ = split_quoted(parse_mail(files[f"{client}.eml"].read_bytes()).text)
    assert new.strip() == files[f"{client}_reply_text"].read_text().strip()


def test_talon_html_replies_lose_their_quoted_history(corpora: Corpora) -> None:
    # Each of these replies says "Hi. I am fine." to a quoted "Hello! How are you?": the HTML
    # splitter cuts at a quote container where there is one, else the text of the HTML is split.
    failures: list[str] = []
    for path in corpora.require("talon_html"):
        html = path.read_text(encoding="utf-8", errors="replace")
        new_html, quoted_html = split_quoted_html(html)
        new = html_to_text(new_html) if quoted_html else split_quoted(html_to_text(html))[0]
        if "Hi. I am fine." not in new or "How are you" in new:
            failures.append(f"{path.name}: {new!r}")
    assert failures == []

"""parse_mail: best-effort reading of inbound mail (hostile inputs from
`reference/hostile-inputs.md` named by number), and property tests that it never raises
anything but MailTooLarge and always hands out clean strings."""

from __future__ import annotations

import base64
import hashlib
import struct
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpora import string_problems
from sportello.mail.parse import decode_words, html_to_text, parse_mail, sanitize_filename
from sportello.mail.types import Address, Limits, MailAttachment, MailTooLarge, ParsedMail

DATA = Path(__file__).parent / "data"


def mail(headers: str, body: str | bytes = "Hello.\n") -> bytes:
    """A message from header lines and a body (newlines become CRLF)."""
    head = headers.strip("\n").replace("\n", "\r\n").encode("utf-8", "surrogateescape")
    data = body if isinstance(body, bytes) else body.replace("\n", "\r\n").encode("utf-8")
    return head + b"\r\n\r\n" + data


def fixture(name: str) -> ParsedMail:
    return parse_mail((DATA / name).read_bytes())


# --------------------------------------------------------------------------------------------
# Envelope fields


def test_plain_message_fields_are_read() -> None:
    raw = mail(
        """\
Return-Path: <bounce@Lists.Example.ORG>
Delivered-To: Support@Shop.Example
X-Original-To: help@shop.example
From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <Joerg@Example.DE>
Sender: list@lists.example.org
Reply-To: "Jörg (home)" <joerg@home.example>
To: support@shop.example, "Doe, Jane" <jane@shop.example>
Cc: undisclosed-recipients:;
Subject: =?utf-8?q?Bestellung_=E2=84=96_12?= [#7]
Date: Tue, 03 Nov 2026 10:15:00 +0100
Message-ID: <abc.123@example.de>
In-Reply-To: <sportello.reply.7.x1@shop.example>
References: <root@example.de> <sportello.reply.7.x1@shop.example> <root@example.de>
X-Custom: one
X-Custom: two"""
    )
    parsed = parse_mail(raw)
    assert parsed.raw_size == len(raw)
    assert parsed.sha256 == hashlib.sha256(raw).hexdigest()
    assert parsed.message_id == "abc.123@example.de"
    assert parsed.in_reply_to == ("sportello.reply.7.x1@shop.example",)
    assert parsed.references == ("root@example.de", "sportello.reply.7.x1@shop.example")
    assert parsed.subject == "Bestellung № 12 [#7]"
    assert parsed.from_ == (Address(email="Joerg@example.de", name="Jörg Müller"),)
    assert parsed.sender == Address(email="list@lists.example.org")
    assert parsed.reply_to == (Address(email="joerg@home.example", name="Jörg (home)"),)
    assert parsed.to == (
        Address(email="support@shop.example"),
        Address(email="jane@shop.example", name="Doe, Jane"),
    )
    assert parsed.cc == ()
    assert parsed.delivered_to == ("support@shop.example", "help@shop.example")
    assert parsed.return_path == "bounce@lists.example.org"
    assert parsed.date == datetime(2026, 11, 3, 9, 15, tzinfo=UTC)
    assert parsed.text == "Hello.\n"
    assert parsed.html == ""
    assert parsed.attachments == ()
    assert parsed.defects == ()
    assert parsed.headers["x-custom"] == ("one", "two")
    assert parsed.header("FROM") == "Jörg Müller <Joerg@Example.DE>"
    assert parsed.header("x-missing") is None
    assert isinstance(parsed.message, EmailMessage)


def test_missing_message_id_is_none_and_the_hash_identifies_the_mail() -> None:  # 29
    raw = mail("From: a@example.com\nSubject: no id")
    parsed = parse_mail(raw)
    assert parsed.message_id is None
    assert parsed.sha256 == hashlib.sha256(raw).hexdigest()
    assert parsed.return_path is None
    assert parsed.date is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Message-ID: <>", None),
        ("Message-ID: hello world", None),
        ("Message-ID: bare@example.com", "bare@example.com"),
        ("Message-ID: <a\x00b@example.com>", "ab@example.com"),
    ],
)
def test_message_id_is_read_leniently_or_not_at_all(header: str, expected: str | None) -> None:
    assert parse_mail(mail(header)).message_id == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Other person's message of Saturday <id@x.example>", ("id@x.example",)),  # 40
        ("<abc@example", ("abc@example",)),  # truncated
        ("your message of yesterday", ()),
        ("<a@x> <b@x>\n <a@x>", ("a@x", "b@x")),
    ],
)
def test_in_reply_to_ids_are_extracted_leniently(value: str, expected: tuple[str, ...]) -> None:
    assert parse_mail(mail(f"In-Reply-To: {value}")).in_reply_to == expected


def test_references_are_deduplicated_and_bounded_to_the_root_and_the_latest() -> None:
    ids = " ".join(f"<r{i}@x>" for i in range(150))
    parsed = parse_mail(mail(f"References: {ids} <r0@x>"))
    assert parsed.references == ("r0@x", *(f"r{i}@x" for i in range(51, 150)))


@pytest.mark.parametrize(
    ("value", "expected"),
    [("<>", ""), ("<MAILER-DAEMON@Example.COM>", "MAILER-DAEMON@example.com"), ("", "")],
)
def test_return_path(value: str, expected: str) -> None:
    assert parse_mail(mail(f"Return-Path: {value}")).return_path == expected


# --------------------------------------------------------------------------------------------
# Addresses


def test_display_name_is_never_the_address() -> None:  # 36
    parsed = parse_mail(mail('From: "support@ourco.com" <attacker@evil.example>'))
    assert parsed.from_ == (Address(email="attacker@evil.example", name="support@ourco.com"),)


def test_parser_differential_address_is_rejected() -> None:  # 37, CVE-2023-27043
    parsed = parse_mail(mail("From: alice@example.org)<bob@example.net>"))
    assert parsed.from_ == ()
    assert parsed.defects == (
        "from: ambiguous address header ignored: 'alice@example.org)<bob@example.net>'",
    )


def test_two_addresses_where_one_is_written_are_rejected() -> None:
    parsed = parse_mail(mail("From: alice@example.com <bob@example.com>"))
    assert parsed.from_ == ()
    assert parsed.defects == (
        "from: ambiguous address header ignored: 'alice@example.com <bob@example.com>'",
    )


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ("From: a@example.com\nFrom: b@example.com", ("a@example.com", "b@example.com")),  # 38
        ("From: a@example.com, b@example.com", ("a@example.com", "b@example.com")),
        ("From:", ()),
        ("From: undisclosed-recipients:;", ()),
        ("From: Team: a@example.com, b@example.com;", ("a@example.com", "b@example.com")),
        ("From: nobody", ()),
        ("From: a@[127.0.0.1]", ()),
    ],
)
def test_from_mailboxes(headers: str, expected: tuple[str, ...]) -> None:
    assert tuple(a.email for a in parse_mail(mail(headers)).from_) == expected


def test_group_syntax_is_no_address_and_no_defect() -> None:  # 38
    parsed = parse_mail(mail("From: a@example.com\nTo: undisclosed-recipients:;"))
    assert parsed.to == ()
    assert parsed.defects == ()


def test_unusable_address_is_left_out_with_a_defect() -> None:
    parsed = parse_mail(mail("To: nobody, b@example.com"))
    assert parsed.to == (Address(email="b@example.com"),)
    assert parsed.defects == ("to: unusable address 'nobody' ignored",)


# --------------------------------------------------------------------------------------------
# Dates


@pytest.mark.parametrize(
    ("value", "expected", "defects"),
    [
        ("Tue, 3 Nov 2026 10:15:00 +0100", datetime(2026, 11, 3, 9, 15, tzinfo=UTC), ()),
        ("3 Nov 2026 10:15 GMT", datetime(2026, 11, 3, 10, 15, tzinfo=UTC), ()),
        (
            "Tue, 3 Nov 2026 10:15:00 -0000",
            datetime(2026, 11, 3, 10, 15, tzinfo=UTC),
            ("date: no time zone, read as UTC",),
        ),
        ("yesterday at noon", None, ("date: unreadable 'yesterday at noon'",)),  # 15
        ("Tue, 3 Nov 2026 10:15:00 +9999", None, ("date: unreadable 'Tue, 3 Nov 2026 10:15:00 +9999'",)),
        ("Mar, 3 Nov 2026 10:15:00 +0100 (heure d\u2019été)", datetime(2026, 11, 3, 9, 15, tzinfo=UTC), ()),
        (
            "ma, 3 nov 2026 10.15 ÉTÉ",
            datetime(2026, 11, 3, 10, 15, tzinfo=UTC),
            ("date: no time zone, read as UTC",),
        ),
        ("lundi 3 novembre 2026, 10 h 15", None, ("date: unreadable 'lundi 3 novembre 2026, 10 h 15'",)),
    ],
)
def test_date(value: str, expected: datetime | None, defects: tuple[str, ...]) -> None:
    parsed = parse_mail(mail(f"Date: {value}"))
    assert parsed.date == expected
    assert parsed.defects == defects


# --------------------------------------------------------------------------------------------
# Headers and encoded words (14, 17, 18, 27)


@pytest.mark.parametrize(
    ("raw_subject", "expected"),
    [
        (b"=?utf-8?q?caf=C3?= =?utf-8?q?=A9_cr=C3=A8me?=", "café crème"),  # split mid-character
        (b"=?utf-8?b?8J+Ygg==?= ok", "😂 ok"),
        (b"=?iso-8859-1?q?Gr=FC=DFe?=", "Grüße"),
        (b"=?x-unknown?q?caf=C3=A9?=", "café"),
        (b"=?utf-8?q?broken", "=?utf-8?q?broken"),
        (b"caf\xc3\xa9 raw utf-8", "café raw utf-8"),
        (b"caf\xe9 raw latin-1", "café raw latin-1"),
        (b"folded\r\n\tacross lines", "folded across lines"),
        (b"a\x00b\x01c\x7fd", "abcd"),
    ],
)
def test_subject_is_decoded_best_effort(raw_subject: bytes, expected: str) -> None:
    parsed = parse_mail(b"Subject: " + raw_subject + b"\r\n\r\nbody")
    assert parsed.subject == expected


def test_long_unicode_subject_is_kept_whole() -> None:  # 18
    subject = ("e\u0301🙂" * 3400)[:10_000]
    parsed = parse_mail(mail(f"Subject: =?utf-8?b?{base64.b64encode(subject.encode()).decode()}?="))
    assert parsed.subject == subject


def test_a_one_megabyte_header_is_cut_with_a_defect() -> None:  # 27
    parsed = parse_mail(b"Subject: " + b"ab " * 350_000 + b"\r\nX-Other: kept\r\n\r\nbody")
    assert parsed.subject == ("ab " * 21846)[:65536].strip()
    assert parsed.headers["x-other"] == ("kept",)
    assert parsed.defects == ("header 'Subject': cut to 65536 characters",)


def test_ten_thousand_encoded_words_are_decoded() -> None:  # 27
    raw = b"Subject: " + b"=?utf-8?q?ab?= " * 10_000 + b"\r\n\r\nbody"
    parsed = parse_mail(raw, limits=Limits(max_header_chars=200_000))
    assert parsed.subject == "ab" * 10_000
    assert parsed.defects == ()
    # With the default limit the header is cut within the 4370th of them (15 characters each).
    parsed = parse_mail(raw)
    assert parsed.subject == "ab" * 4369 + " ="
    assert parsed.defects == ("header 'Subject': cut to 65536 characters",)


def test_header_limit_is_configurable() -> None:
    parsed = parse_mail(mail("Subject: " + "x" * 100), limits=Limits(max_header_chars=10))
    assert parsed.subject == "x" * 10
    assert parsed.defects == ("header 'Subject': cut to 10 characters",)


def test_nul_and_controls_never_come_out() -> None:  # 17
    raw = mail(
        'From: "Ev\x00e" <eve@example.com>\nSubject: a\x00b\nX-Null: x\x00y\nContent-Type: text/plain',
        b"line\x00one\r\ntab\there\x07\r\n",
    )
    parsed = parse_mail(raw)
    assert parsed.subject == "ab"
    assert parsed.from_ == (Address(email="eve@example.com", name="Eve"),)
    assert parsed.headers["x-null"] == ("xy",)
    assert parsed.text == "lineone\ntab\there\n"


def test_decode_words_joins_a_character_split_across_words() -> None:
    assert decode_words("=?utf-8?b?4oI=?= =?utf-8?b?rA==?= net") == "€ net"


# --------------------------------------------------------------------------------------------
# Bodies


def test_html_only_mail_gets_text_from_its_html() -> None:  # 19
    html = (
        "<html><head><title>T</title><style>p{color:red}</style></head><body>"
        "<p>Hello <b>world</b>,</p><script>alert(1)</script>"
        "<div>second&nbsp;line &amp; more</div><ul><li>one</li><li>two</li></ul>"
        "<blockquote><p>quoted</p></blockquote><!-- hidden --></body></html>"
    )
    parsed = parse_mail(mail("Content-Type: text/html; charset=utf-8", html))
    assert parsed.html == html
    assert parsed.text == "Hello world,\n\nsecond line & more\none\ntwo\n> quoted"


def test_attachment_only_mail_has_no_text() -> None:  # 20
    raw = mail(
        'Content-Type: application/pdf; name="a.pdf"\nContent-Disposition: attachment; filename="a.pdf"',
        "%PDF-1.4\n",
    )
    parsed = parse_mail(raw)
    assert (parsed.text, parsed.html) == ("", "")
    assert parsed.attachments == (
        MailAttachment(filename="a.pdf", content_type="application/pdf", content=b"%PDF-1.4\r\n"),
    )


def test_alternative_prefers_plain_text_and_keeps_the_html_and_the_inline_image() -> None:
    parsed = fixture("inline_image.eml")
    assert parsed.text == "Here is the error.\n[image: screenshot.png]\n"
    assert parsed.html == '<div>Here is the error.</div><img src="cid:shot-1@example.org">'
    assert parsed.attachments == (
        MailAttachment(
            filename="screenshot.png",
            content_type="image/png",
            content=b"\x89PNG\r\n\x1a\n",
            inline=True,
            content_id="shot-1@example.org",
        ),
    )


def test_text_around_an_inline_image_is_all_kept() -> None:
    parsed = fixture("apple_mixed.eml")
    assert parsed.text == "First photo:\nand that is all."  # a part's last line break is the boundary's
    assert [a.filename for a in parsed.attachments] == ["a.jpg"]


@pytest.mark.parametrize(
    ("charset", "payload", "text", "defect"),
    [  # 10
        ("uft-8", "café".encode(), "café", "message: unknown charset 'uft-8', decoded as utf-8"),
        (
            "x-unknown",
            b"caf\xe9",
            "café",
            "message: unknown charset 'x-unknown', decoded as cp1252 with replacement",
        ),
        ("iso-0646-6", b"plain", "plain", "message: unknown charset 'iso-0646-6', decoded as utf-8"),
        ("unicode-1-1-utf-7", b"caf+AOk-", "café", None),
        ("us-ascii", "café".encode(), "café", "message: 8-bit bytes in 'us-ascii' text, decoded as utf-8"),
        ("iso-8859-1", b"\x93quoted\x94", "\u201cquoted\u201d", None),  # read as windows-1252
        (
            "utf-8",
            b"caf\xe9",
            "caf\ufffd",
            "message: bytes invalid for charset 'utf-8', decoded with replacement characters",
        ),  # 11
        ("koi8-r", "привет".encode("koi8-r"), "привет", None),
        ("base64", b"aGk=", "aGk=", "message: unknown charset 'base64', decoded as utf-8"),
    ],
)
def test_body_charsets(charset: str, payload: bytes, text: str, defect: str | None) -> None:
    parsed = parse_mail(mail(f"Content-Type: text/plain; charset={charset}", payload))
    assert parsed.text == text
    assert parsed.defects == ((defect,) if defect else ())


def test_utf32_base64_body_decodes_in_bounded_time() -> None:  # 12
    body = ("F" * 76 + "\n") * 100
    parsed = parse_mail(
        mail("Content-Type: text/plain; charset=utf-32le\nContent-Transfer-Encoding: base64", body)
    )
    assert set(parsed.text) == {"\ufffd"}
    assert parsed.defects == (
        "message: bytes invalid for charset 'utf-32le', decoded with replacement characters",
    )


def test_multipart_without_boundary_is_read_as_text() -> None:  # 13
    parsed = parse_mail(mail("Content-Type: multipart/mixed", "Just text.\n"))
    assert parsed.text == "Just text.\n"
    assert parsed.defects == (
        "message: multipart/mixed without usable parts, read as text",
        "message: NoBoundaryInMultipartDefect",
        "message: MultipartInvariantViolationDefect",
    )


def test_missing_close_boundary_keeps_the_parts() -> None:  # 13
    parsed = parse_mail(
        mail(
            "Content-Type: multipart/mixed; boundary=B",
            "--B\nContent-Type: text/plain\n\nfirst\n--B\nContent-Type: text/plain\n\nsecond\n",
        )
    )
    assert parsed.text == "first\nsecond"
    assert parsed.defects == ("message: CloseBoundaryNotFoundDefect",)


def test_missing_header_body_separator_keeps_the_body() -> None:  # 13
    parsed = parse_mail(b"Subject: s\r\nFrom: a@example.com\r\nthis line is no header\r\nmore\r\n")
    assert parsed.subject == "s"
    assert parsed.text == "this line is no header\nmore\n"
    assert parsed.defects == ("message: MissingHeaderBodySeparatorDefect",)


# --------------------------------------------------------------------------------------------
# Attachments


def test_filenames_are_decoded_and_sanitised() -> None:  # 7, 8, 9, 6
    parsed = fixture("filenames.eml")
    assert [(a.filename, a.content_type) for a in parsed.attachments] == [
        ("€ rates été.pdf", "application/pdf"),
        ("Отчёт.txt", "text/plain"),
        ("passwd", "application/octet-stream"),
        ("invoicefdp.exe", "application/x-msdownload"),
        ("notes.txt", "application/octet-stream"),
        ("attachment.pdf", "application/pdf"),
    ]
    assert parsed.text == "Files attached."
    assert parsed.defects == (
        "part 4: filename '../../etc/passwd' shown as 'passwd'",
        "part 5: filename 'invoice\\u202efdp.exe' shown as 'invoicefdp.exe'",  # escaped
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [  # 7
        ("../../etc/passwd", "passwd"),
        ("..\\..\\x", "x"),
        ("/abs/path", "path"),
        ("C:\\Users\\me\\report.docx", "report.docx"),
        ("a\x00.pdf", "a.pdf"),
        ("..", "attachment.bin"),
        ("", "attachment.bin"),
        ("dir/", "attachment.bin"),
        ("  tab\there  ", "tab here"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),  # 9
        ("\u2066evil\u2069.txt\u200f", "evil.txt"),
        ("x" * 300 + ".pdf", "x" * 251 + ".pdf"),
        ("y" * 300, "y" * 255),
    ],
)
def test_sanitize_filename(name: str, expected: str) -> None:
    assert sanitize_filename(name) == expected


def test_empty_filename_gets_an_extension_from_the_type() -> None:
    assert sanitize_filename("", content_type="image/jpeg") == "attachment.jpg"
    assert sanitize_filename("", content_type="x-unknown/thing") == "attachment"


def test_forwarded_message_is_kept_whole_and_not_read() -> None:  # 22
    parsed = fixture("forwarded.eml")
    assert parsed.message_id == "outer-1@example.it"
    assert parsed.in_reply_to == ()
    assert parsed.references == ()
    assert parsed.subject == "Fwd: your order"
    assert parsed.text == "See the message below.\n"
    [forwarded] = parsed.attachments
    assert (forwarded.filename, forwarded.content_type, forwarded.origin) == (
        "[#42] Your order.eml",
        "message/rfc822",
        "rfc822",
    )
    assert forwarded.content == (
        b"From: Shop <noreply@shop.example>\r\nTo: carla@example.it\r\nSubject: [#42] Your order\r\n"
        b"Message-ID: <sportello.reply.42.abc@shop.example>\r\nIn-Reply-To: <other@shop.example>\r\n"
        b"References: <root@shop.example>\r\n\r\nYour order has shipped.\r\n"
    )


def test_forwarded_message_without_subject_is_named_forwarded() -> None:
    raw = mail(
        "Content-Type: multipart/mixed; boundary=B",
        "--B\nContent-Type: message/rfc822\n\nFrom: x@example.com\n\nhi\n--B--\n",
    )
    assert [a.filename for a in parse_mail(raw).attachments] == ["forwarded.eml"]


# --------------------------------------------------------------------------------------------
# winmail.dat (21): built here, the tnefparse samples are LGPL (the corpus tests use them)


def tnef_object(level: int, name: int, kind: int, data: bytes) -> bytes:
    return struct.pack("<BHHI", level, name, kind, len(data)) + data + struct.pack("<H", sum(data) & 0xFFFF)


def tnef(*objects: bytes) -> bytes:
    return struct.pack("<IH", 0x223E9F78, 1) + b"".join(objects)


TNEF_VERSION = tnef_object(1, 0x9006, 8, struct.pack("<I", 0x10000))
TNEF_CODEPAGE = tnef_object(1, 0x9007, 6, struct.pack("<II", 1252, 0))


def tnef_file(name: bytes, content: bytes) -> bytes:
    return (
        tnef_object(2, 0x9002, 6, b"\x00" * 14)
        + tnef_object(2, 0x8010, 1, name + b"\x00")
        + tnef_object(2, 0x800F, 6, content)
    )


def tnef_mail(data: bytes, content_type: str = "application/ms-tnef") -> bytes:
    return mail(
        "Subject: tnef\nContent-Type: multipart/mixed; boundary=B",
        "--B\nContent-Type: text/plain\n\nSee attached.\n"
        f'--B\nContent-Type: {content_type}\nContent-Disposition: attachment; filename="winmail.dat"\n'
        "Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(data).decode() + "--B--\n",
    )


def test_winmail_dat_is_unpacked_and_kept() -> None:
    data = tnef(
        TNEF_VERSION,
        TNEF_CODEPAGE,
        tnef_file(b"hello.txt", b"Hello from TNEF\n"),
        tnef_file(b"caf\xe9.csv", b"a;b\n"),
    )
    parsed = parse_mail(tnef_mail(data, "application/octet-stream"))
    assert parsed.attachments == (
        MailAttachment(filename="winmail.dat", content_type="application/octet-stream", content=data),
        MailAttachment(
            filename="hello.txt", content_type="text/plain", content=b"Hello from TNEF\n", origin="tnef"
        ),
        MailAttachment(filename="café.csv", content_type="text/csv", content=b"a;b\n", origin="tnef"),
    )
    assert parsed.text == "See attached."
    assert parsed.defects == ()


def test_winmail_dat_body_is_the_text_of_a_mail_without_one() -> None:
    data = tnef(TNEF_VERSION, TNEF_CODEPAGE, tnef_object(1, 0x800C, 2, b"Body from Outlook\x00"))
    raw = mail(
        "Content-Type: application/ms-tnef\nContent-Transfer-Encoding: base64",
        base64.encodebytes(data).decode(),
    )
    parsed = parse_mail(raw)
    assert parsed.text == "Body from Outlook"
    assert [a.filename for a in parsed.attachments] == ["winmail.dat"]


@pytest.mark.parametrize(
    ("data", "defect"),
    [
        (b"not a tnef at all", "part 2: malformed winmail.dat not unpacked (ValueError)"),
        (
            tnef(TNEF_VERSION, tnef_object(2, 0x800F, 6, b"data before any attachment")),
            "part 2: malformed winmail.dat not unpacked (UnboundLocalError)",
        ),
        # MAPI properties claiming 4 billion entries: tnefparse would loop over all of them.
        (
            tnef(TNEF_VERSION, tnef_object(1, 0x9003, 6, struct.pack("<I", 0xFFFFFFFF) + b"\x00" * 8)),
            "part 2: winmail.dat not unpacked (MAPI property count larger than its data)",
        ),
        # A multi-valued short with 4 billion values: tnefparse would build them all.
        (
            tnef(TNEF_VERSION, tnef_object(1, 0x9003, 6, struct.pack("<IHHI", 1, 0x1002, 1, 0xFFFFFFFF))),
            "part 2: winmail.dat not unpacked (MAPI value count larger than its data)",
        ),
        # Tens of thousands of objects: tnefparse copies the rest of the data for each one.
        (
            tnef(*[tnef_object(1, 0x8008, 8, b"")] * 20_000),
            "part 2: winmail.dat not unpacked (too many objects)",
        ),
    ],
)
def test_malformed_or_hostile_winmail_dat_never_aborts(data: bytes, defect: str) -> None:
    parsed = parse_mail(tnef_mail(data))
    assert [(a.filename, a.content, a.origin) for a in parsed.attachments] == [("winmail.dat", data, "part")]
    assert parsed.text == "See attached."
    assert parsed.defects == (defect,)


# --------------------------------------------------------------------------------------------
# Limits (25)


def multipart(parts: int, *, attachment: bool = False) -> bytes:
    disposition = 'Content-Disposition: attachment; filename="f.bin"\n' if attachment else ""
    body = "".join(f"--B\nContent-Type: application/octet-stream\n{disposition}\nx\n" for _ in range(parts))
    return mail("Content-Type: multipart/mixed; boundary=B", body + "--B--\n")


def nested(depth: int) -> bytes:
    """A message whose text is `depth` multiparts deep (the message itself is the first)."""
    head = "".join(f"Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n" for i in range(1, depth))
    tail = "".join(f"\n--b{i}--\n" for i in reversed(range(depth)))
    return mail(
        "Subject: deep\nContent-Type: multipart/mixed; boundary=b0",
        "--b0\n" + head + "Content-Type: text/plain\n\ndeep\n" + tail,
    )


def test_too_many_bytes() -> None:
    with pytest.raises(MailTooLarge) as raised:
        parse_mail(b"x" * 101, limits=Limits(max_bytes=100))
    assert raised.value.reason == "message of 101 bytes is larger than 100"


def test_too_many_parts() -> None:
    assert len(parse_mail(multipart(4), limits=Limits(max_parts=5)).attachments) == 4
    with pytest.raises(MailTooLarge) as raised:
        parse_mail(multipart(5), limits=Limits(max_parts=5))
    assert raised.value.reason == "more than 5 MIME parts"
    with pytest.raises(MailTooLarge):
        parse_mail(multipart(10_000))


def test_too_deep() -> None:
    assert parse_mail(nested(3), limits=Limits(max_depth=3)).text == "deep\n"
    with pytest.raises(MailTooLarge) as raised:
        parse_mail(nested(4), limits=Limits(max_depth=3))
    assert raised.value.reason == "MIME parts nested more than 3 deep"
    with pytest.raises(MailTooLarge):
        parse_mail(nested(200))


def test_too_many_attachments() -> None:
    assert len(parse_mail(multipart(2, attachment=True), limits=Limits(max_attachments=2)).attachments) == 2
    with pytest.raises(MailTooLarge) as raised:
        parse_mail(multipart(3, attachment=True), limits=Limits(max_attachments=2))
    assert raised.value.reason == "more than 2 attachments"
    with pytest.raises(MailTooLarge):
        parse_mail(multipart(400, attachment=True))


# --------------------------------------------------------------------------------------------
# html_to_text


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("a<br>b<br/>c", "a\nb\nc"),
        ("<p>one</p><p>two</p>", "one\n\ntwo"),
        ("<pre>  keep\n   spaces</pre>", "  keep\n   spaces"),
        ("x &lt;y&gt; &#233; &eacute; &bogus;", "x <y> é é &bogus;"),
        ("<a title='>'>link</a>", "link"),
        ("<script>never</script>shown", "shown"),
        ("<script>unclosed", "unclosed"),
        ("1 < 2 and 3 > 2", "1 < 2 and 3 > 2"),
        ("<!-- unclosed comment", ""),
        ("<table><tr><td>a</td><td>b</td></tr></table>", "a b"),
        ("<blockquote>q<blockquote>qq</blockquote></blockquote>", "> q\n> > qq"),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


# --------------------------------------------------------------------------------------------
# Properties: never an exception but MailTooLarge, always clean strings


def parse_checked(raw: bytes) -> None:
    try:
        parsed = parse_mail(raw)
    except MailTooLarge:
        return
    assert string_problems(parsed) == []
    assert parsed.raw_size == len(raw)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    parse_checked(raw)


HEADER_NAMES = ["From", "To", "Cc", "Reply-To", "Sender", "Subject", "Date", "Message-ID", "In-Reply-To"]
HEADER_NAMES += ["References", "Return-Path", "Delivered-To", "X-Original-To", "Content-ID", "X-Any"]
CHARSETS = ["utf-8", "uft-8", "x-unknown", "iso-8859-1", "koi8-r", "utf-16", "utf-32le", "iso-2022-jp"]
CHARSETS += ["unicode-1-1-utf-7", "_iso-2022-jp$ESC", "base64", "idna", "undefined", ""]
ENCODINGS = ["7bit", "8bit", "base64", "quoted-printable", "x-uuencode", "bogus", ""]
TYPES = ["text/plain", "text/html", "text/calendar", "image/png", "application/ms-tnef", "bogus"]
TYPES += ["message/rfc822", "message/delivery-status", "multipart/mixed"]

header_text = st.one_of(
    st.text(max_size=60),
    st.sampled_from(
        [
            "=?utf-8?q?caf=C3?= =?utf-8?q?=A9?=",
            "=?x-bad?b?!!!?=",
            "alice@example.org)<bob@example.net>",
            "undisclosed-recipients:;",
            '"a@b" <c@d>',
            "<id@x",
            "(((((((((((((((((((((x)))))))))))))))))))))",
            "Mon, 1 Jan 2024 10:00:00 +9999",
            "\x00\r\n\t",
        ]
    ),
)


@st.composite
def headers(draw: st.DrawFn) -> str:
    pairs = draw(st.lists(st.tuples(st.sampled_from(HEADER_NAMES), header_text), max_size=6))
    return "".join(f"{name}: {value}\n" for name, value in pairs)


@st.composite
def leaf(draw: st.DrawFn) -> str:
    content_type = draw(st.sampled_from(TYPES))
    charset = draw(st.sampled_from(CHARSETS))
    encoding = draw(st.sampled_from(ENCODINGS))
    name = draw(st.one_of(st.none(), st.text(max_size=20), st.just("winmail.dat"), st.just("../x\u202e.exe")))
    body = draw(st.text(max_size=200))
    if encoding == "base64" and draw(st.booleans()):
        body = base64.encodebytes(body.encode("utf-8", "surrogatepass")).decode()
    lines = [f"Content-Type: {content_type}" + (f"; charset={charset}" if charset else "")]
    if encoding:
        lines.append(f"Content-Transfer-Encoding: {encoding}")
    if name is not None:
        lines.append(
            f'Content-Disposition: {draw(st.sampled_from(["attachment", "inline"]))}; filename="{name}"'
        )
    if draw(st.booleans()):
        lines.append("Content-ID: <" + draw(st.text(max_size=10)) + ">")
    return draw(headers()) + "\n".join(lines) + "\n\n" + body + "\n"


def tree(depth: int) -> st.SearchStrategy[str]:
    if depth == 0:
        return leaf()

    @st.composite
    def container(draw: st.DrawFn) -> str:
        boundary = draw(st.sampled_from(["b" * (depth + 1), "", "x y"]))
        subtype = draw(st.sampled_from(["mixed", "alternative", "related", "report", "digest"]))
        children = draw(st.lists(tree(depth - 1), max_size=3))
        close = draw(st.booleans())
        parts = "".join(f"--{boundary}\n{child}" for child in children)
        head = f'Content-Type: multipart/{subtype}; boundary="{boundary}"\n\n'
        return draw(headers()) + head + parts + (f"--{boundary}--\n" if close else "")

    return st.one_of(leaf(), container())


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(tree(3))
def test_random_mime_trees_never_raise(message: str) -> None:
    parse_checked(message.replace("\n", "\r\n").encode("utf-8", "surrogatepass"))

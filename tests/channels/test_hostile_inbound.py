"""Hostile inbound mail through the whole intake (numbers: the items of the reference's list of
hostile inputs). Parsing-level cases are in test_parse.py, classification in test_classify.py,
threading and loops in test_inbound.py; these are the ones that need the desk around them."""

from __future__ import annotations

import io
import zipfile
from email.message import EmailMessage
from typing import Any

import pytest

from channels.test_inbound import BOOKS, _mail, agent_reply, ingest, mail  # noqa: F401  (_mail: autouse fixture)
from sportello.channels.models import InboundMail
from sportello.contacts.models import Contact
from sportello.tickets.models import Attachment, Message, Ticket


@pytest.mark.parametrize(
    ("html", "gone"),
    [
        ('<a href="jav&#x09;ascript:alert(1)">click</a>', "javascript"),  # 2
        ('<base href="https://evil.test/"><p>hi</p>', "<base"),  # 3
        ('<meta http-equiv="refresh" content="0;url=https://evil.test"><p>hi</p>', "<meta"),  # 3
        ('<form action="//evil.test"><input name=x></form><p>hi</p>', "<form"),  # 3
        ("<style>@import url(https://evil.test/x.css);</style><p>hi</p>", "@import"),  # 3
        ("<details open ontoggle=alert(1)><p>hi</p></details>", "ontoggle"),  # 1
        ("<svg onload=alert(1)></svg><p>hi</p>", "onload"),  # 1
    ],
)
def test_active_html_never_reaches_the_stored_message(desk: Any, html: str, gone: str) -> None:
    result = ingest(mail(body="", html=html, message_id=None))
    message = Message.objects.get(pk=result.message_id)
    assert gone not in message.body_html.lower()
    assert "\x00" not in message.body_text


@pytest.mark.parametrize(
    "codec",
    [
        "big5",
        "big5hkscs",
        "cp949",
        "euc_jisx0213",
        "euc_jp",
        "euc_kr",
        "gb18030",
        "gb2312",
        "gbk",
        "hz",
        "iso2022_jp",
        "iso2022_kr",
        "johab",
        "shift_jis",
        "shift_jisx0213",
    ],
)
def test_cjk_bodies_arrive_as_written(desk: Any, codec: str) -> None:  # 16
    korean, japanese = "안녕하세요 주문", "注文した本が届きません"
    simplified, traditional = "我订购的书没有到", "我訂購的書沒有到"
    if codec in ("iso2022_kr", "cp949", "euc_kr", "johab"):
        text = korean
    elif "jp" in codec or "jis" in codec:
        text = japanese
    else:
        text = traditional if codec.startswith("big5") else simplified
    body = text.encode(codec)
    raw = (
        (
            f"From: li@customer.test\r\nTo: {BOOKS}\r\nSubject: order\r\n"
            f"Message-ID: <{codec}@customer.test>\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset={codec}\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n"
        ).encode()
        + body
        + b"\r\n"
    )
    result = ingest(raw)
    assert Message.objects.get(pk=result.message_id).body_text.strip() == text


def test_an_archive_is_stored_as_it_is_never_unpacked(desk: Any) -> None:  # 26
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("big.txt", b"0" * 5_000_000)  # 5 MB of zeros: a few KB zipped
    m = EmailMessage()
    m["From"] = "carla@customer.test"
    m["To"] = BOOKS
    m["Subject"] = "logs"
    m["Message-ID"] = "<zip@customer.test>"
    m.set_content("Logs attached.")
    m.add_attachment(buffer.getvalue(), maintype="application", subtype="zip", filename="logs.zip")
    result = ingest(m.as_bytes())
    [a] = Attachment.objects.filter(message_id=result.message_id)
    assert (a.filename, a.size, a.content_type) == ("logs.zip", len(buffer.getvalue()), "application/zip")


def test_a_display_name_that_looks_like_our_address_identifies_nobody(desk: Any) -> None:  # 36
    result = ingest(mail(sender='"books@shop.test" <attacker@evil.test>', message_id="<s@evil.test>"))
    assert result.status == "ticket"
    assert Ticket.objects.get(pk=result.ticket_id).requester.email == "attacker@evil.test"
    assert not Contact.objects.filter(email=BOOKS).exists()


@pytest.mark.parametrize(
    "sender",
    ["undisclosed-recipients:;", "alice@example.org)<bob@example.net>"],  # 38, 37
)
def test_no_usable_sender_is_quarantined(desk: Any, sender: str) -> None:
    raw = f"From: {sender}\r\nTo: {BOOKS}\r\nSubject: hi\r\nMessage-ID: <q@x.test>\r\n\r\nhello\r\n".encode()
    result = ingest(raw)
    assert (result.status, result.reason) == ("quarantine", "no sender address")


def test_our_own_control_headers_from_outside_grant_nothing(desk: Any) -> None:  # 39
    victim = Ticket.objects.get(pk=ingest(mail()).ticket_id)
    forged = {"X-Sportello-Ticket": str(victim.number), "X-Sportello-Internal": "1"}
    result = ingest(
        mail(sender="mallory@evil.test", subject="hello", message_id="<h@evil.test>", headers=forged)
    )
    assert result.status == "ticket"
    assert result.ticket_id != victim.pk
    assert Message.objects.filter(ticket=victim).count() == 1


def test_an_out_of_office_to_a_closed_ticket_is_kept_and_opens_nothing(desk: Any) -> None:  # 44
    ticket = Ticket.objects.get(pk=ingest(mail()).ticket_id)
    agent_reply(desk, ticket, status="closed")
    headers = {"Auto-Submitted": "auto-replied", "In-Reply-To": "<m1@customer.test>"}
    result = ingest(mail(subject="Automatic reply", message_id="<ooo2@customer.test>", headers=headers))
    assert (result.status, result.ticket_id) == ("ignored", ticket.pk)
    assert result.reason.startswith("automatic reply to a closed ticket")
    assert Ticket.objects.count() == 1
    assert InboundMail.objects.get(pk=result.inbound_id).raw_key


def test_a_signed_message_is_taken_as_mail_never_as_verified(desk: Any) -> None:  # 28
    # given an S/MIME signed message whose signature nobody here checks
    raw = (
        f"From: carla@customer.test\r\nTo: {BOOKS}\r\nSubject: signed\r\nMessage-ID: <sig@customer.test>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/signed; protocol="application/pkcs7-signature"; '
        'micalg=sha-256; boundary="S"\r\n\r\n'
        "--S\r\nContent-Type: text/plain\r\n\r\nPlease refund order A1234567.\r\n"
        '--S\r\nContent-Type: application/pkcs7-signature; name="smime.p7s"\r\n'
        'Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename="smime.p7s"\r\n\r\n'
        "MIAGCSqGSIb3DQEHAqCAMIACAQExDzANBglghkgBZQMEAgEFADCABgkqhkiG9w0BBwEAAKCAMIIB\r\n--S--\r\n"
    ).encode()
    result = ingest(raw)
    # then the text is the message; the signature is kept as a file; nothing claims it verified
    message = Message.objects.get(pk=result.message_id)
    assert message.body_text.strip() == "Please refund order A1234567."
    assert list(Attachment.objects.filter(message=message).values_list("filename", flat=True)) == [
        "smime.p7s"
    ]
    row = InboundMail.objects.get(pk=result.inbound_id)
    assert (row.status, row.reason) == ("ticket", "")  # taken as plain mail: no claim either way


def test_copied_addresses_become_participants_up_to_a_cap(desk: Any) -> None:  # 57
    # given a first mail copied to 60 colleagues
    cc = ", ".join(f"c{i:02}@customer.test" for i in range(60))
    result = ingest(mail(to=BOOKS, headers={"Cc": cc}))
    row = InboundMail.objects.get(pk=result.inbound_id)
    # then only the first 48 (in address order) take part in the ticket
    assert row.participants.strip(",").split(",") == [f"c{i:02}@customer.test" for i in range(48)]
    ok = ingest(mail(sender="c47@customer.test", message_id="<p47@customer.test>",
                     headers={"In-Reply-To": "<m1@customer.test>"}))  # fmt: skip
    capped = ingest(mail(sender="c48@customer.test", message_id="<p48@customer.test>",
                         headers={"In-Reply-To": "<m1@customer.test>"}))  # fmt: skip
    assert (ok.status, ok.ticket_id) == ("reply", result.ticket_id)
    assert capped.status == "ticket"
    assert capped.ticket_id != result.ticket_id


def test_attachment_only_mail_gets_a_placeholder_body(desk: Any) -> None:  # 20
    m = EmailMessage()
    m["From"] = "carla@customer.test"
    m["To"] = BOOKS
    m["Subject"] = "scan"
    m["Message-ID"] = "<scan@customer.test>"
    m.add_attachment(b"%PDF-1.4 scan", maintype="application", subtype="pdf", filename="scan.pdf")
    result = ingest(m.as_bytes())
    message = Message.objects.get(pk=result.message_id)
    assert message.body_text == "(no text: see the attachments)"
    assert [a.filename for a in message.attachments.all()] == ["scan.pdf"]

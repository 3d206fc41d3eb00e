"""`mail.classify`: automatic, bulk and looping mail by its headers, and bounces (RFC 3464
reports read here, free-text ones through flufl.bounce), on hand-written messages and on the
117 samples of the flufl.bounce sdist. Pure Python: no database."""

from __future__ import annotations

import ast
import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corpora import Corpora
from sportello.mail import ids
from sportello.mail.classify import Automation, Bounce, automation, bounce, looks_like_bounce

DOMAIN = "desk.example"
OURS = ("support@shop.example", "returns@shop.example")
BOUNCES = Path(__file__).parent / "bounces"


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def mail(headers: str, body: str = "Hello, my parcel has not arrived yet.\n") -> EmailMessage:
    """A message with the given extra header lines after a customer's ordinary ones (a later
    From replaces the default one)."""
    lines = [line for line in headers.strip().splitlines() if line]
    names = {line.split(":", 1)[0].lower() for line in lines}
    base = [
        "From: Anna Rossi <anna@customer.example>",
        "To: support@shop.example",
        "Subject: My order 1234",
        "Date: Tue, 3 Mar 2026 09:00:00 +0000",
        "Message-ID: <abc123@customer.example>",
    ]
    base = [line for line in base if line.split(":", 1)[0].lower() not in names]
    return parse(("\r\n".join([*base, *lines]) + "\r\n\r\n" + body).encode())


def fixture(name: str) -> EmailMessage:
    return parse((BOUNCES / name).read_bytes())


def classify(message: EmailMessage, *, overrides: tuple[str, ...] = ()) -> Automation:
    return automation(message, our_domain=DOMAIN, our_addresses=OURS, sender_overrides=overrides)


# --- automatic, bulk and looping mail ------------------------------------------------------


def test_an_ordinary_customer_message_is_human_and_not_automatic() -> None:
    assert classify(mail("")) == Automation(automatic=False, reasons=(), human=True, ours=False)


@pytest.mark.parametrize("value", ["auto-replied", "Auto-Replied; owner-email=anna@customer.example"])
def test_an_out_of_office_reply_is_automatic_and_not_human(value: str) -> None:
    # given an RFC 3834 auto-reply (hostile item 44), whatever the case and parameters
    result = classify(mail(f"Auto-Submitted: {value}"))
    # then no auto-reply goes back and it does not reopen a ticket
    assert result == Automation(
        automatic=True, reasons=("Auto-Submitted: auto-replied",), human=False, ours=False
    )


def test_auto_generated_is_automatic_and_not_human() -> None:
    result = classify(mail("Auto-Submitted: auto-generated"))
    assert result == Automation(
        automatic=True, reasons=("Auto-Submitted: auto-generated",), human=False, ours=False
    )


def test_auto_submitted_no_is_a_human_message() -> None:
    result = classify(mail("Auto-Submitted: No"))
    assert result == Automation(automatic=False, reasons=(), human=True, ours=False)


@pytest.mark.parametrize("value", ["", "@@@", "(comment only)", "auto replied"])
def test_a_malformed_auto_submitted_counts_as_absent(value: str) -> None:
    assert classify(mail(f"Auto-Submitted: {value}")).reasons == ()


@pytest.mark.parametrize("value", ["bulk", "list", "junk", "BULK"])
def test_bulk_list_and_junk_precedence_are_automatic_and_not_human(value: str) -> None:
    result = classify(mail(f"Precedence: {value}"))
    assert result == Automation(
        automatic=True, reasons=(f"Precedence: {value.lower()}",), human=False, ours=False
    )


def test_first_class_precedence_is_ordinary() -> None:
    assert classify(mail("Precedence: first-class")).reasons == ()


def test_a_list_post_is_automatic_but_still_human() -> None:
    result = classify(mail("List-Id: Shop customers <customers.lists.customer.example>"))
    assert result == Automation(automatic=True, reasons=("List-Id",), human=True, ours=False)


def test_x_loop_naming_someone_else_is_automatic_but_not_ours() -> None:
    result = classify(mail("X-Loop: helpdesk@other.example"))
    assert result == Automation(automatic=True, reasons=("X-Loop",), human=True, ours=False)


@pytest.mark.parametrize("value", ["support@shop.example", "desk.example", "Support <SUPPORT@SHOP.EXAMPLE>"])
def test_x_loop_naming_us_is_our_own_message(value: str) -> None:
    result = classify(mail(f"X-Loop: {value}"))
    assert result == Automation(automatic=True, reasons=("X-Loop", "our loop header"), human=False, ours=True)


def test_our_loop_header_naming_our_domain_is_ours() -> None:
    result = classify(mail("X-Sportello-Loop: desk.example"))
    assert result == Automation(
        automatic=True, reasons=("X-Sportello-Loop", "our loop header"), human=False, ours=True
    )


def test_another_sportello_desk_is_automatic_but_not_ours() -> None:
    result = classify(mail("X-Sportello-Loop: desk.other.example"))
    assert result == Automation(automatic=True, reasons=("X-Sportello-Loop",), human=True, ours=False)


def test_a_null_return_path_is_automatic_and_not_human() -> None:
    result = classify(mail("Return-Path: <>"))
    assert result == Automation(automatic=True, reasons=("null return path",), human=False, ours=False)


@pytest.mark.parametrize(
    ("sender", "reason"),
    [
        ("Mail Delivery Subsystem <MAILER-DAEMON@mx.customer.example>", "mailer-daemon sender"),
        ("MAILER-DAEMON@mx.customer.example (Mail Delivery System)", "mailer-daemon sender"),
        ("postmaster@customer.example", "postmaster sender"),
        ("System Administrator <Postmaster@Customer.Example>", "postmaster sender"),
    ],
)
def test_daemon_and_postmaster_senders_are_automatic_and_not_human(sender: str, reason: str) -> None:
    result = classify(mail(f"From: {sender}"))
    assert result == Automation(automatic=True, reasons=(reason,), human=False, ours=False)


@pytest.mark.parametrize(
    ("value", "reason"), [("OOF", "OOF"), ("All", "All"), ("DR, OOF, AutoReply", "OOF, AutoReply")]
)
def test_x_auto_response_suppress_blocks_auto_replies_but_stays_human(value: str, reason: str) -> None:
    # given an Outlook user's ordinary reply (hostile item 46)
    result = classify(mail(f"X-Auto-Response-Suppress: {value}"))
    # then we send no auto-reply, but the reply may still reopen the ticket
    assert result == Automation(
        automatic=True, reasons=(f"X-Auto-Response-Suppress: {reason}",), human=True, ours=False
    )


def test_suppressing_only_receipts_does_not_make_a_message_automatic() -> None:
    assert classify(mail("X-Auto-Response-Suppress: DR, RN, NRN")).reasons == ()


def test_our_own_message_id_coming_back_is_ours() -> None:
    ours = ids.message_id(domain=DOMAIN, kind="notification", ticket_id=42, unique="n1")
    result = classify(mail(f"Message-ID: <{ours}>"))
    assert result == Automation(automatic=True, reasons=("our Message-ID",), human=False, ours=True)


def test_a_message_id_of_another_desk_is_not_ours() -> None:
    other = ids.message_id(domain="desk.other.example", kind="reply", ticket_id=42, unique="n1")
    assert classify(mail(f"Message-ID: <{other}>")).ours is False


@pytest.mark.parametrize(
    "sender", ["Support <Support@Shop.Example>", "returns+t42.abcdefghijkl@shop.example"]
)
def test_a_message_from_our_own_address_is_ours(sender: str) -> None:
    # given a message From one of our addresses, or a tagged reply address on one of them
    result = classify(mail(f"From: {sender}"))
    assert result == Automation(automatic=True, reasons=("our own address",), human=False, ours=True)


def test_a_servicenow_human_with_an_override_is_handled_normally() -> None:
    # given ServiceNow stamping auto-generated on what its human users write (hostile item 47)
    message = mail("From: Lia <lia@corp.service-now.example>\nAuto-Submitted: auto-generated")
    # then the per-sender override restores normal handling
    assert classify(message, overrides=("LIA@corp.service-now.example",)) == Automation(
        automatic=False, reasons=(), human=True, ours=False
    )
    # and without it the message is automatic
    assert classify(message).reasons == ("Auto-Submitted: auto-generated",)


def test_the_override_does_not_cover_auto_replies() -> None:
    message = mail("From: lia@corp.service-now.example\nAuto-Submitted: auto-replied")
    assert classify(message, overrides=("lia@corp.service-now.example",)).reasons == (
        "Auto-Submitted: auto-replied",
    )


def test_every_reason_is_listed_in_a_fixed_order_once() -> None:
    message = mail(
        "Auto-Submitted: auto-replied\nAuto-Submitted: auto-replied\nX-Autoreply: yes\n"
        "Precedence: bulk\nList-Id: <l.example>\nList-Unsubscribe: <mailto:u@l.example>\n"
        "X-Loop: a@b.example\nX-Auto-Response-Suppress: All\nReturn-Path: <>"
    )
    assert classify(message) == Automation(
        automatic=True,
        reasons=(
            "Auto-Submitted: auto-replied",
            "X-Autoreply",
            "Precedence: bulk",
            "List-Id",
            "List-Unsubscribe",
            "X-Loop",
            "X-Auto-Response-Suppress: All",
            "null return path",
        ),
        human=False,
        ours=False,
    )


def test_a_read_receipt_is_automatic_but_not_a_bounce() -> None:
    message = mail(
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=disposition-notification; boundary="r"',
        "--r\r\nContent-Type: text/plain\r\n\r\nYour message was read.\r\n"
        "--r\r\nContent-Type: message/disposition-notification\r\n\r\n"
        "Final-Recipient: rfc822; anna@customer.example\r\n"
        "Disposition: manual-action/MDN-sent-manually; displayed\r\n\r\n--r--\r\n",
    )
    assert classify(message).reasons == ("multipart/report",)
    assert looks_like_bounce(message) is False
    assert bounce(message, our_domain=DOMAIN) is None


def test_garbage_headers_never_raise_and_count_as_absent() -> None:
    raw = (
        b"From: =?utf-8?q?\xff\xfe?= <<<@@>\r\nTo: ,,,\r\nAuto-Submitted: \x00\x01\r\n"
        b"Precedence: \xc3\x28\r\nContent-Type: multipart/report; boundary=\r\n"
        b"Message-ID: <<<>>>\r\nReturn-Path: \xff\r\nX-Loop:\r\n\r\nbody\r\n"
    )
    message = parse(raw)
    assert classify(message).reasons == ("multipart/report",)
    assert bounce(message, our_domain=DOMAIN) is None


def test_a_message_built_in_code_is_read_too() -> None:
    message = EmailMessage()
    message["From"] = "MAILER-DAEMON@mx.customer.example"
    message["Auto-Submitted"] = "auto-replied"
    message.set_content("hello")
    assert classify(message).reasons == ("Auto-Submitted: auto-replied", "mailer-daemon sender")


_HEADER_NAMES = st.sampled_from(
    [
        "From", "Return-Path", "Auto-Submitted", "Precedence", "List-Id", "X-Loop", "Subject",
        "X-Auto-Response-Suppress", "Message-ID", "Content-Type", "In-Reply-To", "References",
        "X-Sportello-Loop", "X-Failed-Recipients",
    ]
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(
    headers=st.lists(st.tuples(_HEADER_NAMES, st.binary(max_size=60)), max_size=8),
    body=st.binary(max_size=300),
)
def test_no_header_or_body_makes_classification_raise(headers: list[tuple[str, bytes]], body: bytes) -> None:
    raw = b"".join(name.encode() + b": " + value + b"\r\n" for name, value in headers) + b"\r\n" + body
    message = parse(raw)
    result = classify(message)
    assert result.automatic == bool(result.reasons)
    looks_like_bounce(message)
    found = bounce(message, our_domain=DOMAIN)
    assert found is None or found.recipients


# --- bounces -------------------------------------------------------------------------------


def test_a_delivery_status_report_names_failed_and_delayed_recipients() -> None:
    # given an RFC 3464 report: one recipient failed 5.1.1, one delayed 4.4.1, and the headers
    # of our reply that bounced
    message = fixture("dsn_failed_and_delayed.eml")
    # then both recipients count; the report is permanent because one failed for good; the
    # Original-Recipient (as we sent it) is preferred and lower-cased
    assert looks_like_bounce(message) is True
    assert bounce(message, our_domain=DOMAIN) == Bounce(
        recipients=("anna.rossi@customer.example", "bruno@slow.example"),
        permanent=True,
        original_message_id="sportello.reply.42.m7@desk.example",
        reason="550 5.1.1 <anna.rossi@customer.example>: Recipient address rejected: User unknown",
        failed=("anna.rossi@customer.example",),
        delayed=("bruno@slow.example",),
    )


def test_a_report_of_delays_only_is_not_permanent() -> None:
    raw = (BOUNCES / "dsn_failed_and_delayed.eml").read_bytes()
    raw = raw.replace(b"Action: failed\nStatus: 5.1.1", b"Action: delayed\nStatus: 4.2.2")
    raw = raw.replace(b"Diagnostic-Code: smtp; 550 5.1.1 <anna.rossi@customer.example>: Recipient\n", b"")
    raw = raw.replace(b"    address rejected: User unknown\n", b"")
    assert bounce(parse(raw), our_domain=DOMAIN) == Bounce(
        recipients=("anna.rossi@customer.example", "bruno@slow.example"),
        permanent=False,
        original_message_id="sportello.reply.42.m7@desk.example",
        reason="status 4.2.2",
        failed=(),
        delayed=("anna.rossi@customer.example", "bruno@slow.example"),
    )


def test_a_report_of_delivery_relaying_and_expansion_is_not_a_bounce() -> None:
    message = fixture("dsn_delivered_only.eml")
    assert looks_like_bounce(message) is True
    assert bounce(message, our_domain=DOMAIN) is None


def test_a_global_report_reads_an_internationalised_recipient() -> None:
    # given an RFC 6533 report whose Original-Recipient is utf-8 with \x{..} escapes
    assert bounce(fixture("global_dsn.eml"), our_domain=DOMAIN) == Bounce(
        recipients=("jörg@customer.example",),
        permanent=True,
        original_message_id="sportello.reply.55.u1@desk.example",
        reason="550 5.1.1 no such user",
        failed=("jörg@customer.example",),
    )


def test_a_free_text_qmail_bounce_is_read_through_flufl() -> None:
    # given qmail's free text with a copy of our notification below it
    assert bounce(fixture("qmail_free_text.eml"), our_domain=DOMAIN) == Bounce(
        recipients=("dario@customer.example",),
        permanent=True,
        original_message_id="sportello.notification.77.n3@desk.example",
        reason="Sorry, no mailbox here by that name. (#5.1.1)",
        failed=("dario@customer.example",),
    )


def test_the_embedded_originals_from_does_not_matter() -> None:
    # given a bounce whose embedded original claims to be from our alias (hostile item 53)
    raw = (BOUNCES / "forged_original.eml").read_bytes()
    found = bounce(parse(raw), our_domain=DOMAIN)
    # then only the failed recipient and the original's Message-ID are reported
    assert found == Bounce(
        recipients=("elena@customer.example",),
        permanent=True,
        original_message_id="sportello.reply.9.x1@desk.example",
        reason="550 5.2.1 mailbox disabled",
        failed=("elena@customer.example",),
    )
    # and the result is the same whoever the original claims to be from
    other = raw.replace(b"From: Shop Support <support@shop.example>", b"From: someone@else.example")
    other = other.replace(b"Sender: agent@shop.example", b"Sender: x@else.example")
    assert other != raw
    assert bounce(parse(other), our_domain=DOMAIN) == found


def test_a_customer_forwarding_a_bounce_is_not_a_bounce() -> None:
    # given a customer's message with a bounce attached as message/rfc822
    message = fixture("forwarded_bounce.eml")
    assert looks_like_bounce(message) is False
    assert bounce(message, our_domain=DOMAIN) is None
    assert classify(message).reasons == ()


def test_a_customer_writing_about_an_undeliverable_parcel_is_not_a_bounce() -> None:
    message = mail(
        "Subject: Undeliverable parcel, order 1234",
        "Hello, the courier says my parcel is undeliverable. Mail delivery failed twice.\n"
        "Final-Recipient: rfc822; anna@customer.example\nAction: failed\n",
    )
    assert looks_like_bounce(message) is False
    assert bounce(message, our_domain=DOMAIN) is None


@pytest.mark.parametrize(
    "subject",
    [
        "Re: Undeliverable: order 1234",
        "Fwd: Mail delivery failed: returning message to sender",
        "Delivery of my order",
        "Delivery failed, order 1234",
        "Delivery report for my order please",
        "Returned mail order 55",
    ],
)
def test_customer_subjects_and_replies_to_bounces_do_not_look_like_bounces(subject: str) -> None:
    assert looks_like_bounce(mail(f"Subject: {subject}")) is False


@pytest.mark.parametrize(
    "headers",
    [
        "Return-Path: <>",
        "From: MAILER-DAEMON@mx.customer.example",
        "From: postmaster@customer.example",
        "From: Mail Delivery System <>",
        "X-Failed-Recipients: anna@customer.example",
        'Content-Type: multipart/report; report-type=delivery-status; boundary="x"',
        "Subject: Undeliverable: Your return",
        "Subject: Delivery Status Notification (Failure)",
        "Subject: Mail delivery failed: returning message to sender",
        "Subject: failure notice",
        "Subject: Returned mail: see transcript for details",
        "Subject: =?utf-8?q?Undelivered_Mail_Returned_to_Sender?=",
    ],
)
def test_bounce_shaped_messages_look_like_bounces(headers: str) -> None:
    assert looks_like_bounce(mail(headers)) is True


def test_a_bounce_with_no_readable_recipient_is_none_but_looks_like_one() -> None:
    # given a daemon's failure notice that names nobody: ingestion quarantines it as unreadable
    message = mail(
        "From: MAILER-DAEMON@mx.customer.example\nSubject: failure notice",
        "Something went wrong with a message you sent. Sorry.\n",
    )
    assert looks_like_bounce(message) is True
    assert bounce(message, our_domain=DOMAIN) is None


def test_a_bounce_without_a_copy_points_at_ours_through_in_reply_to() -> None:
    # given an exim bounce that keeps no copy of the original but threads to our message
    ours = ids.message_id(domain=DOMAIN, kind="reply", ticket_id=5, unique="k")
    message = mail(
        "From: Mail Delivery System <Mailer-Daemon@mx.customer.example>\n"
        "Subject: Mail delivery failed: returning message to sender\n"
        "X-Failed-Recipients: Carla@Customer.example\n"
        f"In-Reply-To: <{ours}>\nReferences: <first@customer.example> <{ours}>",
        "This message was created automatically by mail delivery software.\n\n"
        "A message that you sent could not be delivered to one or more of its\n"
        "recipients. This is a permanent error. The following address(es) failed:\n\n"
        "  Carla@Customer.example\n    mailbox is full\n",
    )
    found = bounce(message, our_domain=DOMAIN)
    assert found is not None
    assert (found.recipients, found.permanent, found.original_message_id) == (
        ("carla@customer.example",),
        True,
        ours,
    )


def test_a_long_diagnostic_is_one_line_of_at_most_300_characters() -> None:
    raw = (BOUNCES / "dsn_failed_and_delayed.eml").read_bytes()
    long = b"Diagnostic-Code: smtp; 550 " + b"\tvery long\r\n  reason " * 80 + b"\n"
    raw = raw.replace(b"Diagnostic-Code: smtp; 550 5.1.1 <anna.rossi@customer.example>: Recipient\n", long)
    found = bounce(parse(raw), our_domain=DOMAIN)
    assert found is not None
    assert len(found.reason) == 300
    assert found.reason.startswith("550 very long reason very long reason")
    assert found.reason.endswith("…")
    assert "\n" not in found.reason
    assert "\t" not in found.reason


# --- the flufl.bounce corpus ---------------------------------------------------------------


@pytest.fixture(scope="session")
def flufl_corpus(corpora: Corpora) -> Path:
    """The flufl.bounce sdist's `tests/` folder as extracted by the shared corpus cache (which
    is safe when several processes fetch it at once); skips when it could not be downloaded."""
    (expectations,) = corpora.require("flufl_expectations")
    return expectations.parent.parent


def _flufl_expectations(tree: Path) -> dict[str, set[str]]:
    """file -> addresses flufl's own test-suite expects some detector to find (lower-cased),
    read from the DETECTORS table of its tests/test_detectors.py; an empty set marks a sample
    that suite says yields no address."""
    module = ast.parse((tree / "tests" / "test_detectors.py").read_text())
    table = next(
        node.value
        for node in module.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "DETECTORS" for t in node.targets)
    )
    expected: dict[str, set[str]] = {}
    for _detector, filename, addresses, _temporary in ast.literal_eval(table):
        expected.setdefault(filename, set()).update(a.decode().lower() for a in addresses)
    expected.setdefault("dumbass_01.txt", set())  # test_scan_unrecognized: nothing detectable
    return expected


def _corpus(tree: Path) -> dict[str, EmailMessage]:
    return {p.name: parse(p.read_bytes()) for p in sorted((tree / "tests" / "data").glob("*.txt"))}


def test_no_corpus_sample_makes_classification_raise(flufl_corpus: Path) -> None:
    corpus = _corpus(flufl_corpus)
    assert len(corpus) == 117
    for message in corpus.values():
        classify(message)
        looks_like_bounce(message)
        bounce(message, our_domain=DOMAIN)


def test_corpus_bounces_yield_the_addresses_flufls_own_suite_expects(flufl_corpus: Path) -> None:
    corpus = _corpus(flufl_corpus)
    expected = {name: addresses for name, addresses in _flufl_expectations(flufl_corpus).items() if addresses}
    misses = []
    for name, addresses in sorted(expected.items()):
        found = bounce(corpus[name], our_domain=DOMAIN)
        if found is None or not addresses <= set(found.recipients):
            misses.append(f"{name}: expected {sorted(addresses)}, got {found and found.recipients}")
    assert len(expected) == 111
    assert (len(expected) - len(misses)) / len(expected) >= 0.9, "\n".join(misses)


def test_corpus_non_bounces_yield_no_recipient(flufl_corpus: Path) -> None:
    corpus = _corpus(flufl_corpus)
    samples = sorted(name for name, addresses in _flufl_expectations(flufl_corpus).items() if not addresses)
    assert samples == ["dumbass_01.txt", "groupwise_03.txt", "qmail_08.txt", "simple_42.txt", "simple_43.txt"]
    wrong = [
        name for name in samples if (found := bounce(corpus[name], our_domain=DOMAIN)) and found.recipients
    ]
    assert (len(samples) - len(wrong)) / len(samples) >= 0.9, wrong

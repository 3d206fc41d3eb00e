"""The Console's mailboxes in a real browser: an admin adds a mailbox read over IMAP, tests the
connection with a wrong password (told the server refused it) and then the right one (told how
many messages the folder holds), saves it, edits it (the password left blank is kept) and
deactivates it; then sends a test webhook and sees it delivered in the log. Accessible, and fits
a phone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from imap_server import ImapServer
from outbox.hook_server import Hook, running_hook

from .axe import assert_accessible
from .pages import no_sideways_overflow, shot


@pytest.fixture(scope="module")
def server() -> Iterator[ImapServer]:
    s = ImapServer().start()
    s.create_folder("Returns")
    s.append(
        "Returns", b"Subject: one\r\n\r\nx\r\n", b"Subject: two\r\n\r\ny\r\n", b"Subject: 3\r\n\r\nz\r\n"
    )
    yield s
    s.stop()


@pytest.fixture
def hook(settings: Any) -> Iterator[Hook]:
    with running_hook() as state:
        settings.SPORTELLO = {**settings.SPORTELLO, "WEBHOOK_ALLOW": ["127.0.0.1"]}
        yield state


def test_an_admin_adds_tests_edits_and_deactivates_a_mailbox(
    desk: Any, server: ImapServer, page: Any, sign_in: Any, url: Any
) -> None:
    from sportello.channels.models import Mailbox

    sign_in(page, desk.admin)
    page.goto(url("/console/"))
    page.locator(".console-cards").get_by_role("link", name="Mailboxes").click()
    page.wait_for_url(url("/console/mailboxes/"))
    page.get_by_text("No mailbox yet.").wait_for()
    assert "/api/v1/mail/inbound" in page.locator("#mta-endpoint").inner_text()
    assert_accessible(page, context="no mailbox yet")
    page.get_by_role("link", name="New mailbox").click()
    page.wait_for_url(url("/console/mailboxes/new/"))
    page.get_by_label("Address").fill("returns@desk.test")
    page.get_by_label("Department").select_option(label="Books")
    page.get_by_label("IMAP server").fill(server.host)
    page.get_by_label("Port").fill(str(server.port))
    page.get_by_label("Security").select_option("none")
    page.get_by_label("User name").fill(server.user)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_label("Folder").fill("Returns")
    # a wrong password: the server refused it, and nothing is saved
    page.get_by_role("button", name="Test connection").click()
    page.get_by_text("Connection failed.").wait_for()
    assert "refused the user name or the password" in page.locator("#mailbox-probe").inner_text()
    assert_accessible(page, context="a failed connection test")
    shot(page, "console-mailbox-test-failed")
    assert not Mailbox.objects.exists()
    # the right one: it works, and the folder's messages are counted
    page.get_by_label("Password").fill(server.password)
    page.get_by_role("button", name="Test connection").click()
    page.get_by_text("Connection works.").wait_for()
    assert "it holds 3 messages" in page.locator("#mailbox-probe").inner_text()
    assert_accessible(page, context="a connection test that worked")
    shot(page, "console-mailbox-test-ok")
    page.get_by_role("button", name="Create the mailbox").click()
    page.wait_for_url(url("/console/mailboxes/"))
    page.get_by_text("Mailbox returns@desk.test created.").wait_for()
    mailbox = Mailbox.objects.get()
    assert (mailbox.imap_folder, mailbox.imap_password) == ("Returns", server.password)
    assert "returns@desk.test" in page.locator(".mailbox-routes").inner_text()
    assert_accessible(page, context="the mailboxes")
    shot(page, "console-mailboxes")
    # edit: another folder, the password left blank (kept)
    page.get_by_role("link", name="returns@desk.test").click()
    page.wait_for_url(url(f"/console/mailboxes/{mailbox.pk}/"))
    assert page.get_by_label("Password").input_value() == ""
    page.get_by_text("A password is stored.").wait_for()
    page.get_by_label("Folder").fill("INBOX")
    page.get_by_role("button", name="Test connection").click()
    page.get_by_text("Connection works.").wait_for()
    assert_accessible(page, context="a mailbox's form")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Mailbox returns@desk.test saved.").wait_for()
    mailbox.refresh_from_db()
    assert (mailbox.imap_folder, mailbox.imap_password) == ("INBOX", server.password)
    # deactivate, then reactivate
    page.get_by_role("button", name="Deactivate returns@desk.test").click()
    page.get_by_text("Mailbox returns@desk.test deactivated").wait_for()
    mailbox.refresh_from_db()
    assert not mailbox.active
    page.get_by_role("button", name="Reactivate returns@desk.test").click()
    page.get_by_text("Mailbox returns@desk.test is active again.").wait_for()
    mailbox.refresh_from_db()
    assert mailbox.active


def test_an_admin_sends_a_test_webhook_and_sees_it_delivered(
    desk: Any, hook: Hook, page: Any, sign_in: Any, url: Any
) -> None:
    from sportello.outbox.models import OutboxMessage, WebhookSecret
    from sportello.outbox.secrets import seal
    from sportello.outbox.services import outbox_deliver
    from testing import NOW

    WebhookSecret.objects.create(name="crm", secret=seal("crm-signing-value-1"), created_at=NOW)
    sign_in(page, desk.admin)
    page.goto(url("/console/webhooks/"))
    page.get_by_label("URL").fill("ftp://nowhere.test/x")
    page.get_by_role("button", name="Send test delivery").click()
    page.locator("#test-url-error").wait_for()
    assert page.get_by_label("URL").input_value() == "ftp://nowhere.test/x"
    assert_accessible(page, context="a refused test delivery")
    page.get_by_label("URL").fill(hook.url())
    page.get_by_label("Signing secret", exact=True).select_option("crm")
    page.get_by_label("Event type (optional)").fill("ticket.created")
    page.get_by_role("button", name="Send test delivery").click()
    page.get_by_text("Waiting for its first attempt").wait_for()
    item = OutboxMessage.objects.get()
    assert page.locator(f"#delivery-{item.pk}").count() == 1
    assert_accessible(page, context="a test delivery waiting")
    # the worker attempts it: the page follows without a reload
    outbox_deliver(outbox_id=item.pk)
    page.get_by_text("Delivered after 1 attempt").wait_for(timeout=10_000)
    assert len(hook.seen) == 1
    # and its row in the log is brought up to date with it
    row = page.locator(f"#delivery-{item.pk}")
    row.get_by_text("Sent").wait_for()
    assert row.locator("td").nth(3).inner_text() == "1"
    assert hook.seen[0]["x-sportello-signature"].startswith("sha256=")
    assert_accessible(page, context="a test delivery delivered")
    shot(page, "console-webhook-test")


def test_the_mailboxes_fit_a_phone(desk: Any, phone_page: Any, sign_in: Any, url: Any) -> None:
    from sportello.channels.mailboxes import mailbox_create
    from testing import NOW

    mailbox = mailbox_create(
        actor=desk.admin,
        data={
            "address": "a-rather-long-address-for-returns@books.desk.test", "department_id": desk.books.pk,
            "imap_host": "imap.books.desk.test", "imap_username": "returns", "imap_password": "pw-1234567",
        },
        now=NOW,
    )  # fmt: skip
    sign_in(phone_page, desk.admin)
    for path in (
        "/console/mailboxes/",
        "/console/mailboxes/new/",
        f"/console/mailboxes/{mailbox.pk}/",
        "/console/webhooks/",
    ):
        phone_page.goto(url(path))
        no_sideways_overflow(phone_page)
        assert_accessible(phone_page, context=f"{path} on a phone")
    phone_page.goto(url("/console/mailboxes/"))
    shot(phone_page, "console-mailboxes-phone")
    phone_page.goto(url(f"/console/mailboxes/{mailbox.pk}/"))
    shot(phone_page, "console-mailbox-phone")

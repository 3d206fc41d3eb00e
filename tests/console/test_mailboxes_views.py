"""The Console's mailboxes: admins only; the list (department, IMAP server, last read and last
error, status) at a fixed statement count, with the MTA's endpoint and where each department's
mail comes from; creating and editing through `channels.mailboxes` with errors next to their
field and what was typed kept; the password never rendered and kept when left blank; a stale
edit refused with what changed; deactivating and reactivating; "Test connection" against a real
IMAP server, unsaved."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from imap_server import ImapServer, free_port
from sportello.accounts.services import department_create
from sportello.channels.mailboxes import mailbox_create, mailbox_fingerprint, mailbox_update
from sportello.channels.models import Mailbox
from testing import NOW

PASSWORD = "s3cr3t-imap-pw"
# session, user, the mailboxes with their departments, the active departments
LIST = 4


@pytest.fixture(scope="module")
def server() -> Iterator[ImapServer]:
    s = ImapServer().start()
    yield s
    s.stop()


def count(fn: Any) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(
        [q for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
    )


def make(desk: Any, address: str = "books@desk.test", **over: Any) -> Mailbox:
    data = {
        "address": address,
        "department_id": desk.books.pk,
        "imap_host": "imap.desk.test",
        "imap_port": 993,
        "imap_security": "ssl",
        "imap_username": address,
        "imap_password": PASSWORD,
        **over,
    }
    return mailbox_create(actor=desk.admin, data=data, now=NOW)


def form(desk: Any, **over: Any) -> dict[str, Any]:
    return {
        "address": "returns@desk.test",
        "department": str(desk.books.pk),
        "imap_host": "imap.desk.test",
        "imap_port": "993",
        "imap_security": "ssl",
        "imap_username": "returns@desk.test",
        "imap_password": PASSWORD,
        "imap_folder": "INBOX",
        **over,
    }


def test_only_admins_reach_the_mailboxes(desk: Any, browser: Any, client: Any) -> None:
    mailbox = make(desk)
    assert "/login/" in client.get("/console/mailboxes/")["Location"]
    for who in (desk.agent, desk.light):
        c = browser(who)
        assert c.get("/console/mailboxes/").status_code == 403
        assert c.get(f"/console/mailboxes/{mailbox.pk}/").status_code == 403
        assert c.post("/console/mailboxes/new/", form(desk)).status_code == 403
        assert c.post(f"/console/mailboxes/{mailbox.pk}/active/", {"active": "0"}).status_code == 403
        assert c.post("/console/mailboxes/test/", form(desk)).status_code == 403
    assert browser(desk.admin).get("/console/mailboxes/").status_code == 200
    assert list(Mailbox.objects.values_list("address", "active")) == [("books@desk.test", True)]


def test_the_list_shows_each_mailbox_the_mta_endpoint_and_the_routes(desk: Any, browser: Any) -> None:
    # given an IMAP mailbox whose last read failed, and an MTA-delivered one
    read = make(desk)
    Mailbox.objects.filter(pk=read.pk).update(last_polled_at=NOW, last_error="login as 'x' failed: [AUTH]")
    make(desk, "gadgets@desk.test", department_id=desk.electronics.pk, imap_host="")
    page = browser(desk.admin).get("/console/mailboxes/").content.decode()
    assert f'id="mailbox-{read.pk}"' in page
    assert "imap.desk.test:993" in page
    assert "login as &#x27;x&#x27; failed: [AUTH]" in page
    assert "None: an MTA delivers" in page
    assert 'id="mta-endpoint">http://127.0.0.1:8000/api/v1/mail/inbound</code>' in page
    assert "<code>gadgets@desk.test</code>" in page
    assert PASSWORD not in page


def test_the_list_costs_a_fixed_number_of_statements(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    make(desk)
    few = count(lambda: client.get("/console/mailboxes/"))
    for i in range(6):
        dept = department_create(name=f"Dept {i}", email=f"dept{i}@desk.test")
        make(desk, f"box{i}@desk.test", department_id=dept.pk)
    many = count(lambda: client.get("/console/mailboxes/"))
    assert few == many == LIST


def test_an_admin_creates_a_mailbox_and_the_password_is_never_shown(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    assert client.get("/console/mailboxes/new/").status_code == 200
    reply = client.post("/console/mailboxes/new/", form(desk))
    assert reply.status_code == 302
    mailbox = Mailbox.objects.get()
    assert (mailbox.address, mailbox.department_id, mailbox.imap_password) == (
        "returns@desk.test",
        desk.books.pk,
        PASSWORD,
    )
    edit = client.get(f"/console/mailboxes/{mailbox.pk}/").content.decode()
    assert PASSWORD not in edit
    assert "A password is stored" in edit
    assert 'name="imap_password"' in edit


def test_errors_are_shown_next_to_their_field_and_what_was_typed_is_kept(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    make(desk, "returns@desk.test")
    taken = client.post("/console/mailboxes/new/", form(desk))
    assert taken.status_code == 409
    assert "A mailbox for this address exists already." in taken.content.decode()
    clear = client.post(
        "/console/mailboxes/new/", form(desk, address="new@desk.test", imap_security="none", imap_port="143")
    )
    page = clear.content.decode()
    assert clear.status_code == 422
    assert "only a loopback host" in page
    assert 'value="new@desk.test"' in page
    assert 'value="143"' in page
    assert PASSWORD not in page
    bad_host = client.post("/console/mailboxes/new/", form(desk, address="x@desk.test", imap_host="imap://x"))
    assert "without scheme, port, path or user" in bad_host.content.decode()
    no_password = client.post("/console/mailboxes/new/", form(desk, address="y@desk.test", imap_password=""))
    assert "Required to read the mailbox over IMAP." in no_password.content.decode()
    assert Mailbox.objects.count() == 1


def test_an_edit_keeps_the_password_left_blank_and_replaces_a_typed_one(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    mailbox = make(desk)
    seen = mailbox_fingerprint(mailbox)
    reply = client.post(
        f"/console/mailboxes/{mailbox.pk}/",
        form(desk, address="books@desk.test", imap_folder="Support", imap_password="", expected=seen),
    )
    assert reply.status_code == 302
    mailbox.refresh_from_db()
    assert (mailbox.imap_folder, mailbox.imap_password) == ("Support", PASSWORD)
    again = client.post(
        f"/console/mailboxes/{mailbox.pk}/",
        form(
            desk,
            address="books@desk.test",
            imap_password="another-one",
            expected=mailbox_fingerprint(mailbox),
        ),
    )
    assert again.status_code == 302
    mailbox.refresh_from_db()
    assert mailbox.imap_password == "another-one"


def test_a_stale_edit_is_refused_keeping_what_was_typed_and_showing_what_changed(
    desk: Any, browser: Any
) -> None:
    # given an admin's form drawn from the mailbox
    client = browser(desk.admin)
    mailbox = make(desk)
    seen = mailbox_fingerprint(mailbox)
    # and another admin's change meanwhile
    mailbox_update(actor=desk.admin, mailbox_id=mailbox.pk, data={"imap_folder": "Theirs"}, now=NOW)
    # when the first form is saved
    reply = client.post(
        f"/console/mailboxes/{mailbox.pk}/",
        form(desk, address="books@desk.test", imap_folder="Mine", imap_password="", expected=seen),
    )
    # then nothing is saved, what was typed is kept and what is saved now is shown
    page = reply.content.decode()
    assert reply.status_code == 409
    assert "Someone else changed this mailbox" in page
    assert 'value="Mine"' in page
    assert "Folder: <strong>Theirs</strong>" in page
    mailbox.refresh_from_db()
    assert mailbox.imap_folder == "Theirs"
    assert f'value="{mailbox_fingerprint(mailbox)}"' in page
    # and saving that form again overwrites deliberately
    again = client.post(
        f"/console/mailboxes/{mailbox.pk}/",
        form(
            desk,
            address="books@desk.test",
            imap_folder="Mine",
            imap_password="",
            expected=mailbox_fingerprint(mailbox),
        ),
    )
    assert again.status_code == 302
    mailbox.refresh_from_db()
    assert mailbox.imap_folder == "Mine"


def test_deactivate_and_reactivate(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    mailbox = make(desk)
    assert client.post(f"/console/mailboxes/{mailbox.pk}/active/", {"active": "0"}).status_code == 302
    mailbox.refresh_from_db()
    assert not mailbox.active
    page = client.get("/console/mailboxes/").content.decode()
    assert "Deactivated" in page
    assert "Reactivate" in page
    assert client.post(f"/console/mailboxes/{mailbox.pk}/active/", {"active": "1"}).status_code == 302
    mailbox.refresh_from_db()
    assert mailbox.active
    assert client.post("/console/mailboxes/999/active/", {"active": "0"}).status_code == 404


def imap_form(desk: Any, server: ImapServer, **over: Any) -> dict[str, Any]:
    imap = {
        "imap_host": server.host,
        "imap_port": str(server.port),
        "imap_security": "none",
        "imap_username": server.user,
        "imap_password": server.password,
    }
    return form(desk, **{**imap, **over})


def test_test_connection_reports_success_with_the_message_count(
    desk: Any, browser: Any, server: ImapServer
) -> None:
    server.create_folder("ViewsOk")
    server.append("ViewsOk", b"Subject: hi\r\n\r\nx\r\n")
    client = browser(desk.admin)
    reply = client.post(
        "/console/mailboxes/test/", imap_form(desk, server, imap_folder="ViewsOk"), HTTP_HX_REQUEST="true"
    )
    page = reply.content.decode()
    assert reply.status_code == 200
    assert "Connection works." in page
    assert "it holds 1 message." in page
    assert "<html" not in page
    assert server.password not in page
    assert not Mailbox.objects.exists()


def test_test_connection_names_each_failure(desk: Any, browser: Any, server: ImapServer) -> None:
    client = browser(desk.admin)

    def probe(**over: Any) -> str:
        reply = client.post(
            "/console/mailboxes/test/", imap_form(desk, server, **over), HTTP_HX_REQUEST="true"
        )
        assert reply.status_code == 200
        return reply.content.decode()

    assert "refused the user name or the password" in probe(imap_password="wrong-password")
    assert "nothing listens on that port" in probe(imap_port=str(free_port()))
    assert "the folder cannot be opened" in probe(imap_folder="Missing")
    assert "only a loopback host" in probe(imap_host="imap.desk.test")
    assert "Correct the IMAP settings first: Port." in probe(imap_port="nope")
    assert not Mailbox.objects.exists()


def test_test_connection_on_a_stored_mailbox_uses_its_password_and_works_without_javascript(
    desk: Any, browser: Any, server: ImapServer
) -> None:
    client = browser(desk.admin)
    mailbox = make(
        desk, imap_host=server.host, imap_port=server.port, imap_security="none",
        imap_username=server.user, imap_password=server.password,
    )  # fmt: skip
    data = imap_form(desk, server, address="books@desk.test", imap_password="", mailbox=str(mailbox.pk))
    reply = client.post("/console/mailboxes/test/", data)
    page = reply.content.decode()
    assert reply.status_code == 200
    assert "<html" in page
    assert "Connection works." in page
    assert server.password not in page
    assert 'value="books@desk.test"' in page


def test_a_mailbox_has_a_history_without_its_password_and_a_restore_keeps_the_password(
    desk: Any, browser: Any
) -> None:
    from sportello.core.history import config_compare, config_history, version_restore
    from sportello.core.models import ConfigSnapshot

    # given a mailbox moved to another folder and given a new password
    mailbox = make(desk)
    mailbox_update(
        actor=desk.admin,
        mailbox_id=mailbox.pk,
        data={"imap_folder": "Support", "imap_password": "another-pw"},
        now=NOW,
    )
    key = str(mailbox.pk)
    # then its history has both versions, by the admin, and no password anywhere
    history = config_history("mailboxes", key=key)
    assert [(v.version, v.created_by_id) for v in history.versions] == [
        (2, desk.admin.pk),
        (1, desk.admin.pk),
    ]
    compared = config_compare("mailboxes", key=key, a=1, b=2)
    assert [(c.path, c.old, c.new) for c in compared.changes] == [("imap_folder", "INBOX", "Support")]
    stored = " ".join(
        str(d) for d in ConfigSnapshot.objects.filter(kind="mailboxes").values_list("definition", flat=True)
    )
    assert PASSWORD not in stored
    assert "another-pw" not in stored
    # and the editor links to it
    client = browser(desk.admin)
    html = client.get(f"/console/mailboxes/{mailbox.pk}/").content.decode()
    assert f'<a class="history-link" href="/console/history/mailboxes/{key}/">History</a>' in html
    assert client.get(f"/console/history/mailboxes/{key}/").status_code == 200
    # when version 1 is restored: the folder is back and the password is the one it has now
    version_restore("mailboxes", key=key, version=1, actor=desk.admin, now=NOW)
    mailbox.refresh_from_db()
    assert (mailbox.imap_folder, mailbox.imap_password) == ("INBOX", "another-pw")

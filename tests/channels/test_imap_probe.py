"""Test connection (`imap.imap_probe`, `imap.mailbox_probe`) against a real IMAP server on
loopback: success with the folder's message count; a wrong password, a refused port, a missing
folder, an unknown host and TLS spoken to a plain server each named as such; a server that
never answers cut at the probe's bound; nothing saved, settings validated as a save would."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from imap_server import ImapServer, free_port
from sportello.channels.imap import ProbeFailure, imap_probe, mailbox_probe
from sportello.channels.mailboxes import mailbox_create
from sportello.channels.models import Mailbox
from sportello.core.errors import PermissionDenied, ValidationFailed
from testing import NOW

_folders = itertools.count(1)


def settings_for(server: ImapServer, **over: Any) -> dict[str, Any]:
    return {
        "imap_host": server.host,
        "imap_port": server.port,
        "imap_security": "none",
        "imap_username": server.user,
        "imap_password": server.password,
        "imap_folder": "INBOX",
        **over,
    }


def probe(**data: Any) -> Any:
    return imap_probe(mailbox=Mailbox(**data), timeout=5.0)


@pytest.fixture
def folder(server: ImapServer) -> str:
    name = f"Probe{next(_folders)}"
    server.create_folder(name)
    return name


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never says a word (no IMAP greeting)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join(timeout=2)
    for conn in held:
        conn.close()
    listener.close()


def test_the_right_settings_connect_and_count_the_folders_messages(server: ImapServer, folder: str) -> None:
    # given a folder with two messages
    server.append(folder, b"Subject: one\r\n\r\nx\r\n", b"Subject: two\r\n\r\ny\r\n")
    # when the settings are probed
    result = probe(**settings_for(server, imap_folder=folder))
    # then it worked, and says how many messages the folder holds
    assert (result.ok, result.failure, result.messages) == (True, None, 2)
    # and nothing was marked read (the folder is examined, not selected)
    assert all("\\Seen" not in flags for flags in server.flags(folder).values())


def test_a_wrong_password_is_an_authentication_failure(server: ImapServer) -> None:
    result = probe(**settings_for(server, imap_password="not-the-password"))
    assert (result.ok, result.failure) == (False, ProbeFailure.AUTH)
    assert "login as 'desk' failed" in result.detail
    assert "not-the-password" not in result.detail


def test_a_port_where_nothing_listens_is_refused(db: Any) -> None:
    result = probe(**{**settings_for(ImapServer()), "imap_port": free_port()})
    assert (result.ok, result.failure) == (False, ProbeFailure.REFUSED)


def test_a_missing_folder_is_a_folder_failure(server: ImapServer) -> None:
    result = probe(**settings_for(server, imap_folder="No such folder"))
    assert (result.ok, result.failure) == (False, ProbeFailure.FOLDER)
    assert "cannot open folder 'No such folder'" in result.detail


def test_an_unknown_host_is_a_dns_failure(db: Any) -> None:
    result = probe(**{**settings_for(ImapServer()), "imap_host": "imap.nowhere.invalid", "imap_port": 993})
    assert (result.ok, result.failure) in {(False, ProbeFailure.DNS), (False, ProbeFailure.TIMEOUT)}
    assert "imap.nowhere.invalid" in result.detail


def test_tls_spoken_to_a_plain_server_is_a_tls_failure(server: ImapServer) -> None:
    result = probe(**settings_for(server, imap_security="ssl"))
    assert (result.ok, result.failure) == (False, ProbeFailure.TLS)


def test_a_server_that_never_answers_is_cut_at_the_bound(silent_port: int) -> None:
    # given a port that accepts the connection and sends no greeting
    started = time.monotonic()
    # when probed with a one-second bound
    result = imap_probe(
        mailbox=Mailbox(
            imap_host="127.0.0.1", imap_port=silent_port, imap_security="none",
            imap_username="u", imap_password="p", imap_folder="INBOX",
        ),
        timeout=1.0,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    # then it reports a timeout, within the bound (plus the time to close)
    assert (result.ok, result.failure) == (False, ProbeFailure.TIMEOUT)
    assert elapsed < 3.0
    assert "1s" in result.detail


def test_a_stored_mailbox_is_probed_with_its_password_when_the_form_leaves_it_blank(
    desk: Any, server: ImapServer
) -> None:
    # given a stored mailbox with the right password
    mailbox = mailbox_create(
        actor=desk.admin,
        data={"address": "probe@desk.test", "department_id": desk.books.pk, **settings_for(server)},
        now=NOW,
    )
    # when the form's settings are probed without a password
    data = {k: v for k, v in settings_for(server).items() if k != "imap_password"}
    result = mailbox_probe(actor=desk.admin, data=data, mailbox_id=mailbox.pk, timeout=5.0)
    # then the stored password is used, and nothing was saved
    assert result.ok
    mailbox.refresh_from_db()
    assert mailbox.last_polled_at is None
    assert mailbox.uidvalidity is None


def test_settings_a_save_would_refuse_are_refused_before_connecting(desk: Any, server: ImapServer) -> None:
    with pytest.raises(ValidationFailed) as clear:
        mailbox_probe(actor=desk.admin, data=settings_for(server, imap_host="imap.example.com"))
    assert clear.value.field == "imap_security"
    with pytest.raises(ValidationFailed) as port:
        mailbox_probe(actor=desk.admin, data=settings_for(server, imap_port=70000))
    assert port.value.field == "imap_port"
    with pytest.raises(PermissionDenied):
        mailbox_probe(actor=desk.agent, data=settings_for(server))
    assert not Mailbox.objects.exists()

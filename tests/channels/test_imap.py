"""IMAP polling against a real IMAP server on loopback (pymap), and the mailbox services and API.

The polling logic is tested with a recording ingestion (`FakeIngest`: it reports a message it
has seen before as a duplicate, like the real one); the crash, UIDVALIDITY and end-to-end tests
also run with the real `channels.inbound.mail_ingest`."""

from __future__ import annotations

import imaplib
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from imap_server import ImapServer
from sportello.channels import imap
from sportello.channels.imap import PollOutcome, PollStatus, imap_connect, mailbox_poll
from sportello.channels.mailboxes import host_is_loopback, mailbox_create, mailbox_deactivate, mailbox_update
from sportello.channels.models import InboundMail, Mailbox
from sportello.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from testing import NOW

ADDRESS = "help@desk.test"
_folders = itertools.count(1)


# --------------------------------------------------------------------------------------------
# Fixtures and helpers


@pytest.fixture
def folder(server: ImapServer) -> str:
    """A new, empty folder of the server for this test."""
    name = f"Support{next(_folders)}"
    server.create_folder(name)
    return name


@pytest.fixture
def mailbox(desk: Any, server: ImapServer, folder: str) -> Mailbox:
    return mailbox_create(
        actor=desk.admin,
        data={
            "address": ADDRESS,
            "department_id": desk.books.pk,
            "imap_host": server.host,
            "imap_port": server.port,
            "imap_security": "none",
            "imap_username": server.user,
            "imap_password": server.password,
            "imap_folder": folder,
        },
        now=NOW,
    )


def message(n: int, folder: str = "") -> bytes:
    return (
        "From: Carla Rossi <carla@customer.test>\r\n"
        f"To: {ADDRESS}\r\n"
        f"Subject: Order {n} arrived damaged\r\n"
        "Date: Mon, 02 Nov 2026 09:00:00 +0000\r\n"
        f"Message-ID: <order-{n}-{folder.lower()}@customer.test>\r\n"
        "\r\n"
        f"Hello, the cover of book {n} is torn.\r\n"
    ).encode()


@dataclass(frozen=True, slots=True)
class Call:
    raw: bytes
    via: str
    now: datetime
    mailbox_id: int | None
    recipient: str | None


@dataclass(frozen=True, slots=True)
class FakeResult:
    duplicate: bool


class FakeIngest:
    """Records every call; a message (its bytes) seen before is reported as a duplicate."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._seen: set[bytes] = set()
        self._lock = threading.Lock()

    def __call__(
        self,
        *,
        raw: bytes,
        via: str,
        now: datetime,
        mailbox: Mailbox | None = None,
        recipient: str | None = None,
    ) -> FakeResult:
        with self._lock:
            self.calls.append(Call(raw, via, now, mailbox.pk if mailbox else None, recipient))
            duplicate = raw in self._seen
            self._seen.add(raw)
        return FakeResult(duplicate)

    @property
    def raws(self) -> list[bytes]:
        return [c.raw for c in self.calls]


def connect_with(
    before: Callable[[imaplib.IMAP4, str, tuple[Any, ...]], None],
) -> Callable[[Mailbox], imaplib.IMAP4]:
    """The real connection, with `before(client, command, args)` called ahead of every UID
    command (to inject failures or another client's actions at an exact point)."""

    def connect(mb: Mailbox) -> imaplib.IMAP4:
        client = imap_connect(mb)
        original = client.uid

        def uid(command: str, *args: Any) -> Any:
            before(client, command.upper(), args)
            return original(command, *args)

        client.uid = uid  # type: ignore[method-assign]
        return client

    return connect


def lost_on_store(times: int = 1) -> Callable[[imaplib.IMAP4, str, tuple[Any, ...]], None]:
    """The connection drops at the first `times` UID STOREs (after the ingestion committed)."""
    left = [times]

    def before(client: imaplib.IMAP4, command: str, args: tuple[Any, ...]) -> None:
        if command == "STORE" and left[0] > 0:
            left[0] -= 1
            raise imaplib.IMAP4.abort("connection lost")

    return before


def fresh(mb: Mailbox) -> Mailbox:
    return Mailbox.objects.get(pk=mb.pk)


SEEN = {"\\Seen"}


@pytest.fixture
def real_ingest(settings: Any, attachment_store: Path) -> Any:
    """The real ingestion, storing raw mail and attachments under the test's directory."""
    from sportello.channels.inbound import mail_ingest

    settings.SPORTELLO = {**settings.SPORTELLO, "MAIL_DOMAIN": "desk.test"}
    return mail_ingest


# --------------------------------------------------------------------------------------------
# Polling


def test_one_poll_ingests_six_messages_in_uid_order_and_marks_them_seen(
    server: ImapServer, folder: str, mailbox: Mailbox
) -> None:
    # given six unread messages in the folder
    sent = [message(n, folder) for n in range(1, 7)]
    uids = server.append(folder, *sent)
    fake = FakeIngest()
    # when one poll runs
    outcome = mailbox_poll(mailbox_id=mailbox.pk, now=NOW, ingest=fake)
    # then all six were ingested once each, in UID order, and flagged \Seen
    assert outcome == PollOutcome(mailbox.pk, PollStatus.OK, fetched=6, ingested=6)
    assert fake.raws == sent
    assert {(c.via, c.now, c.mailbox_id, c.recipient) for c in fake.calls} == {
        ("imap", NOW, mailbox.pk, ADDRESS)
    }
    assert server.flags(folder) == {uid: SEEN for uid in uids}
    mb = fresh(mailbox)
    assert (mb.last_uid, mb.uidvalidity) == (max(uids), server.uidvalidity(folder))
    assert (mb.last_polled_at, mb.last_error, mb.lease_until) == (NOW, "", None)
    # and a second poll finds nothing new
    again = mailbox_poll(mailbox_id=mailbox.pk, now=NOW + timedelta(minutes=1), ingest=fake)
    assert again == PollOutcome(mailbox.pk, PollStatus.OK)
    assert len(fake.calls) == 6
    assert fresh(mailbox).last_polled_at == NOW + timedelta(minutes=1)


def mark_read(server: ImapServer, folder: str, *uids: int) -> None:
    """Flag messages read, as the account's previous reader (a person, another desk) did."""
    with server.client(folder) as c:
        for uid in uids:
            typ, data = c.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Seen)")
            assert typ == "OK", data


def test_the_first_read_of_a_folder_leaves_its_old_read_mail_alone(
    server: ImapServer, folder: str, mailbox: Mailbox
) -> None:
    # given an account someone has been reading: three old read messages, two unread ones
    sent = [message(n, folder) for n in range(1, 6)]
    uids = server.append(folder, *sent)
    mark_read(server, folder, uids[0], uids[1], uids[3])
    fake = FakeIngest()
    # when the desk reads it for the first time
    outcome = mailbox_poll(mailbox_id=mailbox.pk, now=NOW, ingest=fake)
    # then only the unread ones become mail of the desk; the cursor is past the old ones
    assert outcome == PollOutcome(mailbox.pk, PollStatus.OK, fetched=2, ingested=2)
    assert fake.raws == [sent[2], sent[4]]
    mb = fresh(mailbox)
    assert (mb.last_uid, mb.skip_read_through) == (uids[4], None)
    # and a message arriving later, even one another client marks read first, is taken
    [later] = server.append(folder, message(6, folder))
    mark_read(server, folder, later)
    again = mailbox_poll(mailbox_id=mailbox.pk, now=NOW + timedelta(minutes=1), ingest=fake)
    assert (again.ingested, fake.raws[-1]) == (1, message(6, folder))


def test_a_batch_of_the_backlog_keeps_skipping_read_mail_until_the_unread_are_in(
    settings: Any, server: ImapServer, folder: str, mailbox: Mailbox
) -> None:
    settings.SPORTELLO = {**settings.SPORTELLO, "IMAP_BATCH": 2}
    sent = [message(n, folder) for n in range(1, 7)]
    uids = server.append(folder, *sent)
    mark_read(server, folder, uids[0], uids[2], uids[4])  # unread: 2, 4, 6
    fake = FakeIngest()
    first = mailbox_poll(mailbox_id=mailbox.pk, now=NOW, ingest=fake)
    assert (first.ingested, fresh(mailbox).skip_read_through) == (2, uids[5])
    second = mailbox_poll(mailbox_id=mailbox.pk, now=NOW + timedelta(minutes=1), ingest=fake)
    assert second.ingested == 1
    assert fake.raws == [sent[1], sent[3], sent[5]]
    assert (fresh(mailbox).last_uid, fresh(mailbox).skip_read_through) == (uids[5], None)


def test_a_mailbox_may_take_its_read_mail_too(server: ImapServer, folder: str, mailbox: Mailbox) -> None:
    Mailbox.objects.filter(pk=mailbox.pk).update(imap_take_read=True)
    sent = [message(n, folder) for n in range(1, 4)]
    uids = server.append(folder, *sent)
    mark_read(server, folder, uids[0])
    fake = FakeIngest()
    outcome = mailbox_poll(mailbox_id=mailbox.pk, now=NOW, ingest=fake)
    assert (outcome.ingested, fake.raws) == (3, sent)


def test_batch_limit_reads_the_oldest_first_and_the_rest_next_poll(
    settings: Any, server: ImapServer, folder: str, mailbox: Mailbox
) -> None:
    settings.SPORTELLO = {**settings.SPORTELLO, "IMAP_BATCH": 4}
    sent = [message(n, folder) for n in range(1, 7)]
    uids = server.append(folder, *sent)
    fake = FakeIngest()
    assert mailbox_poll(mailbox_id=mailbox.pk, now=NOW, ingest=fake).ingested == 4
    assert fresh(mailbox).last_uid == uids[3]
    assert mailbox_poll(mailbox_id=mailbox.pk, now=NOW, ingest=fake).ingested == 2
    assert fake.raws == sent
    assert fresh(mailbox).last_uid == uids[5]


def test_message_appended_between_polls_is_picked_up_and_an_expunge_skips_nothing(
    server: ImapServer, folder: str, mailbox: Mailbox
) -> None:
    # given three messages already read
    first = server.append(folder, message(1, folder), message(2, folder), message(3, folder))
    fake = FakeIngest()
    assert mailbox_poll(mailbox_id=mailbox.pk, now=NOW, ingest=fake).ingested == 3
    # when another client appends two and expunges the first two (renumbering the sequence)
    later = server.append(folder, message(4, folder), message(5, folder))
    server.expunge(folder, first[0], first[1])
    outcome = mailbox_poll(mailbox_id=mailbox.pk, now=NOW, ingest=fake)
    # then both new messages are read, none skipped, none read twice
    assert outcome == PollOutcome(mailbox.pk, PollStatus.OK, fetched=2, ingested=2)
    assert fake.raws == [message(n, folder) for n in range(1, 6)]
    assert server.flags(folder) == {first[2]: SEEN, later[0]: SEEN, later[1]: SEEN}
    assert fresh(mailbox).last_uid == later[1]


def test_a_message_expunged_between_search_and_fetch_is_skipped_and_the_next_is_read(
    server: ImapServer, folder: str, mailbox: Mailbox
) -> None:
    uids = server.append(folder, message(1, folder), message(2, folder), message(3, folder))

    def before(client: imaplib.IMAP4, command: str, args: tuple[Any, ...]) -> None:
        if command == "FETCH" and args[0] == str(uids[1]):
            server.expunge(folder, uids[1])  # another client, at that very moment
            client.noop()  # and the poller's session is told (servers may otherwise still serve it)

    fake = FakeIngest()
    outcome = mailbox_poll(mailbox_id=mailbox.pk, now=NOW, ingest=fake, connect=connect_with(before))
    assert outcome == PollOutcome(mailbox.pk, PollStatus.OK, fetched=2, ingested=2)
    assert fake.raws == [message(1, folder), message(3, folder)]
    assert server.flags(folder) == {uids[0]: SEEN, uids[2]: SEEN}
    assert fresh(mailbox).last_uid == uids[2]


def test_connection_lost_after_commit_before_seen_refetches_and_dedupes(
    server: ImapServer, folder: str, mailbox: Mailbox
) -> None:
    # given two messages, and a connection that drops at the first \Seen (the first message is
    # ingested and committed, but neither flagged nor counted as read)
    uids = server.append(folder, message(1, folder), message(2, folder))
    fake = FakeIngest()
    outcome = mailbox_poll(mailbox_id=mailbox.pk, now=NOW, ingest=fake, connect=connect_with(lost_on_store()))
    assert outcome == PollOutcome(
        mailbox.pk, PollStatus.ERROR, fetched=1, ingested=1, error="IMAP: connection lost"
    )
    assert server.flags(folder) == {uids[0]: set(), uids[1]: set()}
    mb = fresh(mailbox)
    assert (mb.last_uid, mb.last_error, mb.lease_until) == (0, "IMAP: connection lost", None)
    # when the next poll runs
    outcome = mailbox_poll(mailbox_id=mailbox.pk, now=NOW + timedelta(minutes=1), ingest=fake)
    # then the first message is offered again with the same bytes (a duplicate), and both are read
    assert outcome == PollOutcome(mailbox.pk, PollStatus.OK, fetched=2, ingested=1, duplicates=1)
    assert fake.raws == [message(1, folder), message(1, folder), message(2, folder)]
    assert server.flags(folder) == {uids[0]: SEEN, uids[1]: SEEN}
    assert (fresh(mailbox).last_uid, fresh(mailbox).last_error) == (uids[1], "")


def test_ingestion_failure_stops_the_poll_and_leaves_the_message_unread(
    server: ImapServer, folder: str, mailbox: Mailbox
) -> None:
    uids = server.append(folder, message(1, folder), message(2, folder))
    fake = FakeIngest()

    def broken(**kwargs: Any) -> Any:
        fake(**kwargs)
        raise OSError("disk full")

    outcome = mailbox_poll(mailbox_id=mailbox.pk, now=NOW, ingest=broken)
    error = f"UID {uids[0]}: ingestion failed: OSError: disk full"
    assert outcome == PollOutcome(mailbox.pk, PollStatus.ERROR, fetched=1, failed=1, error=error)
    assert server.flags(folder) == {uids[0]: set(), uids[1]: set()}  # BODY.PEEK: not even \Seen
    mb = fresh(mailbox)
    assert (mb.last_uid, mb.last_error, mb.lease_until) == (0, error, None)
    # the next poll (storage back) reads both
    assert mailbox_poll(mailbox_id=mailbox.pk, now=NOW, ingest=fake).fetched == 2
    assert fake.raws == [message(1, folder), message(1, folder), message(2, folder)]


def test_crash_after_commit_before_seen_with_the_real_ingestion_makes_no_duplicate(
    server: ImapServer, folder: str, mailbox: Mailbox, real_ingest: Any
) -> None:
    # given an ingestion that commits and then the worker dies before flagging \Seen
    uids = server.append(folder, message(1, folder), message(2, folder))
    results: list[Any] = []

    def dies_after_commit(**kwargs: Any) -> Any:
        results.append(real_ingest(**kwargs))
        raise SystemError("killed after commit")

    outcome = mailbox_poll(mailbox_id=mailbox.pk, now=NOW, ingest=dies_after_commit)
    assert (outcome.status, outcome.fetched, outcome.failed) == (PollStatus.ERROR, 1, 1)
    assert [(r.status, r.duplicate) for r in results] == [("ticket", False)]
    assert server.flags(folder) == {uids[0]: set(), uids[1]: set()}
    # when the next poll runs with a healthy worker
    outcome = mailbox_poll(mailbox_id=mailbox.pk, now=NOW + timedelta(minutes=1), ingest=real_ingest)
    # then the first message is a duplicate, the second a new ticket: two tickets in all
    assert outcome == PollOutcome(mailbox.pk, PollStatus.OK, fetched=2, ingested=1, duplicates=1)
    rows = list(InboundMail.objects.order_by("id").values_list("status", "via", "mailbox_id", "recipient"))
    assert rows == [("ticket", "imap", mailbox.pk, ADDRESS)] * 2
    assert InboundMail.objects.exclude(ticket=None).values("ticket").distinct().count() == 2
    assert server.flags(folder) == {uids[0]: SEEN, uids[1]: SEEN}


def test_end_to_end_six_messages_become_six_tickets(
    server: ImapServer, folder: str, mailbox: Mailbox, real_ingest: Any
) -> None:
    from sportello.tickets.models import Ticket

    server.append(folder, *[message(n, folder) for n in range(1, 7)])
    outcome = mailbox_poll(mailbox_id=mailbox.pk, now=NOW, ingest=real_ingest)
    assert outcome == PollOutcome(mailbox.pk, PollStatus.OK, fetched=6, ingested=6)
    subjects = list(Ticket.objects.order_by("id").values_list("subject", "department_id"))
    assert subjects == [(f"Order {n} arrived damaged", mailbox.department_id) for n in range(1, 7)]


def test_new_uidvalidity_restarts_from_the_first_uid_without_duplicates(
    server: ImapServer, folder: str, mailbox: Mailbox, real_ingest: Any
) -> None:
    # given two messages read
    server.append(folder, message(1, folder), message(2, folder))
    assert mailbox_poll(mailbox_id=mailbox.pk, now=NOW, ingest=real_ingest).ingested == 2
    old = fresh(mailbox)
    # when the folder is recreated with the same two messages and a new one (UIDs renumbered)
    server.delete_folder(folder)
    validity = server.create_folder(folder)
    uids = server.append(folder, message(1, folder), message(2, folder), message(3, folder))
    assert validity != old.uidvalidity
    assert uids[-1] <= old.last_uid + 1  # without the restart, at most one would be read
    outcome = mailbox_poll(mailbox_id=mailbox.pk, now=NOW, ingest=real_ingest)
    # then all three are fetched again, two recognised as already received
    assert outcome == PollOutcome(mailbox.pk, PollStatus.OK, fetched=3, ingested=1, duplicates=2)
    assert InboundMail.objects.count() == 3
    mb = fresh(mailbox)
    assert (mb.uidvalidity, mb.last_uid) == (validity, uids[-1])
    assert server.flags(folder) == {uid: SEEN for uid in uids}


def test_wrong_password_records_the_error_and_releases_the_lease(
    server: ImapServer, folder: str, mailbox: Mailbox
) -> None:
    uids = server.append(folder, message(1, folder))
    Mailbox.objects.filter(pk=mailbox.pk).update(imap_password="not-the-password")
    fake = FakeIngest()
    outcome = mailbox_poll(mailbox_id=mailbox.pk, now=NOW, ingest=fake)
    error = "login as 'desk' failed: [AUTHENTICATIONFAILED] Invalid authentication credentials."
    assert outcome == PollOutcome(mailbox.pk, PollStatus.ERROR, error=error)
    mb = fresh(mailbox)
    assert (mb.last_error, mb.lease_until, mb.last_polled_at, mb.last_uid) == (error, None, NOW, 0)
    assert fake.calls == []
    assert server.flags(folder) == {uids[0]: set()}


def test_unreachable_server_is_an_error_not_an_exception(desk: Any, mailbox: Mailbox) -> None:
    from imap_server import free_port

    Mailbox.objects.filter(pk=mailbox.pk).update(imap_port=free_port())  # nobody listens there
    outcome = mailbox_poll(mailbox_id=mailbox.pk, now=NOW, ingest=FakeIngest())
    assert outcome.status == PollStatus.ERROR
    assert outcome.error.startswith(f"cannot connect to 127.0.0.1:{fresh(mailbox).imap_port} (none): ")
    assert fresh(mailbox).lease_until is None


def test_clear_text_is_refused_for_a_host_that_is_not_loopback(desk: Any, mailbox: Mailbox) -> None:
    # given a mailbox set up around the services' checks
    Mailbox.objects.filter(pk=mailbox.pk).update(imap_host="imap.example.com")
    outcome = mailbox_poll(mailbox_id=mailbox.pk, now=NOW, ingest=FakeIngest())
    assert outcome.status == PollStatus.ERROR
    assert outcome.error.startswith("refusing to send the password in clear text to imap.example.com")
    assert fresh(mailbox).last_error == outcome.error


def test_inactive_or_mta_only_mailbox_is_not_polled(desk: Any, mailbox: Mailbox) -> None:
    mailbox_deactivate(actor=desk.admin, mailbox_id=mailbox.pk, now=NOW)
    assert mailbox_poll(mailbox_id=mailbox.pk, now=NOW, ingest=FakeIngest()) == PollOutcome(
        mailbox.pk, PollStatus.DISABLED
    )
    assert fresh(mailbox).last_polled_at is None
    with pytest.raises(NotFound):
        mailbox_poll(mailbox_id=mailbox.pk + 1000, now=NOW, ingest=FakeIngest())


def test_a_held_lease_makes_another_poll_busy_until_it_expires(
    settings: Any, server: ImapServer, folder: str, mailbox: Mailbox
) -> None:
    # given another poller holding the lease for five minutes
    server.append(folder, message(1, folder))
    Mailbox.objects.filter(pk=mailbox.pk).update(lease_until=NOW + timedelta(minutes=5))
    fake = FakeIngest()
    # then a poll now is busy and touches nothing
    assert mailbox_poll(mailbox_id=mailbox.pk, now=NOW, ingest=fake) == PollOutcome(
        mailbox.pk, PollStatus.BUSY
    )
    assert fake.calls == []
    assert (fresh(mailbox).lease_until, fresh(mailbox).last_polled_at) == (NOW + timedelta(minutes=5), None)
    # and once the lease ran out (its holder died), the next poll takes it over
    later = NOW + timedelta(minutes=5, seconds=1)
    assert mailbox_poll(mailbox_id=mailbox.pk, now=later, ingest=fake).ingested == 1
    assert fresh(mailbox).lease_until is None


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_pollers_at_once_one_reads_the_other_is_busy(
    server: ImapServer, folder: str, mailbox: Mailbox
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks across threads (SKIP LOCKED) need PostgreSQL; SQLite serialises writers")
    sent = [message(n, folder) for n in range(1, 7)]
    uids = server.append(folder, *sent)
    barrier = threading.Barrier(2)
    returned = threading.Event()
    fake = FakeIngest()
    outcomes: list[PollOutcome] = []

    def slow(**kwargs: Any) -> Any:
        returned.wait(timeout=10)  # the lease holder reads only once the other poll returned
        return fake(**kwargs)

    def poller() -> None:
        try:
            barrier.wait()
            outcomes.append(mailbox_poll(mailbox_id=mailbox.pk, now=NOW, ingest=slow))
            returned.set()
        finally:
            connection.close()

    threads = [threading.Thread(target=poller) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes, key=lambda o: o.status) == [
        PollOutcome(mailbox.pk, PollStatus.BUSY),
        PollOutcome(mailbox.pk, PollStatus.OK, fetched=6, ingested=6),
    ]
    assert fake.raws == sent  # each exactly once
    assert server.flags(folder) == {uid: SEEN for uid in uids}
    mb = fresh(mailbox)
    assert (mb.last_uid, mb.lease_until) == (uids[-1], None)


def test_worker_poller_polls_each_mailbox_every_interval(
    settings: Any, server: ImapServer, folder: str, mailbox: Mailbox, desk: Any
) -> None:
    from sportello.core import worker

    assert worker._POLLERS["imap"] is imap.imap_poll
    settings.SPORTELLO = {**settings.SPORTELLO, "IMAP_EVERY": 60.0}
    mailbox_create(actor=None, data={"address": "mta@desk.test", "department_id": desk.books.pk}, now=NOW)
    server.append(folder, message(1, folder))
    fake = FakeIngest()
    # the first round polls the IMAP mailbox (the MTA-only one is never polled)
    assert imap.imap_poll(NOW, ingest=fake) == NOW + timedelta(seconds=60)
    assert len(fake.calls) == 1
    # half a minute later: not its turn, even with new mail
    server.append(folder, message(2, folder))
    assert imap.imap_poll(NOW + timedelta(seconds=30), ingest=fake) == NOW + timedelta(seconds=60)
    assert len(fake.calls) == 1
    # a minute later: polled again
    assert imap.imap_poll(NOW + timedelta(seconds=60), ingest=fake) == NOW + timedelta(seconds=120)
    assert fake.raws == [message(1, folder), message(2, folder)]
    # a mailbox leased by another worker is left alone until its lease runs out
    Mailbox.objects.filter(pk=mailbox.pk).update(lease_until=NOW + timedelta(seconds=500))
    assert imap.imap_poll(NOW + timedelta(seconds=200), ingest=fake) == NOW + timedelta(seconds=500)
    # no IMAP mailbox: nothing to wake up for
    mailbox_deactivate(actor=None, mailbox_id=mailbox.pk, now=NOW)
    assert imap.imap_poll(NOW + timedelta(seconds=600), ingest=fake) is None


def test_folder_names_are_quoted_and_non_ascii_in_modified_utf7() -> None:
    assert imap.folder_name("INBOX") == '"INBOX"'
    assert imap.folder_name('Posta "in" arrivo\\') == '"Posta \\"in\\" arrivo\\\\"'
    assert imap.folder_name("Entrée & più") == '"Entr&AOk-e &- pi&APk-"'
    assert imap.folder_name("日本語") == '"&ZeVnLIqe-"'


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.5.0.1", True), ("::1", True), ("[::1]", True), ("LocalHost", True),
     ("10.0.0.1", False), ("imap.example.com", False), ("", False)],
)  # fmt: skip
def test_host_is_loopback(host: str, loopback: bool) -> None:
    assert host_is_loopback(host) is loopback


def test_non_ascii_password_logs_in_with_sasl_plain(
    server: ImapServer, folder: str, mailbox: Mailbox
) -> None:
    # the server's user has an ASCII password: the UTF-8 one is sent (SASL PLAIN) and refused
    Mailbox.objects.filter(pk=mailbox.pk).update(imap_password="pàssword")
    outcome = mailbox_poll(mailbox_id=mailbox.pk, now=NOW, ingest=FakeIngest())
    assert outcome.status == PollStatus.ERROR
    assert outcome.error.startswith("login as 'desk' failed: ")


# --------------------------------------------------------------------------------------------
# Mailbox services


def base(desk: Any, **overrides: Any) -> dict[str, Any]:
    return {
        "address": "Orders@Desk.TEST",
        "department_id": desk.books.pk,
        "imap_host": "imap.desk.test",
        "imap_username": "orders",
        "imap_password": "s3cret",
        **overrides,
    }


def test_mailbox_create_lower_cases_the_address_and_defaults_to_tls(desk: Any) -> None:
    mb = mailbox_create(actor=desk.admin, data=base(desk), now=NOW)
    mb = fresh(mb)
    assert (mb.address, mb.department_id, mb.active, mb.created_at) == (
        "orders@desk.test",
        desk.books.pk,
        True,
        NOW,
    )
    assert (mb.imap_host, mb.imap_port, mb.imap_security, mb.imap_folder) == (
        "imap.desk.test",
        993,
        "ssl",
        "INBOX",
    )
    assert (mb.imap_username, mb.imap_password, mb.uidvalidity, mb.last_uid) == ("orders", "s3cret", None, 0)


def test_mailbox_create_without_imap_is_an_mta_mailbox(desk: Any) -> None:
    mb = mailbox_create(
        actor=desk.admin, data={"address": "in@desk.test", "department_id": desk.books.pk}, now=NOW
    )
    assert (mb.imap_host, mb.imap_username, mb.imap_password) == ("", "", "")


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"address": "not an address"}, "address", "must be a valid e-mail address"),
        ({"address": "  "}, "address", "is required"),
        ({"department_id": 999_999}, "department_id", "no department with id 999999"),
        ({"department_id": "1"}, "department_id", "must be a department's id"),
        ({"imap_port": 0}, "imap_port", "must be a port number between 1 and 65535"),
        ({"imap_port": 65536}, "imap_port", "must be a port number between 1 and 65535"),
        ({"imap_port": True}, "imap_port", "must be a port number between 1 and 65535"),
        ({"imap_take_read": "yes"}, "imap_take_read", "must be true or false"),
        ({"imap_security": "tls"}, "imap_security", "must be one of ssl, starttls, none"),
        ({"imap_host": "imaps://imap.desk.test"}, "imap_host",
         "give the host name alone, without a scheme (like imap.example.com)"),
        ({"imap_host": "imap.desk.test:993"}, "imap_host",
         "must be a host name or an IP address, without port, path or user"),
        ({"imap_host": "user@imap.desk.test"}, "imap_host",
         "must be a host name or an IP address, without port, path or user"),
        ({"imap_security": "none"}, "imap_security",
         "without TLS the password would travel in clear text: only a loopback host "
         "(127.0.0.1, ::1, localhost) may use security none"),
        ({"imap_username": ""}, "imap_username", "is required to read the mailbox over IMAP"),
        ({"imap_password": ""}, "imap_password", "is required to read the mailbox over IMAP"),
        ({"imap_folder": ""}, "imap_folder", "is required"),
        ({"imap_folder": "In\nbox"}, "imap_folder", "must not contain control characters"),
        ({"imap_password": "a\x00b"}, "imap_password", "must not contain NUL characters"),
        ({"active": "yes"}, "active", "must be true or false"),
        ({"uidvalidity": 5}, "uidvalidity", "unknown field"),
    ],
)  # fmt: skip
def test_mailbox_create_rejects_invalid_fields(
    desk: Any, overrides: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        mailbox_create(actor=desk.admin, data=base(desk, **overrides), now=NOW)
    assert (caught.value.field, caught.value.message) == (field, message)
    assert Mailbox.objects.count() == 0


def test_mailbox_create_requires_an_active_department(desk: Any) -> None:
    from sportello.accounts.services import department_update

    department_update(department=desk.electronics, actor=None, is_active=False)
    with pytest.raises(ValidationFailed) as caught:
        mailbox_create(actor=desk.admin, data=base(desk, department_id=desk.electronics.pk), now=NOW)
    assert (caught.value.field, caught.value.message) == (
        "department_id",
        "department 'Electronics' is inactive",
    )
    with pytest.raises(ValidationFailed) as missing:
        mailbox_create(actor=desk.admin, data={"address": "x@desk.test"}, now=NOW)
    assert missing.value.field == "department_id"


def test_mailbox_address_is_unique_whatever_its_case(desk: Any) -> None:
    mailbox_create(actor=desk.admin, data=base(desk), now=NOW)
    with pytest.raises(Conflict) as caught:
        mailbox_create(actor=desk.admin, data=base(desk, address="ORDERS@desk.test"), now=NOW)
    assert (caught.value.field, caught.value.message) == ("address", "a mailbox for orders@desk.test exists")
    other = mailbox_create(actor=desk.admin, data=base(desk, address="other@desk.test"), now=NOW)
    with pytest.raises(Conflict):
        mailbox_update(actor=desk.admin, mailbox_id=other.pk, data={"address": "Orders@desk.test"}, now=NOW)
    assert fresh(other).address == "other@desk.test"


@pytest.mark.parametrize("role", ["agent", "light", "outsider"])
def test_mailbox_services_are_for_admins_only(desk: Any, role: str) -> None:
    actor = getattr(desk, role)
    with pytest.raises(PermissionDenied):
        mailbox_create(actor=actor, data=base(desk), now=NOW)
    mb = mailbox_create(actor=desk.admin, data=base(desk), now=NOW)
    with pytest.raises(PermissionDenied):
        mailbox_update(actor=actor, mailbox_id=mb.pk, data={"imap_port": 143}, now=NOW)
    with pytest.raises(PermissionDenied):
        mailbox_deactivate(actor=actor, mailbox_id=mb.pk, now=NOW)
    assert (fresh(mb).imap_port, fresh(mb).active) == (993, True)


def test_mailbox_update_keeps_the_password_and_restarts_the_cursor_on_a_new_account(desk: Any) -> None:
    mb = mailbox_create(actor=desk.admin, data=base(desk), now=NOW)
    Mailbox.objects.filter(pk=mb.pk).update(uidvalidity=7, last_uid=40)
    # a change that keeps the account keeps the cursor and the password
    mailbox_update(
        actor=desk.admin, mailbox_id=mb.pk, data={"imap_security": "starttls", "imap_port": 143}, now=NOW
    )
    mb = fresh(mb)
    assert (mb.imap_security, mb.imap_port, mb.imap_password, mb.uidvalidity, mb.last_uid) == (
        "starttls", 143, "s3cret", 7, 40
    )  # fmt: skip
    # another folder is another UID space
    mailbox_update(actor=desk.admin, mailbox_id=mb.pk, data={"imap_folder": "Support"}, now=NOW)
    mb = fresh(mb)
    assert (mb.imap_folder, mb.uidvalidity, mb.last_uid) == ("Support", None, 0)
    # an empty password is refused while the mailbox is read over IMAP
    with pytest.raises(ValidationFailed) as caught:
        mailbox_update(actor=desk.admin, mailbox_id=mb.pk, data={"imap_password": ""}, now=NOW)
    assert caught.value.field == "imap_password"
    with pytest.raises(NotFound):
        mailbox_update(actor=desk.admin, mailbox_id=mb.pk + 1000, data={}, now=NOW)


def test_mailbox_deactivate_stops_receiving(desk: Any) -> None:
    mb = mailbox_create(actor=desk.admin, data=base(desk), now=NOW)
    assert mailbox_deactivate(actor=desk.admin, mailbox_id=mb.pk, now=NOW).active is False
    assert fresh(mb).active is False


# --------------------------------------------------------------------------------------------
# The API (`/api/v1/mailboxes`, mounted in sportello.api)


def api_body(desk: Any, **overrides: Any) -> dict[str, Any]:
    return {
        "address": "Orders@desk.test",
        "department_id": desk.books.pk,
        "imap_host": "imap.desk.test",
        "imap_username": "orders",
        "imap_password": "s3cret",
        **overrides,
    }


def test_api_create_get_list_patch_and_delete_never_show_the_password(desk: Any, as_role: Any) -> None:
    admin = as_role("admin")
    created = admin.post("/mailboxes", api_body(desk))
    assert created.status_code == 201, created.content
    body = created.json()
    mailbox_id = body["id"]
    assert body == {
        "id": mailbox_id, "address": "orders@desk.test", "department_id": desk.books.pk, "active": True,
        "imap_host": "imap.desk.test", "imap_port": 993, "imap_security": "ssl", "imap_username": "orders",
        "imap_password_set": True, "imap_folder": "INBOX", "imap_take_read": False, "uidvalidity": None,
        "last_uid": 0,
        "last_polled_at": None, "last_error": "", "created_at": body["created_at"],
    }  # fmt: skip
    responses = [
        created,
        admin.get(f"/mailboxes/{mailbox_id}"),
        admin.get("/mailboxes"),
        admin.patch(f"/mailboxes/{mailbox_id}", {"imap_port": 1993, "imap_password": "n3w-s3cret"}),
        admin.delete(f"/mailboxes/{mailbox_id}"),
    ]
    assert [r.status_code for r in responses] == [201, 200, 200, 200, 200]
    for r in responses:
        assert b"s3cret" not in r.content
        assert b'imap_password"' not in r.content
    assert admin.get("/mailboxes").json()["items"][0]["id"] == mailbox_id
    assert (responses[3].json()["imap_port"], responses[4].json()["active"]) == (1993, False)
    assert fresh(Mailbox(pk=mailbox_id)).imap_password == "n3w-s3cret"


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 201), ("agent", 403), ("light", 403), ("outsider", 403), ("anonymous", 401), ("revoked", 401)],
)
def test_api_is_for_admins_only(desk: Any, as_role: Any, role: str, status: int) -> None:
    client = as_role(role)
    assert client.post("/mailboxes", api_body(desk)).status_code == status
    mb = Mailbox.objects.get() if status == 201 else mailbox_create(actor=None, data=base(desk), now=NOW)
    expected = 200 if role == "admin" else status
    got = [
        client.get("/mailboxes").status_code,
        client.get(f"/mailboxes/{mb.pk}").status_code,
        client.patch(f"/mailboxes/{mb.pk}", {"imap_port": 143}).status_code,
        client.delete(f"/mailboxes/{mb.pk}").status_code,
    ]
    assert got == [expected] * 4
    if role != "admin":
        assert (fresh(mb).imap_port, fresh(mb).active) == (993, True)


def test_api_validation_errors_name_the_field(desk: Any, as_role: Any) -> None:
    admin = as_role("admin")
    cases = [
        (api_body(desk, imap_port=70000), 422, "imap_port"),
        (api_body(desk, imap_security="tls"), 422, "imap_security"),
        (api_body(desk, imap_host="https://imap.desk.test"), 422, "imap_host"),
        (api_body(desk, department_id=999_999), 422, "department_id"),
        (api_body(desk, last_uid=4), 422, "last_uid"),
    ]
    for payload, status, field in cases:
        r = admin.post("/mailboxes", payload)
        assert (r.status_code, r.json()["error"]["field"]) == (status, field), r.content
    assert admin.post("/mailboxes", api_body(desk)).status_code == 201
    r = admin.post("/mailboxes", api_body(desk, address="ORDERS@desk.test"))
    assert (r.status_code, r.json()["error"]["code"], r.json()["error"]["field"]) == (
        409,
        "conflict",
        "address",
    )
    assert admin.get("/mailboxes/999999").status_code == 404


def test_api_poll_now_returns_the_counts(
    desk: Any, as_role: Any, server: ImapServer, folder: str, mailbox: Mailbox, real_ingest: Any
) -> None:
    server.append(folder, message(1, folder), message(2, folder))
    r = as_role("admin").post(f"/mailboxes/{mailbox.pk}/poll", {})
    assert r.status_code == 200, r.content
    assert r.json() == {
        "status": "ok",
        "fetched": 2,
        "ingested": 2,
        "duplicates": 0,
        "failed": 0,
        "error": "",
    }
    assert as_role("agent").post(f"/mailboxes/{mailbox.pk}/poll", {}).status_code == 403
    Mailbox.objects.filter(pk=mailbox.pk).update(imap_password="wrong-password")
    r = as_role("admin").post(f"/mailboxes/{mailbox.pk}/poll", {})
    assert (r.status_code, r.json()["status"], r.json()["fetched"]) == (200, "error", 0)
    assert r.json()["error"].startswith("login as 'desk' failed")

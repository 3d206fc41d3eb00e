"""Editing a mailbox safely (`channels.mailboxes`): a save drawn from a fingerprint someone else's
change has moved is refused and writes nothing; the poller's own writes do not move it; a
deactivated mailbox is reactivated; a draft (what "test connection" tries) is validated as a
save and never saved, keeping the stored password when none is given."""

from __future__ import annotations

from typing import Any

import pytest

from sportello.channels.mailboxes import (
    mailbox_create,
    mailbox_deactivate,
    mailbox_draft,
    mailbox_fingerprint,
    mailbox_reactivate,
    mailbox_update,
)
from sportello.channels.models import Mailbox
from sportello.core.errors import Conflict, PermissionDenied, ValidationFailed
from testing import NOW


def make(desk: Any) -> Mailbox:
    return mailbox_create(
        actor=desk.admin,
        data={
            "address": "help@desk.test", "department_id": desk.books.pk, "imap_host": "imap.desk.test",
            "imap_username": "help", "imap_password": "first-password",
        },
        now=NOW,
    )  # fmt: skip


def test_a_save_over_someone_elses_change_is_refused_and_writes_nothing(desk: Any) -> None:
    # given a form drawn from the mailbox, and another admin's change since
    mailbox = make(desk)
    seen = mailbox_fingerprint(mailbox)
    mailbox_update(actor=desk.admin, mailbox_id=mailbox.pk, data={"imap_folder": "Theirs"}, now=NOW)
    # when the form is saved
    with pytest.raises(Conflict) as stale:
        mailbox_update(
            actor=desk.admin, mailbox_id=mailbox.pk, data={"imap_folder": "Mine"}, now=NOW, expected=seen
        )
    # then it is refused as stale, and the other change stays
    assert stale.value.field == "expected"
    mailbox.refresh_from_db()
    assert mailbox.imap_folder == "Theirs"
    # and a save drawn from the mailbox as it is now goes through
    mailbox_update(
        actor=desk.admin, mailbox_id=mailbox.pk, data={"imap_folder": "Mine"}, now=NOW,
        expected=mailbox_fingerprint(mailbox),
    )  # fmt: skip
    mailbox.refresh_from_db()
    assert mailbox.imap_folder == "Mine"


def test_a_new_password_moves_the_fingerprint_but_the_pollers_writes_do_not(desk: Any) -> None:
    mailbox = make(desk)
    seen = mailbox_fingerprint(mailbox)
    Mailbox.objects.filter(pk=mailbox.pk).update(
        last_uid=42, uidvalidity=7, last_polled_at=NOW, last_error="boom", lease_until=NOW
    )
    mailbox.refresh_from_db()
    assert mailbox_fingerprint(mailbox) == seen
    mailbox_update(actor=desk.admin, mailbox_id=mailbox.pk, data={"imap_password": "second"}, now=NOW)
    mailbox.refresh_from_db()
    assert mailbox_fingerprint(mailbox) != seen
    assert "second" not in mailbox_fingerprint(mailbox)


def test_a_deactivated_mailbox_is_reactivated(desk: Any) -> None:
    mailbox = make(desk)
    assert not mailbox_deactivate(actor=desk.admin, mailbox_id=mailbox.pk, now=NOW).active
    assert mailbox_reactivate(actor=desk.admin, mailbox_id=mailbox.pk, now=NOW).active
    assert mailbox_reactivate(actor=desk.admin, mailbox_id=mailbox.pk, now=NOW).active
    with pytest.raises(PermissionDenied):
        mailbox_reactivate(actor=desk.agent, mailbox_id=mailbox.pk, now=NOW)


def test_a_draft_is_validated_never_saved_and_keeps_the_stored_password(desk: Any) -> None:
    mailbox = make(desk)
    draft = mailbox_draft(actor=desk.admin, data={"imap_folder": "Elsewhere"}, mailbox_id=mailbox.pk)
    assert (draft.imap_folder, draft.imap_password) == ("Elsewhere", "first-password")
    mailbox.refresh_from_db()
    assert mailbox.imap_folder == "INBOX"
    with pytest.raises(ValidationFailed) as no_host:
        mailbox_draft(actor=desk.admin, data={"imap_host": ""})
    assert no_host.value.field == "imap_host"
    with pytest.raises(ValidationFailed) as no_password:
        mailbox_draft(actor=desk.admin, data={"imap_host": "imap.desk.test", "imap_username": "u"})
    assert no_password.value.field == "imap_password"
    assert Mailbox.objects.count() == 1

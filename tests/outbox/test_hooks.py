"""The outbox's seams: the apps above it register hooks instead of being imported. A delivery that
fails for good is reported to every registered hook once, after its failure is recorded; a hook
that raises is logged and stops neither the others nor the delivery's record. Threading reads the
mail received through the registered sources."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from sportello.outbox import hooks
from sportello.outbox.models import OutboxMessage, OutboxStatus
from sportello.outbox.services import outbox_add, outbox_deliver
from sportello.tickets import delivery
from testing import NOW


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int, OutboxStatus]]:
    """Two hooks registered for the test only (the first raises), in front of the real ones."""
    seen: list[tuple[str, int, OutboxStatus]] = []

    def broken(*, outbox_id: int, now: datetime) -> None:
        seen.append(("broken", outbox_id, OutboxStatus(OutboxMessage.objects.get(pk=outbox_id).status)))
        raise RuntimeError("boom")

    def recorder(*, outbox_id: int, now: datetime) -> None:
        seen.append(("recorder", outbox_id, OutboxStatus(OutboxMessage.objects.get(pk=outbox_id).status)))

    monkeypatch.setattr(hooks, "_failed_hooks", [broken, recorder, *hooks._failed_hooks])
    return seen


def unusable_webhook(key: str) -> OutboxMessage:
    return outbox_add(kind="webhook", ticket=None, change_id=None, dedupe_key=key, payload={}, now=NOW)


def test_a_permanent_failure_reaches_every_hook_once_after_it_is_recorded(
    db: Any, calls: list[tuple[str, int, OutboxStatus]], caplog: pytest.LogCaptureFixture
) -> None:
    # given a webhook whose payload cannot be sent
    item = unusable_webhook("hooks:1")
    # when it is attempted, and attempted again
    assert outbox_deliver(outbox_id=item.pk, now=NOW) == OutboxStatus.FAILED
    assert outbox_deliver(outbox_id=item.pk, now=NOW + timedelta(minutes=1)) == OutboxStatus.FAILED
    # then each hook ran once, after the failure was recorded, the raising one did not stop the
    # other, and its error is logged
    assert calls == [("broken", item.pk, OutboxStatus.FAILED), ("recorder", item.pk, OutboxStatus.FAILED)]
    assert "could not record the failed delivery of outbox" in caplog.text
    item.refresh_from_db()
    assert (item.status, item.attempts) == (OutboxStatus.FAILED, 1)


def test_a_delivery_that_goes_out_reaches_no_hook(
    db: Any, calls: list[tuple[str, int, OutboxStatus]], settings: Any
) -> None:
    # given an e-mail (the test mailer accepts everything)
    item = outbox_add(
        kind="email",
        ticket=None,
        change_id=None,
        dedupe_key="hooks:2",
        payload={"to": ["a@example.test"], "subject": "s", "body": "b"},
        now=NOW,
    )
    # when it is sent
    assert outbox_deliver(outbox_id=item.pk, now=NOW) == OutboxStatus.SENT
    # then no hook ran
    assert calls == []


def test_the_apps_register_their_hooks() -> None:
    # the tickets app records failed replies; mail intake gives the mail received for threading
    assert delivery.reply_failed in hooks._failed_hooks
    assert [s.__module__ for s in hooks._thread_sources] == ["sportello.channels.threads"]


def test_received_message_ids_merge_the_sources_most_recent_first(monkeypatch: pytest.MonkeyPatch) -> None:
    # given two sources
    def first(*, ticket_id: int, limit: int) -> list[tuple[str, datetime]]:
        return [("b@x", NOW - timedelta(hours=1)), ("d@x", NOW - timedelta(hours=3))]

    def second(*, ticket_id: int, limit: int) -> list[tuple[str, datetime]]:
        return [("a@x", NOW), ("c@x", NOW - timedelta(hours=2))]

    monkeypatch.setattr(hooks, "_thread_sources", [first, second])
    # when the outbox asks for three
    got = hooks.received_message_ids(ticket_id=1, limit=3)
    # then it gets the three most recent
    assert [mid for mid, _ in got] == ["a@x", "b@x", "c@x"]

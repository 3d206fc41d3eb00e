"""Queueing outbox items (`outbox.queueing`): the rows and delivery jobs written in plain SQL are
the rows the ORM and the tasks backend write, a change's effects are written in two statements,
and each webhook's fairness priority is what it would have been had the items been added one
at a time (minus the deliveries already pending to its destination, at most 100)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.tasks import task_backends
from django.tasks.exceptions import InvalidTask
from django.tasks.signals import task_enqueued
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from sportello.automation.models import RuleKind
from sportello.automation.services import rule_save
from sportello.core.actors import Via
from sportello.outbox import queueing
from sportello.outbox.jobs import deliver_outbox
from sportello.outbox.models import OutboxMessage, OutboxStatus
from sportello.outbox.services import (
    destination_priority,
    outbox_add,
    outbox_add_all,
    webhook_destination,
)
from sportello.tickets import services as tickets
from testing import NOW

A = "https://hooks.example.test/a"
A2 = "https://hooks.example.test:443/other-path"  # the same destination as A
B = "http://other.example.test/b"


def effect(key: str, url: str | None) -> dict[str, Any]:
    """A webhook to `url`, or an e-mail when `url` is None."""
    if url is None:
        return {
            "kind": "email",
            "dedupe_key": key,
            "payload": {"to": ["a@acme.test"], "subject": "s", "body": "b"},
        }
    return {"kind": "webhook", "dedupe_key": key, "payload": {"url": url, "body": "{}", "headers": {}}}


def job_of(pk: int) -> DBTaskResult:
    return DBTaskResult.objects.get(task_path=deliver_outbox.module_path, args_kwargs__kwargs__outbox_id=pk)


def raw_row(model: Any, pk: Any) -> dict[str, Any]:
    """A row as the database stores it (no field conversion)."""
    opts = model._meta
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT * FROM {opts.db_table} WHERE {opts.pk.column} = %s",
            [opts.pk.get_db_prep_value(pk, connection)],
        )
        names = [c[0] for c in cursor.description]
        [row] = cursor.fetchall()
    return dict(zip(names, row, strict=True))


def pending(url: str, n: int, *, prefix: str) -> None:
    """`n` deliveries already pending to `url`'s destination (and one sent, which does not count)."""
    rows = [
        OutboxMessage(
            kind="webhook",
            destination=webhook_destination(url),
            dedupe_key=f"{prefix}:{i}",
            payload={"url": url},
            status=OutboxStatus.PENDING if i < n else OutboxStatus.SENT,
            next_attempt_at=NOW,
            created_at=NOW,
        )
        for i in range(n + 1)
    ]
    OutboxMessage.objects.bulk_create(rows)


def one_at_a_time(effects: Sequence[dict[str, Any]]) -> list[int]:
    """The priorities the items got when `outbox_add` wrote each row through the ORM and then
    counted the destination's other pending rows (`destination_priority`): what the batch must
    reproduce. Nothing it writes is kept."""
    priorities: list[int] = []
    with transaction.atomic():
        for e in effects:
            item = OutboxMessage.objects.create(
                kind=e["kind"],
                destination=webhook_destination(e["payload"].get("url")) if e["kind"] == "webhook" else "",
                dedupe_key=f"alone:{e['dedupe_key']}",
                payload=e["payload"],
                next_attempt_at=NOW,
                created_at=NOW,
            )
            priorities.append(destination_priority(item))
        transaction.set_rollback(True)
    return priorities


CASES = {
    "two to one destination, one to another": ({}, [A, A2, B]),
    "mail and webhooks mixed, some already pending": ({A: 2, B: 1}, [A, None, A2, B, None, A]),
    "a backlog at the cap": ({A: 99}, [A, A, A, B]),
    "a backlog past the cap": ({A: 150}, [A, B, A]),
    "not an http(s) URL: no destination": ({}, ["ftp://files.example.test/x", "not a url", A]),
    "more than fit one statement, past the cap": ({B: 3}, [A] * 104 + [B] * 3),
}


@pytest.mark.parametrize(("backlog", "urls"), list(CASES.values()), ids=list(CASES))
def test_each_item_gets_the_priority_it_had_when_items_were_added_one_at_a_time(
    db: Any, backlog: dict[str, int], urls: list[str | None]
) -> None:
    # given deliveries already pending to some destinations
    for n, (url, count) in enumerate(backlog.items()):
        pending(url, count, prefix=f"old{n}")
    effects = [effect(f"new:{i}", url) for i, url in enumerate(urls)]
    expected = one_at_a_time(effects)
    # when the items are queued together
    ids = outbox_add_all(effects=effects, ticket=None, change_id=None, now=NOW)
    # then each delivery job has the priority it had when added alone, in turn
    assert [job_of(pk).priority for pk in ids] == expected


def test_two_webhooks_to_one_destination_and_one_to_another_take_turns(desk: Any, now: datetime) -> None:
    # given a rule that queues two webhooks to one receiver and one to another on every update
    rule_save(
        kind=RuleKind.EVENT,
        definition={
            "key": "fan-out",
            "name": "Fan out",
            "on": ["ticket.updated"],
            "when": {"field": "event.via", "op": "is", "value": "api"},
            "actions": [{"webhook": {"url": url, "body": "{{ ticket.number }}"}} for url in (A, A2, B)],
        },
        created_by=desk.admin,
        now=now,
    )
    ticket = tickets.ticket_open(
        principal=desk.agent,
        via=Via.API,
        data={
            "subject": "Hi",
            "description": "x",
            "department_id": desk.books.pk,
            "requester_id": desk.alice.pk,
        },
        now=now,
    ).ticket
    # when a change fires it
    outcome = tickets.ticket_update(
        principal=desk.agent,
        ticket_id=ticket.pk,
        via=Via.API,
        data={"version": ticket.version, "add_tags": ["vip"]},
        now=now,
    )
    # then its three deliveries wait in the webhook queue: the second to the busy receiver after
    # the other receiver's (priority 0, -1; 0), each due now, in the order they were queued
    rows = list(OutboxMessage.objects.filter(change_id=outcome.change_id).order_by("id"))
    assert [r.destination for r in rows] == [
        "https://hooks.example.test:443",
        "https://hooks.example.test:443",
        "http://other.example.test:80",
    ]
    jobs = [job_of(r.pk) for r in rows]
    assert [(j.priority, j.queue_name, j.run_after) for j in jobs] == [
        (0, "webhook", datetime(9999, 1, 1, tzinfo=UTC)),
        (-1, "webhook", datetime(9999, 1, 1, tzinfo=UTC)),
        (0, "webhook", datetime(9999, 1, 1, tzinfo=UTC)),
    ]
    assert jobs[0].enqueued_at < jobs[1].enqueued_at < jobs[2].enqueued_at
    assert [(r.ticket_id, r.payload["body"]) for r in rows] == [(ticket.pk, str(ticket.number))] * 3


def test_the_effects_of_a_change_are_written_in_two_statements(db: Any) -> None:
    effects = [effect("s:1", A), effect("s:2", None), effect("s:3", A2), effect("s:4", B)]
    with CaptureQueriesContext(connection) as queries:
        ids = outbox_add_all(effects=effects, ticket=None, change_id=None, now=NOW)
    # one INSERT of the four rows, one of their four jobs (with the webhooks' fairness counts)
    assert [q["sql"].split(" ", 2)[:2] for q in queries.captured_queries] == [
        ["INSERT", "INTO"],
        ["INSERT", "INTO"],
    ]
    assert len(ids) == 4
    assert DBTaskResult.objects.filter(args_kwargs__kwargs__outbox_id__in=ids).count() == 4


def test_a_delivery_job_is_the_row_the_tasks_backend_writes(db: Any) -> None:
    # given a webhook queued through the outbox, after another to its destination (priority -1)
    outbox_add_all(effects=[effect("j:0", A)], ticket=None, change_id=None, now=NOW)
    before = timezone.now()
    [pk] = outbox_add_all(effects=[effect("j:1", A)], ticket=None, change_id=None, now=NOW)
    ours = job_of(pk)
    # when the backend enqueues the same job itself
    theirs = deliver_outbox.using(queue_name="webhook", priority=-1).enqueue(outbox_id=pk)
    after = timezone.now()
    # then the two rows are the same, column for column, but for the id and the instant
    theirs_pk = theirs.db_result.pk  # type: ignore[attr-defined]  # django-tasks-db's result
    mine, backends = raw_row(DBTaskResult, ours.pk), raw_row(DBTaskResult, theirs_pk)
    assert set(mine) == {f.column for f in DBTaskResult._meta.concrete_fields}
    for row in (mine, backends):
        row.pop("id")
        row.pop("enqueued_at")
    assert mine == backends
    assert before <= ours.enqueued_at <= DBTaskResult.objects.get(pk=theirs_pk).enqueued_at <= after
    assert (ours.priority, ours.queue_name, ours.status) == (-1, "webhook", "READY")


def test_an_outbox_row_is_the_row_the_orm_writes(db: Any, desk: Any) -> None:
    # given an item queued through the outbox
    ticket = tickets.ticket_open(
        principal=desk.agent,
        via=Via.API,
        data={
            "subject": "Hi",
            "description": "x",
            "department_id": desk.books.pk,
            "requester_id": desk.alice.pk,
        },
        now=NOW,
    ).ticket
    change = uuid.uuid4()
    payload = {"url": A, "body": "{}", "headers": {"X-Sportello-Depth": "1"}, "ticket_number": 3}
    item = outbox_add(
        kind="webhook", ticket=ticket, change_id=change, dedupe_key="o:1", payload=payload, now=NOW
    )
    # when the ORM writes the same row
    orm = OutboxMessage.objects.create(
        kind="webhook",
        destination=webhook_destination(A),
        ticket=ticket,
        change_id=change,
        dedupe_key="o:2",
        payload=payload,
        next_attempt_at=NOW,
        created_at=NOW,
    )
    # then the two rows are the same, column for column, but for the id, key and delivery id
    mine, orms = raw_row(OutboxMessage, item.pk), raw_row(OutboxMessage, orm.pk)
    assert set(mine) == {f.column for f in OutboxMessage._meta.concrete_fields}
    assert mine["delivery_id"] != orms["delivery_id"]
    for row in (mine, orms):
        for column in ("id", "dedupe_key", "delivery_id"):
            row.pop(column)
    assert mine == orms
    # and the returned item is the row as read back
    stored = OutboxMessage.objects.get(pk=item.pk)
    assert [getattr(item, f.attname) for f in OutboxMessage._meta.concrete_fields] == [
        getattr(stored, f.attname) for f in OutboxMessage._meta.concrete_fields
    ]
    assert (item.ticket, item._state.adding) == (ticket, False)


def test_a_repeated_dedupe_key_fails_and_writes_nothing(db: Any) -> None:
    outbox_add_all(effects=[effect("d:1", A)], ticket=None, change_id=None, now=NOW)
    jobs = DBTaskResult.objects.count()
    with pytest.raises(IntegrityError), transaction.atomic():
        outbox_add_all(effects=[effect("d:2", A), effect("d:1", B)], ticket=None, change_id=None, now=NOW)
    assert list(OutboxMessage.objects.values_list("dedupe_key", flat=True)) == ["d:1"]
    assert DBTaskResult.objects.count() == jobs


@pytest.fixture
def enqueued() -> Iterator[list[Any]]:
    """The task results `task_enqueued` tells of, while the test runs."""
    seen: list[Any] = []

    def receiver(sender: Any, task_result: Any, **kwargs: Any) -> None:
        seen.append(task_result)

    task_enqueued.connect(receiver)
    try:
        yield seen
    finally:
        task_enqueued.disconnect(receiver)


def test_with_a_listener_to_enqueued_tasks_each_job_goes_through_the_tasks_api(
    db: Any, enqueued: list[Any]
) -> None:
    # given a receiver of `task_enqueued` and a delivery already pending to A
    pending(A, 1, prefix="old")
    # when three webhooks and an e-mail are queued together
    effects = [effect("l:1", A), effect("l:2", B), effect("l:3", None), effect("l:4", A2)]
    ids = outbox_add_all(effects=effects, ticket=None, change_id=None, now=NOW)
    # then each job was enqueued by the backend, which told the receiver, with the priorities
    # and queues the statement would have given
    assert [(r.kwargs, r.task.priority, r.task.queue_name) for r in enqueued] == [
        ({"outbox_id": ids[0]}, -1, "webhook"),
        ({"outbox_id": ids[1]}, 0, "webhook"),
        ({"outbox_id": ids[2]}, 0, "email"),
        ({"outbox_id": ids[3]}, -2, "webhook"),
    ]
    assert [job_of(pk).priority for pk in ids] == [-1, 0, 0, -2]


def test_another_tasks_backend_gets_each_job_through_the_tasks_api(db: Any, settings: Any) -> None:
    # given the dummy backend (it keeps what it is given) in place of the database's
    settings.TASKS = {
        "default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend", "QUEUES": ["email", "webhook"]}
    }
    # when two webhooks to one destination and one to another are queued together
    ids = outbox_add_all(
        effects=[effect("t:1", A), effect("t:2", A2), effect("t:3", B)], ticket=None, change_id=None, now=NOW
    )
    # then that backend has their jobs, with the priorities the database's would have
    results = task_backends["default"].results  # type: ignore[attr-defined]  # the dummy backend's
    assert [(r.kwargs, r.task.priority, r.task.queue_name) for r in results] == [
        ({"outbox_id": ids[0]}, 0, "webhook"),
        ({"outbox_id": ids[1]}, -1, "webhook"),
        ({"outbox_id": ids[2]}, 0, "webhook"),
    ]
    assert not DBTaskResult.objects.exists()


def test_a_queue_the_backend_does_not_have_is_refused_and_nothing_is_written(db: Any, settings: Any) -> None:
    settings.TASKS = {"default": {**settings.TASKS["default"], "QUEUES": ["default", "email"]}}
    with pytest.raises(InvalidTask), transaction.atomic():
        outbox_add_all(effects=[effect("q:1", None), effect("q:2", A)], ticket=None, change_id=None, now=NOW)
    assert not OutboxMessage.objects.exists()
    assert not DBTaskResult.objects.exists()


def test_no_effects_write_nothing(db: Any) -> None:
    with CaptureQueriesContext(connection) as queries:
        assert outbox_add_all(effects=[], ticket=None, change_id=None, now=NOW) == []
    assert queries.captured_queries == []


def test_the_fairness_cap_is_the_backends_lowest_priority() -> None:
    from django.tasks.base import TASK_MIN_PRIORITY

    assert -queueing.FAIR_RANK_MAX == TASK_MIN_PRIORITY

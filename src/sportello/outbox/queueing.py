"""How new outbox items are written (`services.outbox_add`, `services.outbox_add_all`): the items
of a call in one INSERT, their delivery jobs in one more, both plain SQL (PostgreSQL and SQLite)
in the caller's transaction. Building these statements through the ORM cost several times what
running them does, on the path of every change that queues a webhook or an e-mail.

An item's row is the one `OutboxMessage.objects.create` writes; its delivery job is the row
django-tasks-db's `DatabaseBackend.enqueue` writes (a `DBTaskResult`), column for column
(`tests/outbox/test_outbox_queueing.py` compares both). The job's priority is the destination's
fairness rank (`services.destination_priority`), computed by the INSERT itself: minus the number
of other deliveries pending to the destination, at most FAIR_RANK_MAX, where an item counts the
items of the same call before it and not those after, as if each had been added alone in turn.
When the jobs are not plainly the backend's rows (another backend, an id function of its own,
or something besides Django's log listening to `task_enqueued`), each is enqueued through the
tasks API instead, with the same priorities read in one statement.
"""

from __future__ import annotations

import logging
import uuid
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from django.db import connections, models, router, transaction
from django.db.backends.utils import CursorWrapper
from django.tasks import Task, TaskResultStatus
from django.tasks.backends.base import BaseTaskBackend
from django.tasks.signals import log_task_enqueued, task_enqueued
from django.utils import timezone
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult, get_date_max

from .models import OutboxMessage, OutboxStatus

FAIR_RANK_MAX = 100  # the backend's lowest task priority is -100
# Items per pair of statements. A change queues a handful; this bounds a statement's parameters,
# and the rows its fairness counts read, for a caller that queues many at once.
CHUNK = 100

tasks_logger = logging.getLogger("django.tasks")


def _field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    return cast("models.Field[Any, Any]", model._meta.get_field(name))


@dataclass(frozen=True, slots=True)
class _Sql:
    """The fixed parts of the statements, for one database."""

    items: str  # INSERT INTO ... VALUES, before the rows
    item_row: str
    returning: str
    rank: str  # a webhook's priority (`_ranks`)
    jobs: str  # INSERT INTO ... VALUES, before the rows


_sql_by_alias: dict[str, _Sql] = {}


def _sql(using: str) -> _Sql:
    found = _sql_by_alias.get(using)
    if found is not None:
        return found
    quote = connections[using].ops.quote_name

    def table(model: type[models.Model]) -> str:
        return quote(model._meta.db_table)

    def column(model: type[models.Model], name: str) -> str:
        return quote(cast(str, _field(model, name).column))

    items = ", ".join(column(OutboxMessage, name) for name in (*_ITEM_VALUES, *_ITEM_DEFAULTS))
    jobs = ", ".join(column(DBTaskResult, name) for name in _JOB_COLUMNS)
    sql = _Sql(
        items=f"INSERT INTO {table(OutboxMessage)} ({items}) VALUES ",  # noqa: S608
        item_row="(" + ", ".join(["%s"] * len(_ITEM_VALUES) + list(_ITEM_DEFAULTS.values())) + ")",
        returning=f" RETURNING {column(OutboxMessage, 'id')}, {column(OutboxMessage, 'dedupe_key')}",
        rank=(
            f"%s - (SELECT COUNT(*) FROM (SELECT 1 FROM {table(OutboxMessage)}"  # noqa: S608
            f" WHERE {column(OutboxMessage, 'destination')} = %s"
            f" AND {column(OutboxMessage, 'status')} = %s LIMIT %s) AS pending)"
        ),
        jobs=f"INSERT INTO {table(DBTaskResult)} ({jobs}) VALUES ",  # noqa: S608
    )
    _sql_by_alias[using] = sql
    return sql


@dataclass(frozen=True, slots=True)
class NewItem:
    """An outbox item to write, and the queue its delivery job waits in."""

    kind: str
    destination: str  # a webhook's `scheme://host:port`, its unit of fairness; "" for e-mail
    dedupe_key: str
    payload: dict[str, Any]
    queue: str
    delivery_id: uuid.UUID = field(default_factory=uuid.uuid4)


def items_add(
    items: Sequence[NewItem],
    *,
    ticket_id: int | None,
    change_id: uuid.UUID | None,
    now: datetime,
    task: Task[..., Any],
) -> list[int]:
    """Write `items` and enqueue a delivery of each (`task`, called with `outbox_id=`), due now;
    returns their ids, in order. A repeated dedupe key fails it (IntegrityError)."""
    using = router.db_for_write(OutboxMessage)
    connection = connections[using]
    backend = task.get_backend()
    plain = _plain_jobs(backend, using)
    ids: list[int] = []
    with transaction.atomic(using=using, savepoint=False), connection.cursor() as cursor:
        for start in range(0, len(items), CHUNK):
            chunk = items[start : start + CHUNK]
            chunk_ids = _items_insert(cursor, chunk, ticket_id=ticket_id, change_id=change_id, now=now)
            if plain:
                _jobs_insert(cursor, chunk, chunk_ids, task=task, backend=backend)
            else:
                _jobs_enqueue(cursor, chunk, chunk_ids, task=task)
            ids.extend(chunk_ids)
    return ids


# An item's columns bound per row, in `_items_insert`'s order; then those a new item has from
# the model's defaults, as SQL.
_ITEM_VALUES = (
    "kind",
    "destination",
    "ticket",
    "change_id",
    "dedupe_key",
    "delivery_id",
    "payload",
    "next_attempt_at",
    "created_at",
)
_ITEM_DEFAULTS = {
    "status": f"'{OutboxStatus.PENDING.value}'",
    "attempts": "0",
    "lease_until": "NULL",
    "lease_owner": "''",
    "window_start": "NULL",
    "parked_at": "NULL",
    "last_error": "''",
    "sent_at": "NULL",
}


def _items_insert(
    cursor: CursorWrapper,
    items: Sequence[NewItem],
    *,
    ticket_id: int | None,
    change_id: uuid.UUID | None,
    now: datetime,
) -> list[int]:
    """One INSERT of the items, returning their ids. Values are adapted as their fields do."""
    connection = cursor.db
    native_uuid = connection.features.has_native_uuid_field
    adapt_json = connection.ops.adapt_json_value
    change = _field(OutboxMessage, "change_id").get_db_prep_save(change_id, connection)
    instant = _field(OutboxMessage, "created_at").get_db_prep_save(now, connection)
    params: list[Any] = []
    for item in items:
        params += (
            item.kind,
            item.destination,
            ticket_id,
            change,
            item.dedupe_key,
            item.delivery_id if native_uuid else item.delivery_id.hex,
            adapt_json(item.payload, None),
            instant,
            instant,
        )
    sql = _sql(connection.alias)
    cursor.execute(sql.items + ", ".join([sql.item_row] * len(items)) + sql.returning, params)
    by_key = {key: pk for pk, key in cursor.fetchall()}
    return [by_key[item.dedupe_key] for item in items]


def _ranks(items: Sequence[NewItem], using: str) -> list[tuple[str, list[Any]]]:
    """Each item's task priority as SQL and its parameters, to be evaluated once the items are
    written. For the k-th (from 0) of the m items to a destination, with n others pending to it
    before: -min(FAIR_RANK_MAX, n + k) = (m - k) - min(FAIR_RANK_MAX - k + m, n + m), the last
    term a count of the destination's pending rows, these m included, that stops there."""
    rank = _sql(using).rank
    webhooks = [item.destination if item.kind == "webhook" else "" for item in items]
    totals: dict[str, int] = {}
    for destination in webhooks:
        totals[destination] = totals.get(destination, 0) + 1
    seen: dict[str, int] = {}
    ranks: list[tuple[str, list[Any]]] = []
    for destination in webhooks:
        k = seen.get(destination, 0)
        seen[destination] = k + 1
        m = totals[destination]
        if not destination:  # an e-mail, or a webhook to no http(s) URL
            ranks.append(("%s", [0]))
        elif k >= FAIR_RANK_MAX:
            ranks.append(("%s", [-FAIR_RANK_MAX]))
        else:
            ranks.append((rank, [m - k, destination, OutboxStatus.PENDING.value, FAIR_RANK_MAX - k + m]))
    return ranks


def _plain_jobs(backend: BaseTaskBackend, using: str) -> bool:
    """Whether `_jobs_insert` writes what the task's `enqueue` would: the database backend with
    its own ids, in the outbox's database, and nothing but Django's log told of each job."""
    if type(backend) is not DatabaseBackend or backend.options.get("id_function"):
        return False
    if router.db_for_write(DBTaskResult) != using:
        return False
    sync_receivers, async_receivers = task_enqueued._live_receivers(DatabaseBackend)
    return not async_receivers and all(r is log_task_enqueued for r in sync_receivers)


# Per backend (made again when the TASKS setting changes), the (task, queue) pairs validated.
_validated: weakref.WeakKeyDictionary[BaseTaskBackend, set[tuple[str, str]]] = weakref.WeakKeyDictionary()


def _validate(task: Task[..., Any], backend: BaseTaskBackend, queues: Iterable[str]) -> None:
    """Raise InvalidTask as `Task.using` does (e.g. for a queue the backend does not have)."""
    done = _validated.setdefault(backend, set())
    for queue in queues:
        if (task.module_path, queue) not in done:
            task.using(queue_name=queue)  # a Task validates itself with its backend
            done.add((task.module_path, queue))


# A job's columns in the order of `_jobs_insert`'s rows.
_JOB_COLUMNS = (
    "id",
    "status",
    "enqueued_at",
    "started_at",
    "finished_at",
    "args_kwargs",
    "priority",
    "task_path",
    "worker_ids",
    "queue_name",
    "backend_name",
    "run_after",
    "return_value",
    "exception_class_path",
    "traceback",
)


def _jobs_insert(
    cursor: CursorWrapper,
    items: Sequence[NewItem],
    ids: Sequence[int],
    *,
    task: Task[..., Any],
    backend: BaseTaskBackend,
) -> None:
    """One INSERT of the items' delivery jobs. Each is the row `DatabaseBackend.enqueue` writes
    (`_task_to_db_task`: `DBTaskResult.objects.create`): a new uuid4 (the model's default, the
    backend having no id function), READY, the task's path, queue, priority and backend, the
    arguments as the JSON of `{"args": [], "kwargs": {...}}`, no run_after stored as the
    backend's far-future sentinel (its `pre_save` handler), `enqueued_at` the wall clock (its
    `auto_now_add`), no worker ids ([]), no result, error or traceback; the priority computed by
    the statement (`_ranks`). Values are adapted as their fields do."""
    connection = cursor.db
    _validate(task, backend, {item.queue for item in items})
    native_uuid = connection.features.has_native_uuid_field
    adapt_json, adapt_instant = connection.ops.adapt_json_value, connection.ops.adapt_datetimefield_value
    status = TaskResultStatus.READY.value
    worker_ids = _field(DBTaskResult, "worker_ids").get_db_prep_save([], connection)
    run_after = _field(DBTaskResult, "run_after").get_db_prep_save(get_date_max(), connection)
    rows: list[str] = []
    params: list[Any] = []
    job_ids: list[uuid.UUID] = []
    stamp = timezone.now()
    for item, pk, (rank_sql, rank_params) in zip(items, ids, _ranks(items, connection.alias), strict=True):
        job_id = uuid.uuid4()
        job_ids.append(job_id)
        rows.append(f"(%s, %s, %s, NULL, NULL, %s, {rank_sql}, %s, %s, %s, %s, %s, NULL, '', '')")
        params += (
            job_id if native_uuid else job_id.hex,
            status,
            adapt_instant(stamp),
            adapt_json({"args": [], "kwargs": {"outbox_id": pk}}, None),
            *rank_params,
            task.module_path,
            worker_ids,
            item.queue,
            backend.alias,
            run_after,
        )
        # Jobs of one priority and instant are claimed in the order they were enqueued: each
        # row gets its own, later instant, as one enqueue after another would.
        stamp = max(timezone.now(), stamp + timedelta(microseconds=1))
    cursor.execute(_sql(connection.alias).jobs + ", ".join(rows), params)
    if tasks_logger.isEnabledFor(logging.DEBUG):  # what Django's receiver of `task_enqueued` logs
        for job_id in job_ids:
            tasks_logger.debug(
                "Task id=%s path=%s enqueued backend=%s", job_id, task.module_path, backend.alias
            )


def _jobs_enqueue(
    cursor: CursorWrapper, items: Sequence[NewItem], ids: Sequence[int], *, task: Task[..., Any]
) -> None:
    """The items' delivery jobs through the tasks API, one by one, with the priorities
    `_jobs_insert` gives (read in one statement)."""
    ranks = _ranks(items, cursor.db.alias)
    cursor.execute("SELECT " + ", ".join(sql for sql, _ in ranks), [p for _, ps in ranks for p in ps])
    priorities = cursor.fetchone()
    for item, pk, priority in zip(items, ids, priorities, strict=True):
        task.using(queue_name=item.queue, priority=int(priority)).enqueue(outbox_id=pk)

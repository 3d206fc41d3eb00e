"""The outbox's write path: ticket changes that queue webhooks, in-process, on PostgreSQL.

    .venv/bin/python bench/outbox_write.py --database-url postgres://postgres@127.0.0.1:5432/sportello_bench_outbox

1. Prepares a dedicated database (created if missing, migrated, the demo desk's set-up) and an
   event rule that queues webhooks on every update made through the API: `--hooks 1` one
   webhook, `--hooks 3` two to one destination and one to another.
2. Applies `--changes` updates to a ticket (adding, then removing a tag), each its own
   transaction, DEBUG off, after `--warmup` updates not counted.
3. Reports, per change: milliseconds (p50, mean; wall clock, and this process's CPU time, which
   leaves out the database's) and statements, for the whole change and for the outbox's part in
   it (its `written` hook: the outbox rows and their delivery jobs).

Only 127.0.0.1 databases; the database is the benchmark's own and is emptied of tickets first.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from common import ensure_database  # noqa: E402  (the script's directory is on the path)

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/sportello_bench_outbox"


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["DEBUG"] = "0"  # no query log
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sportello.settings")
    import django

    django.setup()


def prepare(url: str, hooks: int) -> tuple[Any, int]:
    ensure_database(url)
    setup_django(url)
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from sportello.accounts.models import Department, User
    from sportello.automation.models import Rule, RuleKind
    from sportello.automation.services import rule_save
    from sportello.contacts.models import Contact
    from sportello.core.actors import Via
    from sportello.tickets import services

    with connection.cursor() as cur:
        cur.execute(
            "TRUNCATE tickets_ticket, channels_outboxmessage, django_tasks_database_dbtaskresult CASCADE"
        )
    if not Department.objects.exists():
        call_command("demo", tickets=0, verbosity=0)
    now = datetime.now(UTC)
    admin = User.objects.filter(role="admin", is_active=True).order_by("id").first()
    department = Department.objects.order_by("id").first()
    contact = Contact.objects.order_by("id").first()
    if admin is None or department is None or contact is None:
        sys.exit("bench: the demo desk is not loaded")
    urls = ["https://hooks.example.test/a", "https://hooks.example.test/b", "https://other.example.test/c"]
    actions = [{"webhook": {"url": u, "body": "{{ ticket.number }}"}} for u in urls[: 1 if hooks == 1 else 3]]
    rule, _ = rule_save(
        kind=RuleKind.EVENT,
        definition={
            "key": "bench-outbox",
            "name": "Bench outbox",
            "on": ["ticket.updated"],
            "when": {"field": "event.via", "op": "is", "value": "api"},
            "actions": actions,
        },
        created_by=admin,
        now=now,
    )
    Rule.objects.exclude(pk=rule.pk).update(active=False)
    Rule.objects.filter(pk=rule.pk).update(active=True)
    ticket = services.ticket_open(
        principal=admin,
        via=Via.API,
        data={
            "subject": "Bench outbox",
            "description": "x",
            "department_id": department.pk,
            "requester_id": contact.pk,
        },
        now=now,
    ).ticket
    return admin, ticket.pk


def run(admin: Any, ticket_id: int, *, changes: int, warmup: int) -> dict[str, Any]:
    from django.db import connection

    from sportello.core import extensions
    from sportello.core.actors import Via
    from sportello.outbox.extension import Outbox
    from sportello.outbox.models import OutboxMessage
    from sportello.tickets import services
    from sportello.tickets.models import Ticket

    state: dict[str, Any] = {
        "statements": 0,
        "outbox_statements": 0,
        "outbox_s": 0.0,
        "outbox_cpu_s": 0.0,
        "in_outbox": False,
    }

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        state["statements"] += 1
        if state["in_outbox"]:
            state["outbox_statements"] += 1
        return execute(sql, params, many, context)

    written = Outbox.written

    def timed(self: Outbox, ctx: Any) -> None:
        state["in_outbox"] = True
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            written(self, ctx)
        finally:
            state["outbox_s"] += time.perf_counter() - t0
            state["outbox_cpu_s"] += time.process_time() - c0
            state["in_outbox"] = False

    Outbox.written = timed  # type: ignore[method-assign]
    extensions.forget()  # the hooks are bound once: bind the timed one
    per_change: list[float] = []
    per_outbox: list[float] = []
    per_outbox_cpu: list[float] = []
    per_change_cpu: list[float] = []
    statements: list[int] = []
    outbox_statements: list[int] = []
    version = Ticket.objects.get(pk=ticket_id).version
    with connection.execute_wrapper(count):
        for i in range(warmup + changes):
            data = {"version": version, ("add_tags" if i % 2 == 0 else "remove_tags"): ["bench"]}
            state.update(statements=0, outbox_statements=0, outbox_s=0.0, outbox_cpu_s=0.0)
            t0, c0 = time.perf_counter(), time.process_time()
            outcome = services.ticket_update(
                principal=admin, ticket_id=ticket_id, via=Via.API, data=data, now=datetime.now(UTC)
            )
            elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
            version = outcome.ticket.version
            if i >= warmup:
                per_change.append(elapsed)
                per_outbox.append(state["outbox_s"])
                per_change_cpu.append(cpu)
                per_outbox_cpu.append(state["outbox_cpu_s"])
                statements.append(state["statements"])
                outbox_statements.append(state["outbox_statements"])
    Outbox.written = written  # type: ignore[method-assign]
    extensions.forget()

    def ms(values: list[float]) -> dict[str, float]:
        return {
            "p50": round(statistics.median(values) * 1000, 3),
            "mean": round(statistics.fmean(values) * 1000, 3),
        }

    return {
        "changes": changes,
        "change_ms": ms(per_change),
        "outbox_ms": ms(per_outbox),
        "change_cpu_ms": ms(per_change_cpu),
        "outbox_cpu_ms": ms(per_outbox_cpu),
        "statements_per_change": statistics.fmean(statements),
        "outbox_statements_per_change": statistics.fmean(outbox_statements),
        "outbox_rows": OutboxMessage.objects.count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--changes", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--hooks", type=int, choices=(1, 3), default=1)
    args = parser.parse_args()
    if "@127.0.0.1:" not in args.database_url and "@localhost:" not in args.database_url:
        sys.exit("bench: only a database on 127.0.0.1")
    if not 1 <= args.changes <= 100_000:
        sys.exit("bench: 1..100000 changes")
    admin, ticket_id = prepare(args.database_url, args.hooks)
    result = run(admin, ticket_id, changes=args.changes, warmup=args.warmup)
    print(json.dumps({"hooks": args.hooks, **result}, indent=2))


if __name__ == "__main__":
    main()

"""Time-rule timers: 10,000 due timers fired by 2 worker processes on PostgreSQL.

    .venv/bin/python bench/timers.py --database-url postgres://postgres@127.0.0.1:5432/sportello_bench_timers

1. Prepares a dedicated database (created if missing, migrated, the demo desk's set-up), with
   `--timers` tickets opened through the pipeline as customers would (so each has what a real
   ticket has: its SLA clocks and timers, events, search row), then one time rule (`anchor:
   created`, one step adding a tag and queueing a webhook) and one timer per ticket, due
   instants spread evenly over `--spread` seconds from the start (each ticket's creation instant
   is moved to its timer's due instant, so the timer is the one the rule plans; the timers are
   inserted in bulk: this measures firing, not arming). The tickets are kept between runs of the
   same size: a later run only resets their tags and timers.
2. Starts `--workers` processes, each running the worker's poller loop (`timers_poll`: fire
   what is due, sleep until the next due instant, at most 1 s) until no timer is left or
   `--seconds` pass.
3. Reports firings per second (first to last firing), the delay after the due instant of each
   firing's commit (p50/p99/max), and checks that no step fired twice: the firing rows against
   their distinct (rule, ticket, anchor, step) keys, and one webhook per firing.

Only 127.0.0.1 databases; the database is the benchmark's own and is emptied of tickets first.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
from common import ensure_database, server_env  # noqa: E402  (after the path it is found on)

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/sportello_bench_timers"


def setup_django(url: str) -> None:
    """Production settings (DEBUG off, no query log), as `sportello worker` runs."""
    os.environ.update(server_env(url))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sportello.settings")
    import django

    django.setup()


def prepare(url: str, count: int, spread: float) -> datetime:
    ensure_database(url)
    setup_django(url)
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from sportello.accounts.models import Department, User
    from sportello.automation.models import Rule, RuleKind, Timer
    from sportello.automation.services import rule_save
    from sportello.engine.timerules import anchor_key
    from sportello.tickets.models import Ticket

    if not Department.objects.exists():
        call_command("demo", tickets=0, verbosity=0)
    Rule.objects.filter(kind=RuleKind.TIME).update(active=False)
    with connection.cursor() as cur:
        cur.execute(
            "TRUNCATE automation_timer, automation_timerfiring, automation_ruletrace, "
            "channels_outboxmessage, django_tasks_database_dbtaskresult CASCADE"
        )
        cur.execute("DELETE FROM tickets_tickettag WHERE name = 'timer_fired'")
    if Ticket.objects.count() != count:
        with connection.cursor() as cur:
            cur.execute("TRUNCATE tickets_ticket CASCADE")
        open_tickets(count)
    now = datetime.now(UTC)
    admin = User.objects.filter(role="admin").first()
    rule, _ = rule_save(
        kind=RuleKind.TIME,
        definition={
            "key": "bench-timer",
            "name": "Bench timer",
            "anchor": "created",
            "when": {"field": "ticket.status_category", "op": "in", "value": ["new", "open"]},
            "steps": [
                {
                    "after": "0s",
                    "actions": [
                        {"add_tags": ["timer_fired"]},
                        {
                            "webhook": {
                                "url": "https://hooks.example.test/timer",
                                "body": "{{ ticket.number }}",
                            }
                        },
                    ],
                }
            ],
        },
        created_by=admin,
        now=now,
    )
    Rule.objects.exclude(pk=rule.pk).filter(kind=RuleKind.TIME).update(active=False)
    with connection.cursor() as cur:  # the rule's re-arming job: not this benchmark's work
        cur.execute("TRUNCATE django_tasks_database_dbtaskresult")
    start = now + timedelta(seconds=5)  # the workers start meanwhile
    # Each ticket's creation instant is its due instant (the step is due 0 s after creation),
    # so the timers inserted here are exactly those the pipeline would arm.
    ids = list(Ticket.objects.order_by("id").values_list("id", flat=True))
    dues = [start + timedelta(seconds=spread * i / count) for i in range(count)]
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE tickets_ticket t SET created_at = d.due FROM UNNEST(%s::bigint[], %s::timestamptz[]) "
            "AS d(id, due) WHERE t.id = d.id",
            [ids, dues],
        )
    Timer.objects.bulk_create(
        [
            Timer(
                rule=rule,
                rule_version=rule.version,
                ticket_id=pk,
                anchor_key=anchor_key(rule.key, pk, "created", dues[i]),
                step=0,
                due_at=dues[i],
            )
            for i, pk in enumerate(ids)
        ],
        batch_size=1000,
    )
    return start


def open_tickets(count: int) -> None:
    """`count` tickets opened by the demo desk's customers through the pipeline, with progress."""
    from sportello.accounts.models import Department
    from sportello.contacts.models import Contact
    from sportello.core.actors import Actor, ActorKind, Via
    from sportello.tickets.pipeline import NewMessage, ticket_create

    departments = list(Department.objects.order_by("id").values_list("id", flat=True))
    contacts = list(Contact.objects.order_by("id").values_list("id", flat=True))
    began = time.time()
    for i in range(count):
        contact = contacts[i % len(contacts)]
        ticket_create(
            actor=Actor(kind=ActorKind.CONTACT, id=contact, label="bench"),
            via=Via.API,
            subject=f"Bench {i}",
            requester_id=contact,
            department_id=departments[i % len(departments)],
            description=NewMessage(body=f"Bench ticket {i}: the printer is offline again."),
            now=datetime.now(UTC),
        )
        if (i + 1) % 500 == 0 or i + 1 == count:
            elapsed = time.time() - began
            rate = (i + 1) / elapsed
            print(f"\rtickets {i + 1}/{count} ({rate:.0f}/s, ETA {(count - i - 1) / rate:.0f} s)",
                  end="", file=sys.stderr, flush=True)  # fmt: skip
    print(file=sys.stderr)


def worker(url: str, deadline: float, out: str) -> None:
    setup_django(url)
    from sportello.automation import timers
    from sportello.automation.models import Timer

    due = dict(Timer.objects.values_list("pk", "due_at"))
    delays: list[float] = []
    fired = 0
    while time.time() < deadline:
        now = datetime.now(UTC)
        for f in timers.timers_fire_due(now=now, limit=50):
            done = datetime.now(UTC)
            if f.outcome == "applied":
                fired += 1
                delays.append((done - due[f.timer_id]).total_seconds())
        if not Timer.objects.exists():
            break
        upcoming = timers.timers_next_due(datetime.now(UTC))
        wait = 1.0 if upcoming is None else (upcoming - datetime.now(UTC)).total_seconds()
        if wait > 0:
            time.sleep(min(wait, 1.0))
    Path(out).write_text(json.dumps({"fired": fired, "delays": delays, "end": time.time()}))


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--timers", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--spread", type=float, default=10.0, help="seconds over which timers fall due")
    parser.add_argument("--seconds", type=float, default=300.0, help="stop the workers after this")
    args = parser.parse_args()
    if "@127.0.0.1:" not in args.database_url and "@localhost:" not in args.database_url:
        sys.exit("bench: only a database on 127.0.0.1")
    if not 1 <= args.timers <= 100_000 or not 1 <= args.workers <= 8:
        sys.exit("bench: 1..100000 timers, 1..8 workers")
    start = prepare(args.database_url, args.timers, args.spread)
    deadline = time.time() + args.seconds
    ctx = multiprocessing.get_context("spawn")
    outs = [str(ROOT / "var" / f"bench_timers_{i}.json") for i in range(args.workers)]
    Path(outs[0]).parent.mkdir(parents=True, exist_ok=True)
    procs = [ctx.Process(target=worker, args=(args.database_url, deadline, o)) for o in outs]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    results = [json.loads(Path(o).read_text()) for o in outs]
    from django.db import connection
    from django.db.models import Count, Min

    from sportello.automation.models import TimerFiring

    with connection.cursor() as cur:
        cur.execute(
            "SELECT COUNT(*), COUNT(DISTINCT (rule_id, ticket_id, anchor_key, step)) "
            "FROM automation_timerfiring"
        )
        firings, distinct = cur.fetchone()
        cur.execute("SELECT COUNT(*) FROM channels_outboxmessage WHERE kind = 'webhook'")
        (webhooks,) = cur.fetchone()
    first = TimerFiring.objects.aggregate(Min("fired_at"))["fired_at__min"]
    end = max(r["end"] for r in results)
    delays = [d for r in results for d in r["delays"]]
    elapsed = end - max(first.timestamp(), start.timestamp()) if first else float("nan")
    per_worker = [r["fired"] for r in results]
    outcomes = dict(
        TimerFiring.objects.values_list("outcome").annotate(n=Count("id")).values_list("outcome", "n")
    )
    print(
        json.dumps(
            {
                "timers": args.timers,
                "workers": args.workers,
                "spread_s": args.spread,
                "fired_per_worker": per_worker,
                "outcomes": outcomes,
                "firings_per_s": round(sum(per_worker) / elapsed, 1),
                "delay_after_due_ms": {
                    "p50": round(pct(delays, 0.5) * 1000, 1),
                    "p99": round(pct(delays, 0.99) * 1000, 1),
                    "max": round(max(delays) * 1000, 1) if delays else None,
                },
                "firing_rows": firings,
                "distinct_keys": distinct,
                "webhooks": webhooks,
                "double_firings": firings - distinct,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

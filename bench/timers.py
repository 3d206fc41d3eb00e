"""Time-rule timers: 10,000 due timers fired by 2 worker processes on PostgreSQL.

    .venv/bin/python bench/timers.py --database-url postgres://postgres@127.0.0.1:5432/sportello_bench_timers

1. Prepares a dedicated database (created if missing, migrated, the demo desk's set-up), with one
   time rule (`anchor: created`, one step adding a tag and queueing a webhook) and `--timers`
   tickets, each with its timer, due instants spread evenly over `--spread` seconds from the
   start (tickets and timers inserted in bulk: this measures firing, not arming).
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
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/sportello_bench_timers"


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sportello.settings")
    import django

    django.setup()


def prepare(url: str, count: int, spread: float) -> datetime:
    import psycopg

    name = url.rsplit("/", 1)[1].split("?")[0]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    setup_django(url)
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from sportello.accounts.models import Department, User
    from sportello.automation.models import Rule, RuleKind, Timer
    from sportello.automation.services import rule_save
    from sportello.contacts.models import Contact
    from sportello.engine.timerules import anchor_key
    from sportello.tickets.models import Status, Ticket

    with connection.cursor() as cur:
        cur.execute(
            "TRUNCATE tickets_ticket, automation_timer, automation_timerfiring, "
            "channels_outboxmessage CASCADE"
        )
    if not Department.objects.exists():
        call_command("demo", tickets=0, verbosity=0)
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
    dept = Department.objects.order_by("id").first()
    contact = Contact.objects.order_by("id").first()
    status = Status.objects.get(key="open")
    start = now + timedelta(seconds=5)  # the workers start meanwhile
    # Each ticket is created at its due instant (the step is due 0 s after creation), so the
    # timers inserted here are exactly those the pipeline would arm.
    dues = [start + timedelta(seconds=spread * i / count) for i in range(count)]
    top = Ticket.objects.order_by("-number").values_list("number", flat=True).first() or 0
    tickets = Ticket.objects.bulk_create(
        [
            Ticket(
                number=top + i + 1,
                subject=f"Bench {i}",
                status=status,
                status_category=status.category,
                department=dept,
                requester=contact,
                created_at=dues[i],
                updated_at=dues[i],
                last_activity_at=dues[i],
                status_entered_at=dues[i],
                status_category_entered_at=dues[i],
            )
            for i in range(count)
        ],
        batch_size=1000,
    )
    Timer.objects.bulk_create(
        [
            Timer(
                rule=rule,
                rule_version=rule.version,
                ticket=t,
                anchor_key=anchor_key(rule.key, t.pk, "created", dues[i]),
                step=0,
                due_at=dues[i],
            )
            for i, t in enumerate(tickets)
        ],
        batch_size=1000,
    )
    return start


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

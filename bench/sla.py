"""SLA clocks at scale on PostgreSQL: reflow after a calendar change, the idle breach sweep, and
the delay from a breach instant to its recorded escalation with 2 workers.

    .venv/bin/python bench/sla.py --tickets 1000000 --reflow-max 100000 --escalations 300
    .venv/bin/python bench/sla.py --tickets 100000     # everything reflowed; 2,000 escalations

1. Seed. A fresh database (dropped and created, migrated, the demo desk's set-up with its
   sample rules, SLA policies and blueprint off, as `api_create.py` prepares it), a business
   calendar (Mon-Fri 09-13 and 14-18, Europe/Rome) for the Returns department, and two SLA
   policies saved through the services: `bench-business` (Returns; first response 8h and
   resolution 5d of business time, a warning at 80% of the first response, an escalation 2h
   after the resolution breach) and `bench-escalate` (another department; first response
   within 1h of calendar time, an escalation at the breach that adds a tag). One ticket per
   policy is created through the real pipeline; its `TicketSla.state` and `SlaTimer` rows must equal what
   `engine.sla.apply_change(Created)` and `engine.sla.timers_for` give for its creation
   instant (checked), and `--tickets` tickets are then COPYed: the Returns ticket's row cloned
   with new ids, numbers and creation instants (spread over the 2 hours before the run, so every
   due instant differs and none falls due during the run), with their clocks and timers built by
   the engine the same way. `VACUUM ANALYZE` on the three tables.
2. Reflow. The calendar gets new hours (a new version, Mon-Fri 08-20, saved without reflow),
   then `sla.reflow.reflow_all(calendar=...)` recomputes every open clock: time and tickets/s
   (`--reflow-max N`: only the first N tickets, batch by batch as `reflow_all` goes, and the
   whole projected from their rate).
   Checked: every ticket's `next_breach_at` moved earlier (against a copy taken before), four
   timers per ticket, and on a random sample the stored state and timers equal the engine's
   for the same creation instant under the new hours.
3. Idle sweep. `sla.timers.sla_poll(now)` with nothing due, `--polls` calls: median and p99,
   its statements and their `EXPLAIN (ANALYZE, BUFFERS)` plans (must be index probes).
4. Escalation delay. `--workers` processes run the worker's poller loop on `sla_poll` (sleep
   until the instant it returns, at most 0.5 s, like `sportello worker`); once they are polling,
   `--escalations` tickets of `bench-escalate` are COPYed whose breach and escalation fall due
   from 3 s later, spread evenly over `--spread` seconds. Reported: the delay from each
   escalation's due instant to the commit of its firing (taken in the worker as its round of
   `sla_fire_due` returns), p50/p99/max, the same from `SlaFiring.fired_at` (the poll's `now`), firings per
   worker and outcomes, and that each escalation fired exactly once (one firing row, one
   `escalated` event, one `breached` event at the due instant per ticket).

Only 127.0.0.1 databases; the database is the benchmark's own and is dropped first.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from api_create import prepare
from common import percentile, server_env

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/sportello_bench_sla"
CALENDAR = "bench-hours"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
CALENDAR_BEFORE = {
    "key": CALENDAR,
    "name": "Bench business hours",
    "time_zone": "Europe/Rome",
    "weekly": {d: [["09:00", "13:00"], ["14:00", "18:00"]] for d in WEEKDAYS},
}
CALENDAR_AFTER = {**CALENDAR_BEFORE, "weekly": {d: [["08:00", "20:00"]] for d in WEEKDAYS}}
WINDOW = timedelta(hours=2)  # creation instants: the 2 hours before the run
CHUNK = 10_000
SAMPLE = 1_000
ESCALATION_TARGET = timedelta(hours=1)
ESCALATION_TAG = "sla_escalated"
POLL_CAP = 0.5  # `sportello worker --interval` default: the longest idle sleep
STARTED = time.monotonic()


def say(msg: str) -> None:
    print(f"[{time.monotonic() - STARTED:7.1f}s] {msg}", flush=True)


def load() -> str:
    return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def setup_django(url: str) -> None:
    env = server_env(url)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "SPORTELLO_ENV", "SECRET_KEY", "ALLOWED_HOSTS")})
    os.environ["SECURE_SSL_REDIRECT"] = "0"
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sportello.settings")
    import django

    django.setup()


def business_policy(department: int) -> dict[str, Any]:
    return {
        "key": "bench-business",
        "name": "Bench business hours",
        "position": 10,
        "when": {"field": "ticket.department", "op": "is", "value": department},
        "calendar": CALENDAR,
        "targets": {
            "first_response": {"normal": {"within": "8h", "business": True}},
            "resolution": {"normal": {"within": "5d", "business": True}},
        },
        "warnings": [{"at_percent": 80, "metrics": ["first_response"]}],
        "escalations": [
            {"after_breach": "2h", "metrics": ["resolution"], "actions": [{"add_tags": ["sla_late"]}]}
        ],
    }


def escalation_policy(department: int) -> dict[str, Any]:
    return {
        "key": "bench-escalate",
        "name": "Bench escalation",
        "position": 20,
        "when": {"field": "ticket.department", "op": "is", "value": department},
        "targets": {"first_response": {"normal": {"within": "1h"}}},
        "escalations": [
            {"after_breach": "0m", "metrics": ["first_response"], "actions": [{"add_tags": [ESCALATION_TAG]}]}
        ],
    }


# -- seeding -----------------------------------------------------------------------------------


class Template:
    """A ticket created through the pipeline, and what cloning it needs: its row, its policy and
    the SLA change that created its clocks."""

    def __init__(self, conn: psycopg.Connection[Any], ticket_id: int, policy_key: str) -> None:
        from sportello.engine import sla as engine
        from sportello.sla.services import active_policies

        cur = conn.execute("SELECT * FROM tickets_ticket WHERE id = %s", [ticket_id])
        self.columns = [d.name for d in cur.description or ()]
        self.row = dict(zip(self.columns, cur.fetchone() or (), strict=True))
        self.policy = next(p for p in active_policies() if p.parsed.key == policy_key)
        state_data, self.policy_version = conn.execute(
            "SELECT state, policy_version FROM sla_ticketsla WHERE ticket_id = %s", [ticket_id]
        ).fetchone()  # type: ignore[misc]
        state = engine.state_from_data(state_data)
        self.change = engine.Created(
            priority=state.priority,
            category=state.category,
            customer_message=any(c.metric == engine.FIRST_RESPONSE for c in state.clocks),
        )
        self.timers = sorted(
            conn.execute("SELECT key, due_at FROM sla_slatimer WHERE ticket_id = %s", [ticket_id]).fetchall()
        )
        self.state = state_data

    def clocks(self, calendar: dict[str, Any] | None = None) -> Any:
        from sportello.engine import calendars as engine_calendars
        from sportello.engine import sla as engine

        if self.policy.parsed.calendar is None:
            return {}
        if calendar is None:
            from sportello.sla.calendars import clocks_for

            return clocks_for({self.policy.parsed.calendar})
        clock: engine.Clock = engine_calendars.CalendarClock(engine_calendars.parse_calendar(calendar))
        return {self.policy.parsed.calendar: clock}

    def clocks_at(self, created: datetime, clocks: Any) -> tuple[dict[str, Any], datetime | None, list[Any]]:
        """The clocks' data, next breach and timers of a ticket created at `created`."""
        from sportello.engine import sla as engine
        from sportello.sla.timers import timer_key

        state, _ = engine.apply_change(
            None, self.change, policy=self.policy.parsed, clocks=clocks, now=created
        )
        timers = [
            (timer_key(t), t.due_at) for t in engine.timers_for(state, self.policy.parsed, clocks=clocks)
        ]
        return engine.state_to_data(state), engine.next_breach(state), timers

    def check(self) -> None:
        """The pipeline's clocks and timers equal the engine's for the same creation instant."""
        data, _, timers = self.clocks_at(self.row["created_at"], self.clocks())
        if data != self.state or sorted(timers) != self.timers:
            raise SystemExit(f"bench: the engine's clocks differ from the pipeline's:\n{data}\n{self.state}")


def create_templates(departments: tuple[int, int]) -> tuple[int, int]:
    """One ticket per bench department through the real pipeline (`ticket_open`, as the API)."""
    from sportello.accounts.models import User
    from sportello.contacts.models import Contact
    from sportello.core.actors import Via
    from sportello.tickets.services import ticket_open

    admin = User.objects.filter(role="admin", is_active=True).order_by("id").first()
    assert admin is not None
    contact = Contact.objects.order_by("id").first()
    assert contact is not None
    ids = []
    for department in departments:
        out = ticket_open(
            principal=admin,
            via=Via.API,
            data={
                "subject": "Parcel A1234567 arrived damaged",
                "description": "Hello, my order arrived with the box crushed. I would like a refund.",
                "department_id": department,
                "requester_id": contact.pk,
                "priority": "normal",
            },
            now=datetime.now(UTC),
        )
        ids.append(out.ticket.pk)
    return ids[0], ids[1]


def answer(ticket_id: int) -> None:
    """A public agent reply through the pipeline: the first response is fulfilled, no timer left."""
    from sportello.accounts.models import User
    from sportello.core.actors import Via
    from sportello.sla.models import SlaTimer
    from sportello.tickets.services import message_add

    admin = User.objects.filter(role="admin", is_active=True).order_by("id").first()
    assert admin is not None
    message_add(principal=admin, ticket_id=ticket_id, via=Via.API, body="On it.", body_html="", public=True,
                attachment_ids=[], version=None, now=datetime.now(UTC))  # fmt: skip
    assert not SlaTimer.objects.filter(ticket_id=ticket_id).exists()


def reserve(conn: psycopg.Connection[Any], count: int) -> tuple[int, int, int]:
    """First ticket id, ticket number and timer id for `count` new tickets (the bench is the
    database's only writer while it seeds)."""
    (number,) = conn.execute(
        "UPDATE core_sequence SET value = value + %s WHERE name = 'ticket' RETURNING value", [count]
    ).fetchone()  # type: ignore[misc]
    (ticket_id,) = conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM tickets_ticket").fetchone()  # type: ignore[misc]
    (timer_id,) = conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM sla_slatimer").fetchone()  # type: ignore[misc]
    return ticket_id, number - count + 1, timer_id


def fix_sequences(conn: psycopg.Connection[Any]) -> None:
    for table in ("tickets_ticket", "sla_slatimer"):
        conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")


def copy_tickets(
    conn: psycopg.Connection[Any],
    template: Template,
    created: list[datetime],
    *,
    first_id: int,
    first_number: int,
    first_timer: int,
) -> dict[int, tuple[int, str, datetime]]:
    """COPY one chunk: tickets cloned from the template, their clocks and timers. Returns the
    timers written, by id: (ticket id, key, due instant)."""
    row0 = template.row
    at0 = row0["created_at"]
    cols = template.columns
    tickets: list[list[Any]] = []
    slas: list[tuple[Any, ...]] = []
    timers: dict[int, tuple[int, str, datetime]] = {}
    clocks = template.clocks()
    timer_id = first_timer
    for i, at in enumerate(created):
        ticket_id = first_id + i
        values = []
        for col in cols:
            value = row0[col]
            if col == "id":
                value = ticket_id
            elif col == "number":
                value = first_number + i
            elif col == "subject":
                value = f"{value} ({first_number + i})"
            elif isinstance(value, datetime) and value == at0:
                value = at
            elif isinstance(value, dict | list):
                value = json.dumps(value)
            values.append(value)
        tickets.append(values)
        state, next_breach, planned = template.clocks_at(at, clocks)
        slas.append(
            (
                ticket_id,
                template.policy.id,
                template.policy_version,
                json.dumps(state),
                next_breach,
                False,
                at,
            )
        )
        for key, due in planned:
            timers[timer_id] = (ticket_id, key, due)
            timer_id += 1
    with conn.cursor() as cur:
        with cur.copy(f"COPY tickets_ticket ({', '.join(cols)}) FROM STDIN") as copy:
            for values in tickets:
                copy.write_row(values)
        with cur.copy(
            "COPY sla_ticketsla (ticket_id, policy_id, policy_version, state, next_breach_at, breached, "
            "updated_at) FROM STDIN"
        ) as copy:
            for sla_row in slas:
                copy.write_row(sla_row)
        with cur.copy("COPY sla_slatimer (id, ticket_id, key, due_at) FROM STDIN") as copy:
            for pk, (ticket_id, key, due) in timers.items():
                copy.write_row((pk, ticket_id, key, due))
    return timers


def seed(url: str, template: Template, count: int, now: datetime) -> None:
    from sportello.demo.progress import Progress

    rng = random.Random(7)
    start = now - WINDOW
    step = WINDOW / count
    progress = Progress(count, label="seed", unit="tickets", stream=sys.stdout)
    with psycopg.connect(url) as conn:
        first_id, first_number, first_timer = reserve(conn, count)
        conn.commit()
        done = 0
        while done < count:
            n = min(CHUNK, count - done)
            # Creation instants in id order, a few seconds of jitter, all distinct and in the past.
            created = [
                start + step * (done + i) + timedelta(microseconds=rng.randrange(0, 5_000_000))
                for i in range(n)
            ]
            timers = copy_tickets(
                conn,
                template,
                created,
                first_id=first_id + done,
                first_number=first_number + done,
                first_timer=first_timer,
            )
            conn.commit()
            first_timer += len(timers)
            done += n
            progress.advance(n)
        fix_sequences(conn)
        conn.commit()
    progress.done()
    with psycopg.connect(url, autocommit=True) as conn:
        t = time.monotonic()
        conn.execute("VACUUM ANALYZE tickets_ticket, sla_ticketsla, sla_slatimer")
        say(f"VACUUM ANALYZE: {time.monotonic() - t:.1f}s")


# -- reflow ------------------------------------------------------------------------------------


def reflow_phase(url: str, template: Template, count: int, limit: int | None) -> dict[str, Any]:
    """Reflow every ticket (`reflow_all`), or with `limit` the first batches up to that many
    tickets (`reflow_batch`, as `reflow_all` calls it) and project the whole from their rate."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from sportello.demo.progress import Progress
    from sportello.sla import reflow
    from sportello.sla.calendars import calendar_save

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_sla_before")
        conn.execute(
            "CREATE TABLE bench_sla_before AS SELECT ticket_id, next_breach_at FROM sla_ticketsla "
            "WHERE policy_id = %s",
            [template.policy.id],
        )
    calendar_save(definition=CALENDAR_AFTER, actor=None, now=datetime.now(UTC), reflow=False)
    total = reflow.reflow_count(calendar=CALENDAR)
    todo = total if limit is None else min(limit, total)
    say(f"reflow: {total:,} open tickets count in calendar {CALENDAR}; reflowing {todo:,} ({load()})")
    progress = Progress(todo, label="reflow", unit="tickets", stream=sys.stdout)
    now = datetime.now(UTC)
    t = time.monotonic()
    if limit is None:
        moved = reflow.reflow_all(calendar=CALENDAR, now=now, on_batch=lambda done, _: progress.advance(done))
        last = 2**62
    else:
        last, moved, done = 0, 0, 0
        while done < todo:
            after, n, m = reflow.reflow_batch(calendar=CALENDAR, after=last, now=now)
            if after is None:
                break
            last, done, moved = after, done + n, moved + m
            progress.advance(n)
        todo = done
    elapsed = time.monotonic() - t
    progress.done()
    rate = todo / elapsed
    say(
        f"reflow: {todo:,} tickets in {elapsed:.1f}s = {rate:,.0f} tickets/s; moved {moved:,}"
        + (f"; all {total:,} would take {total / rate:,.0f}s at this rate" if todo < total else "")
        + f" ({load()})"
    )
    with psycopg.connect(url) as conn:
        earlier, same, later, missing = conn.execute(
            "SELECT COUNT(*) FILTER (WHERE s.next_breach_at < b.next_breach_at), "
            "COUNT(*) FILTER (WHERE s.next_breach_at = b.next_breach_at), "
            "COUNT(*) FILTER (WHERE s.next_breach_at > b.next_breach_at), "
            "COUNT(*) FILTER (WHERE s.next_breach_at IS NULL) "
            "FROM bench_sla_before b JOIN sla_ticketsla s USING (ticket_id) WHERE ticket_id <= %s",
            [last],
        ).fetchone()  # type: ignore[misc]
        per_ticket: dict[int, int] = dict(
            conn.execute(
                "SELECT n, COUNT(*) FROM (SELECT COUNT(t.id) AS n FROM sla_ticketsla s "
                "LEFT JOIN sla_slatimer t ON t.ticket_id = s.ticket_id WHERE s.policy_id = %s "
                "AND s.ticket_id <= %s GROUP BY s.ticket_id) x GROUP BY n",
                [template.policy.id, last],
            ).fetchall()
        )
        (events,) = conn.execute(
            "SELECT COUNT(*) FROM tickets_ticketevent WHERE kind = 'sla' AND field = 'retargeted' "
            "AND cause LIKE 'sla:bench-business@%%:reflow'"
        ).fetchone()  # type: ignore[misc]
        sample = sample_check(conn, template, count, last)
        conn.execute("DROP TABLE bench_sla_before")
        conn.commit()
    say(
        f"reflow check: next_breach_at earlier on {earlier:,}, unchanged {same:,}, later {later:,}, "
        f"null {missing:,}; timers per ticket {per_ticket}; {events:,} retargeted events; "
        f"sample {sample[0]:,}/{sample[1]:,} equal to the engine under the new hours"
    )
    # One more batch with nothing left to move: the statements a batch reads (no writes).
    with CaptureQueriesContext(connection) as ctx:
        t = time.monotonic()
        _, done, _ = reflow.reflow_batch(calendar=CALENDAR, now=datetime.now(UTC))
        idle_batch = time.monotonic() - t
    kinds: dict[str, int] = {}
    for q in ctx.captured_queries:
        sql = q["sql"]
        key = sql[:60] if not sql.startswith("SELECT (SELECT CAST(COUNT(*)") else "config signatures"
        kinds[key] = kinds.get(key, 0) + 1
    say(f"a reflow batch of {done} tickets with nothing to move: {idle_batch * 1000:.0f} ms, "
        f"{len(ctx.captured_queries)} statements:")  # fmt: skip
    for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]):
        print(f"    {v:>4}  {k}")
    return {
        "tickets": total,
        "reflowed": todo,
        "seconds": round(elapsed, 1),
        "tickets_per_s": round(rate),
        "projected_all_s": round(total / rate),
        "moved": moved,
        "earlier": earlier,
        "unchanged": same,
        "later": later,
        "sample_equal": sample[0],
        "sample": sample[1],
        "idle_batch_statements": len(ctx.captured_queries),
    }


def sample_check(conn: psycopg.Connection[Any], template: Template, count: int, last: int) -> tuple[int, int]:
    """Random reflowed tickets (ids up to `last`): stored clocks, next breach and timers against
    the engine's for their creation instant under the new hours."""
    rng = random.Random(11)
    (lo, hi) = conn.execute(
        "SELECT MIN(ticket_id), MAX(ticket_id) FROM sla_ticketsla WHERE policy_id = %s AND ticket_id <= %s",
        [template.policy.id, last],
    ).fetchone()  # type: ignore[misc]
    ids = sorted({rng.randint(lo, hi) for _ in range(min(SAMPLE, count))} | {lo})
    rows = conn.execute(
        "SELECT t.id, t.created_at, s.state, s.next_breach_at FROM tickets_ticket t "
        "JOIN sla_ticketsla s ON s.ticket_id = t.id WHERE t.id = ANY(%s) AND s.policy_id = %s",
        [ids, template.policy.id],
    ).fetchall()
    armed: dict[int, list[tuple[str, datetime]]] = {}
    for ticket_id, key, due in conn.execute(
        "SELECT ticket_id, key, due_at FROM sla_slatimer WHERE ticket_id = ANY(%s)", [ids]
    ):
        armed.setdefault(ticket_id, []).append((key, due))
    clocks = template.clocks(CALENDAR_AFTER)
    equal = 0
    for ticket_id, created, state, next_breach in rows:
        data, expected_next, timers = template.clocks_at(created, clocks)
        if (
            data == state
            and next_breach == expected_next
            and sorted(timers) == sorted(armed.get(ticket_id, []))
        ):
            equal += 1
        elif equal < 3:
            print(f"    ticket {ticket_id}: stored {state} / {next_breach}; engine {data} / {expected_next}")
    return equal, len(rows)


# -- the idle sweep ----------------------------------------------------------------------------


def poll_phase(url: str, polls: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from sportello.sla.timers import sla_poll

    samples = []
    for _ in range(polls):
        now = datetime.now(UTC)
        t = time.perf_counter()
        wake = sla_poll(now)
        samples.append(time.perf_counter() - t)
        if wake is None or wake <= now:
            raise SystemExit(f"bench: something is due at {now} (next wake-up {wake})")
    samples.sort()
    with CaptureQueriesContext(connection) as ctx:
        sla_poll(datetime.now(UTC))
    statements = [q["sql"] for q in ctx.captured_queries]
    plans = []
    index_only = True
    with psycopg.connect(url) as conn:
        for sql in statements:
            plan = "\n".join(
                r[0] for r in conn.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}").fetchall()
            )
            plans.append(plan)
            index_only &= "sla_timer_due" in plan and "Seq Scan" not in plan and "Sort" not in plan
    say(
        f"idle sweep, sla_poll(now) x {polls}: median {statistics.median(samples) * 1000:.2f} ms, "
        f"p99 {percentile(samples, 99) * 1000:.2f} ms, max {samples[-1] * 1000:.2f} ms; "
        f"{len(statements)} statements per tick ({load()})"
    )
    for sql, plan in zip(statements, plans, strict=True):
        print(f"    {sql}\n" + "\n".join(f"      {line}" for line in plan.splitlines()))
    say(f"idle sweep: every statement an index probe of sla_timer_due: {index_only}")
    return {
        "median_ms": round(statistics.median(samples) * 1000, 2),
        "p99_ms": round(percentile(samples, 99) * 1000, 2),
        "statements": len(statements),
        "index_probes": index_only,
    }


# -- the escalation delay ----------------------------------------------------------------------


def worker(url: str, index: int, ready: Any, stop: Any, deadline: float, out: str) -> None:
    """The worker's poller loop on the SLA timers alone (`sla_poll`, one round of the timer
    mechanism at a time); the commit instant of each firing is taken as its round returns (a
    round commits its own transaction)."""
    setup_django(url)
    from sportello.core import timers as mechanism
    from sportello.sla import timers

    fired: list[tuple[int, str, float]] = []
    polls = 0
    while not stop.is_set() and time.time() < deadline:
        now = datetime.now(UTC)
        done = timers.sla_fire_due(now=now, limit=mechanism.ROUND)
        at = time.time()
        fired.extend((f.timer_id, f.outcome, at) for f in done)
        wake = (
            now
            if len(done) >= mechanism.ROUND
            else mechanism.next_poll(now, mechanism.next_attempt(timers.SLA_TIMERS, now))
        )
        polls += 1
        if polls == 1:
            ready.set()
        pause = POLL_CAP if wake is None else min(POLL_CAP, (wake - datetime.now(UTC)).total_seconds())
        if pause > 0:
            stop.wait(pause)
    Path(out).write_text(json.dumps({"fired": fired, "polls": polls}))


def escalation_phase(url: str, template: Template, count: int, workers: int, spread: float,
                     seconds: float) -> dict[str, Any]:  # fmt: skip
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    readies = [ctx.Event() for _ in range(workers)]
    outs = [str(ROOT / "var" / f"bench_sla_{i}.json") for i in range(workers)]
    Path(outs[0]).parent.mkdir(parents=True, exist_ok=True)
    deadline = time.time() + seconds + 60
    procs = [
        ctx.Process(target=worker, args=(url, i, readies[i], stop, deadline, outs[i])) for i in range(workers)
    ]
    for p in procs:
        p.start()
    for r in readies:
        if not r.wait(60):
            stop.set()
            raise SystemExit("bench: the workers did not start")
    say(f"escalations: {workers} workers polling; arming {count:,} tickets due over {spread:.0f}s")
    first = datetime.now(UTC) + timedelta(seconds=3)
    dues = [first + timedelta(seconds=spread * i / count) for i in range(count)]
    with psycopg.connect(url) as conn:
        first_id, first_number, first_timer = reserve(conn, count)
        timers = copy_tickets(
            conn,
            template,
            [due - ESCALATION_TARGET for due in dues],
            first_id=first_id,
            first_number=first_number,
            first_timer=first_timer,
        )
        fix_sequences(conn)
        conn.commit()
    armed_at = datetime.now(UTC)
    if armed_at >= first:
        say("escalations: arming took longer than 3 s; the first timers were already due")
    escalations = {pk: v for pk, v in timers.items() if ":escalation:" in v[1]}
    say(f"escalations: armed {len(timers):,} timers ({len(escalations):,} escalations), "
        f"{(first - armed_at).total_seconds():.2f}s before the first due instant")  # fmt: skip
    ids = (first_id, first_id + count - 1)
    end = time.time() + seconds
    with psycopg.connect(url, autocommit=True) as conn:
        while time.time() < end:
            (done,) = conn.execute(
                "SELECT COUNT(*) FROM sla_slafiring WHERE ticket_id BETWEEN %s AND %s "
                "AND key LIKE '%%:escalation:%%' AND outcome <> 'pending'",
                ids,
            ).fetchone()  # type: ignore[misc]
            if done >= len(escalations):
                break
            time.sleep(0.5)
        last_seen = time.time()
    stop.set()
    for p in procs:
        p.join(30)
    results = [json.loads(Path(o).read_text()) for o in outs]
    return report_escalations(url, results, timers, escalations, ids, count, last_seen)


def report_escalations(
    url: str,
    results: list[dict[str, Any]],
    timers: dict[int, tuple[int, str, datetime]],
    escalations: dict[int, tuple[int, str, datetime]],
    ids: tuple[int, int],
    count: int,
    last_seen: float,
) -> dict[str, Any]:
    delays: list[float] = []
    breach_delays: list[float] = []
    outcomes: dict[str, int] = {}
    per_worker = []
    for r in results:
        applied = 0
        for timer_id, outcome, done in r["fired"]:
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            if timer_id not in timers or outcome != "applied":
                continue
            applied += 1
            delay = done - timers[timer_id][2].timestamp()
            (delays if timer_id in escalations else breach_delays).append(delay)
        per_worker.append(applied)
    delays.sort()
    breach_delays.sort()
    with psycopg.connect(url) as conn:
        (recorded,) = conn.execute(
            "SELECT ARRAY_AGG(EXTRACT(EPOCH FROM fired_at - due_at) ORDER BY 1) FROM sla_slafiring "
            "WHERE ticket_id BETWEEN %s AND %s AND key LIKE '%%:escalation:%%'",
            ids,
        ).fetchone()  # type: ignore[misc]
        recorded = sorted(float(x) for x in recorded or [])
        firings, distinct, fired_tickets = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT (ticket_id, key)), COUNT(DISTINCT ticket_id) FROM sla_slafiring "
            "WHERE ticket_id BETWEEN %s AND %s AND key LIKE '%%:escalation:%%'",
            ids,
        ).fetchone()  # type: ignore[misc]
        due_of = {ticket_id: due for ticket_id, _, due in escalations.values()}
        seen: dict[int, dict[str, list[datetime]]] = {t: {"escalated": [], "breached": []} for t in due_of}
        for ticket_id, field, at in conn.execute(
            "SELECT ticket_id, field, (new_value->>'at')::timestamptz FROM tickets_ticketevent "
            "WHERE kind = 'sla' AND field IN ('escalated', 'breached') AND ticket_id BETWEEN %s AND %s",
            ids,
        ):
            seen[ticket_id][field].append(at)
        once_escalated = sum(len(v["escalated"]) == 1 for v in seen.values())
        once_breached = sum(len(v["breached"]) == 1 for v in seen.values())
        breached_on_time = sum(v["breached"] == [due_of[t]] for t, v in seen.items())
        (tagged,) = conn.execute(
            "SELECT COUNT(*) FROM tickets_tickettag WHERE name = %s AND ticket_id BETWEEN %s AND %s",
            [ESCALATION_TAG, *ids],
        ).fetchone()  # type: ignore[misc]
        (timers_left,) = conn.execute(
            "SELECT COUNT(*) FROM sla_ticketsla s JOIN sla_slatimer t ON t.ticket_id = s.ticket_id "
            "WHERE s.ticket_id BETWEEN %s AND %s",
            ids,
        ).fetchone()  # type: ignore[misc]
    first_due = min(v[2] for v in escalations.values()).timestamp()
    fired_all = [d for r in results for _, o, d in r["fired"] if o == "applied"]
    span = (max(fired_all) - first_due) if fired_all else float("nan")

    def ms(values: list[float], p: float) -> float:
        return round(percentile(values, p) * 1000, 1)

    out = {
        "escalations": count,
        "workers": len(results),
        "applied_per_worker": per_worker,
        "outcomes": outcomes,
        "pipeline_firings_per_s": round(sum(per_worker) / span, 1) if span == span else None,
        "escalation_commit_delay_ms": {
            "p50": ms(delays, 50), "p99": ms(delays, 99),
            "max": round(delays[-1] * 1000, 1) if delays else None,
        },
        "breach_commit_delay_ms": {"p50": ms(breach_delays, 50), "p99": ms(breach_delays, 99)},
        "escalation_fired_at_minus_due_ms": {"p50": ms(recorded, 50), "p99": ms(recorded, 99)},
        "escalation_firing_rows": firings,
        "distinct_keys": distinct,
        "tickets_escalated": fired_tickets,
        "tickets_with_exactly_one_escalated_event": once_escalated,
        "tickets_with_exactly_one_breached_event": once_breached,
        "breached_event_at_true_instant": breached_on_time,
        "tickets_tagged": tagged,
        "timers_left": timers_left,
        "seconds_to_last_commit": round(span, 1),
        "waited_s": round(last_seen - first_due, 1),
    }  # fmt: skip
    return out


# -- main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--escalations", type=int, default=2_000)
    parser.add_argument("--spread", type=float, default=20.0, help="seconds over which escalations fall due")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--polls", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=600.0, help="wait at most this for the escalations")
    parser.add_argument("--reflow-max", type=int, help="reflow only the first N tickets and project the rest")
    args = parser.parse_args()
    if "@127.0.0.1:" not in args.database_url and "@localhost:" not in args.database_url:
        sys.exit("bench: only a database on 127.0.0.1")
    if not 1_000 <= args.tickets <= 2_000_000 or not 1 <= args.escalations <= 100_000:
        sys.exit("bench: 1,000..2,000,000 tickets, 1..100,000 escalations")
    if not 1 <= args.workers <= 8:
        sys.exit("bench: 1..8 workers")
    say(f"preparing {args.database_url} ({load()}, {os.cpu_count()} cores)")
    target = prepare(args.database_url, fresh=True)
    setup_django(args.database_url)
    from sportello.accounts.models import Department
    from sportello.sla.calendars import calendar_save
    from sportello.sla.services import policy_save

    returns = target["department"]
    other = Department.objects.exclude(pk=returns).order_by("id").values_list("pk", flat=True).first()
    assert other is not None
    now = datetime.now(UTC)
    calendar_save(definition=CALENDAR_BEFORE, departments=[returns], actor=None, now=now)
    policy_save(definition=business_policy(returns), actor=None, now=now)
    policy_save(definition=escalation_policy(other), actor=None, now=now)
    business_id, escalate_id = create_templates((returns, other))
    with psycopg.connect(args.database_url) as conn:
        business = Template(conn, business_id, "bench-business")
        escalate = Template(conn, escalate_id, "bench-escalate")
    business.check()
    escalate.check()
    answer(escalate_id)  # its timers would fall due an hour later, maybe during the run
    say(f"set-up done: the pipeline's clocks of tickets {business_id} and {escalate_id} equal the engine's")
    figures: dict[str, Any] = {"tickets": args.tickets, "load_start": os.getloadavg()}
    t = time.monotonic()
    seed(args.database_url, business, args.tickets, datetime.now(UTC))
    figures["seed_s"] = round(time.monotonic() - t, 1)
    with psycopg.connect(args.database_url) as conn:
        sizes = conn.execute(
            "SELECT relname, pg_size_pretty(pg_total_relation_size(oid)) FROM pg_class "
            "WHERE relname IN ('tickets_ticket', 'sla_ticketsla', 'sla_slatimer') ORDER BY relname"
        ).fetchall()
        (timer_rows,) = conn.execute("SELECT COUNT(*) FROM sla_slatimer").fetchone()  # type: ignore[misc]
    say(
        f"seeded {args.tickets:,} tickets, {timer_rows:,} timers in {figures['seed_s']}s; "
        f"sizes {dict(sizes)} ({load()})"
    )
    t = time.monotonic()
    figures["reflow"] = reflow_phase(args.database_url, business, args.tickets, args.reflow_max)
    say(f"phase reflow: {time.monotonic() - t:.1f}s")
    t = time.monotonic()
    figures["idle_sweep"] = poll_phase(args.database_url, args.polls)
    say(f"phase idle sweep: {time.monotonic() - t:.1f}s")
    t = time.monotonic()
    figures["escalation"] = escalation_phase(
        args.database_url, escalate, args.escalations, args.workers, args.spread, args.seconds
    )
    say(f"phase escalations: {time.monotonic() - t:.1f}s ({load()})")
    figures["load_end"] = os.getloadavg()
    figures["total_s"] = round(time.monotonic() - STARTED, 1)
    print(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main()

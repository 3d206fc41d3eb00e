"""Write throughput: POST /api/v1/tickets through the real server, against the floor.

    .venv/bin/python bench/api_create.py --database postgres --fresh --workers 2 --clients 1 --seconds 15
    .venv/bin/python bench/api_create.py --database postgres --fresh --workers 2 --clients 4 --seconds 15
    .venv/bin/python bench/api_create.py --database sqlite --workers 2 --clients 1 --seconds 15

1. Prepares a dedicated database: PostgreSQL `--database-url` (created if missing, `--fresh`:
   dropped first) or a SQLite file under var/bench (always new); migrated, the demo desk's
   set-up with its sample rules, SLA policies and blueprint off.
2. Starts `sportello serve` (gunicorn, `--workers` processes, production settings) on 127.0.0.1
   and drives `POST /api/v1/tickets` from `--clients` concurrent keep-alive connections for at
   most `--seconds` or `--max-requests`: tickets/s and p50/p95/p99 latency, load average.
3. Statements per creation, in-process (Django's test client, the server's settings) with
   `CaptureQueriesContext`: the count without transaction control (BEGIN, SAVEPOINT, RELEASE),
   then each statement in order.
4. The floor (PostgreSQL; `--no-floor` skips it): the very rows one creation wrote (read back
   from a created ticket), inserted by plain psycopg, one transaction per ticket, same
   concurrency: tickets/s.
5. A profile of creations in-process (`--no-profile` skips it): where the time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import random
import sqlite3
import subprocess
import sys
import threading
import time
from typing import Any

import httpx
import psycopg
from psycopg.types.json import Jsonb

from common import (
    SPORTELLO,
    ensure_database,
    log,
    print_statements,
    remove_sqlite,
    server,
    server_env,
    sqlite_url,
    summary_ms,
    token_for,
)

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/sportello_bench_api"
JSON_COLUMNS = {"custom_fields", "old_value", "new_value", "payload"}


def is_postgres(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://"))


def connect(url: str) -> Any:
    """A DB-API connection to the benchmark's database (psycopg or sqlite3), committed on exit."""
    if is_postgres(url):
        return psycopg.connect(url)
    return SqliteConnection(url.removeprefix("sqlite:///"))


class SqliteConnection:
    """sqlite3 used as `with psycopg.connect(...)`: committed and closed on exit."""

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path)

    def __enter__(self) -> sqlite3.Connection:
        return self.conn

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.conn.commit()
        self.conn.close()


def prepare(url: str, *, fresh: bool = False) -> dict[str, Any]:
    """Create the database if missing (`fresh`: drop it first; a SQLite file is always new),
    migrate it and load the demo desk's set-up with its sample rules, SLA policies and blueprint
    switched off. The target department, an agent of it and the contacts."""
    if is_postgres(url):
        ensure_database(url, fresh=fresh)
    else:
        remove_sqlite(url)
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([SPORTELLO, "migrate", "-v0"], env=env, check=True)
    subprocess.run([SPORTELLO, "demo", "--tickets", "0"], env=env, check=True, capture_output=True)
    with connect(url) as conn:
        # The demo's sample rules, SLA policies and blueprint off: the benches measure creation
        # without them, or with their own.
        conn.execute("UPDATE automation_rule SET active = false")
        conn.execute("UPDATE sla_slapolicy SET active = false")
        conn.execute("UPDATE blueprints_blueprint SET active = false")
        dept, agent = conn.execute(
            "SELECT d.department_id, u.email FROM accounts_user u "
            "JOIN accounts_user_departments d ON d.user_id = u.id "
            "JOIN accounts_department dp ON dp.id = d.department_id "
            "WHERE u.role = 'agent' AND dp.name = 'Returns' ORDER BY u.id LIMIT 1"
        ).fetchone()  # type: ignore[misc]
        contacts = [r[0] for r in conn.execute("SELECT id FROM contacts_contact")]
    return {"department": dept, "agent": agent, "contacts": contacts}


def payload(rng: random.Random, target: dict[str, Any]) -> dict[str, Any]:
    order = f"A{rng.randint(1_000_000, 9_999_999)}"
    return {
        "subject": f"Parcel {order} arrived damaged",
        "description": f"Hello, my order {order} arrived with the box crushed and the item broken. "
        "I would like to return it and get a refund.",
        "department_id": target["department"],
        "requester_id": rng.choice(target["contacts"]),
        "priority": rng.choice(["normal", "high"]),
        "tags": ["refund", "damaged"],
        "custom_fields": {"order_number": order},
    }


async def drive(
    base: str,
    token: str,
    target: dict[str, Any],
    clients: int,
    seconds: float,
    cap: int,
    *,
    report: bool = True,
) -> None:
    rng = random.Random(5)
    latencies: list[float] = []
    errors: dict[int, int] = {}
    deadline = time.monotonic() + seconds
    sent = 0

    async def client() -> None:
        nonlocal sent
        async with httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as c:
            while time.monotonic() < deadline and sent < cap:
                sent += 1
                t = time.perf_counter()
                r = await c.post("/api/v1/tickets", json=payload(rng, target))
                latencies.append(time.perf_counter() - t)
                if r.status_code != 201:
                    errors[r.status_code] = errors.get(r.status_code, 0) + 1

    started = time.monotonic()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.monotonic() - started
    if not report:
        return None
    print(
        f"API   POST /tickets, {clients} clients: {len(latencies) / elapsed:,.0f} tickets/s | "
        + summary_ms(latencies)
        + f" | load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    if errors:
        print(f"      errors: {errors}")
    return None


def sample_rows(url: str) -> dict[str, Any]:
    """The rows one API creation wrote, to replay them as the floor."""
    with psycopg.connect(url) as conn:
        tid = conn.execute("SELECT max(id) FROM tickets_ticket").fetchone()[0]  # type: ignore[index]
        cur = conn.cursor()

        def rows(sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
            cur.execute(sql, [tid])
            cols = [d.name for d in cur.description or []]
            return cols, cur.fetchall()

        return {
            "ticket": rows("SELECT * FROM tickets_ticket WHERE id = %s"),
            "message": rows("SELECT * FROM tickets_message WHERE ticket_id = %s"),
            "event": rows("SELECT * FROM tickets_ticketevent WHERE ticket_id = %s"),
            "tag": rows("SELECT * FROM tickets_tickettag WHERE ticket_id = %s"),
            "doc": rows(
                "SELECT ticket_id, subject, public_text, internal_text, fields_text, message_chars "
                "FROM tickets_search_document WHERE ticket_id = %s"
            ),
            "outbox": rows("SELECT * FROM channels_outboxmessage WHERE ticket_id = %s"),
        }


def _insert(cur: psycopg.Cursor[Any], table: str, cols: list[str], row: tuple[Any, ...], **over: Any) -> Any:
    values = [Jsonb(v) if c in JSON_COLUMNS and v is not None else v for c, v in zip(cols, row, strict=True)]
    names = [c for c in cols if c != "id"]
    vals = [over.get(c, v) for c, v in zip(cols, values, strict=True) if c != "id"]
    sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))}) RETURNING id"
    return cur.execute(sql, vals).fetchone()


def floor(url: str, rows: dict[str, Any], clients: int, count: int) -> None:
    per_client = count // clients
    latencies: list[float] = []
    lock = threading.Lock()

    def run() -> None:
        local: list[float] = []
        with psycopg.connect(url) as conn:
            cur = conn.cursor()
            for _ in range(per_client):
                t = time.perf_counter()
                with conn.transaction():
                    number = cur.execute(
                        "UPDATE core_sequence SET value = value + 1 WHERE name = 'ticket' RETURNING value"
                    ).fetchone()[0]  # type: ignore[index]
                    tcols, (trow,) = rows["ticket"]
                    (tid,) = _insert(cur, "tickets_ticket", tcols, trow, number=number)
                    mcols, mrows = rows["message"]
                    mids = [_insert(cur, "tickets_message", mcols, m, ticket_id=tid)[0] for m in mrows]
                    for cols_rows, table in (
                        (rows["event"], "tickets_ticketevent"),
                        (rows["tag"], "tickets_tickettag"),
                    ):
                        cols, rs = cols_rows
                        for r in rs:
                            extra = {"ticket_id": tid}
                            kind = r[cols.index("kind")] if table == "tickets_ticketevent" else ""
                            if kind == "message":
                                extra["new_value"] = Jsonb({"message_id": mids[0], "author_kind": "contact"})
                            elif kind == "created":  # the opening: this ticket's number and message
                                opening = dict(r[cols.index("new_value")], number=number)
                                if "message" in opening:
                                    opening["message"] = {**opening["message"], "message_id": mids[0]}
                                extra["new_value"] = Jsonb(opening)
                            _insert(cur, table, cols, r, **extra)
                    _, (doc,) = rows["doc"]
                    cur.execute(
                        "INSERT INTO tickets_search_document (ticket_id, subject, public_text, "
                        "internal_text, fields_text, message_chars, doc_public, doc_all) "
                        "SELECT %s, %s, %s, %s, %s, %s, v.doc, v.doc || v.notes FROM (SELECT "
                        "setweight(to_tsvector('sportello_search', %s), 'A') || "
                        "setweight(to_tsvector('sportello_search', %s), 'C') || "
                        "setweight(to_tsvector('sportello_search', %s), 'B') AS doc, "
                        "setweight(to_tsvector('sportello_search', %s), 'B') AS notes) v",
                        [tid, *doc[1:], doc[1], doc[4], doc[2], doc[3]],
                    )
                local.append(time.perf_counter() - t)
        with lock:
            latencies.extend(local)

    started = time.monotonic()
    threads = [threading.Thread(target=run) for _ in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.monotonic() - started
    rate = len(latencies) / elapsed
    print(
        f"FLOOR same rows, plain psycopg, {clients} connections: {rate:,.0f} tickets/s | "
        + summary_ms(latencies)
    )


def in_process(url: str, target: dict[str, Any]) -> Any:
    """Django set up in this process with the server's settings; a function that makes one
    creation through the test client (as the agent, by token)."""
    env = server_env(url)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "SPORTELLO_ENV", "SECRET_KEY", "ALLOWED_HOSTS")})
    os.environ["SECURE_SSL_REDIRECT"] = "0"
    os.environ["SPORTELLO_DATA_DIR"] = env["SPORTELLO_DATA_DIR"]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sportello.settings")
    import django

    django.setup()
    from django.test import Client

    token = token_for(url, target["agent"])
    client = Client(HTTP_HOST="127.0.0.1", headers={"Authorization": f"Bearer {token}"})
    rng = random.Random(9)

    def create() -> None:
        r = client.post("/api/v1/tickets", json.dumps(payload(rng, target)), content_type="application/json")
        assert r.status_code == 201, r.content

    return create


def count_statements(create: Any) -> None:
    """Statements of one creation after 20 warm-up creations (per-process caches filled)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(20):
        create()
    with CaptureQueriesContext(connection) as ctx:
        create()
    print_statements("creation", ctx.captured_queries, vendor=connection.vendor)


def profile(create: Any, n: int) -> None:
    prof = cProfile.Profile()
    t = time.perf_counter()
    prof.enable()
    for _ in range(n):
        create()
    prof.disable()
    per = (time.perf_counter() - t) / n
    print(f"\nin-process: {per * 1000:.2f} ms per creation (one process, profiler on)")
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("cumulative").print_stats(
        r"sportello/(tickets|accounts|core|channels)/.*\.py:\d+\((create_ticket|ticket_open|ticket_create|_run|"
        r"_apply_fields|_apply_custom_fields|_principal|_next_number|_add_message|_record_events|_write_outbox|"
        r"snapshot|ticket_reindex|_document_insert|_reload|ticket_get_for|ticket_out|token_authenticate|"
        r"message_bodies|_lookup|check_may_change|__call__|authenticate)\)"
    )
    print(out.getvalue()[-6000:])
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(15)
    print(out.getvalue()[-4000:])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument(
        "--database-url", default=DEFAULT_URL, help="the PostgreSQL database (--database postgres)"
    )
    parser.add_argument("--fresh", action="store_true", help="PostgreSQL: drop the database first")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--max-requests", type=int, default=20_000)
    parser.add_argument("--no-floor", action="store_true", help="skip the plain-psycopg floor")
    parser.add_argument("--floor-count", type=int, default=4_000)
    parser.add_argument("--no-profile", action="store_true", help="skip the in-process profile")
    parser.add_argument("--profile-count", type=int, default=200)
    args = parser.parse_args()
    if args.database == "postgres":
        url = args.database_url
        if not is_postgres(url):
            parser.error("--database postgres takes a postgres:// --database-url")
    else:
        url = sqlite_url("api_create")
    target = prepare(url, fresh=args.fresh)
    token = token_for(url, target["agent"])
    log(
        f"{args.database}: agent {target['agent']}, department {target['department']}, "
        f"{len(target['contacts'])} requesters; load {os.getloadavg()[0]:.1f}"
    )
    with server(url, workers=args.workers) as base:
        asyncio.run(drive(base, token, target, 2, 3, 200, report=False))  # warm-up
        asyncio.run(drive(base, token, target, args.clients, args.seconds, args.max_requests))
    print(f"      {args.workers} gunicorn workers; load {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    create = in_process(url, target)
    count_statements(create)
    if is_postgres(url) and not args.no_floor:
        rows = sample_rows(url)
        print("rows per creation: " + ", ".join(f"{k} {len(v[1])}" for k, v in rows.items()))
        floor(url, rows, args.clients, args.floor_count)
    if not args.no_profile:
        profile(create, args.profile_count)
    sys.stdout.flush()


if __name__ == "__main__":
    main()

"""The ticket page (HTML) through the real server, on a small desk it prepares itself, with the
statements one page costs.

    .venv/bin/python bench/ticket_page.py --database postgres
    .venv/bin/python bench/ticket_page.py --database sqlite

1. A fresh database (PostgreSQL: `--database-url`, default `sportello_bench_page`, dropped and
   created; SQLite: a new file under var/bench), migrated, and the demo desk with `--tickets`
   conversations (`sportello demo`: every ticket through the pipeline, with public replies,
   internal notes, tags, custom fields, SLA clocks and the demo's automation as it ships).
2. The agent: the first active agent of the department with the most tickets that have an
   internal note; the pages: that department's tickets with at least `--min-messages` messages
   and an internal note. The agent is signed in by a session made in the database (as the login
   form would), so requests carry the cookie a browser does.
3. `sportello serve` (gunicorn, `--workers` processes, production settings) on 127.0.0.1:
   `--requests` sequential GETs of `/tickets/<id>/` on one keep-alive connection after 10
   warm-up requests (latency), then, unless `--clients 1`, the same from `--clients` concurrent
   connections (pages/s and latency). Each line with the load average.
4. Statements per page, in-process (Django's test client with the same session, the server's
   settings) under `CaptureQueriesContext`, after one warm-up page: the count without
   transaction control, then each statement in order.

Only 127.0.0.1 databases; the benchmark's database is its own.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import threading
import time

import httpx

from common import (
    SPORTELLO,
    ensure_database,
    log,
    measure,
    print_statements,
    remove_sqlite,
    server,
    server_env,
    session_for,
    sqlite_url,
    summary_ms,
)

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/sportello_bench_page"


def prepare(url: str, tickets: int) -> None:
    """A new database with the demo desk and its conversations."""
    if url.startswith(("postgres://", "postgresql://")):
        ensure_database(url, fresh=True)
    else:
        remove_sqlite(url)
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([SPORTELLO, "migrate", "-v0"], env=env, check=True)
    t = time.monotonic()
    subprocess.run([SPORTELLO, "demo", "--tickets", str(tickets)], env=env, check=True, capture_output=True)
    log(f"demo desk with {tickets} tickets in {time.monotonic() - t:.0f}s")


def setup_django(url: str) -> None:
    """Django in this process with the server's settings (production, the same data directory)."""
    os.environ.update(server_env(url))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sportello.settings")
    import django

    django.setup()


def pick(min_messages: int) -> tuple[int, list[int], dict[str, float]]:
    """The agent, the tickets whose pages are asked for, and what those tickets hold on average."""
    from django.db.models import Count

    from sportello.accounts.models import Role, User
    from sportello.tickets.models import Message, Ticket, TicketTag

    with_note = Ticket.objects.filter(
        message_count__gte=min_messages, pk__in=Message.objects.filter(public=False).values("ticket_id")
    )
    department = (
        with_note.values("department_id")
        .annotate(n=Count("id"))
        .order_by("-n", "department_id")
        .values_list("department_id", flat=True)
        .first()
    )
    if department is None:
        raise SystemExit("no ticket with an internal note and enough messages: load more (--tickets)")
    agent = (
        User.objects.filter(role=Role.AGENT, is_active=True, departments=department)
        .order_by("id")
        .values_list("id", flat=True)
        .first()
    )
    if agent is None:
        raise SystemExit(f"department {department} has no active agent")
    ids = list(with_note.filter(department_id=department).order_by("id").values_list("id", flat=True))
    shape = {
        "messages": Message.objects.filter(ticket_id__in=ids).count(),
        "internal notes": Message.objects.filter(ticket_id__in=ids, public=False).count(),
        "tags": TicketTag.objects.filter(ticket_id__in=ids).count(),
        "custom fields": sum(
            len(f) for f in Ticket.objects.filter(pk__in=ids).values_list("custom_fields", flat=True)
        ),
    }
    per_ticket = {k: round(v / len(ids), 1) for k, v in shape.items()}
    return agent, ids, per_ticket


def concurrent(base: str, cookie: str, paths: list[str], clients: int, n: int) -> None:
    """`clients` keep-alive connections asking for `n` pages in all, as fast as they are served."""
    samples: list[float] = []
    lock = threading.Lock()
    errors: list[str] = []

    def run(k: int) -> None:
        local: list[float] = []
        with httpx.Client(base_url=base, headers={"Cookie": cookie}, timeout=15) as c:
            for i in range(k, n, clients):
                t = time.perf_counter()
                r = c.get(paths[i % len(paths)])
                local.append(time.perf_counter() - t)
                if r.status_code != 200:
                    errors.append(f"{paths[i % len(paths)]}: {r.status_code}")
        with lock:
            samples.extend(local)

    started = time.monotonic()
    threads = [threading.Thread(target=run, args=(k,)) for k in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.monotonic() - started
    if errors:
        raise SystemExit(f"{len(errors)} failed requests, e.g. {errors[0]}")
    print(
        f"ticket page, {clients} clients: {len(samples) / elapsed:,.0f} pages/s | {summary_ms(samples)}"
        f" | load {os.getloadavg()[0]:.1f}",
        flush=True,
    )


def count_statements(cookie_name: str, key: str, path: str) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    client.cookies[cookie_name] = key
    assert client.get(path).status_code == 200  # warm-up: this process's caches filled
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200, response.status_code
    print_statements(f"ticket page {path}", ctx.captured_queries, vendor=connection.vendor)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument(
        "--database-url", default=DEFAULT_URL, help="the PostgreSQL database (--database postgres)"
    )
    parser.add_argument("--tickets", type=int, default=400, help="demo tickets to load")
    parser.add_argument("--min-messages", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--requests", type=int, default=500, help="sequential requests (and concurrent ones)")
    parser.add_argument(
        "--clients", type=int, default=2, help="concurrent connections after the sequential run"
    )
    args = parser.parse_args()
    if args.database == "postgres":
        url = args.database_url
        if not url.startswith(("postgres://", "postgresql://")):
            parser.error("--database postgres takes a postgres:// --database-url")
    else:
        url = sqlite_url("ticket_page")
    log(f"preparing {args.database}; load {os.getloadavg()[0]:.1f}")
    prepare(url, args.tickets)
    setup_django(url)
    agent, ids, per_ticket = pick(args.min_messages)
    cookie_name, key = session_for(agent)
    from django.db import connections
    from django.urls import reverse

    connections.close_all()
    paths = [reverse("web:ticket", args=[i]) for i in ids]
    random.Random(3).shuffle(paths)
    log(f"agent {agent}; {len(paths)} tickets, on average {per_ticket}")
    cookie = f"{cookie_name}={key}"
    with server(url, workers=args.workers) as base:
        with httpx.Client(base_url=base, headers={"Cookie": cookie}, timeout=15) as client:
            samples = measure(client, paths, args.requests)
        print(
            f"ticket page, 1 client (sequential): {summary_ms(samples)} | load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        if args.clients > 1:
            concurrent(base, cookie, paths, args.clients, args.requests)
    print(f"{args.workers} gunicorn workers; load {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    count_statements(cookie_name, key, paths[0])


if __name__ == "__main__":
    main()

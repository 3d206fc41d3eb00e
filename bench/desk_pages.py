"""Desk pages at scale, as an agent in a browser asks for them, through the real server: the
sidebar's view counts, the queue's landing page, each shipped view's table (the HTMX swap a click
on a view makes) and ticket pages (any ticket of the department; unresolved ones).

    .venv/bin/python bench/desk_pages.py --database-url postgres://postgres@127.0.0.1:5432/sportello_bench_1m

Seed first (`bench/seed.py --tickets 1000000`). The agent (`common.desk_target`: the department
with the most unresolved tickets, its first agent) is signed in by a session made in the
database (as the login form would), so requests carry the same cookie a browser does. Requests
are sequential on one keep-alive connection (latency, not throughput), each kind after 10
warm-up requests; the load average is printed beside each line. Targets (docs/benchmarks.md):
every Desk page p95 <= 100 ms, the views' counts p95 <= 50 ms.
"""

from __future__ import annotations

import argparse
import os
import random
from collections.abc import Callable
from typing import Any

import httpx
import psycopg

from common import DEFAULT_URL, desk_target, log, measure, server, server_env, session_for, summary_ms


def pick_targets(url: str) -> dict[str, Any]:
    with psycopg.connect(url) as conn:
        target = desk_target(conn)
        dept = target.department
        tickets = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM tickets_ticket TABLESAMPLE SYSTEM (1) REPEATABLE (5) "
                "WHERE department_id = %s LIMIT 200",
                [dept],
            )
        ]
        unresolved = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM tickets_ticket WHERE department_id = %s "
                "AND status_category IN ('new','open','pending','on_hold') ORDER BY random() LIMIT 200",
                [dept],
            )
        ]
        orders = [
            r[0]
            for r in conn.execute(
                "SELECT custom_fields->>'order_number' FROM tickets_ticket "
                "WHERE custom_fields ? 'order_number' AND department_id = %s ORDER BY random() LIMIT 50",
                [dept],
            )
        ]
    return {"total": target.total, "department": dept, "agent": target.agent_id, "tickets": tickets,
            "unresolved": unresolved, "orders": orders}  # fmt: skip


def session_cookie(url: str, agent_id: int) -> tuple[str, str, Callable[..., str]]:
    """A signed-in session for the agent, made as `django.contrib.auth.login` makes it; also a
    `reverse` for the Desk's URL names."""
    os.environ.update(server_env(url))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sportello.settings")
    import django

    django.setup()
    from django.urls import reverse

    name, key = session_for(agent_id)
    return name, key, reverse


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    rng = random.Random(3)
    t = pick_targets(args.database_url)
    log(f"{t['total']:,} tickets; department {t['department']}; agent {t['agent']}")
    cookie, key, reverse = session_cookie(args.database_url, t["agent"])
    home = reverse("web:home")
    with server(args.database_url, workers=args.workers) as base:
        client = httpx.Client(base_url=base, headers={"Cookie": f"{cookie}={key}"}, timeout=15)
        client.get(home).raise_for_status()  # the first visit creates the shipped views
        with psycopg.connect(args.database_url) as conn:
            views = conn.execute(
                "SELECT id, key FROM queues_savedview WHERE key IS NOT NULL ORDER BY position, id"
            ).fetchall()
        swap = {"HX-Request": "true", "HX-Target": "queue"}  # the table alone, as a click on a view
        kinds: list[tuple[str, list[str], dict[str, str] | None]] = [
            ("view counts (sidebar, 8 views)", [reverse("queues:counts")], None),
            ("queue page (landing view + counts)", [home], None),
            *((f"queue table: {k}", [f"{home}?view={pk}"], swap) for pk, k in views),
            ("ticket page (any ticket)", [reverse("web:ticket", args=[i]) for i in t["tickets"]], None),
            ("ticket page (unresolved)", [reverse("web:ticket", args=[i]) for i in t["unresolved"]], None),
        ]
        for name, paths, headers in kinds:
            rng.shuffle(paths)
            samples = measure(client, paths, args.requests, headers)
            print(f"{name:<40} {summary_ms(samples)}  load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()

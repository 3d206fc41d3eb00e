"""The reports' dashboard and drill-downs at scale, through the real server, as an admin and as a
supervisor of one department.

    .venv/bin/python bench/reports_dashboard.py \
        --database-url postgres://postgres@127.0.0.1:5432/sportello_bench_1m [--rebuild]

Seed first (`bench/seed.py --tickets 1000000`). The seeder writes tickets and their audit trail,
not the reports' tables: `--rebuild` runs `sportello reports rebuild` on the database first (every
ticket's history folded into its facts, its per-change counts and the daily roll-ups; timed:
the rebuild's own rate). Then `sportello serve` on 127.0.0.1 and, for each page, `--requests`
sequential GETs on one keep-alive connection after 10 warm-up requests (latency), each line
with the load average: the dashboard for the last 7, 30 and 90 days and for a year, one
department's last 30 days, broken down by agent, and drill-downs (the month's solved tickets,
the backlog). Target (docs/benchmarks.md): p95 <= 300 ms for the dashboard at 1M tickets.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from datetime import date, timedelta

import httpx
import psycopg

from common import DEFAULT_URL, SPORTELLO, log, measure, server, server_env, session_for, summary_ms


def rebuild(url: str) -> None:
    started = time.monotonic()
    subprocess.run([str(SPORTELLO), "reports", "rebuild"], env=server_env(url), check=True)
    log(f"rebuild: {time.monotonic() - started:.0f} s")


def targets(url: str) -> tuple[int, int, int, date]:
    """The first admin, the department with the most tickets, one of its agents (made a
    supervisor), and the day of the newest ticket (the bench's "today")."""
    with psycopg.connect(url) as conn:
        admin = conn.execute(
            "SELECT id FROM accounts_user WHERE role = 'admin' AND is_active ORDER BY id LIMIT 1"
        ).fetchone()
        dept = conn.execute(
            "SELECT department_id FROM reports_dailyrollup GROUP BY department_id "
            "ORDER BY sum(created) DESC LIMIT 1"
        ).fetchone()
        if admin is None or dept is None:
            raise SystemExit("no admin or no roll-ups: seed, then run with --rebuild")
        agent = conn.execute(
            "SELECT u.id FROM accounts_user u JOIN accounts_user_departments d ON d.user_id = u.id "
            "WHERE d.department_id = %s AND u.role = 'agent' AND u.is_active ORDER BY u.id LIMIT 1",
            [dept[0]],
        ).fetchone()
        if agent is None:
            raise SystemExit("the department has no agent")
        conn.execute("UPDATE accounts_user SET supervisor = true WHERE id = %s", [agent[0]])
        last = conn.execute("SELECT max(day) FROM reports_dailyrollup").fetchone()
        if last is None or last[0] is None:
            raise SystemExit("no roll-ups: run with --rebuild")
        return admin[0], dept[0], agent[0], last[0]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--rebuild", action="store_true", help="run `sportello reports rebuild` first")
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    url = args.database_url
    if args.rebuild:
        rebuild(url)
    admin, dept, supervisor, today = targets(url)

    def period(days: int) -> str:
        start = today - timedelta(days=days - 1)
        return f"period=custom&start={start.isoformat()}&end={today.isoformat()}"

    pages = {
        "admin": [
            ("dashboard, 7 days", f"/reports/?{period(7)}"),
            ("dashboard, 30 days", f"/reports/?{period(30)}"),
            ("dashboard, 90 days", f"/reports/?{period(90)}"),
            ("dashboard, a year", f"/reports/?{period(365)}"),
            ("dashboard, 30 days by agent", f"/reports/?{period(30)}&group=agent"),
            ("drill-down: solved, 30 days", f"/reports/tickets/?{period(30)}&metric=solved"),
            ("drill-down: backlog, 30 days", f"/reports/tickets/?{period(30)}&metric=backlog"),
        ],
        "supervisor": [
            ("dashboard, 30 days, own department", f"/reports/?{period(30)}&department={dept}"),
            ("dashboard, 90 days", f"/reports/?{period(90)}"),
        ],
    }
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sportello.settings")
    import django

    django.setup()
    with server(url, workers=args.workers) as base:
        for who, user_id in (("admin", admin), ("supervisor", supervisor)):
            cookie_name, cookie = session_for(user_id)
            with httpx.Client(base_url=base, cookies={cookie_name: cookie}, timeout=120) as client:
                for label, path in pages[who]:
                    samples = measure(client, [path], args.requests)
                    load = os.getloadavg()[0]
                    print(f"{who:10} {label:38} {summary_ms(samples)} (load {load:.1f})", flush=True)


if __name__ == "__main__":
    main()

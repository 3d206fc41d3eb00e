"""The Desk's statements under EXPLAIN (ANALYZE, BUFFERS) on a seeded database: the sidebar's
counts and, for each shipped view and each sortable column, the first page of the table, as the
agent of `common.desk_target` and as an admin. Execution times are PostgreSQL's own (load on the
machine disturbs them less than request timings).

    cd bench && ../.venv/bin/python desk_explain.py \\
        --database-url postgres://postgres@127.0.0.1:5432/sportello_bench_1m \\
        [--runs 5] [--plans] [--who agent|admin|both] [--only REGEX]

Read only: it neither migrates nor writes (the shipped views are built in memory). Each
statement runs `--runs` times after one warm-up; the median execution time is printed with the
plan's access paths (`--plans`: the whole plan of the last run).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import psycopg

from common import DEFAULT_URL, desk_target, log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--plans", action="store_true")
    parser.add_argument("--who", choices=["agent", "admin", "both"], default="both")
    parser.add_argument("--only", default="", help="a regular expression over the statements' labels")
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sportello.settings")
    import django

    django.setup()
    from django.db import connection

    from sportello.accounts.models import Role, User
    from sportello.core import clock
    from sportello.core.paging import parse_sort
    from sportello.queues import selectors, services
    from sportello.queues.columns import DEFAULT_COLUMNS, SORTS
    from sportello.queues.models import SavedView

    with psycopg.connect(args.database_url) as conn:
        target = desk_target(conn)
    now = clock.now()
    shipped = [
        SavedView(pk=i + 1, key=key, name=name, condition=cond, extra=extra, sort=sort,
                  columns=list(DEFAULT_COLUMNS), position=i, created_at=now, updated_at=now)
        for i, (key, name, cond, extra, sort) in enumerate(services.DEFAULT_VIEWS)
    ]  # fmt: skip
    agent = User.objects.get(pk=target.agent_id)
    admin = User.objects.filter(role=Role.ADMIN, is_active=True).order_by("id").first()
    log(
        f"{target.total:,} tickets; agent {agent.email} (department {target.department}); "
        f"load {os.getloadavg()[0]:.1f}"
    )
    only = re.compile(args.only) if args.only else None

    def explain(label: str, sql: str, params: Any) -> None:
        if only is not None and not only.search(label):
            return
        times, plan = [], ""
        with connection.cursor() as cur:
            for _ in range(args.runs + 1):
                cur.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
                lines = [r[0] for r in cur.fetchall()]
                times.append(float(re.search(r"Execution Time: ([0-9.]+)", lines[-1]).group(1)))  # type: ignore[union-attr]
                plan = "\n".join(lines)
        median = statistics.median(times[1:])
        paths = sorted(
            set(
                re.findall(
                    r"(Index Only Scan|Index Scan|Bitmap Index Scan|Seq Scan)(?: Backward)? "
                    r"(?:using (\w+) )?on (\w+)",
                    plan,
                )
            )
        )
        used = ", ".join(f"{kind.replace(' Scan', '')}{' ' + idx if idx else ''}" for kind, idx, _t in paths)
        print(f"{label:<52} {median:8.2f} ms  [{used}]  load {os.getloadavg()[0]:.1f}", flush=True)
        if args.plans:
            print(plan + "\n", flush=True)

    for who, user in (("agent", agent), ("admin", admin)):
        if user is None or args.who not in (who, "both"):
            continue
        ctx = selectors.view_context(user=user, now=now)
        explain(f"{who} counts, the sidebar's statement", *selectors.view_counts_statement(shipped, ctx))
        for sql, params, label in selectors.view_count_statements(views=shipped, ctx=ctx):
            explain(f"{who} count {label} alone", sql, params)
        totals = selectors.view_counts(views=shipped, ctx=ctx)
        for v in shipped:
            sorts = [v.sort] + [s for key in SORTS for s in (key, f"-{key}")]
            for sort in dict.fromkeys(sorts):
                keys = parse_sort(sort, allowed=SORTS, default=[])
                rows = selectors.view_page_rows(
                    view=v, ctx=ctx, keys=keys, cursor=None, limit=50, total=totals[v.pk]
                )
                sql, params = rows.query.sql_with_params()
                explain(f"{who} page {v.key} sort={sort}", sql, params)


if __name__ == "__main__":
    main()

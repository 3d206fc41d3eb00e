"""The per-ticket CSV export (`reports.export`) over a large desk on PostgreSQL: rows per second
and memory.

The database (default `sportello_bench_export`, created when missing) is migrated, given a small
desk (4 departments with a team each, 20 agents, 50 organizations, 2,000 contacts, a tier path)
through the services, then filled to `--tickets` tickets with bulk COPYs straight into the
tables, as the other benches do: tickets spread over two years in number order, 85 % solved;
each with its facts row (`reports_ticketfacts`), one to three tags, the SLA records of the solved
(first response and resolution, some breached, next responses on a third), the running clocks
of the unresolved (`sla_ticketsla`), and an answered survey on one solved ticket in five. A
second run with the same `--tickets` reuses the data.

Then, in this process, the export an admin downloads with no filter (every ticket, through
`reports.export.ticket_csv`, written to /dev/null) is timed, twice: once plain (rows/s, the
process's peak RSS before and after), once under `tracemalloc` over the first `--traced` rows
(the Python heap's peak after 10 %, 50 % and 100 % of them: flat when the generator holds one
batch at a time).

    .venv/bin/python bench/ticket_export.py --tickets 1000000
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from common import ensure_database, log

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/sportello_bench_export"
CHUNK = 50_000
END = datetime(2026, 11, 1, tzinfo=UTC)
START = END - timedelta(days=730)


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sportello.settings")
    os.environ.setdefault("DEBUG", "0")  # as in production: no query log kept in memory
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def small_desk() -> dict[str, Any]:
    """Departments, teams, agents, organizations and contacts (through the services the first
    time), as ids."""
    from sportello.accounts.models import Department, Role, Team, User
    from sportello.accounts.services import agent_create, department_create, team_create
    from sportello.contacts.models import Contact, Organization

    if not Department.objects.exists():
        admin = agent_create(
            email="admin@bench.test", name="Bench Admin", role=Role.ADMIN, password="bench-pw-1"
        )
        for d in range(4):
            department = department_create(name=f"Department {d + 1}")
            agents = [
                agent_create(
                    email=f"agent{d}-{i}@bench.test",
                    name=f"Agent {d}-{i}",
                    role=Role.AGENT,
                    departments=[department],
                )
                for i in range(5)
            ]
            team_create(name=f"Team {d + 1}", department=department, members=agents)
        orgs = Organization.objects.bulk_create(
            Organization(name=f"Organization {i}", domains=[f"org{i}.test"]) for i in range(50)
        )
        Contact.objects.bulk_create(
            Contact(
                email=f"customer{i}@org{i % 50}.test",
                name=f"Customer {i}",
                organization=orgs[i % 50] if i % 3 else None,
            )
            for i in range(2000)
        )
        del admin
    departments = list(Department.objects.order_by("pk").values_list("pk", flat=True))
    teams = dict(Team.objects.values_list("department_id", "pk"))
    by_department: dict[int, list[int]] = {}
    for pk, dept in User.objects.filter(role=Role.AGENT).values_list("pk", "departments"):
        by_department.setdefault(dept, []).append(pk)
    contacts = list(Contact.objects.order_by("pk").values_list("pk", "organization_id"))
    return {"departments": departments, "teams": teams, "agents": by_department, "contacts": contacts}


def fill(url: str, want: int, rng: random.Random) -> None:
    import psycopg
    from psycopg.types.json import Jsonb

    from sportello.tickets.models import Status

    statuses = dict(Status.objects.values_list("key", "pk"))
    desk = small_desk()
    with psycopg.connect(url) as conn:
        have = conn.execute("SELECT count(*) FROM tickets_ticket").fetchone()[0]  # type: ignore[index]
        if have >= want:
            log(f"{have:,} tickets already there")
            return
        first = (conn.execute("SELECT coalesce(max(id), 0) FROM tickets_ticket").fetchone()[0]) + 1  # type: ignore[index]
        # The rows are consistent by construction: no foreign-key trigger per row while loading.
        conn.execute("SET session_replication_role = replica")
        started = time.monotonic()
        span = (END - START).total_seconds()
        for chunk_start in range(have, want, CHUNK):
            n = min(CHUNK, want - chunk_start)
            tickets, facts, records, clocks, surveys, tags = [], [], [], [], [], []
            for k in range(n):
                i = chunk_start + k
                pk = first + k + (chunk_start - have)
                created = START + timedelta(seconds=span * i / want + rng.uniform(0, 3600))
                dept = desk["departments"][i % len(desk["departments"])]
                team = desk["teams"].get(dept)
                agent = rng.choice(desk["agents"][dept])
                contact, org = desk["contacts"][i % len(desk["contacts"])]
                solved = rng.random() < 0.85
                first_reply = rng.randint(300, 30_000)
                resolution = first_reply + rng.randint(600, 400_000) if solved else None
                replies = rng.randint(1, 4)
                response = first_reply * replies + rng.randint(0, 5000)
                status = "solved" if solved else rng.choice(["open", "pending", "new"])
                channel = rng.choice(["email", "email", "portal", "web", "phone", "api"])
                subject = (
                    rng.choice(["Refund", "=HYPERLINK(x)", "Login fails", "Parcel lost", "Invoice"]) + f" {i}"
                )
                solved_at = created + timedelta(seconds=resolution) if resolution is not None else None
                reply_at = created + timedelta(seconds=first_reply) if status != "new" else None
                tickets.append(
                    (
                        pk,
                        pk,
                        subject,
                        status,
                        rng.choice([1, 2, 2, 3, 4]),
                        channel,
                        "{}",
                        created,
                        solved_at or created,
                        reply_at,
                        solved_at,
                        None,
                        1,
                        replies + 1,
                        1,
                        replies,
                        agent,
                        dept,
                        org,
                        contact,
                        statuses[status],
                        team,
                    )
                )
                facts.append(
                    (
                        pk,
                        created,
                        dept,
                        team or 0,
                        agent,
                        channel,
                        "normal",
                        "",
                        status,
                        None,
                        reply_at,
                        first_reply if reply_at else None,
                        first_reply // 2 if reply_at else None,
                        resolution,
                        resolution // 3 if resolution else None,
                        1 if solved else 0,
                        1 if rng.random() < 0.05 else 0,
                        replies,
                        replies,
                        response,
                        response // 2,
                        solved and replies == 1,
                        False,
                        Jsonb(["t1", "t2"] if i % 7 == 0 else ["t1"]),
                    )
                )
                for t in range(1 + i % 3):
                    tags.append((pk, ("vip", "refund", "shipping", "billing")[(i + t) % 4]))
                if solved:
                    for metric, target, took in (
                        ("first_response", 3600, first_reply),
                        ("resolution", 86_400, resolution),
                    ):
                        records.append(
                            (
                                pk,
                                metric,
                                1,
                                dept,
                                team,
                                agent,
                                created,
                                created + timedelta(seconds=took or 0),
                                False,
                                target,
                                took,
                                took,
                                bool(took and took > target),
                                None,
                                "t1",
                            )
                        )
                    if i % 3 == 0:
                        for inst in (1, 2):
                            records.append(
                                (
                                    pk,
                                    "next_response",
                                    inst,
                                    dept,
                                    team,
                                    agent,
                                    created,
                                    created + timedelta(hours=inst),
                                    False,
                                    7200,
                                    3000 * inst,
                                    3000 * inst,
                                    inst == 2 and i % 2 == 0,
                                    None,
                                    "t1",
                                )
                            )
                    if i % 5 == 0:
                        rating = rng.randint(1, 5)
                        surveys.append(
                            (
                                pk,
                                "answered",
                                f"n{pk}",
                                "five",
                                True,
                                True,
                                Jsonb(["email"]),
                                solved_at,
                                dept,
                                agent,
                                team,
                                "t1",
                                "",
                                solved_at,
                                True,
                                None,
                                solved_at,
                                rating,
                                "good" if rating >= 4 else "neutral" if rating == 3 else "bad",
                                "",
                                rng.randint(1, 7),
                                rng.randint(0, 10),
                                solved_at,
                                "email",
                                1,
                            )
                        )
                else:
                    due = created + timedelta(hours=1)
                    state = {
                        "policy": "standard",
                        "priority": "normal",
                        "category": status,
                        "clocks": [
                            {
                                "metric": "resolution",
                                "instance": 1,
                                "status": "active",
                                "target_us": 86_400_000_000,
                                "due_at": (created + timedelta(days=1)).isoformat(),
                                "breached_at": None,
                            },
                            {
                                "metric": "first_response",
                                "instance": 1,
                                "status": "fulfilled" if reply_at else "active",
                                "target_us": 3_600_000_000,
                                "due_at": due.isoformat(),
                                "breached_at": None,
                            },
                        ],
                    }
                    clocks.append((pk, None, None, Jsonb(state), due, False, created))
            with conn.cursor() as cur:
                copy(
                    cur,
                    "tickets_ticket",
                    "id number subject status_category priority channel custom_fields created_at "
                    "updated_at first_response_at solved_at closed_at version message_count "
                    "customer_message_count agent_reply_count assignee_id department_id organization_id "
                    "requester_id status_id team_id",
                    tickets,
                )
                copy(
                    cur,
                    "reports_ticketfacts",
                    "ticket_id created_at department_id team_id assignee_id channel priority tier category "
                    "waiting_since first_reply_at first_reply_seconds first_reply_business_seconds "
                    "resolution_seconds resolution_business_seconds solves reopens agent_replies replies "
                    "response_seconds response_business_seconds one_touch merged tier_path",
                    facts,
                )
                copy(cur, "tickets_tickettag", "ticket_id name", tags)
                copy(
                    cur,
                    "sla_slarecord",
                    "ticket_id metric instance department_id team_id assignee_id started_at ended_at "
                    "business target_seconds own_seconds calendar_seconds breached breached_at tier",
                    records,
                )
                copy(
                    cur,
                    "sla_ticketsla",
                    "ticket_id policy_id policy_version state next_breach_at breached updated_at",
                    clocks,
                )
                copy(
                    cur,
                    "surveys_survey",
                    "ticket_id state nonce scale ask_ces ask_nps channels solved_at department_id agent_id "
                    "team_id tier blueprint_state offered_at emailed reminded_at expires_at rating "
                    "satisfaction comment ces nps answered_at answered_via answers",
                    surveys,
                )
            conn.commit()
            done = chunk_start + n - have
            rate = done / (time.monotonic() - started)
            eta = (want - chunk_start - n) / rate
            log(f"{chunk_start + n:,} tickets ({rate:,.0f}/s, ETA {eta:,.0f} s)")
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('tickets_ticket', 'id'), "
            "(SELECT max(id) FROM tickets_ticket))"
        )
        conn.execute(
            "UPDATE core_sequence SET value = (SELECT max(number) FROM tickets_ticket) WHERE name = 'ticket'"
        )
        conn.execute("SET session_replication_role = DEFAULT")
        conn.commit()
        conn.autocommit = True
        for table in (
            "tickets_ticket",
            "reports_ticketfacts",
            "tickets_tickettag",
            "sla_slarecord",
            "sla_ticketsla",
            "surveys_survey",
        ):
            conn.execute(f"VACUUM ANALYZE {table}")


def copy(cur: Any, table: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    with cur.copy(f"COPY {table} ({', '.join(columns.split())}) FROM STDIN") as out:
        for row in rows:
            out.write_row(row)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_export(traced: int) -> None:
    from sportello.accounts.models import Role, User
    from sportello.reports import export
    from sportello.reports.access import report_scope

    admin = User.objects.filter(role=Role.ADMIN).order_by("pk").first()
    assert admin is not None
    scope = report_scope(admin)
    now = datetime.now(UTC)

    rss_before = rss_mb()
    started = time.monotonic()
    rows = 0
    size = 0
    with open(os.devnull, "w", encoding="utf-8") as sink:
        for line in export.ticket_csv(scope=scope, filters=export.ExportFilters(), zone=UTC, now=now):
            sink.write(line)
            size += len(line)
            rows += 1
    took = time.monotonic() - started
    rows -= 1  # the header
    print(f"export: {rows:,} rows in {took:.1f} s = {rows / took:,.0f} rows/s, {size / 1e6:,.0f} MB of CSV")
    print(f"peak RSS: {rss_before:,.0f} MB before, {rss_mb():,.0f} MB after")

    tracemalloc.start()
    marks = {max(1, traced // 10), max(1, traced // 2), traced}
    peaks = []
    lines = export.ticket_csv(scope=scope, filters=export.ExportFilters(), zone=UTC, now=now)
    for seen, _ in enumerate(lines, start=1):
        if seen in marks:
            peaks.append((seen, tracemalloc.get_traced_memory()[1] / 1e6))
        if seen >= traced:
            break
    tracemalloc.stop()
    print("Python heap peak (tracemalloc): " + ", ".join(f"{mb:,.1f} MB after {n:,} rows" for n, mb in peaks))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--traced", type=int, default=200_000, help="rows read under tracemalloc")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    ensure_database(args.database_url)
    setup_django(args.database_url)
    fill(args.database_url, args.tickets, random.Random(args.seed))
    run_export(min(args.traced, args.tickets))


if __name__ == "__main__":
    main()

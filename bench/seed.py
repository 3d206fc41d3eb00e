"""Bulk seeder: grow a PostgreSQL Sportello database to N tickets with conversations, in minutes.

    .venv/bin/python bench/seed.py --database-url postgres://postgres@127.0.0.1:5432/sportello_bench \\
        --tickets 1000000

What it does:
1. migrates the database and, when it has no departments, loads the demo desk's set-up
   (`sportello demo --tickets 0`: departments, agents, teams, organizations, custom fields);
2. adds customers (one per 20 tickets) with COPY;
3. drops the secondary (non-unique) indexes of the ticket tables, so rows go in at COPY speed;
4. in `--jobs` processes, chunk by chunk, each chunk one transaction: reserves ticket numbers from
   the `core_sequence` row (`UPDATE ... RETURNING`, like the pipeline) and ids from the tables'
   identity sequences, then COPYs tickets, messages, events, tags and search documents;
   the search documents (`doc_public`, `doc_all`) are computed by PostgreSQL with the same
   expressions as `tickets.search`;
5. recreates the indexes exactly as they were, VACUUMs and ANALYZEs the ticket tables and
   ANALYZEs the rest of the database; sets the database's `random_page_cost` to 1.1 (SSD).

Every row satisfies the tables' constraints: foreign keys (checked by PostgreSQL as rows go in),
unique numbers, tags unique per ticket, counters equal to the messages written, the status
category matching the status row, assignees that are members of the ticket's department.
Text is generated from the demo's scenarios in English, Spanish and Italian plus words drawn from
a Zipf-distributed vocabulary, so searches range from rare to very common words.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/sportello_bench"
TABLES = (
    "tickets_ticket",
    "tickets_message",
    "tickets_ticketevent",
    "tickets_tickettag",
    "tickets_search_document",
)
TS_CONFIG = "sportello_search"
HISTORY_DAYS = 730
SEPARATOR = "\n\n"

TICKET_COLS = (
    "id, number, subject, status_id, status_category, priority, channel, department_id, team_id, "
    "assignee_id, requester_id, organization_id, custom_fields, due_at, created_at, updated_at, "
    "first_response_at, solved_at, closed_at, version, message_count, customer_message_count, "
    "agent_reply_count"
)
MESSAGE_COLS = (
    "id, ticket_id, public, author_kind, author_agent_id, author_contact_id, body_text, body_html, via, "
    "created_at, change_id, quoted_text, subject"
)
EVENT_COLS = (
    "ticket_id, change_id, at, kind, field, old_value, new_value, actor_kind, actor_id, actor_label, via, "
    "cause, depth"
)
DOC_COLS = "ticket_id, subject, public_text, internal_text, fields_text, message_chars"


# --------------------------------------------------------------------------------------------
# Set-up through Django (migrations and the demo's departments, agents and fields)


def django_setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sportello.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from sportello.accounts.models import Department

    call_command("migrate", interactive=False, verbosity=0)
    if not Department.objects.exists():
        call_command("demo", tickets=0)
    from django.db import connections

    connections.close_all()


@dataclass
class Desk:
    statuses: dict[str, tuple[int, str]]  # key -> (id, category)
    departments: list[tuple[int, str]]  # (id, name)
    agents: dict[int, list[tuple[int, str]]]  # department id -> [(agent id, e-mail)]
    teams: dict[int, list[int]]
    contacts: list[tuple[int, int | None, str, str]]  # (id, organization id, language, e-mail)
    fields: dict[int, set[str]]  # department id -> custom field keys in its layout
    text_fields: set[str]
    search: bool  # the search document table with PostgreSQL vectors exists


def load_desk(conn: psycopg.Connection[Any]) -> Desk:
    cur = conn.cursor()
    statuses = {k: (i, c) for i, k, c in cur.execute("SELECT id, key, category FROM tickets_status")}
    departments = list(cur.execute("SELECT id, name FROM accounts_department ORDER BY id"))
    agents: dict[int, list[tuple[int, str]]] = {}
    for dept, uid, email in cur.execute(
        "SELECT d.department_id, u.id, u.email FROM accounts_user_departments d "
        "JOIN accounts_user u ON u.id = d.user_id WHERE u.role = 'agent' AND u.is_active ORDER BY u.id"
    ):
        agents.setdefault(dept, []).append((uid, email))
    teams: dict[int, list[int]] = {}
    for tid, dept in cur.execute("SELECT id, department_id FROM accounts_team ORDER BY id"):
        teams.setdefault(dept, []).append(tid)
    contacts = list(
        cur.execute("SELECT id, organization_id, language, email FROM contacts_contact ORDER BY id")
    )
    fields: dict[int, set[str]] = {}
    for dept, key in cur.execute(
        "SELECT l.department_id, f.key FROM tickets_layoutfield l "
        "JOIN tickets_customfield f ON f.id = l.field_id "
        "WHERE f.is_active"
    ):
        fields.setdefault(dept, set()).add(key)
    text_fields = {
        k for (k,) in cur.execute("SELECT key FROM tickets_customfield WHERE type IN ('text', 'long_text')")
    }
    search = bool(
        cur.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_name = 'tickets_search_document' "
            "AND column_name = 'doc_public'"
        ).fetchone()
    )
    missing = [d for d, _ in departments if d not in agents]
    if missing:
        raise SystemExit(f"departments {missing} have no active agents; add some first")
    return Desk(statuses, departments, agents, teams, contacts, fields, text_fields, search)


def add_contacts(conn: psycopg.Connection[Any], want: int, rng: random.Random) -> None:
    from sportello.demo import data

    have = conn.execute("SELECT count(*) FROM contacts_contact").fetchone()[0]  # type: ignore[index]
    if have >= want:
        return
    orgs = [r[0] for r in conn.execute("SELECT id FROM contacts_organization")]
    start = conn.execute("SELECT coalesce(max(id), 0) FROM contacts_contact").fetchone()[0]  # type: ignore[index]
    now = datetime.now(UTC)
    with conn.cursor().copy(
        "COPY contacts_contact (email, name, phone, language, time_zone, vip, created_at, updated_at, "
        "organization_id) FROM STDIN"
    ) as cp:
        for i in range(start + 1, start + 1 + want - have):
            lang = rng.choices(data.LANGUAGES, weights=data.LANGUAGE_WEIGHTS)[0]
            first, last = rng.choice(data.FIRST_NAMES[lang]), rng.choice(data.LAST_NAMES[lang])
            org = rng.choice(orgs) if orgs and rng.random() < 0.3 else None
            cp.write_row(
                (
                    f"customer{i}@customers.example",
                    f"{first} {last}",
                    "",
                    lang,
                    data.TIME_ZONES[lang],
                    rng.random() < 0.02,
                    now,
                    now,
                    org,
                )
            )
    conn.commit()


# --------------------------------------------------------------------------------------------
# Indexes


def drop_indexes(conn: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    """Drop the non-unique indexes of the ticket tables; return (name, definition) to recreate."""
    rows = list(
        conn.execute(
            "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
            "WHERE t.relname = ANY(%s) AND NOT x.indisunique AND NOT x.indisprimary ORDER BY i.relname",
            [list(TABLES)],
        )
    )
    for name, _ in rows:
        conn.execute(f'DROP INDEX "{name}"')
    conn.commit()
    return rows


def create_indexes(conn: psycopg.Connection[Any], indexes: list[tuple[str, str]]) -> None:
    conn.execute("SET maintenance_work_mem = '1GB'")
    conn.execute("SET max_parallel_maintenance_workers = 2")
    for name, definition in indexes:
        exists = conn.execute("SELECT 1 FROM pg_class WHERE relname = %s", [name]).fetchone()
        if exists:
            continue
        t = time.monotonic()
        conn.execute(definition)
        conn.commit()
        print(f"  index {name}: {time.monotonic() - t:.1f}s", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Text


def vocabulary(rng: random.Random, size: int = 30_000) -> list[str]:
    syllables = [c + v for c in "bcdfglmnprstvz" for v in "aeiou"] + ["ar", "en", "il", "or", "us", "an"]
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def zipf_cumulative(n: int) -> list[float]:
    total, out = 0.0, []
    for rank in range(1, n + 1):
        total += 1.0 / rank
        out.append(total)
    return out


# --------------------------------------------------------------------------------------------
# One chunk: one transaction


@dataclass
class Job:
    url: str
    desk: Desk
    count: int
    seed: int
    now: datetime
    target: int  # the number of tickets the run grows to: numbers are spread over the history


def load_chunk(job: Job) -> int:
    from sportello.demo import data

    rng = random.Random(job.seed)
    desk, now = job.desk, job.now
    words = vocabulary(random.Random(7))
    weights = zipf_cumulative(len(words))
    scenarios = [(name, s) for name, items in data.SCENARIOS.items() for s in items]
    dept_by_name = {name: i for i, name in desk.departments}
    with psycopg.connect(job.url, autocommit=False) as conn:
        conn.execute("SET synchronous_commit = off")
        cur = conn.cursor()
        last = cur.execute(
            "UPDATE core_sequence SET value = value + %s WHERE name = 'ticket' RETURNING value", [job.count]
        ).fetchone()[0]  # type: ignore[index]
        numbers = range(last - job.count + 1, last + 1)
        ticket_ids = [
            r[0]
            for r in cur.execute(
                "SELECT nextval(pg_get_serial_sequence('tickets_ticket', 'id')) FROM generate_series(1, %s)",
                [job.count],
            )
        ]
        message_ids = iter(
            r[0]
            for r in cur.execute(
                "SELECT nextval(pg_get_serial_sequence('tickets_message', 'id')) FROM generate_series(1, %s)",
                [job.count * 10],
            )
        )
        tickets, messages, events, tags, docs = [], [], [], [], []
        for tid, number in zip(ticket_ids, numbers, strict=True):
            dept_name, scenario = rng.choice(scenarios)
            dept = dept_by_name.get(dept_name) or rng.choice(desk.departments)[0]
            cid, org, lang, email = rng.choice(desk.contacts)
            lang = lang if lang in scenario else "en"
            agent_id, agent_email = rng.choice(desk.agents[dept])
            team = rng.choice(desk.teams[dept]) if desk.teams.get(dept) and rng.random() < 0.6 else None
            order = f"{rng.choice('ABCD')}{rng.randint(1_000_000, 9_999_999)}"
            product = f"{rng.choice(data.PRODUCT_PREFIXES)}-{rng.randint(1000, 9999)}"
            fill = {"first": email.split("@")[0], "order": order, "product": product, "agent": "Sam"}
            subject, body = scenario[lang]
            subject = subject.format(**fill)
            extra = " ".join(words[i] for i in _zipf(rng, weights, rng.randint(4, 12)))
            # Tickets arrive over the history in number order (as in production, where ids and
            # numbers grow with time), with a few hours of jitter.
            ago = HISTORY_DAYS * 86400 * max(0.0, 1 - number / job.target) + rng.uniform(60, 6 * 3600)
            created = now - timedelta(seconds=ago)
            age = now - created
            # Older tickets are done; recent ones are still being worked.
            if age > timedelta(days=14):
                status = "closed" if rng.random() < 0.93 else rng.choice(["solved", "pending", "on_hold"])
            elif age > timedelta(days=3):
                status = rng.choice(["solved", "solved", "closed", "pending", "open", "on_hold"])
            else:
                status = rng.choice(["new", "open", "open", "pending", "solved"])
            status_id, category = desk.statuses[status]
            priority = {"low": 1, "normal": 2, "high": 3, "urgent": 4}[scenario["priority"]]
            if rng.random() < 0.15:
                priority = rng.randint(1, 4)
            custom: dict[str, str] = {}
            layout = desk.fields.get(dept, set())
            if "order_number" in layout:
                custom["order_number"] = order
            if "product_code" in layout and "{product}" in scenario[lang][1]:
                custom["product_code"] = product
            if dept_name in data.SUBCATEGORIES and "subcategory" in layout:
                custom["subcategory"] = rng.choice(data.SUBCATEGORIES[dept_name])

            # The conversation: the customer's first message, then agent and customer in turn.
            t = created
            convo: list[tuple[bool, str, str, datetime]] = [
                (True, "contact", f"{body.format(**fill)}\n{extra}", t)
            ]
            answered = status != "new"
            first_response = None
            if answered:
                for turn in range(rng.choice([1, 1, 2, 3])):
                    t = min(now, t + timedelta(hours=rng.uniform(0.2, 20)))
                    text = rng.choice(data.ASK[lang] if turn == 0 else data.RESOLVE[lang]).format(**fill)
                    convo.append((True, "agent", text, t))
                    first_response = first_response or t
                    if rng.random() < 0.1:
                        convo.append((False, "agent", rng.choice(data.INTERNAL_NOTES), t))
                    if rng.random() < 0.6:
                        t = min(now, t + timedelta(hours=rng.uniform(0.5, 30)))
                        convo.append((True, "contact", rng.choice(data.CUSTOMER_FOLLOW_UP[lang]), t))
            updated = t
            solved_at = closed_at = None
            if category in ("solved", "closed"):
                solved_at = updated = min(now, t + timedelta(hours=rng.uniform(0.5, 24)))
                if category == "closed":
                    closed_at = updated = min(now, solved_at + timedelta(days=4))
            ticket_tags = sorted({*scenario["tags"], f"lang_{lang}"})

            change = uuid.UUID(int=rng.getrandbits(128), version=4)
            ev_common = ("contact", cid, email, "email", "", 0)
            events.append(
                (tid, change, created, "created", "", None, json.dumps({"number": number}), *ev_common)
            )
            public_parts, internal_parts, used = [], [], 0
            customer_count = agent_count = 0
            for public, kind, text, at in convo:
                mid = next(message_ids)
                mchange = change if at == created else uuid.UUID(int=rng.getrandbits(128), version=4)
                is_agent = kind == "agent"
                messages.append(
                    (mid, tid, public, kind, agent_id if is_agent else None,
                     None if is_agent else cid, text, "",
                     "web" if is_agent else "email", at, mchange, "", "")
                )  # fmt: skip
                actor = ("agent", agent_id, agent_email, "web", "", 0) if is_agent else ev_common
                events.append(
                    (tid, mchange, at, "message", "public" if public else "internal", None,
                     json.dumps({"message_id": mid, "author_kind": kind}), *actor)
                )  # fmt: skip
                part = text.replace("\ue000", " ").replace("\ue001", " ") + SEPARATOR
                used += len(part)
                (public_parts if public else internal_parts).append(part)
                if is_agent and public:
                    agent_count += 1
                elif not is_agent:
                    customer_count += 1
            if answered:
                triage = uuid.UUID(int=rng.getrandbits(128), version=4)
                at = first_response or created
                agent_actor = ("agent", agent_id, agent_email, "web", "", 0)
                events.append(
                    (tid, triage, at, "field", "assignee", None, json.dumps(agent_id), *agent_actor)
                )
                events.append((tid, triage, at, "field", "status", '"new"', json.dumps(status), *agent_actor))
            for tag in ticket_tags:
                tags.append((tid, tag))
            version = 1 + len(convo) - 1 + (1 if answered else 0) + (1 if closed_at else 0)
            tickets.append(
                (tid, number, subject, status_id, category, priority,
                 rng.choice(["email", "portal", "chat", "web"]), dept, team, agent_id if answered else None,
                 cid, org, json.dumps(custom), None, created, updated,
                 first_response, solved_at, closed_at, version, len(convo), customer_count, agent_count)
            )  # fmt: skip
            fields_text = "\n".join(custom[k] for k in sorted(custom) if k in desk.text_fields)
            docs.append((tid, subject, "".join(public_parts), "".join(internal_parts), fields_text, used))

        _copy(cur, "tickets_ticket", TICKET_COLS, tickets)
        _copy(cur, "tickets_message", MESSAGE_COLS, messages)
        _copy(cur, "tickets_ticketevent", EVENT_COLS, events)
        _copy(cur, "tickets_tickettag", "ticket_id, name", tags)
        if desk.search:
            cur.execute(
                "CREATE TEMP TABLE IF NOT EXISTS seed_doc (ticket_id bigint, subject text, public_text text, "
                "internal_text text, fields_text text, message_chars integer) ON COMMIT DELETE ROWS"
            )
            _copy(cur, "seed_doc", DOC_COLS, docs)
            cur.execute(
                f"INSERT INTO tickets_search_document ({DOC_COLS}, doc_public, doc_all) "
                f"SELECT {DOC_COLS}, doc_public, doc_public || {_vector('internal_text', 'B')} "
                f"FROM (SELECT *, {_vector('subject', 'A')} || {_vector('fields_text', 'C')} || "
                f"{_vector('public_text', 'B')} AS doc_public FROM seed_doc) s"
            )
        else:
            _copy(cur, "tickets_search_document", DOC_COLS, docs)
        conn.commit()
    return job.count


def _vector(column: str, weight: str) -> str:
    # As `tickets.search` builds the documents: subject A, fields C, messages B.
    return f"setweight(to_tsvector('{TS_CONFIG}', {column}), '{weight}')"


def _zipf(rng: random.Random, cumulative: list[float], k: int) -> list[int]:
    import bisect

    top = cumulative[-1]
    return [min(len(cumulative) - 1, bisect.bisect_left(cumulative, rng.random() * top)) for _ in range(k)]


def _copy(cur: psycopg.Cursor[Any], table: str, cols: str, rows: list[tuple[Any, ...]]) -> None:
    with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row(row)


# --------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--tickets", type=int, default=1_000_000, help="target number of tickets")
    parser.add_argument("--chunk", type=int, default=5_000, help="tickets per transaction")
    parser.add_argument("--jobs", type=int, default=2, help="parallel loader processes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep-indexes", action="store_true", help="load with the indexes in place")
    args = parser.parse_args()
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("the seeder loads PostgreSQL only (--database-url postgres://...)")

    from sportello.demo.progress import Progress

    started = time.monotonic()
    django_setup(args.database_url)
    rng = random.Random(args.seed)
    with psycopg.connect(args.database_url) as conn:
        have = conn.execute("SELECT count(*) FROM tickets_ticket").fetchone()[0]  # type: ignore[index]
        todo = args.tickets - have
        if todo <= 0:
            print(f"the database already holds {have:,} tickets", file=sys.stderr)
            return
        add_contacts(conn, max(150, args.tickets // 20), rng)
        desk = load_desk(conn)
        indexes = [] if args.keep_indexes or todo < 50_000 else drop_indexes(conn)
    print(
        f"seeding {todo:,} tickets ({have:,} present) in chunks of {args.chunk:,} with {args.jobs} jobs"
        + (f"; {len(indexes)} indexes dropped for the load" if indexes else ""),
        file=sys.stderr,
    )
    now = datetime.now(UTC)
    sizes = [min(args.chunk, todo - i) for i in range(0, todo, args.chunk)]
    jobs = [
        Job(args.database_url, desk, n, args.seed * 1_000_003 + have + i, now, args.tickets)
        for i, n in enumerate(sizes)
    ]
    progress = Progress(todo, label="seed", unit="tickets")
    try:
        with mp.get_context("fork").Pool(args.jobs) as pool:
            for done in pool.imap_unordered(load_chunk, jobs):
                progress.advance(done)
    finally:
        progress.done()
        if indexes:
            print(f"recreating {len(indexes)} indexes", file=sys.stderr, flush=True)
            with psycopg.connect(args.database_url) as conn:
                create_indexes(conn, indexes)
    with psycopg.connect(args.database_url, autocommit=True) as conn:
        # The recommended planner setting when the data is on SSD or in memory (docs/benchmarks.md):
        # with the default (4, for spinning disks) the planner prefers scanning a whole table to
        # looking a few thousand rows up by index.
        name = args.database_url.rsplit("/", 1)[1].split("?")[0]
        conn.execute(f'ALTER DATABASE "{name}" SET random_page_cost = 1.1')
        t = time.monotonic()
        for table in (*TABLES, "contacts_contact"):
            conn.execute(f"VACUUM (ANALYZE) {table}")
        # And the small tables the permission scope joins (departments, memberships): without
        # statistics the planner misjudges how many tickets an agent's scope holds.
        conn.execute("ANALYZE")
        print(f"  vacuum analyze: {time.monotonic() - t:.1f}s", file=sys.stderr)
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}  # type: ignore[index]
    print(f"done in {time.monotonic() - started:.0f}s: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))


if __name__ == "__main__":
    main()

"""Bulk seeder: grow a PostgreSQL Sportello database to N tickets with conversations, in minutes.

    .venv/bin/python bench/seed.py --database-url postgres://postgres@127.0.0.1:5432/sportello_bench \\
        --tickets 1000000

What it does:
1. migrates the database and, when it has no departments, loads the demo desk's set-up
   (`sportello demo --tickets 0`: departments, agents, teams, organizations, custom fields, the
   business calendar and the SLA policies), then reads the active SLA policies and calendars, and
   the templates of the replies' e-mails, once;
2. adds customers (one per 20 tickets) with COPY;
3. drops the secondary (non-unique) indexes of the ticket tables and the outbox, so rows go in at
   COPY speed;
4. in `--jobs` processes, chunk by chunk, each chunk one transaction: reserves ticket numbers from
   the `core_sequence` row (`UPDATE ... RETURNING`, like the pipeline) and ids from the tables'
   identity sequences, then COPYs tickets (with the anchors the pipeline keeps), messages,
   events, tags, search documents, SLA clocks, timers and firings, and the outbox e-mail of each
   agent's public reply; the search documents (`doc_public`, `doc_all`) are computed by
   PostgreSQL with the same expressions as `tickets.search`;
5. recreates the indexes exactly as they were;
6. fills in what a seed by an earlier version of this script left out — the anchors, and the
   SLA clocks, timers and firings — for every ticket missing them, computed from its rows in the
   database as step 4 computes them from the conversation it generates (`ticket_steps`, `replay`),
   chunk by chunk in `--jobs` processes (with progress and ETA). Tickets that have both are left
   alone. Likewise the e-mails of the agents' public replies that have none in the outbox. Run
   the seeder again with the same `--tickets` (nothing to add) to bring an older database up to
   date;
7. VACUUMs and ANALYZEs the ticket, outbox and SLA tables and ANALYZEs the rest of the
   database; sets the database's `random_page_cost` to 1.1 (SSD).

Every row satisfies the tables' constraints: foreign keys (checked by PostgreSQL as rows go in),
unique numbers, tags unique per ticket, counters equal to the messages written, the status
category matching the status row, assignees that are members of the ticket's department.
Text is generated from the demo's scenarios in English, Spanish and Italian plus words drawn from
a Zipf-distributed vocabulary, so searches range from rare to very common words.

A ticket's history (`ticket_steps`) is the pipeline's changes for its conversation: the customer
opens it by e-mail; the agent's first public reply assigns it and moves it to open (straight to
pending or on hold when that reply is the conversation's last message: "Send and set Pending");
each later message is a change of its own; then the final status: pending or on hold at
`updated_at` (with the agent's last reply, or without a word after the customer's last
message), solved at `solved_at`, and closed at `closed_at` by the system (auto-close). Agents
reply after a log-normal delay (mostly about 2 hours, 30 minutes for VIPs and urgent tickets, at
most 20 hours). The events are those changes' (`created` carrying the ticket's opening values
and first message as the pipeline records them, then `assignee`, `status`, `message`; no
`status_category` events, which the history hides). `replay` sets the anchors as
`pipeline._set_anchors` does for those changes — `status_entered_at` and
`status_category_entered_at` at the last change of each, `assigned_at` at the first reply,
`last_customer_message_at`, `last_agent_reply_at`, and `last_activity_at` at the last change (the
system's closing is not automation) — and `updated_at`, `version` and the counters likewise.

SLA clocks (`replay`), for the desk's active policies and calendars read once: each change is fed
to `engine.sla.apply_change` at its instant as `sla.hooks` feeds it (the policy chosen on the
ticket's facts at that change; creation, the status category, a public reply or a customer
message, else a tick), and each breach that falls due between two changes or before now is
stamped by a tick at its instant, as the worker's breach timer stamps it. The row is what the
hook saves: the state through `engine.sla.state_to_data`, `next_breach_at`, `breached`, the
policy and its version, and `updated_at` the instant of the last change that moved the clocks.
Of the timers `engine.sla.timers_for` asks for after the last change, those due after now are
armed (`sla_slatimer`) and those due before are recorded as fired (`sla_slafiring`, outcome
`seeded`), so that no later change arms them again: a worker started on the database fires what
falls due from then on, nothing of the past. Not written: what the worker's firings did besides
stamping breaches (their `sla` events, an escalation's tag, priority or notification, the
`version` and `updated_at` they moved), the `sla` events of the changes, the firings of clocks
that have stopped, `SlaRecord` report rows. tests/bench/test_seed_history.py holds these
histories against the same conversations made through the pipeline and the worker.

The outbox e-mail of an agent's public reply to a requester with an address (`reply_mail`) is
the row the pipeline queues for it (`notifications.extension.ReplyMail`,
`outbox.queueing.items_add`) as the worker leaves it once sent: kind `email`, the dedupe key
`reply:<message id>`, the reply's ticket, change and instant, the payload of the `agent_reply`
template in force rendered in the requester's language (`notification_context`, `render_text`;
the `sla` names render empty), status `sent` after one attempt, `SENT_AFTER` after the reply.
Not written: delivery jobs (the e-mails are sent), the desk's other notifications and webhooks.
tests/bench/test_seed_history.py compares the row with the pipeline's.

A database seeded before this (step 6) keeps its events as they were (one status event, at the
first reply, to the final status); its anchors and clocks follow its messages and the ticket's
own instants (`solved_at`, `closed_at`, `updated_at`) as above.
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing as mp
import os
import random
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
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
    "channels_outboxmessage",
)
SLA_TABLES = ("sla_ticketsla", "sla_slatimer", "sla_slafiring")
TS_CONFIG = "sportello_search"
HISTORY_DAYS = 730
SEPARATOR = "\n\n"
BIG = 50_000  # from this many tickets to write, the secondary indexes are dropped and rebuilt

ANCHORS = (
    "status_entered_at",
    "status_category_entered_at",
    "assigned_at",
    "last_customer_message_at",
    "last_agent_reply_at",
    "last_activity_at",
)
TICKET_COLS = (
    "id, number, subject, status_id, status_category, priority, channel, department_id, team_id, "
    "assignee_id, requester_id, organization_id, custom_fields, due_at, created_at, updated_at, "
    "first_response_at, solved_at, closed_at, version, message_count, customer_message_count, "
    "agent_reply_count, " + ", ".join(ANCHORS)
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
SLA_COLS = "ticket_id, policy_id, policy_version, state, next_breach_at, breached, updated_at"
TIMER_COLS = "ticket_id, key, due_at, attempts, last_error"
FIRING_COLS = "ticket_id, key, due_at, fired_at, outcome"
OUTBOX_COLS = (
    "kind, destination, ticket_id, change_id, dedupe_key, delivery_id, payload, status, attempts, "
    "next_attempt_at, lease_owner, last_error, created_at, sent_at"
)
SENT_AFTER = timedelta(seconds=3)  # from a reply to its e-mail's delivery
FIRED = "seeded"  # the outcome of a firing recorded by the seeder (it fired before the data was loaded)
PRIORITY_NAME = {1: "low", 2: "normal", 3: "high", 4: "urgent"}
SYSTEM_ACTOR = ("system", None, "auto-close", "system", "closed 4 days after it was solved", 0)


# --------------------------------------------------------------------------------------------
# Set-up through Django (migrations and the demo's departments, agents and fields)


def django_setup(url: str) -> tuple[SlaDesk, MailDesk]:
    """Migrate, load the demo's set-up into an empty database, and read the SLA configuration and
    what the replies' e-mails are rendered from (before the loader processes fork: they share it)."""
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sportello.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from sportello.accounts.models import Department

    call_command("migrate", interactive=False, verbosity=0)
    if not Department.objects.exists():
        call_command("demo", tickets=0)
    sla, mail = sla_desk_load(), mail_desk_load()
    from django.db import connections

    connections.close_all()
    return sla, mail


@dataclass
class Desk:
    statuses: dict[str, tuple[int, str]]  # key -> (id, category)
    departments: list[tuple[int, str]]  # (id, name)
    agents: dict[int, list[tuple[int, str]]]  # department id -> [(agent id, e-mail)]
    teams: dict[int, list[int]]
    # (id, organization id, language, e-mail, name, vip, time zone)
    contacts: list[tuple[int, int | None, str, str, str, bool, str]]
    organizations: dict[int, tuple[str, str, bool]]  # id -> (name, tier, vip)
    fields: dict[int, set[str]]  # department id -> custom field keys in its layout
    text_fields: set[str]
    search: bool  # the search document table with PostgreSQL vectors exists

    @property
    def categories(self) -> dict[str, str]:
        return {key: category for key, (_, category) in self.statuses.items()}


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
        cur.execute(
            "SELECT id, organization_id, language, email, name, vip, time_zone FROM contacts_contact "
            "ORDER BY id"
        )
    )
    organizations = {
        i: (name, tier, vip)
        for i, name, tier, vip in cur.execute("SELECT id, name, tier, vip FROM contacts_organization")
    }
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
    return Desk(statuses, departments, agents, teams, contacts, organizations, fields, text_fields, search)


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


def drop_indexes(conn: psycopg.Connection[Any], tables: Sequence[str] = TABLES) -> list[tuple[str, str]]:
    """Drop the non-unique indexes of `tables`; return (name, definition) to recreate."""
    rows = list(
        conn.execute(
            "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
            "WHERE t.relname = ANY(%s) AND NOT x.indisunique AND NOT x.indisprimary ORDER BY i.relname",
            [list(tables)],
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
# A ticket's history: the pipeline's changes for its conversation, its anchors and SLA clocks

WAITING = ("pending", "on_hold")
DONE = ("solved", "closed")
# Facts that change within a seeded ticket's history: a policy reading one is chosen again at
# every change (as the pipeline does), else once per ticket.
VARYING_FACTS = frozenset(
    {
        "ticket.status",
        "ticket.status_category",
        "ticket.assignee",
        "ticket.updated_at",
        "ticket.first_response_at",
        "ticket.solved_at",
        "ticket.message_count",
        "ticket.customer_message_count",
        "ticket.agent_reply_count",
    }
)


@dataclass(frozen=True, slots=True)
class Posted:
    """A message of a conversation: its instant and kind, `contact` (the customer's), `reply`
    (an agent's public reply) or `note` (an agent's internal note)."""

    at: datetime
    kind: str


@dataclass(frozen=True, slots=True)
class Step:
    """One change of a seeded ticket, one pipeline mutation: its instant, who made it
    (`contact`, `agent`, `system`), the message it adds (a `Posted` kind), the status (key) and
    the assignee it sets."""

    at: datetime
    actor: str
    message: str | None = None
    status: str | None = None
    assignee: int | None = None


def opening_values(
    *,
    subject: str,
    status: str,
    categories: Mapping[str, str],
    priority: str,
    channel: str,
    department: int,
    team: int | None,
    requester: int,
    organization: int | None,
    custom: Mapping[str, Any],
    tags: Sequence[str],
) -> dict[str, Any]:
    """The values a seeded ticket opens with, as the pipeline's `created` event carries them
    (`tickets.audit.opening_value`): each field set, named as a field event names it (custom
    fields as `custom_fields.<key>`), empty ones left out."""
    values: dict[str, Any] = {
        "subject": subject,
        "status": status,
        "status_category": categories[status],
        "priority": priority,
        "channel": channel,
        "department": department,
        "team": team,
        "requester": requester,
        "organization": organization,
        **{f"custom_fields.{k}": v for k, v in custom.items()},
        "tags": sorted(tags),
    }
    return {k: v for k, v in values.items() if v is not None}


def posted_kind(author_kind: str, public: bool) -> str:
    return "contact" if author_kind == "contact" else "reply" if public else "note"


def ticket_steps(
    *,
    created: datetime,
    messages: Sequence[Posted],
    status: str,
    category: str,
    assignee: int | None,
    solved_at: datetime | None,
    closed_at: datetime | None,
    updated_at: datetime,
) -> list[Step]:
    """The changes that made a seeded ticket: its messages in order (the first, the customer's,
    opens it at `created`), its final `status` of `category` and its instants. See the module's
    docstring."""
    steps = [Step(created, "contact", messages[0].kind if messages else None, status="new")]
    last = len(messages) - 1
    # "Send and set Pending": the last message is the reply that asks, at the ticket's last change.
    asks = (
        category in WAITING
        and last > 0
        and messages[last].kind == "reply"
        and messages[last].at == updated_at
    )
    triaged = False
    for i, m in enumerate(messages[1:], 1):
        sets = status if asks and i == last else None
        if m.kind == "reply" and not triaged:
            triaged = True
            steps.append(Step(m.at, "agent", "reply", status=sets or "open", assignee=assignee))
        else:
            steps.append(Step(m.at, "contact" if m.kind == "contact" else "agent", m.kind, status=sets))
    takes = None if triaged else assignee  # nobody replied: the final status change assigns it
    if (category in WAITING and not asks) or (category == "open" and not triaged):
        steps.append(Step(updated_at, "agent", status=status, assignee=takes))
    elif category in DONE:
        solved = solved_at or closed_at or updated_at
        steps.append(
            Step(solved, "agent", status="solved" if category == "closed" else status, assignee=takes)
        )
        if category == "closed":
            steps.append(Step(closed_at or solved, "system", status=status))
    return steps


@dataclass(frozen=True, slots=True)
class SlaDesk:
    """The active SLA policies in match order (`sla.services.ActivePolicy`), the specs of the
    facts their conditions read, the clock of each calendar they count in, and whether a policy
    reads a fact that changes within a ticket's history (`VARYING_FACTS`)."""

    policies: tuple[Any, ...]
    specs: Mapping[str, Any]
    clocks: Mapping[str, Any]
    varying: bool


def sla_desk_load() -> SlaDesk:
    """Read through the services, as the pipeline reads them (Django set up)."""
    from sportello.engine.conditions import fields_of
    from sportello.sla.calendars import clocks_for
    from sportello.sla.services import active_policies, policy_reads

    policies = tuple(active_policies())
    reads: set[str] = set()
    for p in policies:
        reads |= fields_of(p.parsed.when)
    clocks = clocks_for({p.parsed.calendar for p in policies})
    return SlaDesk(policies, policy_reads().specs, clocks, bool(reads & VARYING_FACTS))


def ticket_facts(
    *,
    ticket: Mapping[str, Any],
    requester: tuple[str, str, bool, str],
    organization: tuple[str, str, bool] | None,
    tags: Sequence[str],
    specs: Mapping[str, Any],
) -> dict[str, Any]:
    """A seeded ticket's facts for the policies' conditions, as `automation.facts.ticket_facts`
    gives them (the values that change along its history are set by `replay`). `ticket`: its
    columns by name; `requester`: e-mail, name, vip, language; `organization`: name, tier, vip."""
    from sportello.automation.facts import CUSTOM_PREFIX, custom_value, email_domain

    email, name, vip, language = requester
    facts: dict[str, Any] = {
        "ticket.number": ticket["number"],
        "ticket.subject": ticket["subject"],
        "ticket.priority": PRIORITY_NAME[ticket["priority"]],
        "ticket.channel": ticket["channel"],
        "ticket.department": ticket["department_id"],
        "ticket.team": ticket["team_id"],
        "ticket.requester": ticket["requester_id"],
        "ticket.organization": ticket["organization_id"],
        "ticket.tags": frozenset(tags),
        "ticket.due_at": None,
        "ticket.overdue": False,
        "ticket.created_at": ticket["created_at"],
        "requester.email": email,
        "requester.domain": email_domain(email),
        "requester.name": name,
        "requester.vip": vip,
        "requester.language": language,
        "organization.name": organization[0] if organization else None,
        "organization.tier": organization[1] if organization else None,
        "organization.vip": organization[2] if organization else None,
    }
    stored = ticket["custom_fields"] or {}
    for path, spec in specs.items():
        if path.startswith(CUSTOM_PREFIX):
            facts[path] = custom_value(spec.type, stored.get(path.removeprefix(CUSTOM_PREFIX)))
    return facts


@dataclass(frozen=True, slots=True)
class Clocks:
    """A ticket's `TicketSla` row, and its timers: armed (due after now) and fired (before)."""

    policy_id: int | None
    policy_version: int | None
    state: dict[str, Any]
    next_breach_at: datetime | None
    breached: bool
    updated_at: datetime
    timers: tuple[tuple[str, datetime], ...]
    fired: tuple[tuple[str, datetime], ...]


@dataclass(frozen=True, slots=True)
class History:
    """What the pipeline leaves on a ticket after its changes: the anchors (`ANCHORS`), the
    instants and counters it keeps, and its SLA clocks (None: no active policy)."""

    anchors: dict[str, datetime | None]
    updated_at: datetime
    version: int
    first_response_at: datetime | None
    solved_at: datetime | None
    closed_at: datetime | None
    message_count: int
    customer_message_count: int
    agent_reply_count: int
    clocks: Clocks | None


def replay(
    steps: Sequence[Step],
    *,
    priority: str,
    categories: Mapping[str, str],
    facts: dict[str, Any],
    sla: SlaDesk | None,
    now: datetime,
) -> History:
    """A ticket's changes as the pipeline applies them (`pipeline._set_status`, `_set_anchors`,
    `sla.hooks.update_sla_clocks`, `sla.timers.timers_arm`), then the worker's breach timers up to
    `now`. `facts`: `ticket_facts`, updated in place along the history."""
    from sportello.engine import sla as engine
    from sportello.sla.timers import timer_key

    anchors: dict[str, datetime | None] = dict.fromkeys(ANCHORS)
    status = category = ""
    assignee: int | None = None
    first_response = solved = closed = None
    messages = customer = replies = 0
    run = sla is not None and bool(sla.policies)
    by_parsed = {id(p.parsed): p for p in sla.policies} if sla is not None else {}
    chosen: Any = None
    state: engine.SlaState | None = None
    key: tuple[int | None, int | None] = (None, None)
    moved: datetime | None = None
    for i, step in enumerate(steps):
        at, created = step.at, i == 0
        new_status = step.status or status
        new_category = categories[new_status]
        if created or new_status != status:
            anchors["status_entered_at"] = at
        if created or new_category != category:
            anchors["status_category_entered_at"] = at
            if new_category == "solved":
                solved = at
            elif new_category == "closed":
                closed, solved = at, solved or at
            else:
                solved = None
        status, category = new_status, new_category
        if step.assignee is not None and step.assignee != assignee:
            assignee, anchors["assigned_at"] = step.assignee, at
        if step.message is not None:
            messages += 1
        if step.message == "contact":
            customer += 1
            anchors["last_customer_message_at"] = at
        elif step.message == "reply":
            replies += 1
            anchors["last_agent_reply_at"] = at
            if first_response is None and not created:
                first_response = at
        anchors["last_activity_at"] = at  # customers, agents and the system: none is automation
        if not run:
            continue
        assert sla is not None
        if state is not None:
            # The breaches that fell due since the last change were stamped by their timers.
            state, ticked = _breach_ticks(state, chosen, sla, before=at)
            moved = ticked or moved
        if sla.varying:
            facts.update(
                {
                    "ticket.status": status,
                    "ticket.status_category": category,
                    "ticket.assignee": assignee,
                    "ticket.updated_at": at,
                    "ticket.first_response_at": first_response,
                    "ticket.solved_at": solved,
                    "ticket.message_count": messages,
                    "ticket.customer_message_count": customer,
                    "ticket.agent_reply_count": replies,
                }
            )
        if created or sla.varying:
            parsed = engine.select_policy([p.parsed for p in sla.policies], facts, specs=sla.specs)
            chosen = by_parsed.get(id(parsed)) if parsed is not None else None
        policy = chosen.parsed if chosen is not None else None
        changes: list[engine.Change] = []
        if state is None:
            changes.append(
                engine.Created(
                    priority=priority, category=category, customer_message=step.message == "contact"
                )
            )
        else:
            if category != state.category:
                changes.append(engine.StatusChanged(category))
            if step.message == "reply":
                changes.append(engine.AgentReply())
            elif step.message == "contact":
                changes.append(engine.CustomerMessage())
            if priority != state.priority:
                changes.append(engine.PriorityChanged(priority))
        new = state
        for change in changes or [engine.Tick()]:
            new, _ = engine.apply_change(new, change, policy=policy, clocks=sla.clocks, now=at)
        new_key = (chosen.id, chosen.version) if chosen is not None else (None, None)
        if new != state or new_key != key:  # else the hook saves nothing
            state, key, moved = new, new_key, at
    clocks = None
    if state is not None and sla is not None and moved is not None:
        policy = chosen.parsed if chosen is not None else None
        planned = engine.timers_for(state, policy, clocks=sla.clocks) if policy is not None else []
        state, ticked = _breach_ticks(state, chosen, sla, before=now, inclusive=True)
        moved = ticked or moved
        clocks = Clocks(
            policy_id=key[0],
            policy_version=key[1],
            state=engine.state_to_data(state),
            next_breach_at=engine.next_breach(state),
            breached=any(c.breached_at is not None for c in state.clocks),
            updated_at=moved,
            timers=tuple((timer_key(t), t.due_at) for t in planned if t.due_at > now),
            fired=tuple((timer_key(t), t.due_at) for t in planned if t.due_at <= now),
        )
    return History(
        anchors=anchors,
        updated_at=steps[-1].at,
        version=len(steps),
        first_response_at=first_response,
        solved_at=solved,
        closed_at=closed,
        message_count=messages,
        customer_message_count=customer,
        agent_reply_count=replies,
        clocks=clocks,
    )


def _breach_ticks(
    state: Any, chosen: Any, sla: SlaDesk, *, before: datetime, inclusive: bool = False
) -> tuple[Any, datetime | None]:
    """The clocks after the worker's breach timers that fell due before `before` (or at it) fired,
    each a tick at its instant (`sla.timers.sla_fire`), and the instant of the last one."""
    from sportello.engine import sla as engine

    due = [
        c.due_at
        for c in state.clocks
        if c.status is engine.ClockStatus.ACTIVE
        and c.due_at is not None
        and c.breached_at is None
        and (c.due_at <= before if inclusive else c.due_at < before)
    ]
    if not due:
        return state, None
    policy = chosen.parsed if chosen is not None else None
    # One tick at the last stamps every breach due by then at its own instant, as one tick each would.
    state, _ = engine.apply_change(state, engine.Tick(), policy=policy, clocks=sla.clocks, now=max(due))
    return state, max(due)


def clock_rows(
    ticket_id: int, clocks: Clocks | None, slas: list[Any], timers: list[Any], firings: list[Any]
) -> None:
    """Append a ticket's clocks, timers and firings to the rows to COPY."""
    if clocks is None:
        return
    slas.append(
        (ticket_id, clocks.policy_id, clocks.policy_version, json.dumps(clocks.state), clocks.next_breach_at,
         clocks.breached, clocks.updated_at)
    )  # fmt: skip
    timers += [(ticket_id, key, due, 0, "") for key, due in clocks.timers]
    firings += [(ticket_id, key, due, due, FIRED) for key, due in clocks.fired]


def copy_clocks(cur: psycopg.Cursor[Any], slas: list[Any], timers: list[Any], firings: list[Any]) -> None:
    _copy(cur, "sla_ticketsla", SLA_COLS, slas)
    _copy(cur, "sla_slatimer", TIMER_COLS, timers)
    _copy(cur, "sla_slafiring", FIRING_COLS, firings)


# The desk's SLA configuration, read once by the main process before its loaders fork.
SLA: SlaDesk | None = None


# --------------------------------------------------------------------------------------------
# The e-mail of an agent's public reply, as the pipeline queues it and the worker sends it

REPLY_TEMPLATE = "agent_reply"


@dataclass(frozen=True, slots=True)
class MailDesk:
    """What the e-mails of agents' replies are rendered from, read once before the loaders fork:
    the `agent_reply` template in force for each language a requester may read ("" for any other
    language), with the language it is in (`notifications.rendering.template_language`,
    `template_in_force`), and the statuses (by key), departments and users as model instances."""

    templates: Mapping[str, tuple[Any, str]]  # language -> (TemplateText, the language it is in)
    statuses: Mapping[str, Any]
    departments: Mapping[int, Any]
    users: Mapping[int, Any]


def mail_desk_load() -> MailDesk:
    """Read through the models and `notifications.rendering`, as the pipeline reads them (Django
    set up)."""
    from sportello.accounts.models import Department, User
    from sportello.notifications.rendering import template_in_force, template_language
    from sportello.notifications.selectors import LANGUAGES
    from sportello.tickets.models import Status

    templates: dict[str, tuple[Any, str]] = {}
    for preferred in (*LANGUAGES, ""):
        language = template_language(key=REPLY_TEMPLATE, preferred=preferred)
        found = template_in_force(key=REPLY_TEMPLATE, language=language) if language else None
        if language is None or found is None:
            raise SystemExit(f"no notification template {REPLY_TEMPLATE!r}")
        templates[preferred] = (found[0], language)
    return MailDesk(
        templates=templates,
        statuses={s.key: s for s in Status.objects.all()},
        departments={d.pk: d for d in Department.objects.all()},
        users={u.pk: u for u in User.objects.all()},
    )


def mail_ticket(
    mail: MailDesk,
    *,
    ticket_id: int,
    number: int,
    subject: str,
    priority: int,
    department: int,
    requester: tuple[int, str, str, str, str],
    assignee: int | None,
    custom: Mapping[str, Any],
    created: datetime,
) -> Any:
    """A seeded ticket as its replies' e-mails read it: an unsaved `Ticket` with its department,
    assignee and `requester` (id, e-mail, name, language, time zone); `reply_mail` sets the status
    of each reply. Without its SLA clock: the `sla` names of a template render empty (the shipped
    `agent_reply` templates use none)."""
    from sportello.tickets.models import Ticket

    ticket = Ticket(
        pk=ticket_id,
        number=number,
        subject=subject,
        priority=priority,
        department=mail.departments[department],
        requester=_contact(requester),
        assignee=mail.users.get(assignee) if assignee is not None else None,
        custom_fields=dict(custom),
        created_at=created,
    )
    Ticket._meta.get_field("sla").set_cached_value(ticket, None)  # type: ignore[union-attr]
    return ticket


@functools.lru_cache(maxsize=100_000)
def _contact(requester: tuple[int, str, str, str, str]) -> Any:
    """A requester as an unsaved `Contact` (made once: a customer has many tickets)."""
    from sportello.contacts.models import Contact

    contact_id, email, name, language, time_zone = requester
    return Contact(pk=contact_id, email=email, name=name, language=language, time_zone=time_zone)


def reply_mail(
    mail: MailDesk,
    ticket: Any,
    *,
    status: str,
    message_id: int,
    body_text: str,
    body_html: str,
    agent_id: int | None,
    at: datetime,
    change_id: uuid.UUID | None,
) -> tuple[Any, ...]:
    """The outbox row (`OUTBOX_COLS`) of the e-mail of an agent's public reply to `ticket`'s
    requester (who has an address), written at `at` as `notifications.extension.ReplyMail` and
    `outbox.queueing.items_add` write it, then sent `SENT_AFTER` later at the first attempt: the
    `agent_reply` template rendered as `render_notification` renders it (`notification_context`,
    `render_text`), with the ticket in `status` (a key) and the reply's author as the agent."""
    from sportello.notifications.context import notification_context
    from sportello.notifications.rendering import primary_language, render_text

    requester = ticket.requester
    text, language = mail.templates.get(primary_language(requester.language), mail.templates[""])
    ticket.status = mail.statuses[status]
    agent = mail.users.get(agent_id) if agent_id is not None else None
    context = notification_context(
        ticket=ticket, language=language, now=at, agent=agent, message_body=body_text
    )
    subject, body, html = render_text(text=text, context=context)
    payload: dict[str, Any] = {
        "to": [requester.email],
        "subject": subject or f"[#{ticket.number}] {ticket.subject}",
        "body": body,
        "ticket_number": ticket.number,
        "message_id": message_id,
        "contact_id": requester.pk,
        "language": language,
        "automatic": False,
    }
    if html and not body_html:
        payload["html"] = html
    return ("email", "", ticket.pk, change_id, f"reply:{message_id}", uuid.uuid4(), json.dumps(payload),
            "sent", 1, at, "", "", at, at + SENT_AFTER)  # fmt: skip


# What the desk's replies' e-mails are rendered from, read once by the main process before its
# loaders fork.
MAIL: MailDesk | None = None


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
    from sportello.tickets.audit import opening_value

    rng = random.Random(job.seed)
    desk, now = job.desk, job.now
    assert MAIL is not None
    categories = desk.categories
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
                [job.count * 11],  # at most 1 + 3 turns of 3 + the reply that sets the status
            )
        )
        tickets: list[tuple[Any, ...]] = []
        messages: list[tuple[Any, ...]] = []
        events: list[tuple[Any, ...]] = []
        tags: list[tuple[Any, ...]] = []
        docs: list[tuple[Any, ...]] = []
        slas: list[Any] = []
        timers: list[Any] = []
        firings: list[Any] = []
        mails: list[tuple[Any, ...]] = []
        for tid, number in zip(ticket_ids, numbers, strict=True):
            dept_name, scenario = rng.choice(scenarios)
            dept = dept_by_name.get(dept_name) or rng.choice(desk.departments)[0]
            cid, org, lang, email, name, vip, time_zone = rng.choice(desk.contacts)
            requester = (cid, email, name, lang, time_zone)
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
            # Agents answer within a log-normal delay: mostly around 2 hours (30 minutes for VIPs
            # and urgent tickets), sometimes much longer, never over 20 hours.
            org_vip = org is not None and desk.organizations[org][2]
            median = 0.5 if priority == 4 or vip or org_vip else 2.0
            if answered:
                for turn in range(rng.choice([1, 1, 2, 3])):
                    t = min(now, t + timedelta(hours=min(20.0, rng.lognormvariate(0, 0.8) * median)))
                    text = rng.choice(data.ASK[lang] if turn == 0 else data.RESOLVE[lang]).format(**fill)
                    convo.append((True, "agent", text, t))
                    if rng.random() < 0.1:
                        convo.append((False, "agent", rng.choice(data.INTERNAL_NOTES), t))
                    if rng.random() < 0.6:
                        t = min(now, t + timedelta(hours=rng.uniform(0.5, 30)))
                        convo.append((True, "contact", rng.choice(data.CUSTOMER_FOLLOW_UP[lang]), t))
            if category in WAITING and convo[-1][1] == "contact":
                # The customer wrote last: the agent answers and sets the status with the reply
                # ("Send and set Pending"), or sometimes sets it without a word.
                t = min(now, t + timedelta(hours=min(20.0, rng.lognormvariate(0, 0.8) * median)))
                if rng.random() < 0.8:
                    convo.append((True, "agent", rng.choice(data.ASK[lang]).format(**fill), t))
            posted = [Posted(at, posted_kind(kind, public)) for public, kind, _, at in convo]
            updated = t
            solved_at = closed_at = None
            if category in DONE:
                solved_at = updated = min(now, t + timedelta(hours=rng.uniform(0.5, 24)))
                if category == "closed":
                    closed_at = updated = min(now, solved_at + timedelta(days=4))
            ticket_tags = sorted({*scenario["tags"], f"lang_{lang}"})
            assignee = agent_id if answered else None
            steps = ticket_steps(
                created=created, messages=posted, status=status, category=category, assignee=assignee,
                solved_at=solved_at, closed_at=closed_at, updated_at=updated,
            )  # fmt: skip
            row = {
                "number": number, "subject": subject, "priority": priority, "channel": rng.choice(
                    ["email", "portal", "chat", "web"]), "department_id": dept, "team_id": team,
                "requester_id": cid, "organization_id": org, "custom_fields": custom, "created_at": created,
            }  # fmt: skip
            history = replay(
                steps,
                priority=PRIORITY_NAME[priority],
                categories=categories,
                facts=ticket_facts(
                    ticket=row,
                    requester=(email, name, vip, lang),
                    organization=desk.organizations.get(org) if org is not None else None,
                    tags=ticket_tags,
                    specs=SLA.specs if SLA is not None else {},
                ),
                sla=SLA,
                now=now,
            )

            # The rows: each change's events, its message with the change's id, and the e-mail of
            # each public reply to a requester with an address.
            mailed = (
                mail_ticket(
                    MAIL, ticket_id=tid, number=number, subject=subject, priority=priority, department=dept,
                    requester=requester, assignee=assignee, custom=custom, created=created,
                )
                if email
                else None
            )  # fmt: skip
            ev_common = ("contact", cid, email, "email", "", 0)
            agent_actor = ("agent", agent_id, agent_email, "web", "", 0)
            said = iter(convo)
            first: tuple[int, str, bool] | None = None  # the first message: id, author, public
            public_parts: list[str] = []
            internal_parts: list[str] = []
            used = 0
            status_now: str | None = None
            assignee_now: int | None = None
            for i, step in enumerate(steps):
                change = uuid.UUID(int=rng.getrandbits(128), version=4)
                actor = {"contact": ev_common, "agent": agent_actor, "system": SYSTEM_ACTOR}[step.actor]
                if i == 0:
                    # One event opens the ticket with its first state and first message, as
                    # the pipeline records it (`tickets.audit.opening_value`).
                    if step.message is not None:
                        first = (next(message_ids), convo[0][1], convo[0][0])
                    opening = opening_value(
                        number=number,
                        values=opening_values(
                            subject=subject, status=step.status or "new", categories=categories,
                            priority=PRIORITY_NAME[priority], channel=row["channel"], department=dept,
                            team=team, requester=cid, organization=org, custom=custom, tags=ticket_tags,
                        ),
                        message_id=first[0] if first else None,
                        author_kind=first[1] if first else "",
                        public=first[2] if first else True,
                    )  # fmt: skip
                    events.append((tid, change, step.at, "created", "", None, json.dumps(opening), *actor))
                if step.assignee is not None and step.assignee != assignee_now:
                    events.append(
                        (tid, change, step.at, "field", "assignee", _json(assignee_now),
                         json.dumps(step.assignee), *actor)
                    )  # fmt: skip
                    assignee_now = step.assignee
                if step.status is not None and step.status != status_now:
                    if i > 0:
                        events.append(
                            (tid, change, step.at, "field", "status", _json(status_now),
                             json.dumps(step.status), *actor)
                        )  # fmt: skip
                    status_now = step.status
                if step.message is None:
                    continue
                public, kind, text, at = next(said)
                mid = first[0] if i == 0 and first else next(message_ids)
                is_agent = kind == "agent"
                messages.append(
                    (mid, tid, public, kind, agent_id if is_agent else None,
                     None if is_agent else cid, text, "",
                     "web" if is_agent else "email", at, change, "", "")
                )  # fmt: skip
                if i > 0:  # the first message is the opening event's
                    events.append(
                        (tid, change, at, "message", "public" if public else "internal", None,
                         json.dumps({"message_id": mid, "author_kind": kind}), *actor)
                    )  # fmt: skip
                if mailed is not None and is_agent and public:
                    assert status_now is not None
                    mails.append(
                        reply_mail(
                            MAIL, mailed, status=status_now, message_id=mid, body_text=text, body_html="",
                            agent_id=agent_id, at=at, change_id=change,
                        )
                    )  # fmt: skip
                part = text.replace("\ue000", " ").replace("\ue001", " ") + SEPARATOR
                used += len(part)
                (public_parts if public else internal_parts).append(part)
            for tag in ticket_tags:
                tags.append((tid, tag))
            tickets.append(
                (tid, number, subject, status_id, category, priority, row["channel"], dept, team, assignee,
                 cid, org, json.dumps(custom), None, created, history.updated_at,
                 history.first_response_at, history.solved_at, history.closed_at, history.version,
                 history.message_count, history.customer_message_count, history.agent_reply_count,
                 *(history.anchors[a] for a in ANCHORS))
            )  # fmt: skip
            clock_rows(tid, history.clocks, slas, timers, firings)
            fields_text = "\n".join(custom[k] for k in sorted(custom) if k in desk.text_fields)
            docs.append((tid, subject, "".join(public_parts), "".join(internal_parts), fields_text, used))

        _copy(cur, "tickets_ticket", TICKET_COLS, tickets)
        _copy(cur, "tickets_message", MESSAGE_COLS, messages)
        _copy(cur, "tickets_ticketevent", EVENT_COLS, events)
        _copy(cur, "tickets_tickettag", "ticket_id, name", tags)
        _copy(cur, "channels_outboxmessage", OUTBOX_COLS, mails)
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
        copy_clocks(cur, slas, timers, firings)
        conn.commit()
    return job.count


def _json(value: Any) -> str | None:
    """A JSON column's value: SQL NULL for None, as Django stores it."""
    return None if value is None else json.dumps(value)


# --------------------------------------------------------------------------------------------
# Filling in an older seed: anchors and clocks from the rows


# The tickets without anchors (the pipeline sets `status_entered_at` on every ticket it
# creates) or, when a policy is active, without clocks.
MISSING = (
    "(t.status_entered_at IS NULL OR (%(policies)s AND NOT EXISTS "
    "(SELECT 1 FROM sla_ticketsla x WHERE x.ticket_id = t.id)))"
)
FILL_TICKETS = (
    "SELECT t.id, t.number, t.subject, s.key, t.status_category, t.priority, t.channel, t.department_id, "
    "t.team_id, t.assignee_id, t.requester_id, t.organization_id, t.custom_fields, t.created_at, "
    "t.updated_at, t.solved_at, t.closed_at, t.status_entered_at IS NULL, "
    "NOT EXISTS (SELECT 1 FROM sla_ticketsla x WHERE x.ticket_id = t.id), "
    "c.email, c.name, c.vip, c.language, o.name, o.tier, o.vip, "
    "ARRAY(SELECT g.name FROM tickets_tickettag g WHERE g.ticket_id = t.id ORDER BY g.name) "
    "FROM tickets_ticket t JOIN tickets_status s ON s.id = t.status_id "
    "JOIN contacts_contact c ON c.id = t.requester_id "
    "LEFT JOIN contacts_organization o ON o.id = t.organization_id "
    f"WHERE t.id BETWEEN %(lo)s AND %(hi)s AND {MISSING} ORDER BY t.id"
)
FILL_MESSAGES = (
    "SELECT ticket_id, created_at, author_kind, public FROM tickets_message "
    "WHERE ticket_id BETWEEN %(lo)s AND %(hi)s ORDER BY ticket_id, created_at, id"
)


@dataclass
class FillJob:
    url: str
    lo: int  # ticket ids lo..hi
    hi: int
    categories: dict[str, str]
    now: datetime


def fill_chunk(job: FillJob) -> int:
    """Anchors, clocks, timers and firings of the tickets of one id range that miss them, in one
    transaction. Returns how many tickets were filled in."""
    policies = SLA is not None and bool(SLA.policies)
    params = {"lo": job.lo, "hi": job.hi, "policies": policies}
    with psycopg.connect(job.url, autocommit=False) as conn:
        conn.execute("SET synchronous_commit = off")
        cur = conn.cursor()
        rows = cur.execute(FILL_TICKETS, params).fetchall()
        if not rows:
            return 0
        posted: dict[int, list[Posted]] = {}
        for ticket_id, at, author_kind, public in cur.execute(FILL_MESSAGES, params):
            posted.setdefault(ticket_id, []).append(Posted(at, posted_kind(author_kind, public)))
        anchors: list[Any] = []
        slas: list[Any] = []
        timers: list[Any] = []
        firings: list[Any] = []
        for (tid, number, subject, status, category, priority, channel, dept, team, assignee, requester,
             org, custom, created, updated, solved_at, closed_at, no_anchors, no_clocks, email, name, vip,
             language, org_name, org_tier, org_vip, tags) in rows:  # fmt: skip
            steps = ticket_steps(
                created=created, messages=posted.get(tid, []), status=status, category=category,
                assignee=assignee, solved_at=solved_at, closed_at=closed_at, updated_at=updated,
            )  # fmt: skip
            row = {
                "number": number, "subject": subject, "priority": priority, "channel": channel,
                "department_id": dept, "team_id": team, "requester_id": requester, "organization_id": org,
                "custom_fields": custom, "created_at": created,
            }  # fmt: skip
            history = replay(
                steps,
                priority=PRIORITY_NAME[priority],
                categories=job.categories,
                facts=ticket_facts(
                    ticket=row,
                    requester=(email, name, vip, language),
                    organization=(org_name, org_tier, org_vip) if org is not None else None,
                    tags=tags,
                    specs=SLA.specs if SLA is not None else {},
                ),
                sla=SLA if no_clocks else None,
                now=job.now,
            )
            if no_anchors:
                anchors.append((tid, *(history.anchors[a] for a in ANCHORS)))
            if no_clocks:
                clock_rows(tid, history.clocks, slas, timers, firings)
        if anchors:
            cur.execute(
                "CREATE TEMP TABLE seed_anchor (ticket_id bigint, "
                + ", ".join(f"{a} timestamptz" for a in ANCHORS)
                + ") ON COMMIT DROP"
            )
            _copy(cur, "seed_anchor", "ticket_id, " + ", ".join(ANCHORS), anchors)
            cur.execute(
                "UPDATE tickets_ticket t SET "
                + ", ".join(f"{a} = s.{a}" for a in ANCHORS)
                + " FROM seed_anchor s WHERE t.id = s.ticket_id"
            )
        copy_clocks(cur, slas, timers, firings)
        conn.commit()
    return len(rows)


def fill(
    url: str, *, jobs: int, chunk: int, categories: dict[str, str], now: datetime, keep_indexes: bool
) -> int:
    """Step 6 of the module's docstring. Returns how many tickets were filled in."""
    from sportello.demo.progress import Progress

    params = {"policies": SLA is not None and bool(SLA.policies)}
    with psycopg.connect(url) as conn:
        lo, hi, count = conn.execute(
            f"SELECT min(t.id), max(t.id), count(*) FROM tickets_ticket t WHERE {MISSING}", params
        ).fetchone()  # type: ignore[misc]
        if not count:
            return 0
        indexes = [] if keep_indexes or count < BIG else drop_indexes(conn, ("tickets_ticket",))
    print(
        f"filling in anchors and SLA clocks of {count:,} tickets"
        + (f"; {len(indexes)} indexes of tickets_ticket dropped meanwhile" if indexes else ""),
        file=sys.stderr,
    )
    work = [FillJob(url, a, min(hi, a + chunk - 1), categories, now) for a in range(lo, hi + 1, chunk)]
    progress = Progress(count, label="fill", unit="tickets")
    try:
        with mp.get_context("fork").Pool(jobs) as pool:
            for done in pool.imap_unordered(fill_chunk, work):
                progress.advance(done)
    finally:
        progress.done()
        if indexes:
            with psycopg.connect(url, autocommit=True) as conn:
                # Every ticket row was rewritten: compact the table before the indexes come back.
                t = time.monotonic()
                conn.execute("VACUUM FULL tickets_ticket")
                print(f"  vacuum full tickets_ticket: {time.monotonic() - t:.1f}s", file=sys.stderr)
            print(f"recreating {len(indexes)} indexes", file=sys.stderr, flush=True)
            with psycopg.connect(url) as conn:
                create_indexes(conn, indexes)
    return int(count)


# An agent's public reply (`m`) whose e-mail is not in the outbox: the pipeline's dedupe key finds
# it (a unique index, kept while the others are dropped).
NO_MAIL = (
    "m.author_kind = 'agent' AND m.public AND NOT EXISTS "
    "(SELECT 1 FROM channels_outboxmessage o WHERE o.dedupe_key = 'reply:' || m.id)"
)
# Such replies, to requesters with an address.
MAIL_COUNT = (
    "SELECT min(m.ticket_id), max(m.ticket_id), count(*) FROM tickets_message m "
    "JOIN tickets_ticket t ON t.id = m.ticket_id JOIN contacts_contact c ON c.id = t.requester_id "
    f"WHERE c.email <> '' AND {NO_MAIL}"
)
# The tickets of an id range that have some, their messages (their history gives each reply's
# status), and the replies themselves.
MAIL_TICKETS = (
    "SELECT t.id, t.number, t.subject, s.key, t.status_category, t.priority, t.department_id, "
    "t.assignee_id, t.custom_fields, t.created_at, t.updated_at, t.solved_at, t.closed_at, "
    "c.id, c.email, c.name, c.language, c.time_zone "
    "FROM tickets_ticket t JOIN tickets_status s ON s.id = t.status_id "
    "JOIN contacts_contact c ON c.id = t.requester_id "
    "WHERE t.id BETWEEN %(lo)s AND %(hi)s AND c.email <> '' AND t.id IN "
    f"(SELECT m.ticket_id FROM tickets_message m WHERE m.ticket_id BETWEEN %(lo)s AND %(hi)s AND {NO_MAIL}) "
    "ORDER BY t.id"
)
MAIL_MESSAGES = (
    "SELECT ticket_id, id, created_at, author_kind, public FROM tickets_message "
    "WHERE ticket_id BETWEEN %(lo)s AND %(hi)s ORDER BY ticket_id, created_at, id"
)
MAIL_REPLIES = (
    "SELECT m.id, m.author_agent_id, m.body_text, m.body_html, m.change_id FROM tickets_message m "
    f"WHERE m.ticket_id BETWEEN %(lo)s AND %(hi)s AND {NO_MAIL}"
)


def fill_mail_chunk(job: FillJob) -> int:
    """The e-mails of the agents' public replies of one id range's tickets that have none, in one
    transaction, as `load_chunk` writes them: each reply's status is the one its ticket's history
    (`ticket_steps`, from its rows as `fill_chunk` reads them) gives it. Returns how many."""
    assert MAIL is not None
    params = {"lo": job.lo, "hi": job.hi}
    with psycopg.connect(job.url, autocommit=False) as conn:
        conn.execute("SET synchronous_commit = off")
        cur = conn.cursor()
        rows = cur.execute(MAIL_TICKETS, params).fetchall()
        if not rows:
            return 0
        replies = {mid: rest for mid, *rest in cur.execute(MAIL_REPLIES, params)}
        posted: dict[int, list[tuple[int, Posted]]] = {}
        for ticket_id, mid, at, author_kind, public in cur.execute(MAIL_MESSAGES, params):
            posted.setdefault(ticket_id, []).append((mid, Posted(at, posted_kind(author_kind, public))))
        mails: list[tuple[Any, ...]] = []
        for (tid, number, subject, status, category, priority, dept, assignee, custom, created, updated,
             solved_at, closed_at, *requester) in rows:  # fmt: skip
            messages = posted.get(tid, [])
            steps = ticket_steps(
                created=created, messages=[p for _, p in messages], status=status, category=category,
                assignee=assignee, solved_at=solved_at, closed_at=closed_at, updated_at=updated,
            )  # fmt: skip
            ticket = mail_ticket(
                MAIL, ticket_id=tid, number=number, subject=subject, priority=priority, department=dept,
                requester=tuple(requester), assignee=assignee, custom=custom or {}, created=created,
            )  # fmt: skip
            said = iter(messages)
            status_now = status
            for step in steps:
                status_now = step.status or status_now
                if step.message is None:
                    continue
                mid, p = next(said)
                if mid in replies:
                    agent_id, body_text, body_html, change = replies[mid]
                    mails.append(
                        reply_mail(
                            MAIL, ticket, status=status_now, message_id=mid, body_text=body_text,
                            body_html=body_html, agent_id=agent_id, at=p.at, change_id=change,
                        )
                    )  # fmt: skip
        _copy(cur, "channels_outboxmessage", OUTBOX_COLS, mails)
        conn.commit()
    return len(mails)


def fill_mail(
    url: str, *, jobs: int, chunk: int, categories: dict[str, str], now: datetime, keep_indexes: bool
) -> int:
    """The e-mails of step 6 of the module's docstring. Returns how many were written."""
    from sportello.demo.progress import Progress

    table = "channels_outboxmessage"
    with psycopg.connect(url) as conn:
        lo, hi, count = conn.execute(MAIL_COUNT).fetchone()  # type: ignore[misc]
        if not count:
            return 0
        indexes = [] if keep_indexes or count < BIG else drop_indexes(conn, (table,))
    print(
        f"writing the e-mails of {count:,} agent replies"
        + (f"; {len(indexes)} indexes of {table} dropped meanwhile" if indexes else ""),
        file=sys.stderr,
    )
    work = [FillJob(url, a, min(hi, a + chunk - 1), categories, now) for a in range(lo, hi + 1, chunk)]
    progress = Progress(count, label="fill e-mails", unit="e-mails")
    try:
        with mp.get_context("fork").Pool(jobs) as pool:
            for done in pool.imap_unordered(fill_mail_chunk, work):
                progress.advance(done)
    finally:
        progress.done()
        if indexes:
            print(f"recreating {len(indexes)} indexes", file=sys.stderr, flush=True)
            with psycopg.connect(url) as conn:
                create_indexes(conn, indexes)
    return int(count)


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


def seed_tickets(args: argparse.Namespace, *, have: int, todo: int, now: datetime) -> None:
    """Steps 2 to 5 of the module's docstring."""
    from sportello.demo.progress import Progress

    rng = random.Random(args.seed)
    with psycopg.connect(args.database_url) as conn:
        add_contacts(conn, max(150, args.tickets // 20), rng)
        desk = load_desk(conn)
        indexes = [] if args.keep_indexes or todo < BIG else drop_indexes(conn)
    print(
        f"seeding {todo:,} tickets ({have:,} present) in chunks of {args.chunk:,} with {args.jobs} jobs"
        + (f"; {len(indexes)} indexes dropped for the load" if indexes else ""),
        file=sys.stderr,
    )
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


def main() -> None:
    global SLA, MAIL
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

    started = time.monotonic()
    SLA, MAIL = django_setup(args.database_url)  # before the loaders fork: they read them
    now = datetime.now(UTC)
    with psycopg.connect(args.database_url) as conn:
        have = conn.execute("SELECT count(*) FROM tickets_ticket").fetchone()[0]  # type: ignore[index]
        categories = {k: c for k, c in conn.execute("SELECT key, category FROM tickets_status")}
    todo = args.tickets - have
    if todo > 0:
        seed_tickets(args, have=have, todo=todo, now=now)
    else:
        print(f"the database already holds {have:,} tickets", file=sys.stderr)
    filled = fill(
        args.database_url, jobs=args.jobs, chunk=args.chunk, categories=categories, now=now,
        keep_indexes=args.keep_indexes,
    )  # fmt: skip
    mailed = fill_mail(
        args.database_url, jobs=args.jobs, chunk=args.chunk, categories=categories, now=now,
        keep_indexes=args.keep_indexes,
    )  # fmt: skip
    if todo <= 0 and not filled and not mailed:
        print("nothing to add or fill in", file=sys.stderr)
        return
    with psycopg.connect(args.database_url, autocommit=True) as conn:
        # The recommended planner setting when the data is on SSD or in memory (docs/benchmarks.md):
        # with the default (4, for spinning disks) the planner prefers scanning a whole table to
        # looking a few thousand rows up by index.
        name = args.database_url.rsplit("/", 1)[1].split("?")[0]
        conn.execute(f'ALTER DATABASE "{name}" SET random_page_cost = 1.1')
        t = time.monotonic()
        written = TABLES if todo > 0 else ("tickets_ticket", *(("channels_outboxmessage",) if mailed else ()))
        for table in (*written, *SLA_TABLES, "contacts_contact"):
            conn.execute(f"VACUUM (ANALYZE) {table}")
        # And the small tables the permission scope joins (departments, memberships): without
        # statistics the planner misjudges how many tickets an agent's scope holds.
        conn.execute("ANALYZE")
        print(f"  vacuum analyze: {time.monotonic() - t:.1f}s", file=sys.stderr)
        counts = {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
            for t in (*TABLES, *SLA_TABLES)
        }
    print(f"done in {time.monotonic() - started:.0f}s: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))


if __name__ == "__main__":
    main()

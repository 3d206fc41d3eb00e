"""Replay over the recorded history (`automation.replay.rule_replay`): one event rule and one time
rule replayed over 30 days holding about 100,000 recorded changes, on SQLite and PostgreSQL.

    .venv/bin/python bench/rule_replay.py --database-url sqlite:////tmp/sportello_bench_replay.sqlite3
    .venv/bin/python bench/rule_replay.py --database-url postgres://postgres@127.0.0.1:5432/sportello_bench_replay
    (add --reuse to replay again over the database a previous run seeded)

1. Prepares a dedicated database (created afresh, migrated) with a department, a contact, an
   admin, and `--tickets` tickets (10,000 by default) each with a history of `--changes`
   recorded changes (10 by default: its opening, then priority moves, customer messages, agent
   replies that open it, tags, a move to pending) spread over the last 30 days. The history is
   written in bulk in the exact shape the pipeline records (one `created` event carrying the
   opening, then `field`, `tags` and `message` events grouped by change), and each ticket's row
   is its history's end: this measures reading and replaying, not writing.
2. Replays, `--repeat` times each: an event rule (priority high → a tag and a note) and a time
   rule (72 hours after entering pending, while still pending → a tag), over the last 30 days.
3. Reports the changes scanned, the tickets considered and affected, the statements run and the
   wall time of each replay (best and median of the repeats).

Only 127.0.0.1 PostgreSQL databases or a SQLite file; the database is the benchmark's own.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/sportello_bench_replay"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

EVENT_RULE = {
    "key": "bench-hot",
    "name": "Hot tickets",
    "on": ["ticket.updated"],
    "when": {"all": [{"field": "ticket.priority", "op": "is", "value": "high"}]},
    "actions": [{"add_tags": ["hot"]}, {"note": {"body": "Hot: {{ ticket.subject }}"}}],
}
TIME_RULE = {
    "key": "bench-stale",
    "name": "Stale while pending",
    "anchor": "status_entered:pending",
    "when": {"field": "ticket.status_category", "op": "is", "value": "pending"},
    "steps": [{"after": "72h", "actions": [{"add_tags": ["stale"]}]}],
}


def setup(url: str, *, reuse: bool) -> None:
    if url.startswith("postgres"):
        from common import ensure_database

        ensure_database(url, fresh=not reuse)
    elif url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not reuse:
            path.unlink(missing_ok=True)
    else:
        raise SystemExit("a postgres:// URL on 127.0.0.1 or a sqlite:/// file")
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SPORTELLO_ENV", "production")
    os.environ.setdefault("SECRET_KEY", "bench-" + uuid.uuid4().hex)
    os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1")
    os.environ.setdefault("SPORTELLO_DATA_DIR", str(ROOT / "var" / "bench"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "sportello.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


@dataclass
class _State:
    status: Any
    priority: str = "normal"
    tags: list[str] = field(default_factory=list)
    messages: int = 1
    customer: int = 1
    agent: int = 0


def seed(tickets: int, changes: int, rng: random.Random) -> int:
    """The tickets and their histories in bulk; returns the number of changes recorded."""
    from django.db import transaction

    from sportello.accounts.models import Role
    from sportello.accounts.services import agent_create, department_create
    from sportello.contacts.services import contact_create
    from sportello.tickets.audit import opening_value
    from sportello.tickets.models import Status, Ticket, TicketEvent, TicketTag

    dept = department_create(name="Bench")
    agent_create(email="admin@bench.test", name="Admin", role=Role.ADMIN, password="bench-admin-1")
    agent = agent_create(email="agent@bench.test", name="Agent", role=Role.AGENT, departments=[dept])
    contact = contact_create(email="customer@bench.test", name="Customer")
    statuses = {s.key: s for s in Status.objects.all()}
    new, open_, pending = (
        next(s for s in statuses.values() if s.category == c and s.is_default)
        for c in ("new", "open", "pending")
    )
    start = NOW - timedelta(days=30)
    recorded = 0
    batch = 1000
    for first in range(0, tickets, batch):
        rows: list[Ticket] = []
        events: list[TicketEvent] = []
        tags: list[TicketTag] = []
        histories: list[list[tuple[datetime, list[dict[str, Any]]]]] = []
        for i in range(first, min(first + batch, tickets)):
            at = start + timedelta(seconds=rng.randint(0, 3 * 86_400))
            state = _State(status=new)
            history: list[tuple[datetime, list[dict[str, Any]]]] = []
            opened = at
            for step in range(changes - 1):
                at += timedelta(seconds=rng.randint(600, (27 * 86_400) // changes))
                kind = step % 5
                if kind == 0:
                    new_priority = "high" if state.priority != "high" else "normal"
                    history.append((at, [_field("priority", state.priority, new_priority)]))
                    state.priority = new_priority
                elif kind == 1:
                    history.append((at, [_message("contact", True)]))
                    state.messages += 1
                    state.customer += 1
                elif kind == 2:
                    evs = [_message("agent", True)]
                    if state.status.category != "open":
                        evs = [
                            _field("status", state.status.key, open_.key),
                            _field("status_category", state.status.category, "open"),
                            *evs,
                        ]
                        state.status = open_
                    history.append((at, evs))
                    state.messages += 1
                    state.agent += 1
                elif kind == 3:
                    new_tags = sorted({*state.tags, rng.choice(["refund", "vip", "late"])})
                    history.append((at, [_tags(state.tags, new_tags)]))
                    state.tags = new_tags
                else:
                    history.append(
                        (
                            at,
                            [
                                _field("status", state.status.key, pending.key),
                                _field("status_category", state.status.category, "pending"),
                            ],
                        )
                    )
                    state.status = pending
            status = state.status
            ticket = Ticket(
                number=i + 1, subject=f"Bench ticket {i + 1}", status=status, status_category=status.category,
                priority={"low": 1, "normal": 2, "high": 3, "urgent": 4}[state.priority], channel="email",
                department=dept, requester=contact, created_at=opened, updated_at=at,
                message_count=state.messages, customer_message_count=state.customer,
                agent_reply_count=state.agent, status_entered_at=at, status_category_entered_at=at,
                last_activity_at=at, version=changes,
            )  # fmt: skip
            rows.append(ticket)
            histories.append([(opened, []), *history])
            tags.extend(TicketTag(ticket=ticket, name=t) for t in state.tags)
        with transaction.atomic():
            Ticket.objects.bulk_create(rows)
            for ticket, history in zip(rows, histories, strict=True):
                opened = history[0][0]
                values: dict[str, Any] = {
                    "subject": ticket.subject,
                    "status": new.key,
                    "status_category": "new",
                }
                values |= {
                    "priority": "normal",
                    "channel": "email",
                    "department": dept.pk,
                    "requester": contact.pk,
                }
                events.append(
                    TicketEvent(
                        ticket=ticket,
                        change_id=uuid.uuid4(),
                        at=opened,
                        kind="created",
                        new_value=opening_value(
                            number=ticket.number,
                            values=values,
                            message_id=0,
                            author_kind="contact",
                            public=True,
                        ),
                        actor_kind="contact",
                        actor_id=contact.pk,
                        via="email",
                    )
                )
                for at, evs in history[1:]:
                    change_id = uuid.uuid4()
                    for e in evs:
                        who = "agent" if e.get("author") != "contact" else "contact"
                        events.append(
                            TicketEvent(
                                ticket=ticket,
                                change_id=change_id,
                                at=at,
                                kind=e["kind"],
                                field=e["field"],
                                old_value=e.get("old"),
                                new_value=e.get("new"),
                                actor_kind=who,
                                actor_id=agent.pk if who == "agent" else contact.pk,
                                via="web" if who == "agent" else "email",
                            )
                        )
                recorded += len(history)
            TicketEvent.objects.bulk_create(events, batch_size=2000)
            TicketTag.objects.bulk_create(tags, batch_size=2000)
        print(f"  seeded {min(first + batch, tickets)} tickets, {recorded} changes", flush=True)
    return recorded


def _field(name: str, old: Any, new: Any) -> dict[str, Any]:
    return {"kind": "field", "field": name, "old": old, "new": new}


def _tags(old: list[str], new: list[str]) -> dict[str, Any]:
    return {"kind": "tags", "field": "tags", "old": old, "new": new}


def _message(author: str, public: bool) -> dict[str, Any]:
    return {
        "kind": "message",
        "field": "public" if public else "internal",
        "new": {"message_id": 0, "author_kind": author},
        "author": author,
    }


def run(repeat: int) -> None:
    from django.conf import settings
    from django.db import connection, reset_queries

    from sportello.accounts.models import User
    from sportello.automation.models import RuleKind
    from sportello.automation.replay import rule_replay

    settings.DEBUG = True  # count the statements
    admin = User.objects.get(email="admin@bench.test")
    for kind, rule in ((RuleKind.EVENT, EVENT_RULE), (RuleKind.TIME, TIME_RULE)):
        times = []
        result = None
        for _ in range(repeat):
            reset_queries()
            began = time.perf_counter()
            result = rule_replay(principal=admin, kind=kind, definition=rule, days=30, now=NOW)
            times.append(time.perf_counter() - began)
        assert result is not None
        print(
            f"{connection.vendor:10} {kind.value:5} rule: {result.changes_scanned} changes scanned, "
            f"{result.tickets_considered} tickets, {result.affected} affected, {result.fired} firings, "
            f"{len(connection.queries)} statements; "
            f"best {min(times):.2f} s, median {statistics.median(times):.2f} s",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--changes", type=int, default=10, help="recorded changes per ticket")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="replay over the database a run seeded")
    args = parser.parse_args()
    if args.database_url.startswith("postgres") and "@127.0.0.1" not in args.database_url:
        raise SystemExit("only a 127.0.0.1 database")
    setup(args.database_url, reuse=args.reuse)
    from sportello.accounts.models import User

    if not (args.reuse and User.objects.filter(email="admin@bench.test").exists()):
        began = time.perf_counter()
        recorded = seed(args.tickets, args.changes, random.Random(7))
        took = time.perf_counter() - began
        print(f"seeded {args.tickets} tickets, {recorded} changes in {took:.0f} s", flush=True)
    run(args.repeat)


if __name__ == "__main__":
    main()

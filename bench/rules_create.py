"""Creation throughput with automation: POST /api/v1/tickets with 100 active event rules and a
round-robin policy, against the same run with no rules.

    .venv/bin/python bench/rules_create.py --database-url postgres://postgres@127.0.0.1:5432/sportello_bench_rules

1. Prepares a dedicated database like `api_create.py` (dropped and created afresh unless
   `--keep`, so every run starts from the same tables; migrated; the demo desk's set-up),
   then saves 100 event rules through the services: 96 that do not match the bench's tickets
   (subjects, bodies, priorities, channels and tags they do not have), 3 that match and set
   fields or tags, and 1 that assigns every new ticket through a round-robin policy over the
   department (cap 10,000 open tickets, offline agents assigned). Each assignment counts the
   agents' open tickets, so the figures depend on how many the run has piled up (about 600
   per agent by the end of a default run).
2. Runs the server (`sportello serve`, `--workers`) and drives `POST /api/v1/tickets` from
   `--clients` keep-alive connections for `--seconds`, alternating rounds without rules (all
   bench rules inactive) and with them, `--rounds` times each, so table growth weighs on both.
3. Reports tickets/s and latency for both, the ratio (target at least 70%), and an in-process
   profile of one creation with the rules: queries by kind and where the time goes.
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
import sys
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from api_create import payload, prepare
from common import log, server, server_env, summary_ms, token_for

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/sportello_bench_rules"
PREFIX = "bench-"


def setup_django(url: str) -> None:
    env = server_env(url)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "SPORTELLO_ENV", "SECRET_KEY", "ALLOWED_HOSTS")})
    os.environ["SECURE_SSL_REDIRECT"] = "0"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sportello.settings")
    import django

    django.setup()


def rule_definitions(policy_id: int) -> list[dict[str, Any]]:
    """100 event rules: 96 that miss the bench's tickets, 3 that match and set something, and
    the round-robin assignment."""
    rules: list[dict[str, Any]] = []
    for i in range(96):
        kind = i % 4
        if kind == 0:
            when: dict[str, Any] = {"field": "ticket.subject", "op": "contains", "value": f"invoice {i}"}
        elif kind == 1:
            when = {"field": "message.body", "op": "contains", "value": f"warranty claim {i}"}
        elif kind == 2:
            when = {
                "all": [
                    {"field": "ticket.priority", "op": "is", "value": "urgent"},
                    {"field": "ticket.channel", "op": "is", "value": "phone"},
                ]
            }
        else:
            when = {"field": "ticket.tags", "op": "contains", "value": f"vip-{i}"}
        rules.append(
            {
                "key": f"{PREFIX}miss-{i:02d}",
                "name": f"Bench rule {i} (does not match)",
                "category": "bench",
                "position": i,
                "when": when,
                "actions": [
                    {"add_tags": [f"never-{i}"]},
                    {"set": {"field": "ticket.priority", "value": "low"}},
                ],
            }
        )
    rules += [
        {
            "key": f"{PREFIX}hit-damaged",
            "name": "Damaged parcels",
            "category": "bench",
            "position": 100,
            "on": ["ticket.created"],
            "when": {"field": "ticket.subject", "op": "contains", "value": "damaged"},
            "actions": [{"add_tags": ["damage-claim"]}],
        },
        {
            "key": f"{PREFIX}hit-refund",
            "name": "Refunds are high priority",
            "category": "bench",
            "position": 101,
            "on": ["ticket.created"],
            "when": {"field": "message.body", "op": "contains", "value": "refund"},
            "actions": [{"set": {"field": "ticket.priority", "value": "high"}}],
        },
        {
            "key": f"{PREFIX}hit-queue",
            "name": "Refund queue",
            "category": "bench",
            "position": 102,
            "on": ["ticket.created"],
            "when": {"field": "ticket.tags", "op": "contains", "value": "refund"},
            "actions": [{"add_tags": ["returns-queue"]}],
        },
        {
            "key": f"{PREFIX}round-robin",
            "name": "Round robin",
            "category": "bench",
            "position": 103,
            "on": ["ticket.created"],
            "when": {"all": []},
            "actions": [{"assign": {"policy": policy_id}}],
        },
    ]
    return rules


def save_rules(department: int) -> None:
    from sportello.automation.assignment import policy_save
    from sportello.automation.models import RuleKind
    from sportello.automation.services import rule_save

    now = datetime.now(UTC)
    policy, _ = policy_save(
        definition={
            "key": f"{PREFIX}returns-rr",
            "name": "Returns round robin",
            "pool": {"department": department},
            "max_open_per_agent": 10_000,
            "offline": "assign",
        },
        created_by=None,
        now=now,
    )
    for definition in rule_definitions(policy.pk):
        rule_save(kind=RuleKind.EVENT, definition=definition, created_by=None, now=now)


def set_rules_active(active: bool) -> int:
    from sportello.automation.models import Rule

    return Rule.objects.filter(key__startswith=PREFIX).update(active=active, updated_at=datetime.now(UTC))


async def drive(base: str, token: str, target: dict[str, Any], clients: int, seconds: float) -> list[float]:
    rng = random.Random(5)
    latencies: list[float] = []
    errors: dict[int, int] = {}
    deadline = time.monotonic() + seconds

    async def client() -> None:
        async with httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as c:
            while time.monotonic() < deadline:
                t = time.perf_counter()
                r = await c.post("/api/v1/tickets", json=payload(rng, target))
                latencies.append(time.perf_counter() - t)
                if r.status_code != 201:
                    errors[r.status_code] = errors.get(r.status_code, 0) + 1

    await asyncio.gather(*(client() for _ in range(clients)))
    if errors:
        print(f"      errors: {errors}")
    return latencies


def profile(token: str, target: dict[str, Any], n: int) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1", headers={"Authorization": f"Bearer {token}"})
    rng = random.Random(9)

    def create() -> None:
        r = client.post("/api/v1/tickets", json.dumps(payload(rng, target)), content_type="application/json")
        assert r.status_code == 201, r.content

    for active in (False, True):
        set_rules_active(active)
        for _ in range(10):
            create()
        with CaptureQueriesContext(connection) as ctx:
            create()
        label = "with rules" if active else "no rules"
        print(f"\nqueries per creation, {label}: {len(ctx.captured_queries)}")
        if active:
            kinds: dict[str, int] = {}
            for q in ctx.captured_queries:
                words = q["sql"].split()
                key = " ".join(words[:3]) if words[0] in ("INSERT", "UPDATE", "DELETE") else words[0]
                if words[0] == "SELECT" and "FROM" in words:
                    key = "SELECT … FROM " + words[words.index("FROM") + 1]
                kinds[key] = kinds.get(key, 0) + 1
            for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]):
                print(f"  {v:>2}  {k[:110]}")
    prof = cProfile.Profile()
    t = time.perf_counter()
    prof.enable()
    for _ in range(n):
        create()
    prof.disable()
    print(
        f"\nin-process, with rules: {(time.perf_counter() - t) / n * 1000:.2f} ms per creation (profiler on)"
    )
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(r"/sportello/", 40)
    print(out.getvalue()[-5000:])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--profile-count", type=int, default=100)
    parser.add_argument("--keep", action="store_true", help="reuse the database and its tickets")
    args = parser.parse_args()
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("use a PostgreSQL database")
    target = prepare(args.database_url, fresh=not args.keep)
    setup_django(args.database_url)
    save_rules(target["department"])
    token = token_for(args.database_url, target["agent"])
    log(f"agent {target['agent']}, department {target['department']}, 100 bench rules saved")
    results: dict[bool, list[tuple[int, float, list[float]]]] = {False: [], True: []}
    with server(args.database_url, workers=args.workers) as base:
        set_rules_active(True)
        asyncio.run(drive(base, token, target, 2, 3))  # warm-up, rules parsed in every worker
        for _ in range(args.rounds):
            for active in (False, True):
                set_rules_active(active)
                started = time.monotonic()
                lat = asyncio.run(drive(base, token, target, args.clients, args.seconds))
                results[active].append((len(lat), time.monotonic() - started, lat))
    rates = {}
    for active, label in ((False, "no rules      "), (True, "100 rules + RR")):
        count = sum(r[0] for r in results[active])
        elapsed = sum(r[1] for r in results[active])
        lat = [x for r in results[active] for x in r[2]]
        rates[active] = count / elapsed
        print(
            f"API   POST /tickets, {label}, {args.clients} clients: {rates[active]:,.0f} tickets/s | "
            + summary_ms(lat)
        )
    print(f"ratio with rules / without: {rates[True] / rates[False]:.0%} (target >= 70%)")
    profile(token, target, args.profile_count)
    set_rules_active(True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()

"""Engine benchmark: one change evaluated against 1,000 active event rules (no database).

The rules are a realistic mix for a large desk: routing rules on the channel, department,
priority, requester and words of the subject or message; a few match. Prints the time of one
trigger cycle (with its full trace, as the pipeline runs it) over many repetitions: p50/p95/p99.

    .venv/bin/python bench/engine_rules.py [--rules 1000] [--repeat 300]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from sportello.engine.conditions import FIELDS
from sportello.engine.rules import SCHEMA, parse_document
from sportello.engine.triggers import ApplyResult, order_rules, run_cycle

WORDS = [
    "refund",
    "broken",
    "invoice",
    "delivery",
    "password",
    "screen",
    "battery",
    "late",
    "charge",
    "login",
]
CHANNELS = ["email", "web", "portal", "chat", "phone", "api"]


def make_rules(n: int, rng: random.Random) -> list[dict[str, Any]]:
    rules = []
    for i in range(n):
        kind = i % 5
        if kind == 0:
            when: dict[str, Any] = {
                "all": [
                    {"field": "ticket.channel", "op": "is", "value": rng.choice(CHANNELS)},
                    {"field": "ticket.department", "op": "is", "value": rng.randint(1, 40)},
                ]
            }
        elif kind == 1:
            when = {
                "all": [
                    {"field": "event.type", "op": "is", "value": "ticket.created"},
                    {"field": "ticket.subject", "op": "contains", "value": rng.choice(WORDS)},
                    {
                        "field": "ticket.department",
                        "op": "in",
                        "value": [rng.randint(1, 40), rng.randint(1, 40)],
                    },
                ]
            }
        elif kind == 2:
            when = {
                "any": [
                    {"field": "requester.domain", "op": "is", "value": f"customer{rng.randint(1, 500)}.test"},
                    {"field": "ticket.tags", "op": "contains", "value": f"tag{rng.randint(1, 300)}"},
                ]
            }
        elif kind == 3:
            when = {
                "all": [
                    {"field": "ticket.priority", "op": "gte", "value": "high"},
                    {"field": "ticket.status", "op": "changed_to", "value": "open"},
                    {"not": {"field": "ticket.assignee", "op": "present"}},
                ]
            }
        else:
            when = {
                "all": [
                    {"field": "message.body", "op": "contains_word", "value": rng.choice(WORDS)},
                    {"field": "ticket.team", "op": "is", "value": rng.randint(1, 60)},
                ]
            }
        if i % 100 == 0:  # one rule in a hundred matches the change
            when = {
                "all": [
                    {"field": "ticket.channel", "op": "is", "value": "email"},
                    {"field": "message.body", "op": "contains_word", "value": "battery"},
                ]
            }
        rules.append(
            {
                "key": f"rule-{i:04d}",
                "name": f"Rule {i}",
                "category": f"c{i % 7}",
                "position": i,
                "when": when,
                "actions": [{"set": {"field": "ticket.priority", "value": "high"}}],
            }
        )
    return rules


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--explain", action="store_true", help="trace every predicate (dry-run mode)")
    args = parser.parse_args()
    rng = random.Random(7)
    doc = parse_document({"schema": SCHEMA, "event_rules": make_rules(args.rules, rng)}, specs=FIELDS)
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    facts = {
        "ticket.subject": "My battery is broken since the last update",
        "ticket.channel": "email",
        "ticket.department": 3,
        "ticket.team": 7,
        "ticket.priority": "normal",
        "ticket.status": "new",
        "ticket.status_category": "new",
        "ticket.assignee": None,
        "ticket.tags": frozenset({"tag5", "vip"}),
        "requester.domain": "example.test",
        "requester.vip": False,
        "ticket.created_at": now,
        "message.body": "Hello, the battery drains in two hours and the phone heats up. " * 8,
        "message.public": True,
        "event.type": "ticket.created",
        "event.via": "email",
    }

    def apply(rule: Any, action: Any, f: Any) -> ApplyResult:
        return ApplyResult(facts=f, changed=False)

    ordered = order_rules(doc.event_rules)
    samples = []
    fired = 0
    for _ in range(args.repeat):
        t = time.perf_counter()
        result = run_cycle(
            ordered,
            before=None,
            facts=facts,
            specs=FIELDS,
            apply=apply,
            explain_all=args.explain,
            presorted=True,
        )
        samples.append(time.perf_counter() - t)
        fired = len(result.fired)
    samples.sort()
    q = statistics.quantiles(samples, n=100)
    print(
        f"{args.rules} rules, {fired} fired, {len(result.trace)} traced: one cycle p50 {q[49] * 1e3:.2f} ms, "
        f"p95 {q[94] * 1e3:.2f} ms, p99 {q[98] * 1e3:.2f} ms (load {os.getloadavg()[0]:.1f})"
    )


if __name__ == "__main__":
    main()

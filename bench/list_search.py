"""Read latency at scale: the agent list and full-text search, through the real server.

    .venv/bin/python bench/list_search.py --database-url postgres://postgres@127.0.0.1:5432/sportello_bench

Seed first (`bench/seed.py --tickets 100000`, then 1000000). Requests are sequential on one
keep-alive connection (latency, not throughput), each kind after 10 warm-up requests:
- list: a department's unresolved tickets by priority then age, as an agent of that department
  (`GET /api/v1/tickets?department_id=..&category=new,open,pending,on_hold`
  `&sort=-priority,created_at&limit=50`),
  first page and the page after (cursor);
- search: rare terms (an order number), words of middle frequency, words in about 5%, 1% and
  0.2% of the tickets, very common words, a phrase, a prefix, as that agent (scoped to their
  departments). The load average is printed beside each line.
"""

from __future__ import annotations

import argparse
import os
import random
from typing import Any

import httpx
import psycopg

from common import DEFAULT_URL, desk_target, log, measure, server, summary_ms, token_for


def pick_targets(url: str) -> dict[str, Any]:
    with psycopg.connect(url) as conn:
        target = desk_target(conn)
        orders = [
            r[0]
            for r in conn.execute(
                "SELECT custom_fields->>'order_number' FROM tickets_ticket "
                "WHERE custom_fields ? 'order_number' ORDER BY random() LIMIT 50"
            )
        ]
        # Document frequencies of the generated vocabulary's words, from a 2% sample.
        sample = "FROM tickets_search_document TABLESAMPLE SYSTEM (2) REPEATABLE (7)"
        sampled = conn.execute(f"SELECT count(*) {sample}").fetchone()[0]  # type: ignore[index]
        words = conn.execute(
            f"SELECT word, ndoc::float / %s FROM ts_stat($$SELECT doc_public {sample}$$) "
            "WHERE length(word) > 4 ORDER BY ndoc DESC",
            [sampled],
        ).fetchall()
    return {"total": target.total, "department": target.department, "unresolved": target.unresolved,
            "agent": target.agent_email, "orders": orders, "words": words}  # fmt: skip


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
    log(
        f"{t['total']:,} tickets; department {t['department']} has {t['unresolved']:,} unresolved; "
        f"agent {t['agent']}"
    )
    token = token_for(args.database_url, t["agent"])
    words = t["words"]
    common = [w for w, _ in words[:20]]
    middle = [w for w, _ in words[len(words) // 50 : len(words) // 50 + 40]]
    rare = [w for w, _ in words[-200:]]

    def near(share: float) -> list[str]:  # the 20 words whose document share is closest
        return [w for w, _ in sorted(words, key=lambda wf: abs(wf[1] - share))[:20]]

    share = dict(words)
    log(
        "document share: common "
        + ", ".join(f"{share[w]:.0%}" for w in common[:3])
        + f"; middle {share[middle[0]]:.1%}..{share[middle[-1]]:.1%}; rare {share[rare[0]]:.3%}"
    )
    lst = (
        f"/api/v1/tickets?department_id={t['department']}&category=new,open,pending,on_hold"
        "&sort=-priority,created_at&limit=50"
    )
    with server(args.database_url, workers=args.workers) as base:
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=15)
        cursor = client.get(lst).json()["next_cursor"]
        kinds = {
            "list, first page": [lst],
            "list, second page": [f"{lst}&cursor={cursor}"],
            "search: order number": [f"/api/v1/search?q={o}" for o in t["orders"]],
            "search: rare word": [f"/api/v1/search?q={w}%20" for w in rare],
            "search: middle-frequency word": [f"/api/v1/search?q={w}%20" for w in middle],
            "search: two middle words": [
                f"/api/v1/search?q={a}%20{b}%20" for a, b in zip(middle, reversed(middle), strict=True)
            ],
            "search: word in ~5% of tickets": [f"/api/v1/search?q={w}%20" for w in near(0.05)],
            "search: word in ~1% of tickets": [f"/api/v1/search?q={w}%20" for w in near(0.01)],
            "search: word in ~0.2% of tickets": [f"/api/v1/search?q={w}%20" for w in near(0.002)],
            "search: very common word": [f"/api/v1/search?q={w}%20" for w in common],
            "search: middle word, dept + unresolved": [
                f"/api/v1/search?q={w}%20&department_id={t['department']}&category=new,open,pending,on_hold"
                for w in middle
            ],
            "search: word in ~1%, dept + unresolved": [
                f"/api/v1/search?q={w}%20&department_id={t['department']}&category=new,open,pending,on_hold"
                for w in near(0.01)
            ],
            'search: phrase "return label"': ['/api/v1/search?q="return%20label"'],
            "search: prefix (refu…)": ["/api/v1/search?q=refu"],
        }
        for name, paths in kinds.items():
            rng.shuffle(paths)
            samples = measure(client, paths, args.requests)
            load = os.getloadavg()[0]
            print(
                f"{t['total']:>9,} tickets | {name:<38} | {summary_ms(samples)} | load {load:.1f}", flush=True
            )


if __name__ == "__main__":
    main()

"""Answer-suggestion quality on the demo knowledge base: recall@1, recall@3 and MRR per language
(en, es, it, cross-language) for hybrid, lexical-only and embedding-only ranking.

    .venv/bin/python bench/kb_eval.py                 # SQLite file under var/bench, table printed
    .venv/bin/python bench/kb_eval.py --write         # and written into docs/benchmarks.md
    .venv/bin/python bench/kb_eval.py --database-url postgres://postgres@127.0.0.1:5432/sp_kb_eval --write

A fresh database is migrated, the demo knowledge base (src/sportello/demo/kb/) loaded through
the services (embeddings computed in-process), then every request of tests/kb/eval/requests.yaml
goes through `kb.suggest.suggest` in each mode, and hybrid is also scored on the even- and
odd-indexed halves of the set apart (nothing is fitted per request; the halves show how far a
figure rests on a few requests). tests/kb/test_eval.py holds the bar (hybrid recall@3 ≥ 0.90
in every group); this script writes the figures, one table per database.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from common import ensure_database, log, remove_sqlite, sqlite_url  # noqa: E402

MARKERS = {  # the table of each database in docs/benchmarks.md
    "sqlite": ("<!-- kb-eval:start -->", "<!-- kb-eval:end -->"),
    "postgresql": ("<!-- kb-eval-postgresql:start -->", "<!-- kb-eval-postgresql:end -->"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--write", action="store_true", help="write the table into docs/benchmarks.md")
    args = parser.parse_args()
    url = args.database_url or sqlite_url("kb_eval")
    if url.startswith("sqlite"):
        remove_sqlite(url)
    else:
        ensure_database(url, fresh=True)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sportello.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from sportello.core import clock
    from sportello.kb import evaluation

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    articles = evaluation.load_demo_kb(now=clock.now())
    log(f"demo knowledge base: {len(articles)} articles loaded in {time.perf_counter() - started:.1f}s")
    requests = evaluation.read_requests(ROOT / "tests" / "kb" / "eval" / "requests.yaml")
    rows = []
    halves = []
    for mode in evaluation.MODES:
        started = time.perf_counter()
        ranked = evaluation.ranks(requests, articles=articles, mode=mode)
        elapsed = (time.perf_counter() - started) / len(requests) * 1000
        for group, s in evaluation.scores(ranked).items():
            rows.append((mode, group, s))
        log(f"{mode}: {elapsed:.1f} ms per request")
        if mode == "hybrid":
            # The held-out check: the even-indexed requests and the odd-indexed ones apart.
            for name, half in (("even", 0), ("odd", 1)):
                part = [item for i, item in enumerate(ranked) if i % 2 == half]
                halves.append((name, evaluation.scores(part)))
            for request, rank in ranked:
                if rank is None or rank > 3:
                    log(f"  miss ({request.group}, rank {rank}): {request.text[:90]!r} → {request.targets}")
    table = [
        f"Demo knowledge base ({len(articles)} articles), {len(requests)} requests, {connection.vendor}.",
        "",
        "| ranking | group | requests | recall@1 | recall@3 | MRR |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for mode, group, s in rows:
        table.append(
            f"| {mode} | {group} | {s.count} | {s.recall_at_1:.2f} | {s.recall_at_3:.2f} | {s.mrr:.2f} |"
        )
    table += ["", "Hybrid recall@3 on each half of the set (even- and odd-indexed requests):", ""]
    table += ["| half | " + " | ".join(evaluation.GROUPS) + " |", "|---|" + "---:|" * len(evaluation.GROUPS)]
    for name, by_group in halves:
        cells = [f"{by_group[g].recall_at_3:.2f} ({by_group[g].count})" for g in evaluation.GROUPS]
        table.append(f"| {name} | " + " | ".join(cells) + " |")
    text = "\n".join(table)
    print(text)
    if args.write:
        path = ROOT / "docs" / "benchmarks.md"
        doc = path.read_text(encoding="utf-8")
        start, end = MARKERS[connection.vendor]
        block = f"{start}\n{text}\n{end}"
        if start in doc:
            doc = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, doc, flags=re.S)
        else:
            doc = doc.rstrip() + "\n\n" + block + "\n"
        path.write_text(doc, encoding="utf-8")
        log(f"written into {path}")


if __name__ == "__main__":
    main()

"""`sportello kb reindex`: recompute the search index and the embeddings of every translation
(after an upgrade of the embedding model, or to repair the index), with progress and ETA."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from sportello.kb.search import reindex_all


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class Command(BaseCommand):
    help = "Knowledge base maintenance: `reindex` recomputes the search index and the embeddings."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        reindex = sub.add_parser("reindex", help="recompute the full-text index and embeddings")
        reindex.add_argument("--batch-size", type=int, default=64)

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()

        def progress(done: int, total: int) -> None:
            elapsed = time.monotonic() - started
            rate = done / elapsed if elapsed > 0 else 0.0
            eta = (total - done) / rate if rate > 0 else 0.0
            self.stdout.write(
                f"{done}/{total} ({100 * done / total:.0f}%) {rate:.1f}/s, ETA {_duration(eta)}"
            )

        count = reindex_all(batch_size=max(1, options["batch_size"]), progress=progress)
        self.stdout.write(
            self.style.SUCCESS(f"Reindexed {count} translations in {_duration(time.monotonic() - started)}.")
        )

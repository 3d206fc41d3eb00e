"""`sportello reports rebuild`: recompute every ticket's facts and the daily roll-ups from the
audit trail (after changing `SPORTELLO_REPORTS_TIME_ZONE` or business calendars, after an
upgrade, or to repair), with progress and ETA. `sportello reports compact`: fold past days'
roll-up rows into one per key (the worker does it every hour)."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from sportello.core import clock
from sportello.demo.progress import Progress
from sportello.reports import rollups


class Command(BaseCommand):
    help = "Reports: `rebuild` recomputes the figures from the audit trail; `compact` folds past days."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("rebuild", help="recompute every ticket's facts and the daily roll-ups")
        sub.add_parser("compact", help="fold the roll-up rows of days before yesterday into one per key")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "compact":
            removed = rollups.compact_yesterday(clock.now())
            self.stdout.write(self.style.SUCCESS(f"Folded {removed:,} roll-up rows."))
            return
        bar: Progress | None = None

        def progress(done: int, total: int) -> None:
            nonlocal bar
            if bar is None:
                bar = Progress(total, label="Rebuilding reports", unit="tickets", stream=sys.stderr)
            bar.advance(done - bar.count)

        count = rollups.rebuild(progress=progress)
        if bar is not None:
            bar.done()
        self.stdout.write(self.style.SUCCESS(f"Rebuilt the figures of {count:,} tickets."))

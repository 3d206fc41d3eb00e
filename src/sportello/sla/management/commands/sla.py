"""`sportello sla reflow --policy KEY | --calendar KEY`: recompute the due instants of the open
SLA clocks that follow a policy (or count in a calendar) now, with progress and an ETA — what
saving a policy or calendar with `?reflow=true` does in the background."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sportello.core import clock
from sportello.demo.progress import Progress
from sportello.sla import reflow


class Command(BaseCommand):
    help = "Recompute the due instants of open SLA clocks after a policy or calendar change."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("reflow", help="reflow the clocks of a policy or a calendar")
        which = run.add_mutually_exclusive_group(required=True)
        which.add_argument("--policy", help="an SLA policy's key")
        which.add_argument("--calendar", help="a business calendar's key")

    def handle(self, *args: Any, **opts: Any) -> None:
        target = {"policy": opts.get("policy"), "calendar": opts.get("calendar")}
        total = reflow.reflow_count(**target)
        if total == 0:
            raise CommandError(
                "no open ticket follows an active policy by that key (or counting in that calendar)"
            )
        progress = Progress(
            total,
            label="SLA reflow",
            unit="tickets",
            stream=self.stderr._out,  # type: ignore[arg-type]  # the wrapped stream: not in django-stubs
        )
        moved = reflow.reflow_all(**target, now=clock.now(), on_batch=lambda done, _: progress.advance(done))
        elapsed = progress.done()
        self.stdout.write(
            self.style.SUCCESS(
                f"Reflowed {total:,} tickets in {elapsed:.1f}s; due instants moved on {moved:,}."
            )
        )

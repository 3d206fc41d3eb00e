from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from sportello.accounts.models import Department
from sportello.core import clock
from sportello.demo import kb
from sportello.demo.loader import DEFAULT_SEED, demo_exists, demo_kb_load, demo_load
from sportello.demo.progress import Progress
from sportello.tickets.models import Ticket


class Command(BaseCommand):
    help = (
        "Load a demo desk: six departments, agents, teams, customers and a thousand conversations "
        "in English, Spanish and Italian over the last 60 days, all through the real pipeline."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tickets", type=int, default=1000, help="how many tickets (default 1000)")
        parser.add_argument(
            "--seed", type=int, default=DEFAULT_SEED, help="random seed (same seed, same desk)"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        count = opts["tickets"]
        if count < 0:
            raise CommandError("--tickets must be zero or more")
        if demo_exists():
            self.stdout.write("The demo data is already loaded; nothing to do.")
            return
        if Department.objects.exists() or Ticket.objects.exists():
            raise CommandError(
                "this desk already has departments or tickets; the demo loads only into an empty desk"
            )
        progress = Progress(
            count,
            label="Demo tickets",
            unit="tickets",
            stream=self.stderr._out,  # type: ignore[arg-type]  # the wrapped stream: not in django-stubs
        )
        with _no_query_log():
            summary = demo_load(tickets=count, now=clock.now(), seed=opts["seed"], on_ticket=progress.advance)
        elapsed = progress.done()
        kb_progress = Progress(
            kb.article_count(),
            label="Demo knowledge base",
            unit="articles",
            stream=self.stderr._out,  # type: ignore[arg-type]  # as above
        )
        with _no_query_log():
            articles = demo_kb_load(now=clock.now(), on_article=kb_progress.advance)
        kb_elapsed = kb_progress.done()
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(summary.statuses.items()))
        a, s = summary.automation, summary.service_levels
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo desk loaded in {elapsed:.1f}s: {summary.departments} departments, "
                f"{summary.agents} agents, {summary.contacts} contacts, {summary.tickets} tickets "
                f"({summary.steps} changes through the pipeline; {statuses}); sample automation: "
                f"{a['event_rules']} event rules, {a['time_rules']} time rule (inactive), "
                f"{a['policies']} round-robin policy, {a['macros']} macros; service levels: "
                f"{s['calendars']} business calendar, {s['sla_policies']} SLA policies, "
                f"{s['tier_paths']} tier path, {s['blueprints']} blueprint; {s['mailboxes']} mailboxes."
            )
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo knowledge base loaded in {kb_elapsed:.1f}s: {articles} articles in English, "
                "Spanish and Italian."
            )
        )


@contextmanager
def _no_query_log() -> Iterator[None]:
    """With DEBUG on, Django records every query and, on SQLite, runs one more query per query
    to show its parameters: a third of the load's time for a log nobody reads."""
    debug = settings.DEBUG
    settings.DEBUG = False
    try:
        yield
    finally:
        settings.DEBUG = debug

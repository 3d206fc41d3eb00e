from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Run the background worker: outbox delivery and every other job (Django tasks, database backend)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=0.5, help="seconds between polls when idle")
        parser.add_argument(
            "--batch", action="store_true", help="exit when no job is left (for tests and cron)"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        call_command(
            "db_worker",
            queue_name="*",
            interval=opts["interval"],
            batch=opts["batch"],
            reload=False,
            startup_delay=False,
            verbosity=opts["verbosity"],
        )

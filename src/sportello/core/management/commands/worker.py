from __future__ import annotations

import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from sportello.core.worker import Runner


class Command(BaseCommand):
    help = (
        "Run the background worker: queued jobs (outbox delivery and the rest), periodic jobs, "
        "due timers and recovery of jobs left running by a stopped worker."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=0.5, help="seconds between polls when idle")
        parser.add_argument(
            "--batch", action="store_true", help="exit when no job is left (for tests and cron)"
        )
        parser.add_argument("--worker-id", default=None, help="unique id of this worker (default: generated)")

    def handle(self, *args: Any, **opts: Any) -> None:
        level = {0: logging.CRITICAL, 1: logging.INFO}.get(opts["verbosity"], logging.DEBUG)
        for name in ("sportello.core.worker", "sportello.core.scheduler", "django_tasks_db", "django.tasks"):
            log = logging.getLogger(name)
            log.setLevel(level)
            if not log.handlers:  # the root handler filters below WARNING: speak for ourselves
                log.addHandler(logging.StreamHandler(self.stdout))
                log.propagate = False
        runner = Runner(
            worker_id=opts["worker_id"],
            interval=max(0.0, opts["interval"]),
            batch=opts["batch"],
            heartbeat_thread=not opts["batch"],
        )
        runner.run()

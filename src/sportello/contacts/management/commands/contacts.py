"""`sportello contacts import FILE [--dry-run]`: import contacts from a CSV file, printing the
progress and an ETA, then what was created, updated and skipped (each skipped row with its line
and reason) — what the Console's import runs in the worker (`contacts.transfer`). `--dry-run`
reads and checks every row and says what it would do, writing nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sportello.contacts import transfer
from sportello.core.errors import ValidationFailed
from sportello.demo.progress import Progress

SKIPPED_SHOWN = 50


class Command(BaseCommand):
    help = "Import contacts from a CSV file (idempotent on the e-mail address)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("import", help="import contacts from a CSV file")
        run.add_argument("file", type=Path, help="a CSV file: a header row naming the columns, then contacts")
        run.add_argument("--dry-run", action="store_true", help="check every row and write nothing")

    def handle(self, *args: Any, **opts: Any) -> None:
        path: Path = opts["file"]
        max_bytes, _rows = transfer.limits()
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from None
        if size > max_bytes:
            raise CommandError(
                f"{path} is {size:,} bytes; at most {max_bytes:,} are imported at once: split it"
            )
        try:
            table = transfer.read_table(transfer.decode(path.read_bytes()))
        except ValidationFailed as exc:
            raise CommandError(f"{path}: {exc.message}") from None
        dry_run = bool(opts["dry_run"])
        progress = Progress(
            len(table.rows),
            label="Dry run" if dry_run else "Import",
            unit="rows",
            stream=self.stderr._out,  # type: ignore[arg-type]  # the wrapped stream: not in django-stubs
        )
        report = transfer.import_rows(
            table,
            actor=None,
            dry_run=dry_run,
            on_progress=lambda r: progress.advance(r.done - progress.count),
        )
        elapsed = progress.done()
        for line, reason in report.skipped[:SKIPPED_SHOWN]:
            self.stdout.write(f"skipped line {line}: {reason}")
        if report.skipped_count > SKIPPED_SHOWN:
            self.stdout.write(f"… and {report.skipped_count - SKIPPED_SHOWN:,} more skipped")
        verb = ("would be created", "would be updated") if dry_run else ("created", "updated")
        self.stdout.write(
            self.style.SUCCESS(
                f"{report.total:,} rows in {elapsed:.1f}s: {report.created:,} {verb[0]}, "
                f"{report.updated:,} {verb[1]}, {report.skipped_count:,} skipped."
            )
        )

"""`sportello rules export [--output F]` and `sportello rules import F [--dry-run]`: rules as
code on files, the same operations as `GET /api/v1/rules/export` and `POST /api/v1/rules/import`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sportello.automation import services
from sportello.core import clock
from sportello.core.errors import ValidationFailed


class Command(BaseCommand):
    help = "Export or import every rule, macro and assignment policy as a YAML rules document."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        export = sub.add_parser("export", help="write the rules document (YAML) to stdout or a file")
        export.add_argument("--output", "-o", help="file to write (default: stdout)")
        imp = sub.add_parser("import", help="read a rules document (YAML or JSON); all or nothing")
        imp.add_argument("file", help="the document; - reads stdin")
        imp.add_argument("--dry-run", action="store_true", help="report what would change, write nothing")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["action"] == "export":
            text = services.rules_dump(services.rules_export())
            if opts.get("output"):
                Path(opts["output"]).write_text(text, encoding="utf-8")
            else:
                self.stdout.write(text, ending="")
            return
        name = opts["file"]
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot read {name}: {exc.strerror}") from None
        try:
            result = services.rules_import(
                data=services.load_rules_text(text), created_by=None, now=clock.now(), dry_run=opts["dry_run"]
            )
        except ValidationFailed as exc:
            where = f"{exc.field}: " if exc.field else ""
            raise CommandError(f"{name}: {where}{exc.message}") from None
        for item in result.items:
            self.stdout.write(f"{item.outcome:<9} {item.kind} {item.key} (version {item.version})")
        for w in result.warnings:
            where = f"{w.kind} {w.key}" + (f" {w.path}" if w.path else "")
            self.stdout.write(f"warning   {where}: [{w.code}] {w.message}")
        counts = result.counts
        summary = f"{counts['created']} created, {counts['updated']} updated, {counts['unchanged']} unchanged"
        self.stdout.write(summary + (" (dry run: nothing written)" if result.dry_run else ""))

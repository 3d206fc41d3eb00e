"""`sportello config export [--output F]` and `sportello config import F [--dry-run] [--as E]`:
the whole desk's configuration as one YAML document (`sportello.console.desk_config`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sportello.accounts.models import Role, User
from sportello.console import desk_config
from sportello.core import clock
from sportello.core.errors import DomainError


def _value(value: Any) -> str:
    if isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    else:
        text = repr(value)
    return text if len(text) <= 100 else text[:99] + "…"


class Command(BaseCommand):
    help = "Export or import the desk's whole configuration (departments to templates) as YAML."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        export = sub.add_parser("export", help="write the configuration (YAML) to stdout or a file")
        export.add_argument("--output", "-o", help="file to write (default: stdout)")
        imp = sub.add_parser("import", help="read a configuration document (YAML or JSON); all or nothing")
        imp.add_argument("file", help="the document; - reads stdin")
        imp.add_argument("--dry-run", action="store_true", help="print what would change, write nothing")
        imp.add_argument(
            "--as",
            dest="actor",
            metavar="EMAIL",
            help="the admin recorded as the author of the new versions (default: the system)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["action"] == "export":
            text = desk_config.config_dump(desk_config.config_export())
            if opts.get("output"):
                Path(opts["output"]).write_text(text, encoding="utf-8")
            else:
                self.stdout.write(text, ending="")
            return
        actor = None
        if opts.get("actor"):
            actor = User.objects.filter(
                email=opts["actor"].strip().lower(), role=Role.ADMIN, is_active=True
            ).first()
            if actor is None:
                raise CommandError(f"no active admin with the e-mail {opts['actor']!r}")
        name = opts["file"]
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot read {name}: {exc.strerror}") from None
        try:
            report = desk_config.config_import(
                data=desk_config.load_config_text(text),
                actor=actor,
                now=clock.now(),
                dry_run=opts["dry_run"],
                progress=lambda section: self.stderr.write(f"importing {section}…"),
            )
        except DomainError as exc:
            where = f"{exc.field}: " if exc.field else ""
            raise CommandError(f"{name}: {where}{exc.message}") from None
        for item in report.items:
            self.stdout.write(f"{item.outcome:<8} {item.section} {item.key}")
            for change in item.changes:
                path = change.path or "(the whole item)"
                if change.change == "added":
                    self.stdout.write(f"    + {path}: {_value(change.new)}")
                elif change.change == "removed":
                    self.stdout.write(f"    - {path}: {_value(change.old)}")
                else:
                    self.stdout.write(f"    ~ {path}: {_value(change.old)} → {_value(change.new)}")
        for warning in report.warnings:
            self.stdout.write(f"warning  {warning}")
        counts = report.counts
        summary = f"{counts['created']} created, {counts['changed']} changed, {counts['unchanged']} unchanged"
        self.stdout.write(summary + (" (dry run: nothing written)" if report.dry_run else ""))

"""`sportello secrets list|create NAME|rotate NAME|delete NAME`: the secrets that sign webhook
deliveries, as `/api/v1/webhook-secrets`. `create` and `rotate` read the value from stdin with
`--stdin` (one line) or generate a strong one; the value is printed once."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sportello.core import clock
from sportello.core.errors import DomainError
from sportello.outbox import secrets


class Command(BaseCommand):
    help = "List, create, rotate or delete the webhook secrets that rules name in secret_ref."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="names and dates (never values)")
        for action, text in (
            ("create", "a new secret; its value is printed once"),
            ("rotate", "a new value (printed once); the previous one keeps signing for the grace period"),
        ):
            p = sub.add_parser(action, help=text)
            p.add_argument("name")
            p.add_argument("--stdin", action="store_true", help="read the value from stdin (else generated)")
        sub.add_parser(
            "delete", help="delete a secret no rule, macro, policy or blueprint uses"
        ).add_argument("name")

    def handle(self, *args: Any, **opts: Any) -> None:
        action, now = opts["action"], clock.now()
        try:
            if action == "list":
                for row in secrets.secret_list(actor=None):
                    used = row.last_used_at.isoformat() if row.last_used_at else "never"
                    rotated = row.rotated_at.isoformat() if row.rotated_at else "never"
                    created = row.created_at.isoformat()
                    self.stdout.write(f"{row.name}  created {created}  rotated {rotated}  last used {used}")
                return
            if action == "delete":
                secrets.secret_delete(actor=None, name=opts["name"], now=now)
                self.stdout.write(f"deleted {opts['name']}")
                return
            value = sys.stdin.readline().rstrip("\r\n") if opts["stdin"] else None
            service = secrets.secret_create if action == "create" else secrets.secret_rotate
            _, plain = service(actor=None, name=opts["name"], value=value, now=now)
        except DomainError as exc:
            where = f"{exc.field}: " if exc.field else ""
            raise CommandError(f"{where}{exc.message}") from None
        self.stdout.write(plain)

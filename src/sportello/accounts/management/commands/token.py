from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sportello.accounts.models import User
from sportello.accounts.services import token_create
from sportello.core import clock


class Command(BaseCommand):
    help = "Print a new API token for an agent. The secret is shown once and stored only as a hash."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--name", default="cli", help="a label to recognise the token by")

    def handle(self, *args: Any, **opts: Any) -> None:
        user = User.objects.filter(email__iexact=opts["email"].strip(), is_active=True).first()
        if user is None:
            raise CommandError(f"no active agent with e-mail {opts['email']}")
        _, secret = token_create(user=user, name=opts["name"], now=clock.now())
        self.stdout.write(secret)

from __future__ import annotations

import getpass
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from sportello.accounts.models import Role, User
from sportello.accounts.services import agent_create, agent_set_password


class Command(BaseCommand):
    help = "Create an admin agent (or reset an existing admin's password). Non-interactive with both options."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", help="the admin's e-mail (login)")
        parser.add_argument("--password", help="the admin's password (prompted for when omitted)")
        parser.add_argument("--name", default="", help="display name")

    def handle(self, *args: Any, **opts: Any) -> None:
        email = (opts["email"] or "").strip().lower()
        if not email:
            if not self.stdin_isatty():
                raise CommandError("--email is required when not running interactively")
            email = input("E-mail: ").strip().lower()
        password = opts["password"]
        if password is None:
            if not self.stdin_isatty():
                raise CommandError("--password is required when not running interactively")
            password = getpass.getpass("Password: ")
            if getpass.getpass("Password (again): ") != password:
                raise CommandError("the passwords do not match")
        existing = User.objects.filter(email__iexact=email).first()
        try:
            validate_password(password, user=existing)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        if existing is not None:
            if existing.role != Role.ADMIN:
                raise CommandError(f"{email} exists and is not an admin")
            agent_set_password(user=existing, password=password)
            self.stdout.write(f"Password updated for admin {email}.")
            return
        agent_create(
            email=email, name=opts["name"] or email.split("@")[0], role=Role.ADMIN, password=password
        )
        self.stdout.write(self.style.SUCCESS(f"Admin {email} created."))

    @staticmethod
    def stdin_isatty() -> bool:
        import sys

        return sys.stdin.isatty()

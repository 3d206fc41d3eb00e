from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from sportello.accounts.models import ApiToken, Department, Role, User
from sportello.accounts.services import agent_create, agent_set_password, token_create
from sportello.core import clock

DEMO_ADMIN = "admin@sportello.localhost"
DEMO_TOKEN_NAME = "demo token (sportello run)"  # noqa: S105 (a label)


class Command(BaseCommand):
    help = "Migrate, load demo data on first start, then serve web + worker until interrupted."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", default=os.environ.get("SPORTELLO_BIND", "127.0.0.1:8000"))
        parser.add_argument("--no-demo", action="store_true", help="do not load demo data on first start")

    def handle(self, *args: Any, **opts: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        if not opts["no_demo"] and not Department.objects.exists():
            self.stdout.write("First start: loading demo data…")
            call_command("demo")
        password = self._demo_admin()
        token = self._demo_token()
        host = opts["bind"]
        self.stdout.write(
            self.style.SUCCESS("\nSportello is running.\n")
            + f"  Web:      http://{host}/   (log in as {DEMO_ADMIN}, password: {password})\n"
            + f"  API:      http://{host}/api/v1/   docs: http://{host}/api/v1/docs\n"
            + f"  Token:    {token}\n"
            + f"  Try:      curl -H 'Authorization: Bearer {token}' http://{host}/api/v1/tickets?limit=5\n"
            + "  Stop:     Ctrl-C\n"
        )
        sys.stdout.flush()
        stop = threading.Event()

        def request_stop(signum: int, frame: object) -> None:
            stop.set()

        # Installed explicitly: a process started in the background inherits an ignored SIGINT.
        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        exe = [sys.executable, "-m", "sportello.cli"]
        worker = subprocess.Popen([*exe, "worker"])  # noqa: S603
        web = subprocess.Popen([*exe, "serve", "--bind", host])  # noqa: S603
        try:
            while not stop.wait(0.5):
                for proc, name in ((web, "web server"), (worker, "worker")):
                    code = proc.poll()
                    if code is not None:
                        self.stderr.write(f"the {name} exited with status {code}; stopping")
                        stop.set()
        finally:
            for proc in (web, worker):
                if proc.poll() is None:
                    proc.terminate()
            for proc in (web, worker):
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
            self.stdout.write("Stopped.")

    def _demo_admin(self) -> str:
        """The trial admin: created once with a random password kept in the data directory."""
        secret_file = Path(settings.DATA_DIR) / "demo-admin-password.txt"
        if secret_file.exists() and User.objects.filter(email=DEMO_ADMIN).exists():
            return secret_file.read_text().strip()
        password = secrets.token_urlsafe(12)
        user = User.objects.filter(email=DEMO_ADMIN).first()
        if user is None:
            user = agent_create(
                email=DEMO_ADMIN,
                name="Demo Admin",
                role=Role.ADMIN,
                password=password,
                departments=list(Department.objects.all()),
            )
        else:
            agent_set_password(user=user, password=password)
        secret_file.parent.mkdir(parents=True, exist_ok=True)
        secret_file.write_text(password + "\n")
        secret_file.chmod(0o600)
        return password

    def _demo_token(self) -> str:
        user = User.objects.get(email=DEMO_ADMIN)
        now = clock.now()
        ApiToken.objects.filter(user=user, name=DEMO_TOKEN_NAME, revoked_at__isnull=True).update(
            revoked_at=now
        )
        return token_create(user=user, name=DEMO_TOKEN_NAME, now=now)[1]

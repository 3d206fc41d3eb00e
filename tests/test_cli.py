"""The `sportello` command: admin creation, tokens, and `run` serving web + worker."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sportello.accounts.models import Role, User
from sportello.accounts.services import token_authenticate
from testing import NOW


def test_createadmin_non_interactive_creates_an_admin_who_can_log_in(db: Any) -> None:
    out = io.StringIO()
    call_command("createadmin", email="Boss@Desk.test", password="a-long-passphrase-42", stdout=out)
    user = User.objects.get(email="boss@desk.test")
    assert user.role == Role.ADMIN
    assert user.check_password("a-long-passphrase-42")
    assert "created" in out.getvalue()


def test_createadmin_refuses_a_weak_password_and_creates_nothing(db: Any) -> None:
    with pytest.raises(CommandError, match=r"too short|too common"):
        call_command("createadmin", email="boss@desk.test", password="abc")
    assert not User.objects.filter(email="boss@desk.test").exists()


def test_token_prints_a_working_secret_for_the_agent(desk: Any) -> None:
    out = io.StringIO()
    call_command("token", "BRUNO@desk.test", stdout=out)
    secret = out.getvalue().strip()
    assert token_authenticate(secret=secret, now=NOW) == desk.agent


def test_token_for_an_unknown_agent_is_a_clear_error(db: Any) -> None:
    with pytest.raises(CommandError, match="no active agent"):
        call_command("token", "nobody@desk.test")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.skipif(sys.platform != "linux", reason="process management is tested on Linux")
def test_run_migrates_serves_the_api_and_a_worker_then_stops_on_sigint(tmp_path: Path) -> None:
    # given a new data directory and no database yet
    port = _free_port()
    env = {**os.environ, "SPORTELLO_DATA_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}/run.sqlite3",
           "WEB_CONCURRENCY": "1"}  # fmt: skip
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "sportello.cli", "run", "--no-demo", "--bind", f"127.0.0.1:{port}"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        # when it has started, the API answers and the banner shows how to log in (migrating a
        # new database and starting gunicorn take a few seconds, minutes on a loaded CI machine)
        deadline = time.monotonic() + 180
        status = None
        while time.monotonic() < deadline and status is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=2) as r:
                    status = r.status
            except OSError:
                if proc.poll() is not None:
                    break
                time.sleep(0.3)
        assert status == 200
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
    assert "log in as admin@sportello.localhost" in output
    assert "Token:    spt_" in output
    assert proc.returncode == 0
    assert (tmp_path / "run.sqlite3").exists()

"""A real Sportello for tests: `sportello serve` (gunicorn, several processes and threads) on a
free port of 127.0.0.1, over a fresh database of its own, seeded through the real commands and
services, and helpers that fire real concurrent HTTP requests at it.

The database: on SQLite a migrated file in a temporary directory; on PostgreSQL (when the test
run has a `postgres://` `DATABASE_URL`) a database named after that one plus `_live_` and the
xdist worker id, created here, migrated, and dropped when the server stops.

Used through the `live` fixture (`conftest.py`); see `README.md`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict
from urllib.parse import urlsplit, urlunsplit

import httpx

START_TIMEOUT = 60.0  # seconds for the server to answer after it was started
STOP_TIMEOUT = 15.0  # seconds for a graceful stop before the processes are killed
COMMAND_TIMEOUT = 240.0  # migrating and seeding
REQUEST_TIMEOUT = 120.0  # one request, queued behind a race's others


@dataclass(frozen=True, slots=True)
class Reply:
    """What the server answered: the status code and the body (JSON when it is JSON)."""

    status: int
    body: Any

    def __repr__(self) -> str:
        return f"Reply({self.status}, {str(self.body)[:300]!r})"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Server(TypedDict):
    """Where the PostgreSQL server is (psycopg.connect's keyword arguments)."""

    host: str
    port: int
    user: str
    password: str
    dbname: str


class Database:
    """The live server's own database: its URL, created (and migrated by the caller) before the
    server starts and dropped after it stopped."""

    def __init__(self, workdir: Path) -> None:
        base = os.environ.get("DATABASE_URL", "").strip()
        self.postgres = base.split(":", 1)[0].lower() in ("postgres", "postgresql", "pgsql")
        if not self.postgres:
            self.url = f"sqlite:///{workdir / 'live.sqlite3'}"
            self.name = str(workdir / "live.sqlite3")
            return
        parts = urlsplit(base)
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        self.name = f"{parts.path.lstrip('/') or 'sportello'}_live_{worker}"[:63]
        self.url = urlunsplit(parts._replace(path=f"/{self.name}"))
        self._server: _Server = {
            "host": parts.hostname or "127.0.0.1",
            "port": parts.port or 5432,
            "user": parts.username or "postgres",
            "password": parts.password or "",
            "dbname": "postgres",
        }

    def _admin(self, statement: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(**self._server, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL(statement).format(sql.Identifier(self.name)))

    def create(self) -> None:
        if self.postgres:
            self._admin("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            self._admin("CREATE DATABASE {}")

    def drop(self) -> None:
        if self.postgres:
            self._admin("DROP DATABASE IF EXISTS {} WITH (FORCE)")


class LiveServer:
    """The processes (web server, optional worker) and their logs."""

    def __init__(self, workdir: Path, *, workers: int = 2, threads: int = 8) -> None:
        self.workdir = workdir
        self.database = Database(workdir)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.workers, self.threads = workers, threads
        self.env = {
            **os.environ,
            "DATABASE_URL": self.database.url,
            "SPORTELLO_DATA_DIR": str(workdir / "data"),
            "SPORTELLO_ENV": "development",
            "DEBUG": "0",
            "DJANGO_SETTINGS_MODULE": "sportello.settings",
            "PYTHONUNBUFFERED": "1",
            # gunicorn's control socket defaults to one path per user: servers running side by
            # side (tests in parallel) would share it.
            "GUNICORN_CMD_ARGS": "--no-control-socket",
        }
        self.log_path = workdir / "server.log"
        self.processes: list[subprocess.Popen[bytes]] = []
        self.seed: dict[str, Any] = {}

    # -- lifecycle ------------------------------------------------------------------------------

    def _command(self, *args: str) -> str:
        done = subprocess.run(  # noqa: S603
            [sys.executable, *args], env=self.env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT,
            check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def _spawn(self, *args: str) -> subprocess.Popen[bytes]:
        log = self.log_path.open("ab")
        proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "sportello.cli", *args],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()
        self.processes.append(proc)
        return proc

    def start(self) -> None:
        self.database.create()
        self.seed = json.loads(
            self._command(str(Path(__file__).with_name("seed.py"))).strip().splitlines()[-1]
        )
        web = self._spawn(
            "serve", "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers),
            "--threads", str(self.threads),
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                if httpx.get(f"{self.base_url}/api/v1/openapi.json", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if web.poll() is not None:
                raise RuntimeError(f"the server exited ({web.returncode}):\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the server did not answer within {START_TIMEOUT:.0f}s:\n{self.log_tail()}"
                )
            time.sleep(0.2)

    def manage(self, *args: str) -> str:
        """Run `sportello <args>` against the server's database; its standard output."""
        return self._command("-m", "sportello.cli", *args)

    def start_worker(self) -> subprocess.Popen[bytes]:
        """A `sportello worker` over the same database, stopped with the server."""
        return self._spawn("worker", "--interval", "0.2")

    def stop(self) -> None:
        for proc in reversed(self.processes):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.processes):
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # the process group this harness started
                proc.wait(timeout=5)
        self.processes.clear()
        self.database.drop()

    def log_tail(self, chars: int = 20_000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""


class LiveDesk:
    """What a test sees: the base URL, the seeded ids, a token per role, and HTTP helpers.

    `as_` names whose token a request carries: "admin", "agent", "agent2", "light" (the
    seeded people; see `seed.py`), or None for no token."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.base_url = server.base_url
        self.api = f"{server.base_url}/api/v1"
        seed = server.seed
        self.tokens: dict[str, str] = seed["tokens"]
        self.departments: dict[str, int] = seed["departments"]
        self.people: dict[str, int] = seed["people"]
        self.customer: dict[str, Any] = seed["customer"]
        self.mailbox: str = seed["mailbox"]

    def request(
        self,
        method: str,
        path: str,
        *,
        as_: str | None = "agent",
        json: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Reply:
        sent = dict(headers or {})
        if as_ is not None:
            sent["Authorization"] = f"Bearer {self.tokens[as_]}"
        r = httpx.request(
            method, f"{self.api}{path}", json=json, content=content, headers=sent, params=params,
            timeout=REQUEST_TIMEOUT,
        )  # fmt: skip
        try:
            body = r.json()
        except ValueError:
            body = r.text
        return Reply(r.status_code, body)

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request("GET", path, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> Reply:
        return self.request("POST", path, json=json, **kw)

    def patch(self, path: str, json: Any = None, **kw: Any) -> Reply:
        return self.request("PATCH", path, json=json, **kw)

    def put(self, path: str, json: Any = None, **kw: Any) -> Reply:
        return self.request("PUT", path, json=json, **kw)

    def race(self, n: int, fn: Callable[[int], Reply]) -> list[Reply]:
        """`fn(0)` … `fn(n - 1)` at once, each in its own thread, released together by a barrier;
        their replies in the order of `i`."""
        barrier = threading.Barrier(n)

        def run(i: int) -> Reply:
            barrier.wait(timeout=60)
            return fn(i)

        with ThreadPoolExecutor(max_workers=n) as pool:
            return list(pool.map(run, range(n)))

    def start_worker(self) -> None:
        self.server.start_worker()

    # -- common steps ---------------------------------------------------------------------------

    def contact(self, email: str) -> Any:
        """A new customer (mail ingestion limits how often one sender writes: a test that sends
        many messages writes as a customer of its own)."""
        r = self.post("/contacts", {"email": email, "name": email.split("@")[0]}, as_="admin")
        assert r.status == 201, r
        return r.body

    def open_ticket(
        self,
        *,
        department: str = "support",
        subject: str = "Race",
        as_: str = "agent",
        requester_id: int | None = None,
    ) -> Any:
        r = self.post(
            "/tickets",
            {
                "subject": subject,
                "description": "The first message.",
                "department_id": self.departments[department],
                "requester_id": requester_id or self.customer["id"],
            },
            as_=as_,
        )
        assert r.status == 201, r
        return r.body

    def messages(self, ticket_id: int) -> list[Any]:
        """Every message of the ticket, oldest first (all pages)."""
        out: list[Any] = []
        cursor = None
        while True:
            params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            r = self.get(f"/tickets/{ticket_id}/messages", as_="admin", params=params)
            assert r.status == 200, r
            out += r.body["items"]
            cursor = r.body.get("next_cursor")
            if not cursor:
                return out

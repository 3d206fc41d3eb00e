"""Shared by the benchmarks: a real server on 127.0.0.1 against a PostgreSQL database, tokens,
percentiles."""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
SPORTELLO = str(ROOT / ".venv" / "bin" / "sportello")
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/sportello_bench"
# One secret per benchmark run: a session made in the database is valid for the server it starts.
SECRET_KEY = secrets.token_urlsafe(48)


def server_env(database_url: str) -> dict[str, str]:
    """Production settings (DEBUG off, no query log), plain HTTP on the loopback."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "SPORTELLO_ENV": "production",
        "SECRET_KEY": SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "SPORTELLO_DATA_DIR": str(ROOT / "var" / "bench"),
        "LOG_LEVEL": "ERROR",
        # One token drives every request: a limit it never reaches, so the count is still paid.
        "SPORTELLO_API_RATE_LIMIT": str(10**9),
    }


def ensure_database(url: str, *, fresh: bool = False) -> None:
    """Create the benchmark's database if it is missing (`fresh`: drop it first)."""
    name = url.rsplit("/", 1)[1].split("?")[0]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if fresh:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(database_url: str, *, workers: int, threads: int = 1) -> Iterator[str]:
    """`sportello serve` (gunicorn) on a free loopback port; yields its base URL."""
    port = free_port()
    env = server_env(database_url)
    subprocess.run([SPORTELLO, "migrate", "-v0"], env=env, check=True)
    proc = subprocess.Popen(
        [
            SPORTELLO,
            "serve",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
        ],
        env=env,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/api/v1/openapi.json", timeout=2)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.3)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@dataclass(frozen=True, slots=True)
class DeskTarget:
    """Whom the read benchmarks act as: the department with the most unresolved tickets and its
    first active agent (by id), so the agent's permission scope (a join through their
    departments) is part of every request."""

    total: int  # tickets in the database
    department: int
    unresolved: int  # the department's unresolved tickets
    agent_id: int
    agent_email: str


def desk_target(conn: psycopg.Connection[Any]) -> DeskTarget:
    total = conn.execute("SELECT count(*) FROM tickets_ticket").fetchone()[0]  # type: ignore[index]
    dept, unresolved = conn.execute(
        "SELECT department_id, count(*) FROM tickets_ticket "
        "WHERE status_category IN ('new','open','pending','on_hold') "
        "GROUP BY department_id ORDER BY count(*) DESC, department_id LIMIT 1"
    ).fetchone()  # type: ignore[misc]
    agent_id, email = conn.execute(
        "SELECT u.id, u.email FROM accounts_user u JOIN accounts_user_departments d ON d.user_id = u.id "
        "WHERE d.department_id = %s AND u.role = 'agent' AND u.is_active ORDER BY u.id LIMIT 1",
        [dept],
    ).fetchone()  # type: ignore[misc]
    return DeskTarget(total, dept, unresolved, agent_id, email)


def token_for(database_url: str, email: str) -> str:
    out = subprocess.run(
        [SPORTELLO, "token", email, "--name", "bench"],
        env={**os.environ, "DATABASE_URL": database_url},
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def summary_ms(samples: list[float]) -> str:
    s = sorted(samples)
    return (
        f"n={len(s)} p50={percentile(s, 50) * 1000:.1f}ms p95={percentile(s, 95) * 1000:.1f}ms "
        f"p99={percentile(s, 99) * 1000:.1f}ms max={s[-1] * 1000:.1f}ms"
    )


def measure(
    client: httpx.Client, paths: list[str], n: int, headers: dict[str, str] | None = None
) -> list[float]:
    """Seconds per GET, sequential, after up to 10 warm-up requests; any non-200 stops the run."""
    for p in paths[:10]:
        client.get(p, headers=headers).raise_for_status()
    samples = []
    for i in range(n):
        path = paths[i % len(paths)]
        t = time.perf_counter()
        r = client.get(path, headers=headers)
        samples.append(time.perf_counter() - t)
        if r.status_code != 200:
            raise SystemExit(f"{path}: {r.status_code} {r.text[:300]}")
    return samples


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Statements per operation, as Django's CaptureQueriesContext records them

TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT")


def sqlite_url(name: str) -> str:
    """A benchmark's SQLite database: a file under var/bench (`sqlite:///` + absolute path)."""
    path = ROOT / "var" / "bench" / f"{name}.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def remove_sqlite(url: str) -> None:
    """Delete a benchmark's SQLite file (and its WAL and shared-memory files): a fresh database."""
    path = Path(url.removeprefix("sqlite:///"))
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def statement_summary(sql: str) -> str:
    """One statement on one line: the column list of a SELECT and the values of an INSERT left
    out, joins without their ON clauses, columns without their table, the rest (tables,
    conditions) kept, cut at 160 characters."""
    text = " ".join(sql.replace('"', "").split())
    # Outside the string literals (the even parts): joins without ON, columns without table.
    parts = re.split(r"('(?:[^']|'')*')", text)
    for i in range(0, len(parts), 2):
        part = re.sub(r"\b((?:LEFT OUTER |INNER )?JOIN \S+) ON \([^()]*\)", r"\1", parts[i])
        parts[i] = re.sub(r"\b[a-z_][a-z0-9_]*\.(?=[a-z_])", "", part)
    text = "".join(parts)
    upper = text.upper()
    if upper.startswith("SELECT "):
        depth, i = 0, 7
        while i < len(text):  # the FROM of this SELECT, not of a subquery in its columns
            c = text[i]
            depth += (c == "(") - (c == ")")
            if depth == 0 and upper.startswith(" FROM ", i):
                text = "SELECT … " + text[i + 1 :]
                break
            i += 1
    elif upper.startswith("INSERT INTO "):
        head = text.split(" (", 1)[0]
        rows = upper.count("), (") + 1
        tail = " RETURNING …" if " RETURNING " in upper else ""
        if "UNNEST(" in upper:  # PostgreSQL's bulk insert: one array per column
            text = f"{head} (bulk, UNNEST){tail}"
        else:
            text = f"{head} ({rows} row{'s' if rows > 1 else ''}){tail}"
    return text if len(text) <= 160 else text[:159] + "…"


def statements(queries: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """The statements of one operation, and apart from them its transaction control (BEGIN,
    SAVEPOINT, RELEASE SAVEPOINT, …), which the counts leave out."""
    work: list[str] = []
    control: list[str] = []
    for q in queries:
        sql = q["sql"].strip()
        (control if sql.upper().startswith(TRANSACTION_CONTROL) else work).append(sql)
    return work, control


def print_statements(what: str, queries: list[dict[str, Any]], *, vendor: str) -> int:
    """`statements per <what>: N` on one line, then each statement summarised, in order."""
    work, control = statements(queries)
    extra = f" (+{len(control)} transaction control: {', '.join(sorted({c.split()[0] for c in control}))})"
    print(f"statements per {what} ({vendor}): {len(work)}" + (extra if control else ""), flush=True)
    for n, sql in enumerate(work, 1):
        print(f"  {n:>2}. {statement_summary(sql)}", flush=True)
    return len(work)


def session_for(agent_id: int) -> tuple[str, str]:
    """A signed-in session for the agent, made as `django.contrib.auth.login` makes it."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from sportello.accounts.models import User

    user = User.objects.get(pk=agent_id)
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return settings.SESSION_COOKIE_NAME, str(store.session_key)

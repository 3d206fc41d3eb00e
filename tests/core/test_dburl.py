"""DATABASE_URL's SQLite settings: writers queue for the one write lock instead of failing."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from sportello.core.dburl import SQLITE_BUSY_TIMEOUT_SECONDS, parse_database_url


def _connect(options: dict[str, Any], path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=options["timeout"], isolation_level=None, check_same_thread=False)
    conn.executescript(options["init_command"])
    return conn


def test_a_sqlite_connection_waits_thirty_seconds_for_the_write_lock(tmp_path: Path) -> None:
    # given the settings DATABASE_URL gives a SQLite file
    config = parse_database_url(f"sqlite:///{tmp_path}/x.sqlite3", default_sqlite_path=tmp_path / "d")
    conn = _connect(config["OPTIONS"], config["NAME"])
    # then its busy timeout is the one value, not shortened by an init PRAGMA
    assert SQLITE_BUSY_TIMEOUT_SECONDS == 30
    assert conn.execute("PRAGMA busy_timeout").fetchone() == (30_000,)
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def test_a_writer_waits_for_another_writers_commit_instead_of_failing(tmp_path: Path) -> None:
    # given a writer holding the write lock for a moment
    config = parse_database_url(f"sqlite:///{tmp_path}/x.sqlite3", default_sqlite_path=tmp_path / "d")
    first, second = (_connect(config["OPTIONS"], config["NAME"]) for _ in range(2))
    first.execute("CREATE TABLE t (n INTEGER)")
    first.execute("BEGIN IMMEDIATE")
    first.execute("INSERT INTO t VALUES (1)")
    releaser = threading.Timer(0.5, lambda: first.execute("COMMIT"))
    releaser.start()
    # when another writer begins meanwhile
    started = time.monotonic()
    second.execute("BEGIN IMMEDIATE")
    second.execute("INSERT INTO t VALUES (2)")
    second.execute("COMMIT")
    releaser.join()
    # then it waited for the commit and wrote after it
    assert time.monotonic() - started >= 0.4
    assert second.execute("SELECT n FROM t ORDER BY rowid").fetchall() == [(1,), (2,)]


@pytest.mark.django_db
def test_the_apps_sqlite_connection_has_that_busy_timeout() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's lock wait")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        assert cursor.fetchone() == (SQLITE_BUSY_TIMEOUT_SECONDS * 1000,)

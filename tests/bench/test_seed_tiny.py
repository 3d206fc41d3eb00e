"""The bench seeder (bench/seed.py) still runs end to end: 300 tickets in chunks of 100, one job,
into a PostgreSQL database of the test's own (created and dropped here), and leaves rows as the
pipeline writes them. PostgreSQL only, as the seeder: runs when DATABASE_URL names a PostgreSQL
server on this machine (the suite's PostgreSQL run), skipped otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
TICKETS = 300
# What the seeder's generator (seeded: `--seed 1`) writes for 300 tickets on the demo desk's
# set-up; a change to the generator changes these.
MESSAGES = 1_209
EVENTS = 2_370
TAGS = 848


def _server_url() -> str:
    """The suite's PostgreSQL server (its `postgres` database), or a skip saying why not."""
    url = os.environ.get("DATABASE_URL", "")
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        pytest.skip("the seeder loads PostgreSQL only: runs when DATABASE_URL is postgres://…@127.0.0.1")
    if parts.hostname not in ("127.0.0.1", "localhost"):
        pytest.skip(
            f"DATABASE_URL's server is {parts.hostname}, not this machine: the test creates a database"
        )
    return urlunsplit(parts._replace(path="/postgres", query=""))


@pytest.fixture
def tiny_database() -> Iterator[str]:
    """A new, empty database on the suite's PostgreSQL server; dropped afterwards."""
    import psycopg

    server = _server_url()
    name = f"sportello_seed_tiny_{os.getpid()}"
    try:
        admin = psycopg.connect(server, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.skip(f"no PostgreSQL at {urlsplit(server).netloc}: {error}")
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _one(conn: Any, sql: str) -> Any:
    return conn.execute(sql).fetchone()[0]


def test_the_seeder_loads_a_tiny_desk_as_the_pipeline_would_have_written_it(tiny_database: str) -> None:
    import psycopg

    # When the seeder grows an empty database to 300 tickets, 100 per transaction, in one job
    run = subprocess.run(  # noqa: S603 - our own script, our arguments
        [sys.executable, str(ROOT / "bench" / "seed.py"), "--database-url", tiny_database,
         "--tickets", str(TICKETS), "--chunk", "100", "--jobs", "1"],
        env={**os.environ, "DATABASE_URL": tiny_database}, cwd=ROOT, capture_output=True, text=True,
        timeout=180,  # about 25 s on a quiet machine (migrations most of it), 50 s at load 10
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert "done in" in run.stdout

    with psycopg.connect(tiny_database) as conn:
        # Then the counts are the generator's, and the ticket numbers came from the sequence row
        assert _one(conn, "SELECT count(*) FROM tickets_ticket") == TICKETS
        assert _one(conn, "SELECT count(*) FROM tickets_message") == MESSAGES
        assert _one(conn, "SELECT count(*) FROM tickets_ticketevent") == EVENTS
        assert _one(conn, "SELECT count(*) FROM tickets_tickettag") == TAGS
        numbers = conn.execute("SELECT min(number), max(number), count(DISTINCT number) FROM tickets_ticket")
        assert numbers.fetchone() == (1, TICKETS, TICKETS)
        assert _one(conn, "SELECT value FROM core_sequence WHERE name = 'ticket'") == TICKETS

        # Each ticket's counters are its messages, as the pipeline keeps them
        assert _one(conn, """
            SELECT count(*) FROM tickets_ticket t WHERE message_count < 1
            OR message_count <> (SELECT count(*) FROM tickets_message m WHERE m.ticket_id = t.id)
            OR customer_message_count <> (SELECT count(*) FROM tickets_message m
                                          WHERE m.ticket_id = t.id AND m.author_kind = 'contact')
            OR agent_reply_count <> (SELECT count(*) FROM tickets_message m
                                     WHERE m.ticket_id = t.id AND m.author_kind = 'agent' AND m.public)
        """) == 0  # fmt: skip
        # Status categories follow the status rows
        assert _one(conn, """
            SELECT count(*) FROM tickets_ticket t JOIN tickets_status s ON s.id = t.status_id
            WHERE s.category <> t.status_category
        """) == 0  # fmt: skip

        # The audit trail: one `created` event per ticket, carrying its first message; each later
        # message's change has its `message` event
        assert _one(conn, "SELECT count(*) FROM tickets_ticketevent WHERE kind = 'created'") == TICKETS
        assert (
            _one(conn, "SELECT count(DISTINCT ticket_id) FROM tickets_ticketevent WHERE kind = 'created'")
            == TICKETS
        )
        later = MESSAGES - TICKETS
        assert _one(conn, "SELECT count(*) FROM tickets_ticketevent WHERE kind = 'message'") == later
        assert _one(conn, """
            SELECT count(*) FROM tickets_message m WHERE NOT EXISTS (
                SELECT 1 FROM tickets_ticketevent e
                WHERE e.ticket_id = m.ticket_id AND e.change_id = m.change_id
                  AND (e.kind = 'message' AND (e.new_value ->> 'message_id')::bigint = m.id
                       OR e.kind = 'created' AND (e.new_value -> 'message' ->> 'message_id')::bigint = m.id))
        """) == 0  # fmt: skip

        # Messages as the pipeline writes them: the quoted text split off (never NULL), a subject
        assert (
            _one(conn, "SELECT count(*) FROM tickets_message WHERE quoted_text IS NULL OR subject IS NULL")
            == 0
        )

        # Every ticket has its search document, both vectors computed
        assert _one(conn, """
            SELECT count(*) FROM tickets_ticket t LEFT JOIN tickets_search_document d ON d.ticket_id = t.id
            WHERE d.ticket_id IS NULL OR d.doc_public IS NULL OR d.doc_all IS NULL
        """) == 0  # fmt: skip

        # And its SLA clocks and anchors
        assert _one(conn, "SELECT count(*) FROM sla_ticketsla") == TICKETS
        assert _one(conn, "SELECT count(*) FROM tickets_ticket WHERE last_activity_at IS NULL") == 0

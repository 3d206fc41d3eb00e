"""The bench seeder (bench/seed.py) still runs end to end: 300 tickets in chunks of 100, one job,
into a PostgreSQL database of the test's own (created and dropped here), and leaves rows as the
pipeline writes them; run again, it writes the replies' e-mails that are missing, then finds
nothing to do. PostgreSQL only, as the seeder: runs when DATABASE_URL names a PostgreSQL server
on this machine (the suite's PostgreSQL run), skipped otherwise."""

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
REPLIES = 544  # public, by agents: one e-mail each
# The payload of a reply's e-mail (`notifications.extension.ReplyMail`); `html`: a reply without
# its own HTML. tests/bench/test_seed_history.py compares whole rows with the pipeline's.
PAYLOAD_KEYS = ["automatic", "body", "contact_id", "html", "language", "message_id", "subject", "to",
                "ticket_number"]  # fmt: skip
# The Italian template of the replies' e-mails, set before the seed: it shows the status of the
# ticket at each reply, which the e-mails written afterwards (the fill) must give the same.
ITALIAN = "{{ message.body }}\n\n-- {{ agent.name }}, {{ department.name }} [{{ ticket.status }}]\n"


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


def _seed(url: str, tickets: int) -> subprocess.CompletedProcess[str]:
    """The seeder grows the database to `tickets`, 100 per transaction, in one job."""
    run = subprocess.run(  # noqa: S603 - our own script, our arguments
        [sys.executable, str(ROOT / "bench" / "seed.py"), "--database-url", url,
         "--tickets", str(tickets), "--chunk", "100", "--jobs", "1"],
        env={**os.environ, "DATABASE_URL": url}, cwd=ROOT, capture_output=True, text=True,
        timeout=180,  # about 25 s on a quiet machine (migrations most of it), 50 s at load 10
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    return run


# A reply's e-mail as the seeder writes it, its columns but the id and delivery id
MAIL = """
    SELECT o.dedupe_key, o.kind, o.destination, o.ticket_id, o.change_id, o.payload, o.status, o.attempts,
           o.next_attempt_at, o.lease_until, o.lease_owner, o.window_start, o.parked_at, o.last_error,
           o.created_at, o.sent_at
    FROM channels_outboxmessage o ORDER BY o.dedupe_key
"""


def test_the_seeder_loads_a_tiny_desk_as_the_pipeline_would_have_written_it(tiny_database: str) -> None:
    import psycopg

    # Given the demo desk's set-up (a seed of no ticket), with an Italian template of its own for
    # the e-mails of agents' replies
    assert "nothing to add or fill in" in _seed(tiny_database, 0).stderr
    with psycopg.connect(tiny_database) as conn:
        conn.execute(
            "INSERT INTO notifications_notificationtemplate (key, language, subject, body_text, body_html, "
            "active, version, updated_at) VALUES ('agent_reply', 'it', 'Re: {{ ticket.subject }}', %s, '', "
            "true, 1, now())",
            [ITALIAN],
        )

    # When the seeder grows it to 300 tickets, 100 per transaction, in one job
    run = _seed(tiny_database, TICKETS)
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

        # Each agent's public reply has its e-mail in the outbox, written with the reply and sent:
        # the pipeline's dedupe key, the reply's ticket, change and instant, the reply's id in the
        # payload as the ticket page looks it up (the index `outbox_email_reply`)
        assert (
            _one(conn, "SELECT count(*) FROM tickets_message WHERE author_kind = 'agent' AND public")
            == REPLIES
        )
        assert _one(conn, "SELECT count(*) FROM channels_outboxmessage") == REPLIES
        assert _one(conn, """
            SELECT count(*) FROM tickets_message m
            JOIN tickets_ticket t ON t.id = m.ticket_id JOIN contacts_contact c ON c.id = t.requester_id
            JOIN channels_outboxmessage o ON ((o.payload ->> 'message_id'))::integer = m.id
            WHERE m.author_kind = 'agent' AND m.public AND o.kind = 'email' AND o.destination = ''
              AND o.dedupe_key = 'reply:' || m.id AND o.ticket_id = m.ticket_id AND o.change_id = m.change_id
              AND o.created_at = m.created_at AND o.next_attempt_at = m.created_at
              AND o.status = 'sent' AND o.attempts = 1 AND o.sent_at > o.created_at
              AND o.sent_at <= o.created_at + interval '1 minute'
              AND o.lease_until IS NULL AND o.lease_owner = '' AND o.window_start IS NULL
              AND o.parked_at IS NULL AND o.last_error = ''
              AND o.payload -> 'to' = jsonb_build_array(c.email)
              AND (o.payload ->> 'contact_id')::bigint = c.id
              AND (o.payload ->> 'ticket_number')::bigint = t.number
              AND starts_with(o.payload ->> 'body', m.body_text)
              AND o.payload ->> 'language' = CASE WHEN c.language IN ('en', 'es', 'it') THEN c.language
                                                  ELSE 'en' END
        """) == REPLIES  # fmt: skip
        keys = conn.execute(
            "SELECT DISTINCT ARRAY(SELECT jsonb_object_keys(payload)) FROM channels_outboxmessage"
        )
        assert [sorted(k) for (k,) in keys] == [sorted(PAYLOAD_KEYS)]
        # rendered with the template in force in each requester's language
        italian = conn.execute(
            "SELECT payload ->> 'subject', payload ->> 'body' FROM channels_outboxmessage "
            "WHERE payload ->> 'language' = 'it' ORDER BY id"
        ).fetchall()
        assert italian
        assert all(subject.startswith("Re: ") and body.endswith("]\n") for subject, body in italian)
        # the ticket's status at each reply: open, or what the reply set ("Send and set Pending")
        statuses = {body.rsplit("[", 1)[1].removesuffix("]\n") for _, body in italian}
        assert "open" in statuses
        assert statuses & {"pending", "on_hold"}
        assert statuses <= {"open", "pending", "on_hold"}
        seeded = conn.execute(MAIL).fetchall()

        # Given a database that lacks two thirds of those e-mails (as one seeded by an earlier version)
        missing = conn.execute("DELETE FROM channels_outboxmessage WHERE id % 3 <> 0").rowcount

    # When the seeder runs again with the same number of tickets
    run = _seed(tiny_database, TICKETS)
    # Then it writes the missing e-mails, as it wrote them with the tickets
    assert f"writing the e-mails of {missing:,} agent replies" in run.stderr
    with psycopg.connect(tiny_database) as conn:
        assert conn.execute(MAIL).fetchall() == seeded

    # And run once more, it finds nothing to do
    assert "nothing to add or fill in" in _seed(tiny_database, TICKETS).stderr

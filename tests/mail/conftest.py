"""Fixtures of the mail tests: the offline real-world corpora (downloaded once per machine) and
the real servers on loopback (IMAP: pymap; SMTP: aiosmtpd). Received mail is kept in the suite's
`attachment_store` (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from corpora import Corpora, load_corpora
from imap_server import ImapServer
from smtp_sink import Sink, mailers_for, running_sink


@pytest.fixture(scope="module")
def server() -> Iterator[ImapServer]:
    """A real IMAP server on 127.0.0.1, one per test module (tests use folders of their own)."""
    s = ImapServer().start()
    yield s
    s.stop()


@pytest.fixture
def sink(settings: Any) -> Iterator[Sink]:
    """A real SMTP server on 127.0.0.1, with Django's default mailer pointed at it."""
    with running_sink() as s:
        settings.MAILERS = mailers_for(s.port)
        yield s


@pytest.fixture(scope="session")
def corpora() -> Corpora:
    """The extracted corpora; families that could not be downloaded are listed as missing and
    the tests needing them skip."""
    return load_corpora()

"""Fixtures of the intake tests: a real IMAP server on loopback (pymap), one per test module.
The SMTP sink and the offline corpora are fixtures of tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from imap_server import ImapServer


@pytest.fixture(scope="module")
def server() -> Iterator[ImapServer]:
    """A real IMAP server on 127.0.0.1, one per test module (tests use folders of their own)."""
    s = ImapServer().start()
    yield s
    s.stop()

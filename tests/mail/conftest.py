"""Fixtures of the mail tests: the offline real-world corpora (downloaded once per machine)."""

from __future__ import annotations

import pytest
from corpora import Corpora, load_corpora


@pytest.fixture(scope="session")
def corpora() -> Corpora:
    """The extracted corpora; families that could not be downloaded are listed as missing and
    the tests needing them skip."""
    return load_corpora()

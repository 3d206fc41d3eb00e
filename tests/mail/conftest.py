"""Fixtures of the mail tests: the offline real-world corpora (downloaded once per machine),
and where received mail is kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from corpora import Corpora, load_corpora


@pytest.fixture
def mail_files(settings: Any, tmp_path: Path) -> Path:
    """Raw mail and attachments stored under the test's own directory."""
    root = tmp_path / "files"
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root), "base_url": None},
        },
    }
    return root


@pytest.fixture(scope="session")
def corpora() -> Corpora:
    """The extracted corpora; families that could not be downloaded are listed as missing and
    the tests needing them skip."""
    return load_corpora()

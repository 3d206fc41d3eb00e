"""Full-text search (filled in below)."""

from __future__ import annotations

from typing import Any


def ticket_reindex(*, ticket: Any, new_message: Any, created: bool) -> None:
    return None

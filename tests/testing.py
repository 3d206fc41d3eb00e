"""Constants and helpers the tests import by name (fixtures live in conftest.py files)."""

from __future__ import annotations

from datetime import UTC, datetime

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)

# The roles every API operation is checked against.
ROLES = ("admin", "agent", "light", "outsider", "anonymous", "revoked")


def expect(**statuses: int) -> list[tuple[str, int]]:
    """`expect(admin=200, …)` as (role, status) pairs in ROLES order, for parametrize."""
    return [(role, statuses[role]) for role in ROLES]

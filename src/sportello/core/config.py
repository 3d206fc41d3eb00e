"""Signatures of what admins configure, read in one statement per change.

Apps that cache parsed configuration per process (event and time rules, SLA policies) register
the table of their head rows here (`register_signature`): each has `id`, `version`, `active` and
`updated_at`, and every write moves one of count, id sum, version sum or latest update of the
active rows. `signatures(memo)` reads all of them at once — one statement per change, however
many kinds of configuration there are — and each cache compares its own against the signature
it was built under.
"""

from __future__ import annotations

from typing import Any

from django.db import connection

_TABLES: dict[str, str] = {}


def register_signature(name: str, table: str) -> None:
    _TABLES[name] = table


_PART = (
    "(SELECT CAST(COUNT(*) AS TEXT) || ':' || CAST(COALESCE(SUM(id), 0) AS TEXT) || ':' || "
    "CAST(COALESCE(SUM(version), 0) AS TEXT) || ':' || COALESCE(CAST(MAX(updated_at) AS TEXT), '') "
    "FROM {table} WHERE active)"
)


def _part(table: str) -> str:
    return _PART.format(table=connection.ops.quote_name(table))  # a model's table, registered by its app


def signatures(memo: dict[str, Any] | None = None) -> dict[str, str]:
    """The signature of each registered configuration, read once per change (kept in `memo`)."""
    found = memo.get("signatures") if memo is not None else None
    if found is None:
        names = sorted(_TABLES)
        with connection.cursor() as cursor:
            cursor.execute("SELECT " + ", ".join(_part(_TABLES[n]) for n in names))
            found = dict(zip(names, cursor.fetchone(), strict=True))
        if memo is not None:
            memo["signatures"] = found
    return found

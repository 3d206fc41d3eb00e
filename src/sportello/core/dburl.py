"""DATABASE_URL parsing: `sqlite:///path` or `postgres://user:pass@host:port/name`."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

# SQLite has one writer at a time: every transaction starts with `BEGIN IMMEDIATE` (it takes the
# write lock first, so a transaction never fails half-way on a lock it cannot upgrade) and a
# writer waits for the lock up to this long before "database is locked". One value, given to the
# driver (`timeout`); no PRAGMA overrides it.
SQLITE_BUSY_TIMEOUT_SECONDS = 30
SQLITE_INIT = "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA foreign_keys=ON;"
# PostgreSQL plans the statements Sportello prepares (`core.compiled`, the configuration's
# signatures: rows looked up by id, whose plan does not depend on the values) once, not at each
# execution. Only prepared statements follow this setting; set in the connection's start-up.
PG_SESSION_OPTIONS = "-c plan_cache_mode=force_generic_plan"


def sqlite_config(path: Path | str) -> dict[str, Any]:
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            "init_command": SQLITE_INIT,
            "transaction_mode": "IMMEDIATE",
            "timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
        },
        "TEST": {"NAME": None},
    }


def parse_database_url(url: str, *, default_sqlite_path: Path) -> dict[str, Any]:
    url = url.strip()
    if not url:
        return sqlite_config(default_sqlite_path)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        # sqlite:///abs/path (also sqlite:////abs/path); sqlite://relative/path; sqlite://:memory:
        raw = unquote(url.split("://", 1)[1].split("?", 1)[0])
        while raw.startswith("//"):
            raw = raw[1:]
        path = raw or str(default_sqlite_path)
        return sqlite_config(path)
    if scheme in {"postgres", "postgresql", "pgsql"}:
        options = dict(parse_qsl(parts.query))
        options["options"] = f"{options.get('options', '')} {PG_SESSION_OPTIONS}".strip()
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")) or "sportello",
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": int(options.pop("conn_max_age", "60")),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    raise ImproperlyConfigured(
        f"DATABASE_URL scheme {scheme!r} is not supported (use sqlite:// or postgres://)"
    )

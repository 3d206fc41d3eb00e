"""The API's rate limit: at most `SPORTELLO["API_RATE_LIMIT"]` requests per bearer token in each
fixed window of `SPORTELLO["API_RATE_WINDOW"]` seconds (0 turns it off).

Requests are counted in the database (`RateWindow`, one upsert per request), so every web
process shares the count. Over the limit the API answers 429 with `Retry-After` (seconds until
the window ends) and the usual JSON error; every counted response says `X-RateLimit-Limit` and
`X-RateLimit-Remaining`. Tokens are counted by their hash, known or not, so guessing tokens is
limited too; requests without a token are not counted (they are refused, or public).
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse

from . import clock
from .http import error_response, is_api
from .models import RateWindow


def _window(now: datetime, seconds: float) -> tuple[datetime, datetime]:
    start = math.floor(now.timestamp() / seconds) * seconds
    begins = datetime.fromtimestamp(start, tz=UTC)
    return begins, begins + timedelta(seconds=seconds)


def rate_count(*, key: str, now: datetime, window: float) -> tuple[int, datetime]:
    """Count one request under `key` in the window holding `now`: the window's count so far
    (this request included) and when the window ends. One statement; the first request of a
    window also drops the key's older windows."""
    begins, ends = _window(now, window)
    q = connection.ops.quote_name
    table, k, start, n = q(RateWindow._meta.db_table), q("key"), q("window_start"), q("count")
    values = "VALUES (%s, %s, 1)"
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        # A count of its own transaction (the request's work commits apart): it need not wait
        # for its write-ahead log to reach the disk (half the statement's time). A crash can
        # lose the last fraction of a second's counts, which only lets a few requests more in.
        values = "SELECT %s, %s, 1 FROM (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({k}, {start}, {n}) {values} "
            f"ON CONFLICT ({k}, {start}) DO UPDATE SET {n} = {table}.{n} + 1 RETURNING {n}",
            [key, connection.ops.adapt_datetimefield_value(begins)],
        )
        count = int(cursor.fetchone()[0])
    if count == 1:
        RateWindow.objects.filter(key=key, window_start__lt=begins).delete()
    return count, ends


def _token_key(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    return "token:" + hashlib.sha256(secret.strip().encode()).hexdigest()


class ApiRateLimitMiddleware:
    """Counts each API request under its bearer token; refuses it with 429 past the limit."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = int(settings.SPORTELLO.get("API_RATE_LIMIT") or 0)
        key = _token_key(request) if limit > 0 and is_api(request) else None
        if key is None:
            return self.get_response(request)
        now = clock.now()
        window = float(settings.SPORTELLO["API_RATE_WINDOW"])
        count, ends = rate_count(key=key, now=now, window=window)
        if count > limit:
            retry = max(1, math.ceil((ends - now).total_seconds()))
            response: HttpResponse = error_response(
                429,
                f"rate limit reached: at most {limit} requests per {window:g} seconds per token; "
                f"retry in {retry} seconds",
                code="rate_limited",
            )
            response["Retry-After"] = str(retry)
        else:
            response = self.get_response(request)
        response["X-RateLimit-Limit"] = str(limit)
        response["X-RateLimit-Remaining"] = str(max(0, limit - count))
        return response

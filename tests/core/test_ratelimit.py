"""The API rate limit per token: counted in the database, 429 with Retry-After and the JSON error
past the limit, other tokens unaffected, a new window starts afresh."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from sportello.core.models import RateWindow
from testing import Clock, hand_clock


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch, settings: Any) -> Clock:
    settings.SPORTELLO = {**settings.SPORTELLO, "API_RATE_LIMIT": 3, "API_RATE_WINDOW": 60.0}
    return hand_clock(monkeypatch, datetime(2026, 11, 2, 9, 30, 15, tzinfo=UTC))  # 15 s into a window


def test_a_token_over_the_limit_gets_429_with_retry_after(desk: Any, api: Any, clock: Clock) -> None:
    client = api(desk.agent)
    responses = [client.get("/tickets") for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert [r["X-RateLimit-Remaining"] for r in responses] == ["2", "1", "0"]
    assert {r["X-RateLimit-Limit"] for r in responses} == {"3"}
    r = client.get("/tickets")
    assert r.status_code == 429
    assert r["Retry-After"] == "45"
    assert r.json() == {
        "error": {
            "code": "rate_limited",
            "message": "rate limit reached: at most 3 requests per 60 seconds per token; retry in 45 seconds",
            "field": None,
        }
    }
    # writes are refused too, and nothing is written
    r = client.post("/tickets", {"subject": "x"})
    assert r.status_code == 429


def test_another_token_is_not_affected(desk: Any, api: Any, clock: Clock) -> None:
    first, second = api(desk.agent), api(desk.agent)
    for _ in range(4):
        first.get("/tickets")
    assert first.get("/tickets").status_code == 429
    assert second.get("/tickets").status_code == 200
    assert api(desk.admin).get("/tickets").status_code == 200


def test_the_next_window_starts_afresh_and_old_windows_are_dropped(desk: Any, api: Any, clock: Clock) -> None:
    client = api(desk.agent)
    for _ in range(4):
        client.get("/tickets")
    clock.at += timedelta(seconds=45)
    r = client.get("/tickets")
    assert (r.status_code, r["X-RateLimit-Remaining"]) == (200, "2")
    assert list(RateWindow.objects.values_list("window_start", "count")) == [
        (datetime(2026, 11, 2, 9, 31, tzinfo=UTC), 1)
    ]


def test_unknown_tokens_are_counted_too(desk: Any, clock: Clock) -> None:
    # guessing tokens is limited like using one
    client = Client(headers={"Authorization": "Bearer spt_guess"})
    assert [client.get("/api/v1/tickets").status_code for _ in range(4)] == [401, 401, 401, 429]


def test_requests_without_a_token_and_pages_are_not_counted(desk: Any, clock: Clock) -> None:
    assert [Client().get("/api/v1/tickets").status_code for _ in range(4)] == [401] * 4
    assert Client().get("/login/").status_code == 200
    assert RateWindow.objects.count() == 0


def test_the_limit_is_off_when_set_to_zero(desk: Any, api: Any, clock: Clock, settings: Any) -> None:
    settings.SPORTELLO = {**settings.SPORTELLO, "API_RATE_LIMIT": 0}
    client = api(desk.agent)
    assert [client.get("/tickets").status_code for _ in range(5)] == [200] * 5
    assert "X-RateLimit-Limit" not in client.get("/tickets")
    assert RateWindow.objects.count() == 0


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_count_commits_on_its_own_and_leaves_the_connection_as_it_was() -> None:
    from django.db import connection

    from sportello.core.ratelimit import rate_count

    at = datetime(2026, 11, 2, 9, 30, 15, tzinfo=UTC)
    assert not connection.in_atomic_block
    assert [rate_count(key="token:x", now=at, window=60.0)[0] for _ in range(3)] == [1, 2, 3]
    assert RateWindow.objects.get(key="token:x").count == 3
    if connection.vendor == "postgresql":
        # the relaxed commit was the count's own transaction's, not the session's
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone()[0] == "on"

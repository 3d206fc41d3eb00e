"""Pinned statement counts of the Console's pages: they do not grow with the number of tokens or
of their owners. A change here is a deliberate, reviewed change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from sportello.accounts.services import token_create, token_revoke_any

# session, user, the page's tokens with their owners, the owners of the filter
TOKENS = 4
# session, user (the overview reads nothing else)
OVERVIEW = 2


def count(fn: Any) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(
        [q for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
    )


def test_the_tokens_page_costs_a_fixed_number_of_statements(desk: Any, browser: Any, now: Any) -> None:
    client = browser(desk.admin)
    token_create(user=desk.agent, name="One", now=now)
    few = count(lambda: client.get("/console/tokens/?status=all"))
    for i, user in enumerate([desk.admin, desk.agent, desk.light, desk.outsider] * 3):
        token, _ = token_create(user=user, name=f"T{i}", now=now + timedelta(minutes=i))
        if i % 3 == 0:
            token_revoke_any(token_id=token.pk, actor=desk.admin, now=now)
    many = count(lambda: client.get("/console/tokens/?status=all"))
    assert few == many == TOKENS
    assert count(lambda: client.get(f"/console/tokens/?owner={desk.light.pk}")) == TOKENS


def test_a_later_page_costs_what_the_first_does(desk: Any, browser: Any, now: Any, monkeypatch: Any) -> None:
    from sportello.console import views

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    for i in range(5):
        token_create(user=desk.agent if i % 2 else desk.light, name=f"T{i}", now=now + timedelta(minutes=i))
    client = browser(desk.admin)
    next_url = client.get("/console/tokens/").context["next_url"]
    assert count(lambda: client.get(next_url)) == TOKENS


def test_the_overview_costs_a_fixed_number_of_statements(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    assert count(lambda: client.get("/console/")) == OVERVIEW

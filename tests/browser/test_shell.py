"""The Desk shell in a real browser: sign in, the skip link, no accessibility violations."""

from __future__ import annotations

from typing import Any

from .axe import assert_accessible


def test_an_agent_signs_in_and_lands_on_the_queue(desk: Any, page: Any, sign_in: Any) -> None:
    sign_in(page, desk.agent)
    assert page.get_by_role("heading", level=1).count() >= 1
    assert desk.agent.name in page.content()
    assert_accessible(page, context="the queue")


def test_the_login_page_is_accessible(page: Any, url: Any) -> None:
    page.goto(url("/login/"))
    assert_accessible(page, context="the login page")

"""Statements per page, pinned (an anonymous reader; the article's first view creates the
session that remembers it)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

# The portal's shell on every page: the configuration's signatures (read once per request) and,
# on the first page after a configuration change, the portal's settings (name, colour, logo),
# then cached under those signatures.
SHELL = 2
SHELL_CACHED = 1


def test_home_statements(client: Client, kb: Any, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(2 + SHELL):
        assert client.get("/portal/kb/en/").status_code == 200


def test_category_and_section_statements(client: Client, kb: Any, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(2 + SHELL):
        assert client.get("/portal/kb/en/c/orders/").status_code == 200
    with django_assert_num_queries(2 + SHELL_CACHED):
        assert client.get("/portal/kb/en/c/orders/shipping/").status_code == 200


def test_article_statements(client: Client, kb: Any, django_assert_num_queries: Any) -> None:
    url = f"/portal/kb/en/a/{kb.track.pk}-track-your-order/"
    # first view: the article (3), the view counted (1), the session created (2, in a savepoint)
    with django_assert_num_queries(8 + SHELL):
        assert client.get(url).status_code == 200
    # again: the session read (1), the article (3), the reader's vote (1)
    with django_assert_num_queries(5 + SHELL_CACHED):
        assert client.get(url).status_code == 200


def test_search_statements(client: Client, kb: Any, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(2 + SHELL):
        assert client.get("/portal/kb/en/search/", {"q": "order"}).status_code == 200

"""Search per language, among what the reader may see; hostile queries never error."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def found(response: Any) -> list[str]:
    block = response.content.decode().split('<ol class="kb-results">', 1)
    if len(block) == 1:
        return []
    return re.findall(r'<a href="/portal/kb/\w+/a/\d+-[^"]+">([^<]+)</a>', block[1].split("</ol>", 1)[0])


def test_search_finds_public_articles_in_the_language(client: Client, kb: Any) -> None:
    r = client.get("/portal/kb/en/search/", {"q": "order"})
    assert r.status_code == 200
    assert found(r) == ["Track your order"]
    assert "1 result for “order”" in r.content.decode()
    assert found(client.get("/portal/kb/es/search/", {"q": "pedido"})) == ["Seguir tu pedido"]
    assert found(client.get("/portal/kb/es/search/", {"q": "order"})) == []


def test_search_never_finds_hidden_articles(client: Client, browser: Any, desk: Any, kb: Any) -> None:
    for q in ("courier", "carrier", "hidden"):
        assert found(client.get("/portal/kb/en/search/", {"q": q})) == []
    light, agent = browser(desk.light), browser(desk.agent)
    assert found(light.get("/portal/kb/en/search/", {"q": "courier"})) == ["Courier escalation codes"]
    assert found(light.get("/portal/kb/en/search/", {"q": "carrier"})) == []
    assert found(agent.get("/portal/kb/en/search/", {"q": "carrier"})) == ["New carrier coming"]


def test_no_results_help_the_reader_on(client: Client, kb: Any) -> None:
    page = client.get("/portal/kb/en/search/", {"q": "zebra"}).content.decode()
    assert "No articles match “zebra”" in page
    assert 'href="/portal/requests/new/"' in page


def test_an_empty_search_explains_what_to_do(client: Client, kb: Any) -> None:
    page = client.get("/portal/kb/en/search/").content.decode()
    assert "Type a few words about your question" in page
    assert "No articles match" not in page


HOSTILE = ["%", "_", "'", "\\", ".*", '" OR 1=1 --', ")(", "a\x00b", "\x00", "[a-z]+", "%' OR '1'='1"]
HOSTILE += ["<script>"]


@pytest.mark.parametrize("q", HOSTILE)
def test_metacharacters_never_error_and_match_nothing_wrongly(client: Client, kb: Any, q: str) -> None:
    r = client.get("/portal/kb/en/search/", {"q": q})
    assert r.status_code == 200
    assert found(r) == []
    assert "<script>" not in r.content.decode().split("<main", 1)[1]


def test_a_too_long_search_is_refused_with_a_clear_message(client: Client, kb: Any) -> None:
    r = client.get("/portal/kb/en/search/", {"q": "order " * 40})
    page = r.content.decode()
    assert r.status_code == 200
    assert "Your search is too long: use at most 200 characters." in page
    assert 'aria-invalid="true" aria-describedby="kb-q-error"' in page
    assert found(r) == []


def test_search_is_in_spanish_on_the_spanish_pages(client: Client, kb: Any) -> None:
    page = client.get("/portal/kb/es/search/", {"q": "zebra"}).content.decode()
    assert "Ningún artículo coincide con «zebra»" in page

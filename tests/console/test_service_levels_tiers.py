"""The Console's tier paths: admins only; the list (fixed statements); the editor saves a
department's tiers in order through `tier_path_save` (a team of another department takes the
ticket there), shows mistakes next to their fields, and refuses a stale form without writing."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from sportello.accounts.services import team_create
from sportello.sla.models import TierPath
from sportello.sla.tiers import tier_path_save

PAGES = ["/console/tier-paths/", "/console/tier-paths/new/", "/console/tier-paths/books/"]


@pytest.fixture
def teams(desk: Any) -> dict[str, Any]:
    return {
        "l2": team_create(name="Books L2", department=desk.books),
        "eng": team_create(name="Engineering", department=desk.electronics),
    }


@pytest.fixture
def books(desk: Any, teams: Any, now: Any) -> TierPath:
    definition = {"key": "books", "name": "Books support", "department": desk.books.pk,
                  "tiers": [{"key": "t1", "name": "Tier 1", "team": desk.team.pk},
                            {"key": "t2", "name": "Tier 2", "team": teams["l2"].pk}]}  # fmt: skip
    return tier_path_save(definition=definition, actor=desk.admin, now=now)[0]


def tier_form(desk: Any, teams: Any, **extra: Any) -> dict[str, Any]:
    return {"key": "books", "name": "Books support", "department": str(desk.books.pk), "tier-count": "4",
            "tier-0-key": "t1", "tier-0-name": "Tier 1", "tier-0-team": str(desk.team.pk),
            "tier-1-key": "t2", "tier-1-name": "Tier 2", "tier-1-team": str(teams["l2"].pk),
            "tier-2-key": "eng", "tier-2-name": "Engineering", "tier-2-team": str(teams["eng"].pk),
            **extra}  # fmt: skip


@pytest.mark.parametrize("path", PAGES)
def test_an_admin_opens_each_page(books: Any, desk: Any, browser: Any, path: str) -> None:
    assert browser(desk.admin).get(path).status_code == 200


@pytest.mark.parametrize("path", PAGES)
def test_agents_get_the_403_page_and_the_signed_out_the_login(
    books: Any, desk: Any, browser: Any, settings: Any, path: str
) -> None:
    settings.DEBUG = False
    assert browser(desk.agent).get(path).status_code == 403
    assert browser(desk.agent).post(path, {"name": "x"}).status_code == 403
    assert Client().get(path).status_code == 302
    assert TierPath.objects.get(key="books").version == 1


def test_a_path_with_a_tier_in_another_department_is_saved(desk: Any, teams: Any, browser: Any) -> None:
    r = browser(desk.admin).post("/console/tier-paths/new/", tier_form(desk, teams))
    assert r.status_code == 302
    saved = TierPath.objects.get(key="books")
    assert saved.definition["tiers"] == [
        {"key": "t1", "name": "Tier 1", "team": desk.team.pk},
        {"key": "t2", "name": "Tier 2", "team": teams["l2"].pk},
        {"key": "eng", "name": "Engineering", "team": teams["eng"].pk, "department": desk.electronics.pk},
    ]
    html = browser(desk.admin).get("/console/tier-paths/").content.decode()
    assert 'Tier 1 <span class="muted">(Novels)</span> → Tier 2' in html


def test_the_list_costs_fixed_statements(
    books: Any, desk: Any, teams: Any, browser: Any, now: Any, django_assert_num_queries: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = browser(desk.admin)
    client.get("/console/tier-paths/")
    with CaptureQueriesContext(connection) as ctx:
        client.get("/console/tier-paths/")
    definition = {"key": "el", "name": "Electronics", "department": desk.electronics.pk,
                  "tiers": [{"key": "a", "name": "A", "team": teams["eng"].pk},
                            {"key": "b", "name": "B", "team": teams["eng"].pk}]}  # fmt: skip
    tier_path_save(definition=definition, actor=desk.admin, now=now)
    with django_assert_num_queries(len(ctx.captured_queries)):
        assert client.get("/console/tier-paths/").status_code == 200


def test_mistakes_are_shown_next_to_their_fields(desk: Any, teams: Any, browser: Any) -> None:
    data = tier_form(desk, teams, name="", **{"tier-1-key": "t1", "tier-2-team": ""})
    r = browser(desk.admin).post("/console/tier-paths/new/", data)
    assert r.status_code == 422
    assert r.context["form"].errors == {
        "name": "Give the tier path a name.",
        "tier-1-key": "A short key, unique in the path, e.g. t2.",
        "tier-2-team": "Choose the tier's team.",
    }
    assert not TierPath.objects.exists()


def test_a_stale_form_is_refused(books: Any, desk: Any, teams: Any, browser: Any, now: Any) -> None:
    tier_path_save(definition={**books.definition, "name": "Theirs"}, actor=desk.admin, now=now)
    r = browser(desk.admin).post(
        "/console/tier-paths/books/", tier_form(desk, teams, name="Mine", version="1")
    )
    assert r.status_code == 409
    assert "Someone saved this tier path after you opened it." in r.content.decode()
    assert TierPath.objects.get(key="books").name == "Theirs"
    r = browser(desk.admin).post(
        "/console/tier-paths/books/", tier_form(desk, teams, name="Mine", version="2")
    )
    assert r.status_code == 302
    assert TierPath.objects.get(key="books").name == "Mine"

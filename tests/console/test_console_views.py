"""The Console's shell and its API tokens page: admins only (agents and light agents get the
403 page, the signed-out the login page); every agent's tokens listed with their owners,
filtered by status and owner, newest first, a page at a time; any revoked through a
confirmation, after which it stops working on the API; a token of one's own created here."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from sportello.accounts.models import ApiToken
from sportello.accounts.services import token_create, token_revoke_any

PAGES = ["/console/", "/console/tokens/"]


def rows(response: Any) -> list[str]:
    """The token names listed, in order."""
    return [t.name for t in response.context["tokens"]]


@pytest.mark.parametrize("path", PAGES)
def test_an_admin_opens_the_console(desk: Any, browser: Any, path: str) -> None:
    r = browser(desk.admin).get(path)
    assert r.status_code == 200
    html = r.content.decode()
    assert '<nav class="console-nav" aria-label="Console">' in html
    assert 'href="/console/tokens/"' in html


@pytest.mark.parametrize("path", [*PAGES, "/console/tokens/1/revoke/"])
@pytest.mark.parametrize("role", ["agent", "light", "outsider"])
def test_agents_and_light_agents_get_the_403_page(
    desk: Any, browser: Any, settings: Any, now: Any, path: str, role: str
) -> None:
    settings.DEBUG = False
    token, _secret = token_create(user=desk.admin, name="Admin's", now=now)
    r = browser(getattr(desk, role)).get(path.replace("/1/", f"/{token.pk}/"))
    assert r.status_code == 403
    assert "You are not allowed to see this page" in r.content.decode()


@pytest.mark.parametrize("role", ["agent", "light"])
def test_an_agent_cannot_revoke_through_the_console(desk: Any, browser: Any, now: Any, role: str) -> None:
    token, _secret = token_create(user=desk.admin, name="Admin's", now=now)
    r = browser(getattr(desk, role)).post(f"/console/tokens/{token.pk}/revoke/")
    assert r.status_code == 403
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None


@pytest.mark.parametrize("path", PAGES)
def test_the_signed_out_go_to_the_login_page(db: Any, path: str) -> None:
    r = Client().get(path)
    assert r.status_code == 302
    assert r["Location"] == f"/login/?next={path}"


def test_the_console_link_is_in_an_admins_menu_only(desk: Any, browser: Any) -> None:
    link = '<a href="/console/">Console</a>'
    assert link in browser(desk.admin).get("/me/profile/").content.decode()
    assert link not in browser(desk.agent).get("/me/profile/").content.decode()
    assert link not in browser(desk.light).get("/me/profile/").content.decode()


def test_the_overview_offers_only_the_sections_that_exist(desk: Any, browser: Any) -> None:
    html = browser(desk.admin).get("/console/").content.decode()
    assert re.findall(r'<a href="(/console/[^"]*)"', html) == [
        "/console/",
        "/console/blueprints/",
        "/console/tokens/",
        "/console/blueprints/",
        "/console/tokens/",
    ]
    assert "Apps and integrations" in html
    assert "People" not in html  # no section of it exists yet


def test_the_list_shows_every_agents_active_tokens_newest_first(desk: Any, browser: Any, now: Any) -> None:
    token_create(user=desk.agent, name="Bruno's script", now=now)
    used, _ = token_create(user=desk.light, name="Lia's report", now=now + timedelta(minutes=1))
    ApiToken.objects.filter(pk=used.pk).update(last_used_at=now + timedelta(minutes=5))
    gone, _ = token_create(user=desk.outsider, name="Eva's old", now=now + timedelta(minutes=2))
    token_revoke_any(token_id=gone.pk, actor=desk.admin, now=now)
    r = browser(desk.admin).get("/console/tokens/")
    assert rows(r) == ["Lia's report", "Bruno's script"]
    html = r.content.decode()
    assert "lia@desk.test · Light agent" in html
    assert "bruno@desk.test · Agent" in html
    assert f"<code>{used.prefix}…</code>" in html
    assert "Never" in html  # Bruno's was never used
    # dates as ages (the clock is an hour on), the instant on hover
    assert ">55\xa0minutes ago</time>" in html
    assert ">1\xa0hour ago</time>" in html
    assert used.key_hash not in html


def test_the_filters_are_in_the_address(desk: Any, browser: Any, now: Any) -> None:
    token_create(user=desk.agent, name="Bruno 1", now=now)
    token_create(user=desk.light, name="Lia 1", now=now + timedelta(minutes=1))
    gone, _ = token_create(user=desk.agent, name="Bruno old", now=now + timedelta(minutes=2))
    token_revoke_any(token_id=gone.pk, actor=desk.admin, now=now + timedelta(minutes=3))
    client = browser(desk.admin)
    assert rows(client.get("/console/tokens/?status=revoked")) == ["Bruno old"]
    assert rows(client.get("/console/tokens/?status=all")) == ["Bruno old", "Lia 1", "Bruno 1"]
    assert rows(client.get(f"/console/tokens/?status=all&owner={desk.agent.pk}")) == ["Bruno old", "Bruno 1"]
    assert rows(client.get(f"/console/tokens/?owner={desk.light.pk}")) == ["Lia 1"]
    # the revoked one says when; unknown values fall back to the defaults
    assert "Revoked</span>" in client.get("/console/tokens/?status=revoked").content.decode()
    assert rows(client.get("/console/tokens/?status=nonsense&owner=x")) == ["Lia 1", "Bruno 1"]
    assert rows(client.get(f"/console/tokens/?owner={2**70}")) == []
    page = client.get(f"/console/tokens/?owner={desk.agent.pk}").content.decode()
    assert f'<option value="{desk.agent.pk}" selected>Bruno Books</option>' in page


def test_many_tokens_come_a_page_at_a_time(desk: Any, browser: Any, now: Any, monkeypatch: Any) -> None:
    from sportello.console import views

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    for i in range(5):
        token_create(user=desk.agent, name=f"T{i}", now=now + timedelta(minutes=i))
    client = browser(desk.admin)
    first = client.get(f"/console/tokens/?owner={desk.agent.pk}")
    assert rows(first) == ["T4", "T3"]
    second = client.get(first.context["next_url"])
    assert rows(second) == ["T2", "T1"]
    assert f"owner={desk.agent.pk}" in first.context["next_url"]
    third = client.get(second.context["next_url"])
    assert rows(third) == ["T0"]
    assert third.context["next_url"] is None
    assert client.get("/console/tokens/?cursor=garbage").status_code == 400


def test_an_admin_revokes_an_agents_token_through_the_confirmation(
    desk: Any, browser: Any, now: Any, api: Any
) -> None:
    # given Bruno's token, which works on the API
    token, secret = token_create(user=desk.agent, name="Bruno's script", now=now)
    bearer = {"Authorization": f"Bearer {secret}"}
    assert Client().get("/api/v1/agents/me", headers=bearer).status_code == 200
    client = browser(desk.admin)
    # the list links to the confirmation, which names the token and its owner
    listed = client.get("/console/tokens/?owner=" + str(desk.agent.pk)).content.decode()
    back = f"/console/tokens/?owner={desk.agent.pk}"
    assert (
        f'href="/console/tokens/{token.pk}/revoke/?next=%2Fconsole%2Ftokens%2F%3Fstatus%3Dactive%26owner%3D{desk.agent.pk}"'
        in listed
    )
    confirm = client.get(f"/console/tokens/{token.pk}/revoke/?next={back}")
    assert confirm.status_code == 200
    html = confirm.content.decode()
    assert "Revoke token “Bruno&#x27;s script”?" in html
    assert "bruno@desk.test" in html
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None  # asking revokes nothing
    # when the admin confirms
    r = client.post(f"/console/tokens/{token.pk}/revoke/", {"next": back})
    # then back to the list with a message; the token is revoked and stops working
    assert r.status_code == 302
    assert r["Location"] == back
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    assert Client().get("/api/v1/agents/me", headers=bearer).status_code == 401
    page = client.get(back).content.decode()
    assert "Token “Bruno&#x27;s script” of Bruno Books revoked: it no longer works." in page
    # revoking it again is no error and changes nothing
    at = ApiToken.objects.get(pk=token.pk).revoked_at
    assert client.post(f"/console/tokens/{token.pk}/revoke/").status_code == 302
    assert ApiToken.objects.get(pk=token.pk).revoked_at == at
    assert "is revoked" in client.get(f"/console/tokens/{token.pk}/revoke/").content.decode()


def test_revoking_needs_a_post_with_csrf(desk: Any, now: Any) -> None:
    token, _ = token_create(user=desk.agent, name="Bruno's", now=now)
    client = Client(enforce_csrf_checks=True)
    client.force_login(desk.admin)
    assert client.post(f"/console/tokens/{token.pk}/revoke/").status_code == 403
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None


@pytest.mark.parametrize("next_url", ["https://evil.test/", "//evil.test/console/tokens/", "/queues/"])
def test_the_way_back_stays_on_the_tokens_list(desk: Any, browser: Any, now: Any, next_url: str) -> None:
    token, _ = token_create(user=desk.agent, name="Bruno's", now=now)
    r = browser(desk.admin).post(f"/console/tokens/{token.pk}/revoke/", {"next": next_url})
    assert r["Location"] == "/console/tokens/"


@pytest.mark.parametrize("token_id", [999_999, 2**63])
def test_an_unknown_token_is_a_404(desk: Any, browser: Any, token_id: int) -> None:
    client = browser(desk.admin)
    assert client.get(f"/console/tokens/{token_id}/revoke/").status_code == 404
    assert client.post(f"/console/tokens/{token_id}/revoke/").status_code == 404


def test_an_admin_creates_a_token_for_themself(desk: Any, browser: Any) -> None:
    r = browser(desk.admin).post("/console/tokens/", {"name": "Nightly export"})
    assert r.status_code == 201
    assert r["Cache-Control"] == "no-store"
    secret = re.search(r'id="token-secret" value="(spt_[^"]+)"', r.content.decode())
    assert secret is not None
    token = ApiToken.objects.get(name="Nightly export")
    assert token.user == desk.admin
    assert (
        Client()
        .get("/api/v1/agents/me", headers={"Authorization": f"Bearer {secret.group(1)}"})
        .json()["email"]
        == "admin@desk.test"
    )
    # the list shows it, without its secret
    again = browser(desk.admin).get("/console/tokens/")
    assert rows(again) == ["Nightly export"]
    assert secret.group(1) not in again.content.decode()


def test_a_token_needs_a_name(desk: Any, browser: Any) -> None:
    r = browser(desk.admin).post("/console/tokens/", {"name": ""})
    assert r.status_code == 422
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize(
    ("language", "texts"),
    [
        (
            "es",
            ["Consola", "Aplicaciones e integraciones", "Propietario", "Activos", "bruno@desk.test · Agente"],
        ),
        ("it", ["Console", "App e integrazioni", "Proprietario", "Attivi", "bruno@desk.test · Agente"]),
    ],
)
def test_the_console_is_translated(
    desk: Any, browser: Any, now: Any, language: str, texts: list[str]
) -> None:
    token_create(user=desk.agent, name="Bruno's", now=now)
    client = browser(desk.admin)
    client.cookies["django_language"] = language
    html = client.get("/console/tokens/").content.decode()
    for text in texts:
        assert text in html
    assert "Revoke…" not in html

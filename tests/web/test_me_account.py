"""The agent's own things: availability, profile, API tokens, password change and reset."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from sportello.accounts.models import ApiToken, SignInThrottle, User
from sportello.accounts.services import token_authenticate


def _reload(user: Any) -> User:
    return User.objects.get(pk=user.pk)


# -- availability ------------------------------------------------------------------------------


def test_the_top_bar_menu_shows_availability_and_the_agents_links(desk: Any, browser: Any) -> None:
    page = browser(desk.agent).get("/").content.decode()
    assert 'class="presence presence-offline"' in page
    for link in ("/inbox/", "/me/profile/", "/me/tokens/", "/me/password/"):
        assert f'href="{link}"' in page
    assert 'name="status" value="away" aria-pressed="false"' in page


@pytest.mark.parametrize("status", ["online", "away", "offline"])
def test_an_agent_sets_their_availability_through_htmx(
    desk: Any, browser: Any, status: str, frozen_clock: Any
) -> None:
    headers = {"HX-Request": "true", "HX-Current-URL": "http://testserver/tickets/7/"}
    r = browser(desk.agent).post("/me/availability/", {"status": status}, headers=headers)
    assert r.status_code == 200
    assert f'name="status" value="{status}" aria-pressed="true"' in r.content.decode()
    assert 'name="next" value="/tickets/7/"' in r.content.decode()  # the fallback stays on the page
    agent = _reload(desk.agent)
    assert agent.status == status
    if status != "offline":
        assert agent.status_changed_at == frozen_clock


def test_availability_without_htmx_goes_back_and_refuses_foreign_places(desk: Any, browser: Any) -> None:
    client = browser(desk.agent)
    assert (
        client.post("/me/availability/", {"status": "away", "next": "/tickets/1/"})["Location"]
        == "/tickets/1/"
    )
    assert (
        client.post("/me/availability/", {"status": "online", "next": "https://evil.test/"})["Location"]
        == "/"
    )
    assert _reload(desk.agent).status == "online"


def test_an_unknown_availability_changes_nothing(desk: Any, browser: Any) -> None:
    r = browser(desk.agent).post("/me/availability/", {"status": "busy"}, headers={"HX-Request": "true"})
    assert r.status_code == 422
    assert _reload(desk.agent).status == "offline"


def test_round_robin_skips_an_away_agent(desk: Any, now: Any) -> None:
    from sportello.accounts.services import agent_create, agent_set_status
    from sportello.automation.assignment import _Pool, policy_save

    marta = agent_create(email="marta@desk.test", name="Marta Rossi", departments=[desk.books])

    policy, _ = policy_save(
        definition={"key": "rr", "name": "RR", "pool": {"department": desk.books.pk}, "offline": "skip"},
        created_by=desk.admin,
        now=now,
    )
    agent_set_status(user=desk.agent, status="away", now=now)
    agent_set_status(user=marta, status="online", now=now)
    assert _Pool(policy).choose(desk.books.pk).agent_id == marta.pk
    # and once Marta is away too, nobody is offered the ticket
    agent_set_status(user=marta, status="away", now=now)
    assert _Pool(policy).choose(desk.books.pk).agent_id is None


# -- profile -----------------------------------------------------------------------------------


def test_the_profile_page_shows_the_agents_settings_and_a_searchable_zone_list(
    desk: Any, browser: Any
) -> None:
    page = browser(desk.agent).get("/me/profile/").content.decode()
    assert 'value="Bruno Books"' in page
    assert 'list="time-zones"' in page
    assert '<option value="Europe/Rome"></option>' in page


def test_saving_the_profile_changes_name_language_zone_and_signature(desk: Any, browser: Any) -> None:
    client = browser(desk.agent)
    r = client.post(
        "/me/profile/",
        {
            "name": "Bruno Libri",
            "language": "it",
            "time_zone": "Europe/Rome",
            "signature": "Bruno\nLibri team",
        },
    )
    assert r.status_code == 200
    agent = _reload(desk.agent)
    assert (agent.name, agent.language, agent.time_zone, agent.signature) == (
        "Bruno Libri", "it", "Europe/Rome", "Bruno\nLibri team",
    )  # fmt: skip
    assert r.cookies["django_language"].value == "it"


def test_a_bad_time_zone_is_refused_inline_and_nothing_changes(desk: Any, browser: Any) -> None:
    r = browser(desk.agent).post(
        "/me/profile/", {"name": "X", "language": "en", "time_zone": "Mars/Olympus", "signature": ""}
    )
    assert r.status_code == 422
    assert "Pick a time zone from the list" in r.content.decode()
    assert _reload(desk.agent).name == "Bruno Books"


def test_an_agent_cannot_change_someone_elses_profile_through_the_service(desk: Any) -> None:
    from sportello.accounts.services import agent_profile_update
    from sportello.core.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        agent_profile_update(agent=desk.light, actor=desk.agent, name="Hacked")
    assert _reload(desk.light).name == "Lia Light"


@pytest.mark.parametrize("path", ["/me/profile/", "/me/tokens/", "/me/password/"])
def test_own_pages_need_a_signed_in_agent(desk: Any, path: str) -> None:
    assert Client().get(path)["Location"] == f"/login/?next={path}"
    assert Client().post("/me/availability/", {"status": "online"}).status_code == 302


# -- API tokens --------------------------------------------------------------------------------


def test_creating_a_token_shows_its_secret_once_and_it_works(desk: Any, browser: Any, now: Any) -> None:
    client = browser(desk.light)
    r = client.post("/me/tokens/", {"name": "Reporting"})
    assert r.status_code == 201
    assert r["Cache-Control"] == "no-store"
    secret = re.search(r'id="token-secret" value="(spt_[^"]+)"', r.content.decode())
    assert secret is not None
    assert token_authenticate(secret=secret.group(1), now=now) == desk.light
    # the list shows it without the secret
    page = client.get("/me/tokens/").content.decode()
    assert "Reporting" in page
    assert secret.group(1) not in page


def test_a_token_needs_a_name(desk: Any, browser: Any) -> None:
    r = browser(desk.agent).post("/me/tokens/", {"name": " "})
    assert r.status_code == 422
    assert not ApiToken.objects.filter(user=desk.agent).exists()


def test_revoking_a_token_stops_it(desk: Any, browser: Any, now: Any) -> None:
    from sportello.accounts.services import token_create

    token, secret = token_create(user=desk.agent, name="Script", now=now)
    r = browser(desk.agent).post(f"/me/tokens/{token.pk}/revoke/")
    assert r.status_code == 200
    assert "Token “Script” revoked" in r.content.decode()
    assert token_authenticate(secret=secret, now=now) is None


def test_someone_elses_token_cannot_be_revoked(desk: Any, browser: Any, now: Any) -> None:
    from sportello.accounts.services import token_create

    token, secret = token_create(user=desk.agent, name="Mine", now=now)
    assert browser(desk.outsider).post(f"/me/tokens/{token.pk}/revoke/").status_code == 404
    assert token_authenticate(secret=secret, now=now) == desk.agent
    assert "Mine" not in browser(desk.outsider).get("/me/tokens/").content.decode()


# -- password ----------------------------------------------------------------------------------


def test_changing_the_password_keeps_the_session(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    r = client.post(
        "/me/password/",
        {
            "old_password": "pw-admin-123",
            "new_password1": "a quite new secret 42",
            "new_password2": "a quite new secret 42",
        },
    )
    assert r.status_code == 200
    assert "Your password is changed." in r.content.decode()
    assert _reload(desk.admin).check_password("a quite new secret 42")
    assert client.get("/").status_code == 200  # still signed in


@pytest.mark.parametrize(
    ("old", "new1", "new2", "message"),
    [
        (
            "wrong-password",
            "a quite new secret 42",
            "a quite new secret 42",
            "That is not your current password.",
        ),
        ("pw-admin-123", "short", "short", "This password is too short."),
        ("pw-admin-123", "password123", "password123", "This password is too common."),
        ("pw-admin-123", "a quite new secret 42", "another one 42", "The two new passwords differ."),
    ],
)
def test_a_refused_password_change_says_why_inline(
    desk: Any, browser: Any, old: str, new1: str, new2: str, message: str
) -> None:
    r = browser(desk.admin).post(
        "/me/password/", {"old_password": old, "new_password1": new1, "new_password2": new2}
    )
    assert r.status_code == 422
    assert message in r.content.decode()
    assert _reload(desk.admin).check_password("pw-admin-123")


def test_guessing_the_current_password_is_throttled_like_a_sign_in(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    data = {
        "old_password": "guess",
        "new_password1": "a quite new secret 42",
        "new_password2": "a quite new secret 42",
    }
    statuses = [client.post("/me/password/", data).status_code for _ in range(6)]
    assert statuses == [422, 422, 422, 422, 422, 429]
    # while blocked, even the right password is refused unchecked
    right = {**data, "old_password": "pw-admin-123"}
    assert client.post("/me/password/", right).status_code == 429
    assert _reload(desk.admin).check_password("pw-admin-123")
    assert SignInThrottle.objects.get(key="account:admin@desk.test").failures == 6


def test_a_reset_mail_links_to_the_public_address_and_the_link_sets_a_new_password(
    desk: Any, settings: Any
) -> None:
    settings.SPORTELLO = {**settings.SPORTELLO, "PUBLIC_URL": "https://desk.example.org"}
    client = Client()
    r = client.post("/password-reset/", {"email": "ADMIN@desk.test"})
    assert r.status_code == 302
    assert r["Location"] == "/password-reset/sent/"
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["admin@desk.test"]
    link = re.search(r"https://desk\.example\.org(/password-reset/[^/\s]+/[^/\s]+/)", str(sent.body))
    assert link is not None, sent.body
    assert "testserver" not in sent.body  # never the host the request named
    # the link leads to a form (Django swaps the token into the session first)
    page = client.get(link.group(1), follow=True)
    assert page.status_code == 200
    form_url = page.redirect_chain[-1][0]
    done = client.post(
        form_url, {"new_password1": "fresh secret 2026 x", "new_password2": "fresh secret 2026 x"}
    )
    assert done.status_code == 302
    assert _reload(desk.admin).check_password("fresh secret 2026 x")


def test_a_reset_for_an_unknown_address_answers_the_same_and_sends_nothing(desk: Any) -> None:
    r = Client().post("/password-reset/", {"email": "nobody@desk.test"})
    assert (r.status_code, r["Location"]) == (302, "/password-reset/sent/")
    assert mail.outbox == []


def test_reset_requests_are_limited_per_account_without_telling(desk: Any) -> None:
    client = Client()
    answers = [client.post("/password-reset/", {"email": "admin@desk.test"})["Location"] for _ in range(5)]
    assert answers == ["/password-reset/sent/"] * 5
    assert len(mail.outbox) == 3  # RESET_PER_ACCOUNT_PER_HOUR


def test_reset_requests_are_limited_per_network_address_without_telling(desk: Any) -> None:
    # given twenty requests for unknown addresses from one network address
    client = Client(REMOTE_ADDR="203.0.113.9")
    for i in range(20):
        assert client.post("/password-reset/", {"email": f"guess{i}@desk.test"}).status_code == 302
    # then a real account's reset from there sends nothing, and says the same as ever
    r = client.post("/password-reset/", {"email": "admin@desk.test"})
    assert r["Location"] == "/password-reset/sent/"
    assert mail.outbox == []
    # while from elsewhere it does
    Client(REMOTE_ADDR="198.51.100.7").post("/password-reset/", {"email": "admin@desk.test"})
    assert [m.to for m in mail.outbox] == [["admin@desk.test"]]


def test_the_reset_pages_look_like_the_login_page_and_the_login_links_to_them(desk: Any) -> None:
    client = Client()
    assert 'href="/password-reset/"' in client.get("/login/").content.decode()
    page = client.get("/password-reset/").content.decode()
    assert 'class="card login"' in page
    assert "Reset your password" in page
    bad = client.get("/password-reset/MQ/bad-token/").content.decode()
    assert "This link has expired or was already used." in bad


def test_a_reply_mail_is_signed_with_the_agents_signature_when_they_have_one(
    desk: Any, open_ticket: Any
) -> None:
    from sportello.accounts.services import agent_profile_update
    from sportello.notifications.rendering import render_notification

    ticket = open_ticket("Signed")
    plain = render_notification(key="agent_reply", ticket=ticket, agent=desk.agent, message_body="Done.")
    assert "Done.\n\n--\nBruno Books\nBooks\n\n" in plain.text
    agent = agent_profile_update(agent=desk.agent, actor=desk.agent, signature="Bruno\nBooks & more")
    signed = render_notification(key="agent_reply", ticket=ticket, agent=agent, message_body="Done.")
    assert "Done.\n\n--\nBruno\nBooks & more\n\n" in signed.text


def _reset_link(client: Client, email: str) -> str:
    client.post("/password-reset/", {"email": email})
    assert len(mail.outbox) == 1, "one reset mail"
    link = re.search(r"https?://[^/\s]+(/password-reset/[^/\s]+/[^/\s]+/)", str(mail.outbox[0].body))
    assert link is not None, mail.outbox[0].body
    return link.group(1)


def test_an_agent_invited_without_a_password_sets_one_through_the_reset_link(desk: Any) -> None:
    from sportello.accounts.services import agent_create

    # given an agent an admin created without a password
    invited = agent_create(email="nadia@desk.test", name="Nadia", actor=desk.admin)
    assert not invited.has_usable_password()
    client = Client()
    # when they ask for a reset link, it comes, and it sets their first password
    page = client.get(_reset_link(client, "Nadia@desk.test"), follow=True)
    assert page.status_code == 200
    form_url = page.redirect_chain[-1][0]
    data = {"new_password1": "first secret 2026 q", "new_password2": "first secret 2026 q"}
    assert client.post(form_url, data).status_code == 302
    assert _reload(invited).check_password("first secret 2026 q")
    # and they can sign in with it
    assert Client().login(email="nadia@desk.test", password="first secret 2026 q")


@pytest.mark.parametrize("usable", [True, False])
def test_a_deactivated_agent_gets_no_reset_link_and_the_page_says_the_same(desk: Any, usable: bool) -> None:
    from sportello.accounts.services import agent_create, agent_update

    gone = agent_create(
        email="gone@desk.test",
        name="Gone",
        password="old secret 2026 z" if usable else None,
        actor=desk.admin,
    )
    agent_update(agent=gone, actor=desk.admin, is_active=False)
    client = Client()
    unknown = client.post("/password-reset/", {"email": "nobody-at-all@desk.test"})
    answer = client.post("/password-reset/", {"email": "gone@desk.test"})
    # the answer is the one an unknown address gets: it never tells whether the address is known
    assert (answer.status_code, answer["Location"]) == (unknown.status_code, unknown["Location"])
    assert mail.outbox == []


def test_a_link_sent_before_the_agent_was_deactivated_no_longer_works(desk: Any) -> None:
    from sportello.accounts.services import agent_create, agent_update

    invited = agent_create(email="leaving@desk.test", name="Leaving", actor=desk.admin)
    client = Client()
    link = _reset_link(client, "leaving@desk.test")
    agent_update(agent=invited, actor=desk.admin, is_active=False)
    page = client.get(link, follow=True).content.decode()
    assert "This link has expired or was already used." in page
    assert not _reload(invited).has_usable_password()

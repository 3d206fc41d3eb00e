"""Signing in to the portal: mailed links (signed, single use, expiring, for their contact only;
the page never tells whether an address is known), passwords with throttling, signing out."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import signing
from django.test import Client

from sportello.outbox.models import OutboxMessage
from sportello.portal import services
from sportello.portal.models import SignInLink
from testing import NOW, hand_clock

pytestmark = pytest.mark.django_db


def _mailed_link() -> str:
    (mail,) = OutboxMessage.objects.filter(kind="email")
    line = next(ln for ln in mail.payload["body"].splitlines() if "/portal/sign-in/" in ln)
    return line[line.index("/portal/sign-in/") :]


def _main(html: bytes) -> bytes:
    return html[html.index(b"<main") : html.index(b"</main>")]


def test_a_known_address_gets_a_link_in_the_contacts_language(desk: Any) -> None:
    desk.alice.language = "it"
    desk.alice.save(update_fields=["language"])
    link = services.signin_link_request(email="ALICE@acme.test", address="10.0.0.1", now=NOW)
    assert link is not None
    assert link.contact_id == desk.alice.pk
    assert link.expires_at == NOW + timedelta(minutes=15)
    (mail,) = OutboxMessage.objects.filter(kind="email")
    assert mail.payload["to"] == ["alice@acme.test"]
    assert mail.payload["subject"] == "Il tuo link di accesso a Sportello"
    assert f"http://127.0.0.1:8000/portal/sign-in/{link.token}/" in mail.payload["body"]  # type: ignore[attr-defined]
    # only the hash is stored
    assert link.token not in SignInLink.objects.values_list("token_hash", flat=True)  # type: ignore[attr-defined]


def test_an_unknown_address_gets_nothing_and_the_page_says_the_same(desk: Any) -> None:
    client = Client()
    known = client.post("/portal/sign-in/", {"email": "alice@acme.test"})
    unknown = client.post("/portal/sign-in/", {"email": "nobody@nowhere.test"})
    assert known.status_code == unknown.status_code == 200
    assert _main(known.content).replace(b"alice@acme.test", b"X") == _main(unknown.content).replace(
        b"nobody@nowhere.test", b"X"
    )
    assert OutboxMessage.objects.filter(kind="email").count() == 1
    assert SignInLink.objects.count() == 1


def test_the_link_shows_a_button_and_signs_in_once_on_post(desk: Any, monkeypatch: Any) -> None:
    hand_clock(monkeypatch, NOW)
    services.signin_link_request(email="alice@acme.test", address="", now=NOW)
    path = _mailed_link()
    client = Client()
    page = client.get(path)  # what a mail scanner fetches
    assert page.status_code == 200
    assert b"Continue" in page.content
    assert "portal_contact_id" not in client.session
    assert SignInLink.objects.get().used_at is None
    signed = client.post(path)
    assert signed.status_code == 302
    assert signed["Location"] == "/portal/tickets/"
    assert client.session["portal_contact_id"] == desk.alice.pk
    # replayed: refused, a new link offered, nobody signed in
    other = Client()
    replay = other.post(path)
    assert replay.status_code == 410
    assert b"E-mail me a new link" in replay.content
    assert "portal_contact_id" not in other.session


def test_an_expired_link_signs_nobody_in(desk: Any, monkeypatch: Any) -> None:
    clock = hand_clock(monkeypatch, NOW)
    services.signin_link_request(email="alice@acme.test", address="", now=NOW)
    path = _mailed_link()
    clock.at = NOW + timedelta(minutes=15)
    client = Client()
    assert client.get(path).status_code == 410
    assert client.post(path).status_code == 410
    assert "portal_contact_id" not in client.session
    assert SignInLink.objects.get().used_at is None


def test_a_link_rewritten_for_another_contact_signs_nobody_in(desk: Any, monkeypatch: Any) -> None:
    hand_clock(monkeypatch, NOW)
    link = services.signin_link_request(email="alice@acme.test", address="", now=NOW)
    assert link is not None
    _alice, nonce = signing.Signer(salt="sportello.portal.signin").unsign_object(link.token)  # type: ignore[attr-defined]
    # the same nonce signed for Bob is not a link that was sent: the hash differs
    forged = signing.Signer(salt="sportello.portal.signin").sign_object([desk.bob.pk, nonce])
    # and a token whose payload is swapped without the key fails its signature
    _payload, sig = link.token.rsplit(":", 1)  # type: ignore[attr-defined]
    tampered = signing.Signer(salt="other").sign_object([desk.bob.pk, nonce]).rsplit(":", 1)[0] + ":" + sig
    for token in (forged, tampered):
        client = Client()
        assert client.post(f"/portal/sign-in/{token}/").status_code == 410
        assert "portal_contact_id" not in client.session
    assert SignInLink.objects.get().used_at is None


def test_links_to_one_address_are_capped(desk: Any) -> None:
    sent = [services.signin_link_request(email="alice@acme.test", address="", now=NOW) for _ in range(7)]
    assert sum(s is not None for s in sent) == services.LINKS_PER_ADDRESS


def test_a_password_signs_in_and_failures_are_throttled(desk: Any, monkeypatch: Any) -> None:
    hand_clock(monkeypatch, NOW)
    services.password_set(contact=desk.alice, password="correct horse battery", now=NOW)
    client = Client()
    ok = client.post(
        "/portal/sign-in/password/", {"pw-email": "alice@acme.test", "pw-password": "correct horse battery"}
    )
    assert ok.status_code == 302
    assert client.session["portal_contact_id"] == desk.alice.pk
    other = Client()
    for _ in range(services.FAILURES_PER_ADDRESS):
        bad = other.post("/portal/sign-in/password/", {"pw-email": "alice@acme.test", "pw-password": "wrong"})
        assert bad.status_code == 422
        assert b"do not match" in bad.content
    # the right password during the block does not sign in
    blocked = other.post(
        "/portal/sign-in/password/", {"pw-email": "alice@acme.test", "pw-password": "correct horse battery"}
    )
    assert blocked.status_code == 429
    assert "portal_contact_id" not in other.session


def test_a_weak_password_is_refused_on_the_account_page(desk: Any, customer: Any) -> None:
    client = customer(desk.alice)
    page = client.post("/portal/account/", {"password": "123", "password2": "123"})
    assert page.status_code == 422
    assert not services.has_password(contact=desk.alice)
    page = client.post(
        "/portal/account/", {"password": "a long passphrase 42", "password2": "a long passphrase 42"}
    )
    assert page.status_code == 200
    assert services.has_password(contact=desk.alice)


def test_sign_out_forgets_the_contact(desk: Any, customer: Any) -> None:
    client = customer(desk.alice)
    assert client.get("/portal/tickets/").status_code == 200
    client.post("/portal/sign-out/")
    response = client.get("/portal/tickets/")
    assert response.status_code == 302
    assert response["Location"].startswith("/portal/sign-in/")

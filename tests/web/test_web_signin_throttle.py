"""Sign-in throttling: per account and per client address, with doubling blocks, checked before
the password, shared through the database, audited."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from sportello.accounts.models import SignInEvent, SignInThrottle
from testing import Clock, hand_clock


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch, now: datetime) -> Clock:
    return hand_clock(monkeypatch, now)


def sign_in(email: str, password: str, *, address: str = "10.0.0.1") -> tuple[Any, Client]:
    client = Client(REMOTE_ADDR=address)
    return client.post("/login/", {"username": email, "password": password}), client


def test_forty_wrong_passwords_then_the_right_one_is_refused(desk: Any, clock: Clock) -> None:
    # given 40 wrong passwords for the admin
    statuses = [sign_in("admin@desk.test", f"wrong-{i}")[0].status_code for i in range(40)]
    # then the first five are plain failures, the sixth blocks the account for 30 s
    assert statuses == [200] * 5 + [429] * 35
    # when the right password comes next
    r, client = sign_in("admin@desk.test", "pw-admin-123")
    # then it is refused without being checked, with when to try again
    assert r.status_code == 429
    assert r["Retry-After"] == "30"
    assert "Too many failed sign-ins. Try again in 30 seconds." in r.content.decode()
    assert "_auth_user_id" not in client.session
    # and every attempt is on the audit trail
    outcomes = list(SignInEvent.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes == ["failed"] * 5 + ["locked"] + ["refused"] * 35
    assert set(SignInEvent.objects.values_list("email", "address")) == {("admin@desk.test", "10.0.0.1")}


def test_the_block_doubles_with_each_failure_and_success_clears_the_account(desk: Any, clock: Clock) -> None:
    for i in range(6):
        sign_in("ADMIN@desk.test", f"wrong-{i}")
    # the sixth failure blocked for 30 s; after it, a seventh failure blocks for 60 s
    clock.at += timedelta(seconds=31)
    r, _ = sign_in("admin@desk.test", "wrong-again")
    assert (r.status_code, r["Retry-After"]) == (429, "60")
    clock.at += timedelta(seconds=59)
    r, _ = sign_in("admin@desk.test", "pw-admin-123")
    assert (r.status_code, r["Retry-After"]) == (429, "1")
    # once the block is over, the right password signs in and clears the account's count
    clock.at += timedelta(seconds=1)
    r, client = sign_in("admin@desk.test", "pw-admin-123")
    assert r.status_code == 302
    assert client.session["_auth_user_id"] == str(desk.admin.pk)
    assert not SignInThrottle.objects.filter(key="account:admin@desk.test").exists()
    # the address keeps its failures (7): one success does not clear an attack from it
    assert SignInThrottle.objects.get(key="address:10.0.0.1").failures == 7
    r, _ = sign_in("admin@desk.test", "wrong-once-more")
    assert r.status_code == 200


def test_a_blocked_account_does_not_block_another_account_from_the_same_address(
    desk: Any, clock: Clock
) -> None:
    for i in range(6):
        sign_in("admin@desk.test", f"wrong-{i}")
    r, _ = sign_in("bruno@desk.test", "anything")  # Bruno has no password: a plain failure
    assert r.status_code == 200
    assert "That email and password do not match an active account." in r.content.decode()
    desk.agent.set_password("pw-bruno-123")
    desk.agent.save()
    r, _ = sign_in("bruno@desk.test", "pw-bruno-123")
    assert r.status_code == 302


def test_an_address_trying_many_accounts_is_blocked_and_other_addresses_are_not(
    desk: Any, clock: Clock
) -> None:
    # given 21 failures from one address, each on another account
    statuses = [sign_in(f"user{i}@desk.test", "guess", address="10.9.9.9")[0].status_code for i in range(21)]
    assert statuses == [200] * 20 + [429]
    # then the admin's right password from that address is refused
    r, _ = sign_in("admin@desk.test", "pw-admin-123", address="10.9.9.9")
    assert (r.status_code, r["Retry-After"]) == (429, "30")
    # and from another address it signs in
    r, _ = sign_in("admin@desk.test", "pw-admin-123", address="10.1.1.1")
    assert r.status_code == 302


def test_a_failure_long_ago_is_forgotten(desk: Any, clock: Clock) -> None:
    for i in range(5):
        sign_in("admin@desk.test", f"wrong-{i}")
    clock.at += timedelta(days=1, seconds=1)
    r, _ = sign_in("admin@desk.test", "wrong-later")
    assert r.status_code == 200
    assert SignInThrottle.objects.get(key="account:admin@desk.test").failures == 1


def test_the_throttle_message_is_translated(desk: Any, clock: Clock, settings: Any) -> None:
    settings.SPORTELLO = {**settings.SPORTELLO, "SIGNIN_FREE_FAILURES_ACCOUNT": 0, "SIGNIN_BLOCK_BASE": 600.0}
    client = Client(REMOTE_ADDR="10.0.0.1")
    client.cookies["django_language"] = "es"
    r = client.post("/login/", {"username": "admin@desk.test", "password": "wrong"})
    assert r.status_code == 429
    assert "Demasiados inicios de sesión fallidos. Inténtalo de nuevo en 10 minutos." in r.content.decode()

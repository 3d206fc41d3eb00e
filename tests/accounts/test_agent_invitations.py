"""Invitations (accounts.services): an invited agent is inactive and has no password until they
accept through a signed token that names their pending invitation; it expires after
INVITE_VALID, works once, and dies when renewed or when the agent is deactivated. Deactivating
and reactivating: never oneself, never the last admin."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from sportello.accounts import services
from sportello.accounts.models import Role, User
from sportello.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed


def invited(desk: Any, now: Any, **kw: Any) -> User:
    return services.agent_invite(
        email=kw.pop("email", "nora@desk.test"),
        name="Nora New",
        role=kw.pop("role", Role.AGENT),
        departments=[desk.books],
        actor=desk.admin,
        now=now,
        **kw,
    )


def test_an_invited_agent_is_inactive_until_they_accept(desk: Any, now: Any) -> None:
    nora = invited(desk, now, language="es")
    assert (nora.is_active, nora.invited_at, nora.language) == (False, now, "es")
    assert not nora.has_usable_password()
    token = services.invite_token(agent=nora)
    assert services.invite_agent(token=token, now=now + timedelta(hours=1)) == nora
    accepted = services.invite_accept(token=token, password="a-strong-pass-91", now=now + timedelta(hours=1))
    assert accepted.is_active
    assert accepted.invited_at is None
    assert User.objects.get(pk=nora.pk).check_password("a-strong-pass-91")
    with pytest.raises(NotFound):  # once
        services.invite_accept(token=token, password="another-pass-92", now=now + timedelta(hours=2))
    assert User.objects.get(pk=nora.pk).check_password("a-strong-pass-91")


def test_the_token_expires(desk: Any, now: Any) -> None:
    nora = invited(desk, now)
    token = services.invite_token(agent=nora)
    assert services.invite_agent(token=token, now=now + services.INVITE_VALID) == nora
    with pytest.raises(NotFound):
        services.invite_agent(token=token, now=now + services.INVITE_VALID + timedelta(seconds=1))


def test_a_renewed_invitation_kills_the_earlier_token(desk: Any, now: Any) -> None:
    nora = invited(desk, now)
    old = services.invite_token(agent=nora)
    # renewed within the same instant: still a new link
    nora = services.agent_invite_renew(agent=nora, actor=desk.admin, now=now)
    new = services.invite_token(agent=nora)
    assert new != old
    with pytest.raises(NotFound):
        services.invite_agent(token=old, now=now)
    assert services.invite_agent(token=new, now=now) == nora


def test_deactivating_withdraws_the_invitation(desk: Any, now: Any) -> None:
    nora = invited(desk, now)
    token = services.invite_token(agent=nora)
    services.agent_deactivate(agent=nora, actor=desk.admin)
    with pytest.raises(NotFound):
        services.invite_agent(token=token, now=now)
    with pytest.raises(Conflict):
        services.agent_invite_renew(agent=nora, actor=desk.admin, now=now)


def test_a_token_for_another_purpose_or_tampered_is_refused(desk: Any, now: Any) -> None:
    from django.core import signing

    nora = invited(desk, now)
    token = services.invite_token(agent=nora)
    forged = signing.Signer(salt="another.purpose").sign_object([nora.pk, now.isoformat()])
    for bad in (
        forged,
        token[:-2] + "xx",
        "",
        "a:b:c",
        signing.Signer(salt="sportello.accounts.invite").sign_object(["1", "x"]),
    ):
        with pytest.raises(NotFound):
            services.invite_agent(token=bad, now=now)
    # an active agent's (forged) token is refused too
    active = signing.Signer(salt="sportello.accounts.invite").sign_object([desk.agent.pk, now.isoformat()])
    with pytest.raises(NotFound):
        services.invite_agent(token=active, now=now)


def test_inviting_checks_like_creating(desk: Any, now: Any) -> None:
    with pytest.raises(PermissionDenied):
        services.agent_invite(email="x@desk.test", name="X", role="agent", actor=desk.agent, now=now)
    with pytest.raises(Conflict):
        invited(desk, now, email="BRUNO@desk.test")
    with pytest.raises(ValidationFailed):
        invited(desk, now, email="nope")
    with pytest.raises(ValidationFailed):
        invited(desk, now, language="xx")
    with pytest.raises(ValidationFailed):
        invited(desk, now, role="owner")
    assert not User.objects.filter(email__in=["x@desk.test", "nope"]).exists()


def test_nobody_deactivates_themself_nor_the_last_admin(desk: Any) -> None:
    with pytest.raises(Conflict, match="yourself"):
        services.agent_deactivate(agent=desk.admin, actor=desk.admin)
    with pytest.raises(Conflict, match="at least one active admin"):
        services.agent_deactivate(agent=desk.admin, actor=None)
    with pytest.raises(PermissionDenied):
        services.agent_deactivate(agent=desk.outsider, actor=desk.agent)
    assert User.objects.get(pk=desk.admin.pk).is_active
    assert User.objects.get(pk=desk.outsider.pk).is_active


def test_deactivate_and_reactivate(desk: Any) -> None:
    services.agent_deactivate(agent=desk.outsider, actor=desk.admin)
    assert not User.objects.get(pk=desk.outsider.pk).is_active
    services.agent_deactivate(agent=desk.outsider, actor=desk.admin)  # again: no error
    services.agent_reactivate(agent=desk.outsider, actor=desk.admin)
    assert User.objects.get(pk=desk.outsider.pk).is_active
    with pytest.raises(PermissionDenied):
        services.agent_reactivate(agent=desk.outsider, actor=desk.light)

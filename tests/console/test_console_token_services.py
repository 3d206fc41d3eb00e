"""`token_revoke_any`: an admin revokes any agent's token; nobody else can; an unknown id is
NotFound; revoking a revoked token changes nothing. And the Console's token reads, admins only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from sportello.accounts import selectors
from sportello.accounts.models import ApiToken
from sportello.accounts.selectors import TokenStatus
from sportello.accounts.services import token_authenticate, token_create, token_revoke_any
from sportello.core.errors import NotFound, PermissionDenied


def test_an_admin_revokes_an_agents_token(desk: Any, now: Any) -> None:
    # given a token of Bruno's that works
    token, secret = token_create(user=desk.agent, name="Reports", now=now)
    assert token_authenticate(secret=secret, now=now) == desk.agent
    # when the admin revokes it
    revoked = token_revoke_any(token_id=token.pk, actor=desk.admin, now=now)
    # then it is revoked at that instant, and no longer works
    assert revoked.pk == token.pk
    assert revoked.revoked_at == now
    assert revoked.user == desk.agent
    assert ApiToken.objects.get(pk=token.pk).revoked_at == now
    assert token_authenticate(secret=secret, now=now) is None


@pytest.mark.parametrize("role", ["agent", "light", "outsider"])
def test_only_an_admin_revokes_someone_elses_token(desk: Any, now: Any, role: str) -> None:
    token, secret = token_create(user=desk.admin, name="Admin's", now=now)
    with pytest.raises(PermissionDenied):
        token_revoke_any(token_id=token.pk, actor=getattr(desk, role), now=now)
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None
    assert token_authenticate(secret=secret, now=now) == desk.admin


def test_an_agent_cannot_revoke_even_their_own_token_through_it(desk: Any, now: Any) -> None:
    token, _secret = token_create(user=desk.agent, name="Mine", now=now)
    with pytest.raises(PermissionDenied):
        token_revoke_any(token_id=token.pk, actor=desk.agent, now=now)
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None


def test_a_deactivated_admin_cannot_revoke(desk: Any, now: Any) -> None:
    token, _secret = token_create(user=desk.agent, name="Reports", now=now)
    desk.admin.is_active = False
    with pytest.raises(PermissionDenied):
        token_revoke_any(token_id=token.pk, actor=desk.admin, now=now)
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None


@pytest.mark.parametrize("token_id", [0, -1, 2**63, 10**30, 999_999])
def test_an_unknown_token_is_not_found(desk: Any, now: Any, token_id: int) -> None:
    with pytest.raises(NotFound):
        token_revoke_any(token_id=token_id, actor=desk.admin, now=now)


def test_revoking_a_revoked_token_keeps_its_first_revocation(desk: Any, now: Any) -> None:
    token, _secret = token_create(user=desk.agent, name="Reports", now=now)
    token_revoke_any(token_id=token.pk, actor=desk.admin, now=now)
    # when it is revoked again an hour later
    again = token_revoke_any(token_id=token.pk, actor=desk.admin, now=now + timedelta(hours=1))
    # then nothing changes: it was revoked at the first instant
    assert again.revoked_at == now
    assert ApiToken.objects.get(pk=token.pk).revoked_at == now


def test_the_consoles_reads_are_for_admins(desk: Any, now: Any) -> None:
    mine, _ = token_create(user=desk.agent, name="Mine", now=now)
    gone, _ = token_create(user=desk.light, name="Gone", now=now + timedelta(minutes=1))
    token_revoke_any(token_id=gone.pk, actor=desk.admin, now=now)
    assert list(selectors.token_list_all(actor=desk.admin, status=TokenStatus.ACTIVE)) == [mine]
    assert list(selectors.token_list_all(actor=desk.admin, status=TokenStatus.REVOKED)) == [gone]
    assert list(selectors.token_list_all(actor=desk.admin, status=TokenStatus.ALL)) == [gone, mine]
    assert list(
        selectors.token_list_all(actor=desk.admin, status=TokenStatus.ALL, owner_id=desk.agent.pk)
    ) == [mine]
    assert list(selectors.token_list_all(actor=desk.admin, status=TokenStatus.ALL, owner_id=2**64)) == []
    assert list(selectors.token_owners(actor=desk.admin)) == [desk.agent, desk.light]
    assert selectors.token_get_any(actor=desk.admin, token_id=gone.pk) == gone
    with pytest.raises(NotFound):
        selectors.token_get_any(actor=desk.admin, token_id=0)
    for reader in (
        lambda: selectors.token_list_all(actor=desk.agent, status=TokenStatus.ALL),
        lambda: selectors.token_owners(actor=desk.light),
        lambda: selectors.token_get_any(actor=desk.agent, token_id=mine.pk),
    ):
        with pytest.raises(PermissionDenied):
            reader()

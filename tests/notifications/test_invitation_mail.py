"""The invitation mail (notifications.invites): queued through the outbox in the inviting
transaction, in the invited agent's language, with the link on the desk's public address."""

from __future__ import annotations

from typing import Any

import pytest

from sportello.accounts.models import User
from sportello.accounts.services import invite_agent
from sportello.core.errors import Conflict
from sportello.notifications import invites
from sportello.outbox.models import OutboxMessage


def test_the_invitation_is_mailed_in_the_agents_language(desk: Any, now: Any, settings: Any) -> None:
    settings.SPORTELLO = {**settings.SPORTELLO, "PUBLIC_URL": "https://help.example.test/"}
    nora = invites.agent_invite(
        email="nora@desk.test", name="Nora", role="light_agent", language="it", actor=desk.admin, now=now
    )
    [mail] = OutboxMessage.objects.all()
    assert (mail.kind, mail.ticket_id, mail.payload["to"]) == ("email", None, ["nora@desk.test"])
    assert mail.payload["subject"] == "Sei stato invitato sull'help desk"
    body = mail.payload["body"]
    assert "Ada Admin ti ha invitato" in body
    assert "Agente light" in body
    assert "72 ore" in body
    link = invites.invite_link(nora)
    assert link.startswith("https://help.example.test/invite/")
    assert link in body
    assert invite_agent(token=link.rsplit("/", 2)[-2], now=now) == nora


def test_nothing_is_sent_when_the_invitation_fails(desk: Any, now: Any) -> None:
    with pytest.raises(Conflict):
        invites.agent_invite(email="bruno@desk.test", name="B", role="agent", actor=desk.admin, now=now)
    assert not OutboxMessage.objects.exists()
    with pytest.raises(Conflict):
        invites.agent_invite_resend(agent=desk.agent, actor=desk.admin, now=now)
    assert not OutboxMessage.objects.exists()
    assert User.objects.count() == 4

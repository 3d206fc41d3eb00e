"""The invitation an agent gets by e-mail: inviting an agent (`agent_invite`) and sending a new
invitation (`agent_invite_resend`) create or renew the invitation (`accounts.services`) and queue
its mail through the outbox, in one transaction. The mail, in the agent's language, carries the
link on the desk's public address where they choose a password (`accounts.views.invite_accept`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from sportello.accounts import services as accounts
from sportello.accounts.models import Department, Role, User
from sportello.outbox import services as outbox

from .context import public_url

INVITE_HOURS = int(accounts.INVITE_VALID.total_seconds() // 3600)


def invite_link(agent: User) -> str:
    """The link of the agent's pending invitation, on the desk's public address."""
    token = accounts.invite_token(agent=agent)
    return public_url() + reverse("accounts:invite_accept", kwargs={"token": token})


def _queue_mail(*, agent: User, actor: User | None, now: datetime) -> None:
    assert agent.invited_at is not None
    with translation.override(agent.language or settings.LANGUAGE_CODE):
        inviter = (actor.name or actor.email) if actor is not None else _("An admin")
        subject = _("You are invited to the help desk")
        body = _(
            "Hello %(name)s,\n\n"
            "%(inviter)s invited you to work on the help desk as %(role)s.\n\n"
            "Choose your password to activate your account:\n%(link)s\n\n"
            "The link works once, for %(hours)s hours. If it has expired, ask an admin for a new one.\n"
        ) % {
            "name": agent.name,
            "inviter": inviter,
            "role": pgettext("role", Role(agent.role).label),
            "link": invite_link(agent),
            "hours": INVITE_HOURS,
        }
    outbox.outbox_add(
        kind="email",
        ticket=None,
        change_id=None,
        dedupe_key=f"agent-invite:{agent.pk}:{agent.invited_at.isoformat()}",
        payload={
            "to": [agent.email],
            "subject": subject,
            "body": body,
            "language": agent.language,
            "automatic": False,  # one person's own invitation: never held back by the auto-reply cap
        },
        now=now,
    )


@transaction.atomic
def agent_invite(
    *,
    email: str,
    name: str,
    role: Role | str,
    departments: Iterable[Department] = (),
    language: str = "en",
    actor: User | None,
    now: datetime,
) -> User:
    """Invite an agent: created inactive (`accounts.services.agent_invite`), their invitation
    mailed. A taken address is a Conflict on `email`; nothing is created or sent."""
    agent = accounts.agent_invite(
        email=email, name=name, role=role, departments=departments, language=language, actor=actor, now=now
    )
    _queue_mail(agent=agent, actor=actor, now=now)
    return agent


@transaction.atomic
def agent_invite_resend(*, agent: User, actor: User | None, now: datetime) -> User:
    """A new invitation mailed to an agent whose invitation is pending; the earlier link stops
    working (Conflict if they accepted or were deactivated meanwhile)."""
    agent = accounts.agent_invite_renew(agent=agent, actor=actor, now=now)
    _queue_mail(agent=agent, actor=actor, now=now)
    return agent

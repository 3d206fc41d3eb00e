"""Ticket page panel: the conversation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest

from sportello.accounts.models import User
from sportello.tickets import selectors
from sportello.tickets.models import AuthorKind, Message, Ticket


def _conversation(user: User, ticket: Ticket) -> list[Message]:
    """The messages, each agent reply with how its e-mail fared (`delivery`, or None)."""
    from sportello.channels.services import delivery_states

    messages = list(selectors.message_list(principal=user, ticket=ticket))
    states = delivery_states([m.pk for m in messages if m.public and m.author_kind == AuthorKind.AGENT])
    for m in messages:
        m.delivery = states.get(m.pk)  # type: ignore[attr-defined]
    return messages


def context(request: HttpRequest, ticket: Ticket, *, now: datetime, shared: dict[str, Any]) -> dict[str, Any]:
    return {"conversation": _conversation(request.user, ticket)}  # type: ignore[arg-type]

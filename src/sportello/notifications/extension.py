"""Notifications' part in every ticket change (`tickets.extensions`): an agent's public reply
goes to the requester by e-mail, in the customer's language's `agent_reply` template (signature,
link), emitted once the reply is written (its id is the e-mail's dedupe key)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sportello.accounts.models import User
from sportello.tickets.audit import reply_to_email

from .rendering import render_notification

if TYPE_CHECKING:
    from sportello.tickets.context import Context


class ReplyMail:
    def written(self, ctx: Context) -> None:
        message, ticket = ctx.message, ctx.ticket
        if message is None or not reply_to_email(ctx) or not ticket.requester.email:
            return
        requester = ticket.requester
        principal = ctx.principal
        agent = principal if isinstance(principal, User) and principal.pk == message.author_agent_id else None
        rendered = render_notification(
            key="agent_reply",
            ticket=ticket,
            agent=agent or message.author_agent,
            message_body=message.body_text,
            now=ctx.now,
            memo=ctx.memo,
            for_customer=True,
        )
        payload: dict[str, Any] = {
            "to": [requester.email],
            "subject": rendered.subject or f"[#{ticket.number}] {ticket.subject}",
            "body": rendered.text,
            "ticket_number": ticket.number,
            "message_id": message.pk,
            "contact_id": requester.pk,
            "language": rendered.language,
            "automatic": False,
        }
        if rendered.html and not message.body_html:
            payload["html"] = rendered.html  # a rich reply's own HTML goes out as written
        ctx.emit({"kind": "email", "dedupe_key": f"reply:{message.pk}", "payload": payload})

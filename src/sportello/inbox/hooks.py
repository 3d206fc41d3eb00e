"""The inbox's part of the change pipeline (`inbox.extension.AgentNotifications`), after the change
is written, in its transaction: the agents it concerns get an in-app notification.

- assigned: the new assignee, unless they assigned the ticket to themselves (by someone else,
  a rule, round robin, an SLA escalation: the actor is named);
- sla_warning / sla_breach: the assignee, when a target of the ticket warns or breaches;
- mention: an agent's internal note naming `@Full Name` or `@address` of an agent who may see
  the ticket (its department's members and the admins; never the note's author). Anyone else
  named is not notified, and the author is told nothing about it.

Nothing is read unless the change calls for it: a note without `@` reads no agent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Q

from sportello.accounts.models import Role, User
from sportello.core.actors import ActorKind
from sportello.engine.diff import FieldChange
from sportello.tickets.models import AuthorKind, EventKind, Ticket

from .mentions import MENTION_MARK, Mentionable, mentioned
from .models import Notification, NotificationKind

if TYPE_CHECKING:
    from sportello.tickets.pipeline import Context

EXCERPT_LENGTH = 200
SLA_KINDS = {"warning": NotificationKind.SLA_WARNING, "breached": NotificationKind.SLA_BREACH}


def notify_agents(ctx: Context, changes: list[FieldChange]) -> None:
    ticket, now = ctx.ticket, ctx.now
    rows: list[Notification] = []

    def add(recipient_id: int, kind: NotificationKind, actor_label: str, **parts: object) -> None:
        rows.append(
            Notification(
                recipient_id=recipient_id,
                kind=kind,
                ticket=ticket,
                actor_label=actor_label[:200],
                parts=parts,
                created_at=now,
            )
        )

    if ticket.assignee_id is not None and any(c.field == "assignee" for c in changes):
        author = ctx.writers.get("assignee")
        actor = author.actor if author is not None else ctx.mutation.actor
        if not (actor.kind == ActorKind.AGENT and actor.id == ticket.assignee_id):
            principal = ctx.principal
            if actor.kind == ActorKind.AGENT and isinstance(principal, User) and principal.pk == actor.id:
                label = principal.name
            else:
                label = actor.label
            add(ticket.assignee_id, NotificationKind.ASSIGNED, label)

    if ticket.assignee_id is not None:
        for event in ctx.events:
            kind = SLA_KINDS.get(event.field) if event.kind == EventKind.SLA else None
            if kind is not None:
                data = event.new_value if isinstance(event.new_value, dict) else {}
                add(ticket.assignee_id, kind, event.actor_label, metric=str(data.get("metric", "")))

    message = ctx.message
    if (
        message is not None
        and not message.public
        and message.author_kind == AuthorKind.AGENT
        and MENTION_MARK in message.body_text
    ):
        author_id = message.author_agent_id
        for agent_id in mentioned(message.body_text, _mentionable(ticket, exclude=author_id)):
            label = message.author_agent.name if message.author_agent is not None else ""
            add(agent_id, NotificationKind.MENTION, label, excerpt=_excerpt(message.body_text))

    if rows:
        Notification.objects.bulk_create(rows)


def mentionable_agents(ticket: Ticket) -> Q:
    """The agents who may see `ticket` (and so may be mentioned on it)."""
    return Q(is_active=True) & (Q(role=Role.ADMIN) | Q(departments=ticket.department_id))


def _mentionable(ticket: Ticket, *, exclude: int | None) -> list[Mentionable]:
    agents = User.objects.filter(mentionable_agents(ticket))
    if exclude is not None:
        agents = agents.exclude(pk=exclude)
    return [
        Mentionable(id=pk, name=name, email=email)
        for pk, name, email in agents.distinct().values_list("pk", "name", "email")
    ]


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_LENGTH else flat[: EXCERPT_LENGTH - 1] + "…"

"""Outbound effects of rules and macros: notifications and webhooks queued on the change's
outbox (`pipeline.Context.effects`), and who a notification goes to. Shared by event rules,
time-rule steps and macros."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from sportello.accounts.models import Team, User
from sportello.engine import actions as act
from sportello.engine.placeholders import render

if TYPE_CHECKING:
    from sportello.tickets.pipeline import Context


class RuleRef(Protocol):
    """What an effect names as its origin: a rule's or a macro's key and version."""

    @property
    def key(self) -> str: ...

    @property
    def version(self) -> int | None: ...


def recipients(ctx: Context, to: tuple[str, ...]) -> list[str]:
    """E-mail addresses for a notification's recipients, de-duplicated, in order."""
    ticket = ctx.ticket
    out: list[str] = []
    for item in to:
        if item == "requester":
            out.append(ticket.requester.email)
        elif item == "assignee":
            if ticket.assignee_id is not None:
                out.append(User.objects.get(pk=ticket.assignee_id).email)
        elif item == "team":
            if ticket.team_id is not None:
                team = Team.objects.get(pk=ticket.team_id)
                if team.email:
                    out.append(team.email)
                else:
                    out += list(
                        team.members.filter(is_active=True).order_by("id").values_list("email", flat=True)
                    )
        elif item == "department":
            out += list(
                User.objects.filter(departments=ticket.department_id, is_active=True)
                .exclude(role="light_agent")
                .order_by("id")
                .values_list("email", flat=True)
            )
        elif item.startswith("agent:"):
            agent = User.objects.filter(pk=int(item.removeprefix("agent:")), is_active=True).first()
            if agent is not None:
                out.append(agent.email)
        elif item.startswith("address:"):
            out.append(item.removeprefix("address:"))
    seen: set[str] = set()
    return [a for a in out if a and not (a.lower() in seen or seen.add(a.lower()))]  # type: ignore[func-returns-value]


def notify_effect(
    ctx: Context, rule: RuleRef, action: act.Notify, context: dict[str, Any]
) -> Callable[[], None]:
    """The outbox e-mail of a `notify` action, rendered now, queued when the effect runs (its
    recipients are resolved then: after the cycle, on the ticket's final state)."""
    # No header injection: a rendered subject is one line.
    subject = " ".join(render(action.subject, context).split())[:250]
    body = render(action.body, context)

    def effect() -> None:
        to = recipients(ctx, action.to)
        if not to:
            return
        ticket = ctx.ticket
        index = sum(1 for e in ctx.effects if e.get("rule") == rule.key)
        ctx.effects.append(
            {
                "kind": "email",
                "rule": rule.key,
                "dedupe_key": f"notify:{ctx.change_id}:{rule.key}:{index}",
                "payload": {
                    "to": to,
                    "subject": subject or f"[#{ticket.number}] {ticket.subject}",
                    "body": body,
                    "ticket_number": ticket.number,
                    "rule": f"{rule.key}@{rule.version}",
                    "template": action.template,
                },
            }
        )

    return effect


def webhook_effect(
    ctx: Context, rule: RuleRef, action: act.Webhook, context: dict[str, Any]
) -> Callable[[], None]:
    """The outbox webhook call of a `webhook` action, rendered now, queued when the effect runs."""
    body = render(action.body, context)

    def effect() -> None:
        index = sum(1 for e in ctx.effects if e.get("rule") == rule.key)
        ctx.effects.append(
            {
                "kind": "webhook",
                "rule": rule.key,
                "dedupe_key": f"webhook:{ctx.change_id}:{rule.key}:{index}",
                "payload": {
                    "url": action.url,
                    "body": body,
                    "secret_ref": action.secret_ref,
                    "headers": {"X-Sportello-Depth": str(ctx.mutation.depth + 1)},
                    "rule": f"{rule.key}@{rule.version}",
                },
            }
        )

    return effect

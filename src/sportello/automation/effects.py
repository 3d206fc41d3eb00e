"""Outbound effects of rules and macros: notifications and webhooks queued on the change's
outbox (`Context.emit`), and who a notification goes to. Shared by event rules,
time-rule steps and macros."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from sportello.accounts.models import Team, User
from sportello.core.actors import Actor, Via
from sportello.core.text import text_to_html
from sportello.engine import actions as act
from sportello.engine.placeholders import render
from sportello.notifications import limits, rendering
from sportello.tickets import audit
from sportello.tickets.models import NOTIFICATION_NO_ADDRESS, EventKind

if TYPE_CHECKING:
    from sportello.tickets.context import Context


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
    recipients are resolved then: after the cycle, on the ticket's final state).

    With a `template` that the desk has (`notifications`), each recipient gets it in their
    language (else English): one e-mail per language and time zone, rendered then, on the
    ticket's final state; an inline subject or body, when given, replaces the template's. A
    template the desk does not have leaves the inline texts, as without one.

    Customers (the requester, or a contact's address) get at most
    `CUSTOMER_NOTIFICATIONS_PER_HOUR` automatic notifications an hour: past it, the address is
    left out and the suppression recorded as a ticket event (`notification` / `suppressed`)."""
    # No header injection: a rendered subject is one line.
    subject = " ".join(render(action.subject, context).split())[:250]
    body = render(action.body, context)

    def effect() -> None:
        if "requester" in action.to and not ctx.ticket.requester.email:
            # A caller known by their phone: nothing to send them; the change says so.
            _record_suppressed(
                ctx,
                rule,
                {
                    "to": "",
                    "subject": subject,
                    "rule": f"{rule.key}@{rule.version}",
                    "template": action.template,
                },
                field=NOTIFICATION_NO_ADDRESS,
                label="System",
            )
        to = recipients(ctx, action.to)
        if not to:
            return
        to = _within_customer_limit(ctx, rule, action, to)
        if not to:
            return
        ticket = ctx.ticket
        for group, texts in _texts(ctx, action, to, subject, body):
            index = sum(1 for e in ctx.effects if e.get("rule") == rule.key)
            payload: dict[str, Any] = {
                "to": group,
                "subject": texts["subject"] or f"[#{ticket.number}] {ticket.subject}",
                "body": texts["body"],
                "ticket_number": ticket.number,
                "rule": f"{rule.key}@{rule.version}",
                "template": action.template,
            }
            if "language" in texts:
                payload |= {"html": texts["html"], "language": texts["language"]}
            ctx.emit(
                {
                    "kind": "email",
                    "rule": rule.key,
                    "dedupe_key": f"notify:{ctx.change_id}:{rule.key}:{index}",
                    "payload": payload,
                }
            )

    return effect


def _texts(
    ctx: Context, action: act.Notify, to: list[str], subject: str, body: str
) -> list[tuple[list[str], dict[str, str]]]:
    """The e-mails of a notification: (recipients, texts). Inline texts: one e-mail to all. A
    template: one per language and time zone of the recipients, and per audience (agents apart
    from customers), in the order they come."""
    if action.template is None or not rendering.template_exists(key=action.template):
        return [(to, {"subject": subject, "body": body})]
    ticket = ctx.ticket
    profiles = rendering.recipient_profiles(emails=to, requester=ticket.requester)
    # Customers never read the fields their department's layout hides from them: agents' copies
    # are rendered apart.
    groups: dict[tuple[str, str, bool], list[str]] = {}
    for address in to:
        profile = profiles[address.lower()]
        groups.setdefault((profile.language, profile.time_zone, profile.agent), []).append(address)
    # Only a public message reaches a template: an internal note is never quoted to anyone.
    message = ctx.message if ctx.message is not None and ctx.message.public else None
    author = message.author_agent if message is not None and message.author_agent_id else None
    out: list[tuple[list[str], dict[str, str]]] = []
    for (language, time_zone, to_agents), group in groups.items():
        rendered = rendering.render_notification(
            key=action.template, ticket=ticket, language=language, time_zone=time_zone, agent=author,
            message_body=message.body_text if message is not None else None, now=ctx.now,
            for_customer=not to_agents, memo=ctx.memo,
        )  # fmt: skip
        texts = {
            "subject": subject or rendered.subject,
            "body": body or rendered.text,
            "html": text_to_html(body) if body else rendered.html,
            "language": rendered.language,
        }
        out.append((group, texts))
    return out


def _within_customer_limit(ctx: Context, rule: RuleRef, action: act.Notify, to: list[str]) -> list[str]:
    """`to` without the customers' addresses that are over the hourly limit of automatic
    notifications; each one left out is recorded as an event of the change."""
    ticket = ctx.ticket
    candidates = {i.removeprefix("address:").lower() for i in action.to if i.startswith("address:")}
    customers = rendering.customer_addresses(emails=candidates) if candidates else set()
    requester = ticket.requester.email.lower()
    if "requester" in action.to and requester:
        customers.add(requester)
    kept: list[str] = []
    for address in to:
        email = address.lower()
        if ctx.mutation.no_auto_reply and email == requester:
            # Caused by automatic mail: the pipeline drops it (and records why) without using
            # one of the customer's slots.
            kept.append(address)
            continue
        if email not in customers or limits.customer_notification_claim(
            email=email, ticket_number=ticket.number, now=ctx.now
        ):
            kept.append(address)
            continue
        limit = limits.customer_notifications_per_hour()
        _record_suppressed(
            ctx,
            rule,
            {
                "to": address,
                "reason": f"over the limit of {limit} automatic notifications an hour to this customer",
                "rule": f"{rule.key}@{rule.version}",
                "template": action.template,
            },
        )
    return kept


def _record_suppressed(
    ctx: Context,
    rule: RuleRef,
    data: dict[str, Any],
    *,
    field: str = "suppressed",
    label: str = "customer notification limit",
) -> None:
    """A suppressed notification as an event of the change (`field`: `suppressed` over the
    limit, `no_address` to a requester without an e-mail address), made by the system (`label`:
    its limit), caused by the rule (or macro) that asked for it. A new ticket's events are
    written with the rest of its change; on an existing ticket it is written now (macros queue
    their effects after their change is written)."""
    cause = rule.key if ":" in rule.key else f"rule:{rule.key}"
    actor, why = Actor.system(label), f"{cause}@{rule.version}"
    if ctx.ticket.pk is None:
        ctx.record(EventKind.NOTIFICATION, field, new=data, actor=actor, via=Via.SYSTEM, cause=why)
    else:
        audit.event(
            ticket=ctx.ticket, change_id=ctx.change_id, at=ctx.now, kind=EventKind.NOTIFICATION,
            field=field, new=data, actor=actor, via=Via.SYSTEM, cause=why, depth=ctx.mutation.depth,
        ).save(force_insert=True)  # fmt: skip


def webhook_effect(
    ctx: Context, rule: RuleRef, action: act.Webhook, context: dict[str, Any]
) -> Callable[[], None]:
    """The outbox webhook call of a `webhook` action, rendered now, queued when the effect runs."""
    body = render(action.body, context)

    def effect() -> None:
        index = sum(1 for e in ctx.effects if e.get("rule") == rule.key)
        ctx.emit(
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

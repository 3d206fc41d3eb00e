"""What notification templates and canned responses may read: plain nested dicts of allow-listed
names (`NAMES`), rendered by the engine's sandbox (`engine.placeholders.render`).

Nothing else reaches a template: no model instance, no setting, no request. Dates are text in
the recipient's time zone (`2026-11-02 10:30 CET`); status and priority names are in the
template's language where a translation exists. A name without a value is the empty string
(or absent), which renders empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.utils import translation
from django.utils.translation import pgettext

from sportello.accounts.models import User
from sportello.portal import links as portal_links
from sportello.tickets.models import Priority, Ticket
from sportello.tickets.selectors import customer_custom_fields

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"

# Every name a template may use, with what it holds (docs/notifications.md lists the same).
NAMES: dict[str, str] = {
    "ticket.number": "the ticket's number (1042)",
    "ticket.subject": "the ticket's subject",
    "ticket.status": "the status key (open)",
    "ticket.status_name": "the status name, translated where a translation exists (Abierto)",
    "ticket.priority": "the priority key: low, normal, high or urgent",
    "ticket.priority_name": "the priority name, translated (Alta)",
    "ticket.department": "the department's name",
    "ticket.created_at": "when the ticket was opened, in the recipient's time zone",
    "ticket.url": "the ticket's page in the customer portal (same as links.ticket)",
    "ticket.custom.<key>": "a custom field's stored value (text, number, yes/no, list), empty if unset "
    "or, for a customer, when the department's layout hides the field from customers",
    "requester.name": "the customer's name (their e-mail address, else their phone, when they have none)",
    "requester.email": "the customer's e-mail address (empty for a caller known by their phone)",
    "requester.language": "the customer's language: en, es or it",
    "agent.name": "the agent: the author of the message being sent, else the assignee",
    "agent.signature": "that agent's own plain-text signature (their profile); empty when none",
    "department.name": "the ticket's department",
    "department.email": "the department's e-mail address",
    "sla.policy": "the name of the ticket's SLA policy",
    "sla.due_at": "the next SLA target (the earliest running clock's due instant)",
    "sla.time_left": "time until sla.due_at: 2h 30m, 1d 4h, 45m; -15m once past it",
    "sla.minutes_left": "the same in whole minutes (negative once past)",
    "sla.breached": "true once a clock of the ticket has breached its target",
    "links.ticket": "the ticket's page in the customer portal (empty while the portal is off)",
    "links.survey": "the satisfaction survey of the ticket in the portal: its signed link in the survey's "
    "own e-mails, else the survey page of the signed-in customer (empty while the portal is off)",
    "links.agent_ticket": "the ticket in the agents' interface",
    "message.body": "the public message being sent (agent_reply); empty for internal notes",
    "survey.choices": "in the survey's e-mails: one entry per rating, each with its label and its "
    "one-click link (choice.label, choice.url)",
}
TOP_LEVEL = frozenset(name.split(".", 1)[0] for name in NAMES)


def public_url() -> str:
    return str(settings.SPORTELLO.get("PUBLIC_URL", DEFAULT_PUBLIC_URL)).rstrip("/")


def agent_ticket_url(ticket: Any) -> str:
    """The ticket's page in the agents' interface (empty for a ticket not saved yet)."""
    return f"{public_url()}/tickets/{ticket.pk}/" if ticket.pk is not None else ""


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def when(moment: datetime | None, tz: ZoneInfo) -> str:
    """`2026-11-02 10:30 CET`: a moment as recipients read it."""
    if moment is None:
        return ""
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def minutes_of(delta: timedelta) -> int:
    """Whole minutes, towards zero (a minute and a half either way is 1 or -1)."""
    seconds = int(delta.total_seconds())
    return seconds // 60 if seconds >= 0 else -(-seconds // 60)


def duration(delta: timedelta) -> str:
    """`1d 4h`, `2h 30m`, `45m`, `0m`; negative as `-15m`. Two units at most."""
    minutes = abs(minutes_of(delta))
    sign = "-" if minutes_of(delta) < 0 else ""
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (mins, "m")) if n]
    return sign + (" ".join(parts[:2]) if parts else "0m")


def _plain(value: Any) -> Any:
    """Only plain data enters a template: text, numbers, yes/no, dates, lists and dicts of them."""
    if value is None or isinstance(value, str | bool | int | float | Decimal | date):
        return value
    if isinstance(value, list | tuple):
        return [v for v in (_plain(x) for x in value) if v is not None]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items() if isinstance(k, str) and not k.startswith("_")}
    return None


def _sla(ticket: Ticket, now: datetime, tz: ZoneInfo) -> dict[str, Any]:
    if ticket.pk is None:
        return {}
    from sportello.sla.models import TicketSla

    try:
        row = ticket.sla  # loaded with the locked ticket in a change
    except TicketSla.DoesNotExist:
        return {}
    if row is None:
        return {}
    out: dict[str, Any] = {"policy": row.policy.name if row.policy else "", "breached": row.breached}
    if row.next_breach_at is not None:
        left = row.next_breach_at - now
        out |= {
            "due_at": when(row.next_breach_at, tz),
            "time_left": duration(left),
            "minutes_left": minutes_of(left),
        }
    return out


def notification_context(
    *,
    ticket: Ticket,
    language: str,
    now: datetime,
    time_zone: str | None = None,
    agent: User | None = None,
    message_body: str | None = None,
    extra: Mapping[str, Any] | None = None,
    for_customer: bool = False,
    memo: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The names of `NAMES` for `ticket`, for a recipient reading `language` in `time_zone`
    (default: the requester's). `agent`: who the message is from (default: the assignee).
    `message_body`: the public message being sent. `extra` (nested, plain data) is merged on
    top, limited to the same top-level names. `for_customer`: the recipient is a customer, who
    never reads the values of fields the department's layout hides from customers."""
    requester = ticket.requester
    department = ticket.department
    tz = zone(time_zone or requester.time_zone)
    if agent is None and ticket.assignee_id is not None:
        agent = ticket.assignee
    # The customer portal's pages, when the desk has one (`PORTAL_URL`, else the portal switched
    # on in the Console: `portal.links`); else no link at all: the shipped templates leave their
    # link lines out rather than send a dead link.
    portal_root = portal_links.portal_root(memo=memo)
    portal = f"{portal_root}/tickets/{ticket.number}/" if portal_root else ""
    survey = f"{portal_root}/survey/ticket/{ticket.number}/" if portal_root else ""
    with translation.override(language):
        # (gettext of "" would be the catalogue's header)
        status_name = pgettext("status category", ticket.status.name) if ticket.status.name else ""
        priority_name = pgettext("priority", Priority(ticket.priority).label.capitalize())
    if for_customer:
        custom = _plain(customer_custom_fields(ticket=ticket, memo=memo))
    else:
        custom = _plain(dict(ticket.custom_fields or {}))
    context: dict[str, Any] = {
        "ticket": {
            "number": ticket.number,
            "subject": ticket.subject,
            "status": ticket.status.key,
            "status_name": status_name,
            "priority": Priority(ticket.priority).label,
            "priority_name": priority_name,
            "department": department.name,
            "created_at": when(ticket.created_at, tz),
            "url": portal,
            "custom": custom,
        },
        "requester": {
            "name": str(requester),
            "email": requester.email,
            "language": requester.language,
        },
        "agent": {"name": agent.name, "signature": agent.signature} if agent is not None else {},
        "department": {"name": department.name, "email": department.email},
        "sla": _sla(ticket, now, tz),
        "links": {
            "ticket": portal,
            "survey": survey,
            "agent_ticket": agent_ticket_url(ticket),
        },
        "message": {"body": message_body} if message_body is not None else {},
    }
    for name, value in (extra or {}).items():
        if name not in TOP_LEVEL:
            continue
        plain = _plain(value)
        if isinstance(plain, dict) and isinstance(context.get(name), dict):
            context[name] = {**context[name], **plain}
        else:
            context[name] = plain
    return context

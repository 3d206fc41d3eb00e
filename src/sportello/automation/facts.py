"""The facts conditions read: a ticket (and the change under way) as the flat mapping of
`sportello.engine.conditions`, and the specs of every field a condition may name.

`ticket_facts` is the Python side of the condition language; `automation.query.ticket_filter`
is the database side. Both read the same columns, so a condition selects the same tickets either
way (tests/automation/test_condition_equivalence.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import CharField, IntegerField, Value
from django.utils import timezone

from sportello.core import config
from sportello.engine.conditions import FIELDS, FieldSpec, FieldType, custom_field_spec
from sportello.tickets.models import CustomField, Message, Priority, Ticket, TicketTag

CUSTOM_PREFIX = "ticket.custom."
PRIORITY_NAME = {p.value: p.label for p in Priority}
PRIORITY_VALUE = {p.label: p.value for p in Priority}


def _always_open(department_id: int | None, at: datetime, memo: dict[str, Any] | None = None) -> bool:
    return True


# Whether an instant is in the business hours of a department's calendar. The calendars
# (`sla.calendars.in_business_hours`) set it when the app is ready; without them, always.
business_hours: Callable[[int | None, datetime, dict[str, Any] | None], bool] = _always_open


def _no_surveys(ticket: Ticket, memo: dict[str, Any] | None = None) -> tuple[str, int | None, bool]:
    return "unoffered", None, False


def _no_survey_values() -> tuple[Any, Any]:
    return Value("unoffered", output_field=CharField()), Value(None, output_field=IntegerField())


# A ticket's satisfaction: (`ticket.satisfaction`, `ticket.satisfaction_score`, `event.rated`).
# The surveys (`surveys.selectors.ticket_satisfaction`) set it when the app is ready. It costs a
# query, so `ticket_facts` reads it only for callers whose conditions name one of those facts
# (`reads_satisfaction`).
satisfaction_of: Callable[[Ticket, dict[str, Any] | None], tuple[str, int | None, bool]] = _no_surveys
SATISFACTION_FACTS = ("ticket.satisfaction", "ticket.satisfaction_score", "event.rated")

# The same stored facts in SQL, for `automation.query`: the expressions of `ticket.satisfaction`
# and `ticket.satisfaction_score` over the ticket row of the outer query (`OuterRef("pk")`),
# never differing from `satisfaction_of` on a stored ticket. Set with it by the surveys
# (`surveys.selectors.satisfaction_expressions`); without them, "unoffered" and absent.
satisfaction_sql: Callable[[], tuple[Any, Any]] = _no_survey_values


def reads_satisfaction(fields: Iterable[str]) -> bool:
    """Whether conditions naming `fields` read the satisfaction facts (a query per change)."""
    return any(f in SATISFACTION_FACTS for f in fields)


def field_specs() -> dict[str, FieldSpec]:
    """The standard fields and one `ticket.custom.<key>` per active custom field (read once per
    batch of changes, `core.config.read_once`)."""
    return dict(config.once("field_specs", _field_specs))


def _field_specs() -> dict[str, FieldSpec]:
    specs = dict(FIELDS)
    for f in CustomField.objects.filter(is_active=True).order_by("position", "id"):
        options = tuple(o["value"] for o in f.options) if f.options else None
        spec = custom_field_spec(f.key, f.type, options)
        specs[spec.path] = spec
    return specs


def email_domain(email: str | None) -> str | None:
    """The part after the last `@`, lower-cased; None without an `@` (the database side
    computes the same, see `automation.query`)."""
    if not email or "@" not in email:
        return None
    return email.rpartition("@")[2].lower()


def ticket_facts(
    ticket: Ticket,
    *,
    tags: list[str] | None = None,
    message: Message | None = None,
    event: Mapping[str, Any] | None = None,
    specs: Mapping[str, FieldSpec] | None = None,
    organization: bool = True,
    satisfaction: bool = True,
    now: datetime | None = None,
    memo: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The flat facts of `ticket` (with its status, requester and organization loaded or
    loadable), the `message` this change added and the `event` (`type`, `via`, `actor_kind`,
    `depth`). `tags` default to the stored ones; `specs` (for custom fields) to `field_specs()`.
    Absent values are None; custom values take their condition types (Decimal, date, aware
    datetime, frozenset for multi-select). `organization=False`: the organization's facts are
    left absent (it is not read; for callers that know no condition names them);
    `satisfaction=False`: likewise the satisfaction facts (the ticket's survey is not read: see
    `reads_satisfaction`). `now`: the
    instant `clock.in_business_hours` and `ticket.overdue` are about (default: the current
    time); `memo`: the change's, where the calendars' signature is read once per change."""
    if tags is None:
        tags = list(TicketTag.objects.filter(ticket_id=ticket.pk).values_list("name", flat=True))
    if specs is None:
        specs = field_specs()
    requester = ticket.requester
    org = ticket.organization if organization else None
    now = now or timezone.now()
    facts: dict[str, Any] = {
        "ticket.number": ticket.number,
        "ticket.subject": ticket.subject,
        "ticket.status": ticket.status.key,
        "ticket.status_category": ticket.status_category,
        "ticket.priority": PRIORITY_NAME[ticket.priority],
        "ticket.channel": ticket.channel,
        "ticket.department": ticket.department_id,
        "ticket.team": ticket.team_id,
        "ticket.assignee": ticket.assignee_id,
        "ticket.requester": ticket.requester_id,
        "ticket.organization": ticket.organization_id,
        "ticket.tags": frozenset(tags),
        "ticket.due_at": ticket.due_at,
        "ticket.overdue": overdue(ticket.due_at, now),
        "ticket.created_at": ticket.created_at,
        "ticket.updated_at": ticket.updated_at,
        "ticket.first_response_at": ticket.first_response_at,
        "ticket.solved_at": ticket.solved_at,
        "ticket.message_count": ticket.message_count,
        "ticket.customer_message_count": ticket.customer_message_count,
        "ticket.agent_reply_count": ticket.agent_reply_count,
        "requester.email": requester.email,
        "requester.domain": email_domain(requester.email),
        "requester.name": requester.name,
        "requester.vip": requester.vip,
        "requester.language": requester.language,
        "organization.name": org.name if org else None,
        "organization.tier": org.tier if org else None,
        "organization.vip": org.vip if org else None,
        "message.body": message.body_text if message else None,
        "message.public": message.public if message else None,
        "message.author_kind": message.author_kind if message else None,
        "message.channel": message.via if message else None,
        "event.type": event.get("type") if event else None,
        "event.via": event.get("via") if event else None,
        "event.actor_kind": event.get("actor_kind") if event else None,
        "event.depth": event.get("depth") if event else None,
        "clock.in_business_hours": business_hours(ticket.department_id, now, memo),
    }
    if satisfaction and any(path in specs for path in SATISFACTION_FACTS):
        facts.update(zip(SATISFACTION_FACTS, satisfaction_of(ticket, memo), strict=True))
    stored = ticket.custom_fields or {}
    for path, spec in specs.items():
        if path.startswith(CUSTOM_PREFIX):
            facts[path] = custom_value(spec.type, stored.get(path.removeprefix(CUSTOM_PREFIX)))
    return facts


def overdue(due_at: datetime | None, now: datetime) -> bool:
    """The `ticket.overdue` fact: the due date is set and not after `now` (the database side
    compiles the same comparison, see `automation.query`)."""
    return due_at is not None and due_at <= now


def custom_value(field_type: FieldType, raw: Any) -> Any:
    """A stored custom-field value (JSON, see `engine.fields`) as its condition type. A value
    that does not fit the type (stored before the field changed) is absent."""
    if raw is None:
        return None
    match field_type:
        case FieldType.TEXT | FieldType.CHOICE:
            return raw if isinstance(raw, str) else None
        case FieldType.NUMBER:
            if isinstance(raw, bool):
                return None
            if isinstance(raw, int):
                return raw
            try:
                return Decimal(raw) if isinstance(raw, str) else None
            except InvalidOperation:
                return None
        case FieldType.DATE:
            try:
                return date.fromisoformat(raw) if isinstance(raw, str) else None
            except ValueError:
                return None
        case FieldType.DATETIME:
            try:
                value = datetime.fromisoformat(raw) if isinstance(raw, str) else None
            except ValueError:
                return None
            return value if value is not None and value.tzinfo is not None else None
        case FieldType.BOOLEAN:
            return raw if isinstance(raw, bool) else None
        case FieldType.SET:
            if isinstance(raw, list) and all(isinstance(v, str) for v in raw):
                return frozenset(raw)
            return None
    return None

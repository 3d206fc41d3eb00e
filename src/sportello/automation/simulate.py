"""Dry run: what would a change do? The real pipeline runs inside a transaction that is rolled
back, so the answer is exactly what a real change would do, and nothing is kept: no ticket,
event, trace, outbox row or task survives, and the ticket-number counter (a row of
`core_sequence`) is rolled back with the rest. Database id sequences are not transactional on
PostgreSQL: a simulation may use up ids (rows are never written with them).

Candidate rules (`rules`) are saved inside the same transaction before the change runs, so they
take part exactly as if they had been saved: a candidate with the key of a saved rule replaces
it for the simulation.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction

from sportello.accounts.models import User
from sportello.contacts.models import Contact
from sportello.core.actors import Via
from sportello.core.errors import ValidationFailed
from sportello.tickets import services as ticket_services
from sportello.tickets.audit import expand
from sportello.tickets.models import Message, TicketEvent

from .event_rules import explaining, forget_parsed_rules
from .models import RuleKind, RuleTrace
from .services import RuleWarning, rule_save, rules_lint


@dataclass(slots=True)
class Simulation:
    ticket_id: int | None
    change_id: str | None
    changes: list[dict[str, Any]] = field(default_factory=list)
    traces: list[dict[str, Any]] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    webhooks: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[RuleWarning] = field(default_factory=list)


class _Rollback(Exception):
    pass


def rules_simulate(
    *,
    principal: User | Contact,
    ticket_id: int | None = None,
    change: dict[str, Any] | None = None,
    ticket: dict[str, Any] | None = None,
    rules: list[dict[str, Any]] | None = None,
    now: datetime,
) -> Simulation:
    """Run a change through the pipeline and roll it back. Either `ticket_id` and `change`
    (API names as in the ticket PATCH, plus `message: {body, public}`) or `ticket` (the body of
    a ticket creation). The change runs as `principal`, with its permissions (a ticket it may
    not read is not found)."""
    if (ticket_id is None) == (ticket is None):
        raise ValidationFailed("give either ticket_id (with change) or ticket", field="ticket_id")
    result = Simulation(ticket_id=ticket_id, change_id=None)
    try:
        with transaction.atomic(), explaining():
            _save_candidates(rules or [], principal=principal, now=now)
            if ticket is not None:
                outcome = ticket_services.ticket_open(
                    principal=principal, via=Via.API, data=dict(ticket), now=now
                )
            else:
                assert ticket_id is not None
                outcome = _apply(principal=principal, ticket_id=ticket_id, change=change or {}, now=now)
            _collect(result, change_id=outcome.change_id, ticket_id=outcome.ticket.pk)
            if rules:
                result.warnings = rules_lint()
            raise _Rollback
    except _Rollback:
        pass
    finally:
        if rules:
            forget_parsed_rules()  # candidates were cached under ids now rolled back
    return result


def _save_candidates(rules: list[dict[str, Any]], *, principal: User | Contact, now: datetime) -> None:
    if rules and not (isinstance(principal, User) and principal.is_admin):
        from sportello.core.errors import PermissionDenied

        raise PermissionDenied("only admins may simulate unsaved rules")
    for i, item in enumerate(rules):
        if not isinstance(item, dict):
            raise ValidationFailed("must be a rule definition", field=f"rules[{i}]")
        definition = dict(item)
        kind = definition.pop("kind", "event")
        if kind not in ("event", "time"):
            raise ValidationFailed("must be event or time", field=f"rules[{i}].kind")
        try:
            rule_save(
                kind=RuleKind(kind),
                definition=definition,
                created_by=principal if isinstance(principal, User) else None,
                now=now,
            )
        except ValidationFailed as exc:
            raise ValidationFailed(
                exc.message, field=f"rules[{i}]" + (f".{exc.field}" if exc.field else "")
            ) from None


def _apply(*, principal: User | Contact, ticket_id: int, change: dict[str, Any], now: datetime) -> Any:
    from sportello.tickets import pipeline, selectors

    current = selectors.ticket_get_for(principal=principal, ticket_id=ticket_id)
    data = {k: v for k, v in change.items() if k != "message"}
    fields = {ticket_services.FIELD_NAMES[k]: v for k, v in data.items() if k in ticket_services.FIELD_NAMES}
    unknown = sorted(
        set(data) - set(ticket_services.FIELD_NAMES) - {"custom_fields", "tags", "add_tags", "remove_tags"}
    )
    if unknown:
        raise ValidationFailed("unknown field", field=f"change.{unknown[0]}")
    message = change.get("message")
    new_message = None
    if message is not None:
        if not isinstance(message, dict) or not isinstance(message.get("body"), str):
            raise ValidationFailed("must be {body, public}", field="change.message")
        new_message = pipeline.NewMessage(body=message["body"], public=bool(message.get("public", True)))
    mutation = pipeline.Mutation(
        actor=ticket_services.actor_for(principal),
        via=Via.API,
        fields=fields,
        custom_fields=data.get("custom_fields") or {},
        tags_set=tuple(data["tags"]) if data.get("tags") is not None else None,
        tags_add=tuple(data.get("add_tags") or ()),
        tags_remove=tuple(data.get("remove_tags") or ()),
        message=new_message,
        expected_version=current.version,
    )
    try:
        return pipeline.ticket_apply(ticket_id=ticket_id, mutation=mutation, now=now)
    except ValidationFailed as exc:
        raise ticket_services.api_field(exc) from None


def _collect(result: Simulation, *, change_id: uuid.UUID, ticket_id: int) -> None:
    from sportello.outbox.models import OutboxMessage

    result.change_id = str(change_id)
    # A new ticket's initial values are its `created` event's: read as field events (`expand`).
    written = TicketEvent.objects.filter(change_id=change_id, kind__in=("field", "created")).order_by("id")
    for e in (e for e in expand(written) if e.kind == "field"):
        result.changes.append(
            {
                "field": e.field,
                "old_value": e.old_value,
                "new_value": e.new_value,
                "actor_kind": e.actor_kind,
                "actor_id": e.actor_id,
                "cause": e.cause,
            }
        )
    for trace in RuleTrace.objects.filter(change_id=change_id).order_by("id"):
        result.traces.append({"kind": trace.kind, "passes": trace.passes, **trace.trace})
    for item in OutboxMessage.objects.filter(change_id=change_id).order_by("id"):
        payload = item.payload
        if item.kind == "email":
            result.notifications.append(
                {
                    "to": payload.get("to", []),
                    "subject": payload.get("subject", ""),
                    "body": payload.get("body", ""),
                    "rule": payload.get("rule"),
                }
            )
        elif item.kind == "webhook":
            result.webhooks.append(
                {"url": payload.get("url", ""), "body": payload.get("body", ""), "rule": payload.get("rule")}
            )
    notes = Message.objects.filter(ticket_id=ticket_id, change_id=change_id, public=False, via=Via.RULE)
    for note in notes.order_by("id"):
        result.notes.append({"body": note.body_text})

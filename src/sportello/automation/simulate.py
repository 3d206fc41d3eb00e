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
from sportello.core.errors import DomainError, ValidationFailed
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


# -- a candidate rule on the last tickets ------------------------------------------------------

DRY_RUN_DEFAULT = 50
DRY_RUN_MAX = 500


@dataclass(slots=True)
class TicketDryRun:
    """What the candidate rule would do to one ticket."""

    ticket_id: int
    number: int
    subject: str
    changes: list[dict[str, Any]] = field(default_factory=list)  # field, old_value, new_value
    notes: list[str] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    webhooks: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


@dataclass(slots=True)
class RuleDryRun:
    tried: int  # tickets the rule was tried on
    matched: list[TicketDryRun] = field(default_factory=list)
    warnings: list[RuleWarning] = field(default_factory=list)


def rule_dry_run(
    *, principal: User, kind: RuleKind, definition: Any, last: int = DRY_RUN_DEFAULT, now: datetime
) -> RuleDryRun:
    """Try an unsaved rule on the last `last` tickets that are not closed (rules never change a
    closed ticket), newest first, and say on which its condition holds and what its actions
    would change there: an event rule as if each ticket were updated now with its latest
    message just added (its `on` list aside),
    a time rule as if its first step fired now. Each ticket runs a real change through the
    pipeline — validated as the rule's own change would be — inside a transaction that is
    rolled back: nothing is kept. Only admins (ValidationFailed names a bad definition's path)."""
    from sportello.core.errors import PermissionDenied
    from sportello.tickets.models import StatusCategory, Ticket

    if not principal.is_admin:
        raise PermissionDenied("only admins may try unsaved rules")
    if not 1 <= last <= DRY_RUN_MAX:
        raise ValidationFailed(f"must be between 1 and {DRY_RUN_MAX}", field="last")
    if not isinstance(definition, dict):
        raise ValidationFailed("a rule must be a mapping")
    result = RuleDryRun(tried=0)
    try:
        with transaction.atomic():
            # Saved inactive inside the rolled-back transaction: it is validated (records by key
            # resolved) and has a row to act as, and a saved version of it does not run meanwhile.
            head, _ = rule_save(
                kind=kind, definition={**definition, "active": False}, created_by=principal, now=now
            )
            tickets = list(
                Ticket.objects.exclude(status_category=StatusCategory.CLOSED)
                .order_by("-created_at", "-id")
                .values_list("pk", "number", "subject")[:last]
            )
            result.tried = len(tickets)
            stored = _current_definition(head)
            for pk, number, subject in tickets:
                outcome = _try_on(head, kind, stored, ticket_id=pk, now=now)
                if outcome is not None:
                    outcome.number, outcome.subject = number, subject
                    result.matched.append(outcome)
            raise _Rollback
    except _Rollback:
        pass
    finally:
        forget_parsed_rules()  # the candidate was cached under an id now rolled back
    return result


def _current_definition(head: Any) -> dict[str, Any]:
    from .models import RuleVersion

    return RuleVersion.objects.get(rule=head, version=head.version).definition


def _latest_message_facts(ticket_id: int) -> dict[str, Any]:
    """The `message.*` facts of the ticket's latest message, as if it had just been added: a
    dry run changes no message of its own, so a rule on what customers write ("the body
    contains …") is tried on what they last wrote. Empty when the ticket has no message."""
    row = (
        Message.objects.filter(ticket_id=ticket_id)
        .order_by("-created_at", "-id")
        .values_list("body_text", "public", "author_kind", "via")
        .first()
    )
    if row is None:
        return {}
    body, public, author_kind, via = row
    return {
        "message.body": body,
        "message.public": public,
        "message.author_kind": author_kind,
        "message.channel": via,
    }


def _try_on(head: Any, kind: RuleKind, stored: dict[str, Any], *, ticket_id: int, now: datetime) -> Any:
    """The candidate on one ticket, in a savepoint: None when its condition does not hold."""
    from sportello.core.actors import Actor, ActorKind
    from sportello.engine import actions as act
    from sportello.engine.conditions import explain
    from sportello.engine.rules import EventRule
    from sportello.outbox.models import OutboxMessage
    from sportello.tickets import pipeline

    from . import event_rules
    from .facts import field_specs
    from .timers import parse_time_rule

    specs = field_specs()
    if kind == RuleKind.EVENT:
        rule = event_rules.parse_event_rule(stored, specs=specs)
        when, actions = rule.when, rule.actions
        cause = f"rule:{head.key}@{head.version}"
    else:
        time_rule = parse_time_rule(stored, specs=specs)
        when, actions = time_rule.when, time_rule.steps[0].actions
        cause = f"timer:{head.key}@{head.version}#0"
    as_event_rule = EventRule(key=head.key, name=head.name, when=when, actions=actions, version=head.version)
    saved = event_rules.SavedRule(id=head.pk, name=head.name, rule=as_event_rule)
    verdict: dict[str, Any] = {"matched": False, "error": None}
    # A time rule fires with no message; an event rule is tried as on the ticket's latest one.
    latest_message = _latest_message_facts(ticket_id) if kind == RuleKind.EVENT else {}

    def apply(ctx: Any) -> None:
        runner = event_rules.Runner(ctx, specs, {head.key: saved}, cause=cause)
        facts: Any = {**runner.facts(), **latest_message}
        matched, _ = explain(when, facts, specs=specs)
        verdict["matched"] = matched
        if not matched:
            return
        for action in actions:
            if isinstance(action, act.Stop):
                break
            applied = runner.apply(as_event_rule, action, facts)
            if applied.error is not None:
                verdict["error"] = applied.error
                return
            facts = applied.facts
        for effect in runner.queued.pop(head.key, []):
            effect()

    mutation = pipeline.Mutation(
        actor=Actor(kind=ActorKind.RULE, id=head.pk, label=head.name[:200]),
        via=Via.RULE,
        cause=cause,
        automation=apply,
    )
    try:
        with transaction.atomic():
            outcome = pipeline.ticket_apply(ticket_id=ticket_id, mutation=mutation, now=now)
            found = TicketDryRun(ticket_id=ticket_id, number=0, subject="", error=verdict["error"])
            if not verdict["matched"]:
                return None
            written = TicketEvent.objects.filter(change_id=outcome.change_id, kind__in=("field", "tags"))
            for e in expand(written.order_by("id")):
                if e.kind in ("field", "tags") and e.cause == cause:
                    found.changes.append(
                        {"field": e.field, "old_value": e.old_value, "new_value": e.new_value}
                    )
            notes = Message.objects.filter(
                ticket_id=ticket_id, change_id=outcome.change_id, public=False, via=Via.RULE
            )
            found.notes = [n.body_text for n in notes.order_by("id")]
            for item in OutboxMessage.objects.filter(change_id=outcome.change_id).order_by("id"):
                if str(item.payload.get("rule") or "").partition("@")[0] != head.key:
                    continue
                if item.kind == "email":
                    found.notifications.append(
                        {"to": item.payload.get("to", []), "subject": item.payload.get("subject", "")}
                    )
                elif item.kind == "webhook":
                    found.webhooks.append({"url": item.payload.get("url", "")})
            return found
    except DomainError as exc:  # a change refused for this ticket (a refused action, closed)
        if not verdict["matched"]:
            return None
        return TicketDryRun(ticket_id=ticket_id, number=0, subject="", error=str(exc))

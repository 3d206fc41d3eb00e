"""Reads of rules and traces, permission-scoped.

Who reads what: admins and agents read rules (agents see what automation does to their
tickets); light agents and customers read no rule. Traces are read by whoever may read the
ticket's audit trail (its events).
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from django.db.models import F, QuerySet

from sportello.accounts.models import Role, User
from sportello.contacts.models import Contact
from sportello.core.errors import NotFound, PermissionDenied, ValidationFailed
from sportello.tickets import selectors as ticket_selectors

from .models import MacroVersion, Rule, RuleTrace, RuleVersion, TraceKind

Principal = User | Contact


def require_rule_reader(principal: Principal) -> None:
    if not isinstance(principal, User) or principal.role not in (Role.ADMIN, Role.AGENT):
        raise PermissionDenied("only admins and agents can read rules")


def rule_list(*, principal: Principal) -> QuerySet[Rule]:
    require_rule_reader(principal)
    return Rule.objects.order_by("kind", "category", "position", "key")


def rule_get(*, principal: Principal, key: str) -> Rule:
    require_rule_reader(principal)
    rule = Rule.objects.filter(key=key).first()
    if rule is None:
        raise NotFound("rule not found")
    return rule


def rule_current_definitions(*, rules: list[Rule]) -> dict[int, RuleVersion]:
    """The current version row of each rule, by rule id (one query)."""
    versions = RuleVersion.objects.filter(rule_id__in=[r.pk for r in rules])
    current = {(r.pk, r.version) for r in rules}
    return {v.rule_id: v for v in versions if (v.rule_id, v.version) in current}


def rule_versions(*, principal: Principal, key: str) -> tuple[Rule, QuerySet[RuleVersion]]:
    rule = rule_get(principal=principal, key=key)
    return rule, RuleVersion.objects.filter(rule=rule).select_related("created_by").order_by("-version")


def trace_list(*, principal: Principal, ticket_id: int, change_id: str | None = None) -> QuerySet[RuleTrace]:
    """The traces stored for a ticket's changes, oldest first; `change_id` narrows to one change."""
    ticket = ticket_selectors.ticket_get_for(principal=principal, ticket_id=ticket_id)
    ticket_selectors.event_list(principal=principal, ticket=ticket)  # the same access as events
    qs = RuleTrace.objects.filter(ticket=ticket)
    if change_id is not None:
        try:
            qs = qs.filter(change_id=uuid.UUID(change_id))
        except ValueError:
            raise ValidationFailed("must be a UUID", field="change_id") from None
    return qs.order_by("at", "id")


def trace_considered(*, traces: list[RuleTrace]) -> dict[int, list[dict[str, Any]]]:
    """Why each rule considered on each change ended as it did, by trace id: the rule, its
    version, the outcome (`fired`, `not_matched`, `skipped: event filter`, ...) and, for a rule
    that did not match, the path of the first part of its condition that failed and that part
    as the rule's version wrote it (one query for the rule versions of all the traces)."""
    rows = {t.pk: _considered_rows(t.trace) for t in traces}
    wanted = {(r[0], r[1]) for found in rows.values() for r in found if r[3] is not None}
    conditions: dict[tuple[str, int], Any] = {}
    if wanted:
        versions = RuleVersion.objects.filter(
            rule__key__in={k for k, _ in wanted}, version__in={v for _, v in wanted}
        ).values_list("rule__key", "version", "definition")
        conditions = {(k, v): d.get("when") for k, v, d in versions if (k, v) in wanted}
    return {
        pk: [
            {
                "rule": key,
                "version": version,
                "outcome": outcome,
                "failed": failed,
                "condition": None
                if failed is None
                else condition_part(conditions.get((key, version)), failed),
            }
            for key, version, outcome, failed in found
        ]
        for pk, found in rows.items()
    }


def _considered_rows(data: Any) -> list[tuple[str, Any, str, str | None]]:
    """The compact `considered` list of a stored trace; for traces written before it existed,
    the rules listed with their outcome."""
    if not isinstance(data, dict):
        return []
    compact = data.get("considered")
    if isinstance(compact, list):
        return [(r[0], r[1], r[2], r[3]) for r in compact if isinstance(r, list) and len(r) == 4]
    seen: dict[str, tuple[str, Any, str, str | None]] = {}
    for r in data.get("rules") or []:
        if isinstance(r, dict) and isinstance(r.get("rule"), str):
            seen[r["rule"]] = (r["rule"], r.get("version"), str(r.get("outcome")), None)
    return list(seen.values())


_STEP = re.compile(r"\.(all|any|not)|\[(\d+)\]")


def condition_part(when: Any, path: str) -> Any:
    """The part of a condition (its data form, `when`) at `path` (`when.all[1].not`), or None
    when the condition has no such part."""
    node = when
    for name, index in _STEP.findall(path.removeprefix("when")):
        if index:
            if not isinstance(node, list) or int(index) >= len(node):
                return None
            node = node[int(index)]
        elif isinstance(node, dict) and name in node:
            node = node[name]
        else:
            return None
    return node


def field_readers(key: str) -> list[str]:
    """The active rules and macros whose current version names custom field `key` (in a
    condition, an action or a template placeholder), as `rule <key>` / `macro <key>`, sorted.
    Used to refuse deactivating a field that automation still reads."""
    path = re.compile(rf"ticket\.custom\.{re.escape(key)}(?![A-Za-z0-9_])")
    rules = RuleVersion.objects.filter(rule__active=True, version=F("rule__version"))
    macros = MacroVersion.objects.filter(macro__active=True, version=F("macro__version"))
    found = [
        f"rule {k}" for k, d in rules.values_list("rule__key", "definition") if path.search(json.dumps(d))
    ] + [
        f"macro {k}" for k, d in macros.values_list("macro__key", "definition") if path.search(json.dumps(d))
    ]
    return sorted(found)


def rule_fire_stats() -> dict[str, tuple[int, Any]]:
    """How often each rule fired and when last, by rule key, from the stored traces (one query:
    the traces on which something fired, failed or reached a cap; quiet ones fired nothing)."""
    stats: dict[str, tuple[int, Any]] = {}
    rows = RuleTrace.objects.filter(quiet=False).exclude(kind=TraceKind.SIMULATE)
    for at, fired in rows.values_list("at", "trace__fired").iterator(chunk_size=2000):
        if not isinstance(fired, list):
            continue
        for key in set(fired):
            if not isinstance(key, str):
                continue
            count, last = stats.get(key, (0, None))
            stats[key] = (count + 1, at if last is None or at > last else last)
    return stats

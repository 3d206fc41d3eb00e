"""`/api/v1/rules`: event and time rules, rules as code, dry run, replay over the recorded
history; and a ticket's traces.

Permissions: admins write rules (create, new version, deactivate, import), may simulate
unsaved rules and replay rules over the history; admins and agents read rules, export them and
simulate a change on a ticket they may read (the change runs with their own permissions). Light
agents and customers see no rule. A ticket's traces are read by whoever may read its events.

`DELETE /rules/{key}` deactivates: it saves a new version with `active: false`; every version
stays readable and saving the rule again with `active: true` revives it.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse, JsonResponse
from ninja import Router, Status

from sportello.accounts.http import ApiRequest
from sportello.accounts.services import require_admin
from sportello.core import clock
from sportello.core.errors import Conflict, NotFound, UnsupportedMediaType, ValidationFailed
from sportello.core.http import YAML_CONTENT_TYPES, json_document
from sportello.core.versions_api import (
    history_routes,
    version_item,
)

from .. import replay, selectors, services, simulate
from ..models import Rule, RuleKind, RuleTrace
from ..schemas import (
    RuleOut,
    RulePage,
    RuleSaved,
    RulesImportOut,
    RuleVersionPage,
    SimulateIn,
    SimulateOut,
    TracePage,
)
from .replay_schemas import ReplayIn, ReplayOut, replay_out

router = Router(tags=["rules"])

YAML_TYPES = YAML_CONTENT_TYPES


def rule_out(rule: Rule, definition: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": rule.pk,
        "kind": rule.kind,
        "key": rule.key,
        "name": rule.name,
        "category": rule.category,
        "position": rule.position,
        "active": rule.active,
        "version": rule.version,
        "updated_at": rule.updated_at,
        "definition": definition,
    }


def warning_out(w: services.RuleWarning) -> dict[str, Any]:
    return {"kind": w.kind, "key": w.key, "path": w.path, "code": w.code, "message": w.message}


def _body(request: ApiRequest) -> Any:
    """The request body as data: JSON, or YAML when the content type says so."""
    content_type = request.content_type or "application/json"
    text = request.body.decode("utf-8", errors="replace")
    if content_type in YAML_TYPES:
        return services.load_rules_text(text)
    if content_type != "application/json":
        raise UnsupportedMediaType("send application/json or application/yaml")
    return json_document(request, max_bytes=services.engine_rules.DOCUMENT_MAX_BYTES)


def _kind_and_definition(data: Any) -> tuple[RuleKind, dict[str, Any]]:
    if not isinstance(data, dict):
        raise ValidationFailed("a rule must be a JSON object")
    definition = dict(data)
    kind = definition.pop("kind", None)
    if kind not in (RuleKind.EVENT, RuleKind.TIME):
        raise ValidationFailed("must be event or time", field="kind")
    return RuleKind(kind), definition


def _saved(rule: Rule, written: bool) -> dict[str, Any]:
    current = selectors.rule_current_definitions(rules=[rule])[rule.pk]
    warnings = services.rule_warnings(kind=RuleKind(rule.kind), key=rule.key)
    return {
        **rule_out(rule, current.definition),
        "written": written,
        "warnings": [warning_out(w) for w in warnings],
    }


@router.get("/rules", response=RulePage, summary="List event and time rules (admins, agents)")
def list_rules(request: ApiRequest, kind: str | None = None) -> dict[str, Any]:
    qs = selectors.rule_list(principal=request.auth)
    if kind is not None:
        qs = qs.filter(kind=kind)
    rules = list(qs)
    current = selectors.rule_current_definitions(rules=rules)
    return {"items": [rule_out(r, current[r.pk].definition) for r in rules if r.pk in current]}


@router.post("/rules", response={201: RuleSaved}, summary="Create a rule (admins)")
def create_rule(request: ApiRequest) -> Status:
    require_admin(request.auth)
    kind, definition = _kind_and_definition(_body(request))
    if isinstance(definition.get("key"), str) and Rule.objects.filter(key=definition["key"]).exists():
        raise Conflict(services.CREATE_CONFLICT, field="key")
    rule, written = services.rule_save(
        kind=kind, definition=definition, created_by=request.auth, now=clock.now(), create=True
    )
    return Status(201, _saved(rule, written))


@router.get("/rules/export", summary="Export every rule, macro and assignment policy (admins, agents)")
def export_rules(request: ApiRequest, format: str | None = None) -> HttpResponse:
    selectors.require_rule_reader(request.auth)
    data = services.rules_export()
    accept = request.headers.get("Accept", "")
    if format == "yaml" or (format is None and any(t in accept for t in YAML_TYPES)):
        return HttpResponse(services.rules_dump(data), content_type="application/yaml; charset=utf-8")
    if format not in (None, "yaml", "json"):
        raise ValidationFailed("must be yaml or json", field="format")
    return JsonResponse(data)


@router.post(
    "/rules/import", response=RulesImportOut, summary="Import a rules document, all or nothing (admins)"
)
def import_rules(request: ApiRequest, dry_run: bool = False) -> dict[str, Any]:
    require_admin(request.auth)
    result = services.rules_import(
        data=_body(request), created_by=request.auth, now=clock.now(), dry_run=dry_run
    )
    return {
        "dry_run": result.dry_run,
        "counts": result.counts,
        "items": [
            {"kind": i.kind, "key": i.key, "outcome": i.outcome, "version": i.version} for i in result.items
        ],
        "warnings": [warning_out(w) for w in result.warnings],
    }


@router.post("/rules/simulate", response=SimulateOut, summary="Dry-run a change through the rules")
def simulate_rules(request: ApiRequest, payload: SimulateIn) -> dict[str, Any]:
    selectors.require_rule_reader(request.auth)
    result = simulate.rules_simulate(
        principal=request.auth,
        ticket_id=payload.ticket_id,
        change=payload.change,
        ticket=payload.ticket,
        rules=payload.rules,
        now=clock.now(),
    )
    return {
        "ticket_id": result.ticket_id,
        "change_id": result.change_id,
        "changes": result.changes,
        "traces": result.traces,
        "notifications": result.notifications,
        "webhooks": result.webhooks,
        "notes": result.notes,
        "warnings": [warning_out(w) for w in result.warnings],
    }


@router.post(
    "/rules/replay",
    response=ReplayOut,
    summary="Replay a rule over the recorded history of the last N days (admins)",
    description="Had this rule (new, or a changed version of a saved one) been active over the last "
    "`days` days: which tickets it would have changed, when, and how, read from the audit trail, "
    "and — when a saved rule of the same kind has its key — how that compares with what the saved "
    "rule did in the same window. Nothing is written. 422 when the window holds more than "
    "`REPLAY_CHANGES_MAX` changes (narrow it).",
)
def replay_rule(request: ApiRequest, payload: ReplayIn) -> dict[str, Any]:
    require_admin(request.auth)
    kind, definition = _kind_and_definition(payload.rule)
    result = replay.rule_replay(
        principal=request.auth,
        kind=kind,
        definition=definition,
        days=payload.days,
        now=clock.now(),
        time_zone=payload.time_zone,
    )
    return replay_out(result)


@router.get("/rules/{key}", response=RuleOut, summary="Get a rule at its current version")
def get_rule(request: ApiRequest, key: str) -> dict[str, Any]:
    rule = selectors.rule_get(principal=request.auth, key=key)
    return rule_out(rule, selectors.rule_current_definitions(rules=[rule])[rule.pk].definition)


@router.put("/rules/{key}", response=RuleSaved, summary="Save a new version of a rule (admins)")
def put_rule(request: ApiRequest, key: str) -> dict[str, Any]:
    require_admin(request.auth)
    kind, definition = _kind_and_definition(_body(request))
    definition.setdefault("key", key)
    if definition["key"] != key:
        raise ValidationFailed("must equal the key in the path; keys do not change", field="key")
    if not Rule.objects.filter(key=key).exists():
        raise NotFound("rule not found")
    rule, written = services.rule_save(
        kind=kind, definition=definition, created_by=request.auth, now=clock.now()
    )
    return _saved(rule, written)


@router.delete("/rules/{key}", response=RuleSaved, summary="Deactivate a rule, keeping its history (admins)")
def delete_rule(request: ApiRequest, key: str) -> dict[str, Any]:
    require_admin(request.auth)
    rule, written = services.rule_deactivate(key=key, created_by=request.auth, now=clock.now())
    return _saved(rule, written)


@router.get("/rules/{key}/versions", response=RuleVersionPage, summary="Every saved version, newest first")
def list_rule_versions(request: ApiRequest, key: str) -> dict[str, Any]:
    _, versions = selectors.rule_versions(principal=request.auth, key=key)
    return {"items": [version_item(v) for v in versions]}


history_routes(
    router,
    path="/rules/{key}",
    kind=services.RULES,
    module=__name__,
    names=(None, "get_rule_version", "diff_rule_versions", "revert_rule"),  # the list: above
    may_read=lambda user, key: selectors.require_rule_reader(user),
    may_revert=lambda user, key: require_admin(user),
)


@router.get("/tickets/{ticket_id}/traces", response=TracePage, summary="Why: the rule traces of a ticket")
def list_traces(request: ApiRequest, ticket_id: int, change_id: str | None = None) -> dict[str, Any]:
    """Every change of the ticket on which a rule was considered has a trace: `considered` says
    for each rule how it ended and which part of its condition failed first ("why did it not
    fire?"); `trace` has the details of the rules that acted."""
    traces = list(selectors.trace_list(principal=request.auth, ticket_id=ticket_id, change_id=change_id))
    considered = selectors.trace_considered(traces=traces)
    return {"items": [trace_out(t, considered.get(t.pk, [])) for t in traces]}


def trace_out(t: RuleTrace, considered: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "id": t.pk,
        "change_id": str(t.change_id),
        "at": t.at,
        "kind": t.kind,
        "passes": t.passes,
        "loop_guard": t.loop_guard,
        "quiet": t.quiet,
        "considered": considered or [],
        "trace": t.trace,
    }

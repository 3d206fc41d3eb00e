"""`/api/v1/blueprints` and a ticket's process: `/api/v1/tickets/{id}/blueprint`.

Permissions: admins write blueprints (create, new version, deactivate, import); admins and agents
read them (list, get, versions, export, flowchart); a blueprint's metrics
(`/blueprints/{key}/metrics`, and per department at `/metrics/blueprints`) are read by admins and
the agents of its department. A ticket's process is read, and its transitions performed, by the
admins and agents who may read the ticket (404 otherwise) — a transition only by its owners.
Light agents and customers see no blueprint (403).

`DELETE /blueprints/{key}` deactivates: it saves a new version with `active: false`; tickets
already in the process follow it to its end. Import reads JSON only (YAML bodies are accepted
under `/api/v1/rules` alone); export writes YAML too (`?format=yaml` or `Accept`).

A refused transition answers 409 `transition_not_allowed` (not from this state, not an owner,
its condition false) or 422 `validation_failed` (missing or invalid inputs, `field` naming the
first), each with `error.details`: every problem as `{code, field, message}`.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse, JsonResponse
from ninja import Query, Router, Status

from sportello.accounts.http import ApiRequest
from sportello.accounts.services import require_admin
from sportello.core import clock
from sportello.core.actors import Via
from sportello.core.errors import Conflict, NotFound, UnsupportedMediaType, ValidationFailed
from sportello.core.http import YAML_CONTENT_TYPES, error_body, json_document
from sportello.core.versions_api import (
    history_routes,
    version_item,
)
from sportello.engine import blueprints as engine
from sportello.engine.actions import value_to_data
from sportello.engine.blueprint_svg import render_svg
from sportello.engine.rules import DOCUMENT_MAX_BYTES
from sportello.tickets import causation

from . import selectors, services
from .models import Blueprint, BlueprintVersion
from .schemas import (
    BlueprintImportOut,
    BlueprintOut,
    BlueprintPage,
    BlueprintSaved,
    BlueprintVersionPage,
    DepartmentMetricsQuery,
    MetricsOut,
    MetricsPage,
    MetricsQuery,
    ProcessOut,
    TransitionDone,
    TransitionIn,
)

router = Router(tags=["blueprints"])

SVG_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}


def blueprint_out(row: Blueprint, version: BlueprintVersion) -> dict[str, Any]:
    return {
        "id": row.pk,
        "key": row.key,
        "name": row.name,
        "department_id": row.department_id,
        "priority": row.priority,
        "active": row.active,
        "version": row.version,
        "updated_at": row.updated_at,
        "definition": version.definition,
    }


def _saved(row: Blueprint, written: bool) -> dict[str, Any]:
    current = selectors.blueprint_current_definitions(blueprints=[row])[row.pk]
    return {**blueprint_out(row, current), "written": written}


def _body(request: ApiRequest) -> Any:
    """The request body as JSON data."""
    if (request.content_type or "application/json") != "application/json":
        raise UnsupportedMediaType("send application/json")
    return json_document(request, max_bytes=DOCUMENT_MAX_BYTES)


@router.get("/blueprints", response=BlueprintPage, summary="List blueprints (admins, agents)")
def list_blueprints(request: ApiRequest, department_id: int | None = None) -> dict[str, Any]:
    rows = list(selectors.blueprint_list(principal=request.auth, department_id=department_id))
    current = selectors.blueprint_current_definitions(blueprints=rows)
    return {"items": [blueprint_out(r, current[r.pk]) for r in rows if r.pk in current]}


@router.post("/blueprints", response={201: BlueprintSaved}, summary="Create a blueprint (admins)")
def create_blueprint(request: ApiRequest) -> Status:
    require_admin(request.auth)
    definition = _body(request)
    key = definition.get("key") if isinstance(definition, dict) else None
    if isinstance(key, str) and Blueprint.objects.filter(key=key).exists():
        raise Conflict(
            "a blueprint with this key exists; PUT /blueprints/{key} saves a new version", field="key"
        )
    row, written = services.blueprint_save(definition=definition, actor=request.auth, now=clock.now())
    return Status(201, _saved(row, written))


@router.get("/blueprints/export", summary="Export every blueprint as one document (admins, agents)")
def export_blueprints(request: ApiRequest, format: str | None = None) -> HttpResponse:
    selectors.require_blueprint_reader(request.auth)
    if format not in (None, "yaml", "json"):
        raise ValidationFailed("must be yaml or json", field="format")
    data = services.blueprints_export()
    accept = request.headers.get("Accept", "")
    if format == "yaml" or (format is None and any(t in accept for t in YAML_CONTENT_TYPES)):
        return HttpResponse(services.blueprints_dump(data), content_type="application/yaml; charset=utf-8")
    return JsonResponse(data)


@router.post(
    "/blueprints/import",
    response=BlueprintImportOut,
    summary="Import a blueprints document, all or nothing (admins)",
)
def import_blueprints(request: ApiRequest, dry_run: bool = False) -> dict[str, Any]:
    require_admin(request.auth)
    result = services.blueprints_import(
        data=_body(request), actor=request.auth, now=clock.now(), dry_run=dry_run
    )
    return {
        "dry_run": result.dry_run,
        "counts": result.counts,
        "items": [{"key": i.key, "outcome": i.outcome, "version": i.version} for i in result.items],
    }


@router.get(
    "/blueprints/{blueprint_key}", response=BlueprintOut, summary="Get a blueprint at its current version"
)
def get_blueprint(request: ApiRequest, blueprint_key: str) -> dict[str, Any]:
    row = selectors.blueprint_get(principal=request.auth, key=blueprint_key)
    return blueprint_out(row, selectors.blueprint_current_definitions(blueprints=[row])[row.pk])


@router.put("/blueprints/{blueprint_key}", response=BlueprintSaved, summary="Save a new version (admins)")
def put_blueprint(request: ApiRequest, blueprint_key: str) -> dict[str, Any]:
    require_admin(request.auth)
    definition = _body(request)
    if not isinstance(definition, dict):
        raise ValidationFailed("a blueprint must be a JSON object")
    definition.setdefault("key", blueprint_key)
    if definition["key"] != blueprint_key:
        raise ValidationFailed("must equal the key in the path; keys do not change", field="key")
    if not Blueprint.objects.filter(key=blueprint_key).exists():
        raise NotFound("blueprint not found")
    row, written = services.blueprint_save(definition=definition, actor=request.auth, now=clock.now())
    return _saved(row, written)


@router.delete(
    "/blueprints/{blueprint_key}",
    response=BlueprintSaved,
    summary="Deactivate a blueprint, keeping its history",
)
def delete_blueprint(request: ApiRequest, blueprint_key: str) -> dict[str, Any]:
    require_admin(request.auth)
    row, written = services.blueprint_deactivate(key=blueprint_key, actor=request.auth, now=clock.now())
    return _saved(row, written)


@router.get(
    "/blueprints/{blueprint_key}/versions",
    response=BlueprintVersionPage,
    summary="Every version, newest first",
)
def list_blueprint_versions(request: ApiRequest, blueprint_key: str) -> dict[str, Any]:
    _, versions = selectors.blueprint_versions(principal=request.auth, key=blueprint_key)
    return {"items": [version_item(v) for v in versions]}


history_routes(
    router,
    path="/blueprints/{blueprint_key}",
    kind=services.BLUEPRINTS,
    module=__name__,
    names=(None, "get_blueprint_version", "diff_blueprint_versions", "revert_blueprint"),  # the list: above
    may_read=lambda user, key: selectors.require_blueprint_reader(user),
    may_revert=lambda user, key: require_admin(user),
)


@router.get("/blueprints/{blueprint_key}/flowchart", summary="The blueprint as an SVG flowchart")
def flowchart(request: ApiRequest, blueprint_key: str, version: int | None = None) -> HttpResponse:
    found = selectors.blueprint_version_get(principal=request.auth, key=blueprint_key, version=version)
    svg = render_svg(selectors.parsed_version(found).blueprint)
    response = HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")
    for name, value in SVG_HEADERS.items():
        response[name] = value
    return response


@router.get("/blueprints/{blueprint_key}/metrics", response=MetricsOut, summary="A blueprint's dashboard")
def metrics(request: ApiRequest, blueprint_key: str, params: Query[MetricsQuery]) -> dict[str, Any]:
    """Over [from, to) (default: the whole log up to now): runs completed, average time to
    complete and per state (calendar and business time), transitions, limit violations; active
    and overdue tickets at the end of the period."""
    period = selectors.Period.of(start=params.start, end=params.end, now=clock.now())
    row, m = selectors.blueprint_metrics(principal=request.auth, key=blueprint_key, period=period)
    return metrics_out(row, m, period)


@router.get(
    "/metrics/blueprints", response=MetricsPage, summary="Every visible blueprint's dashboard over a period"
)
def all_metrics(request: ApiRequest, params: Query[DepartmentMetricsQuery]) -> dict[str, Any]:
    """The dashboards of the blueprints of every department the reader belongs to (admins:
    all), or of one department, over [from, to); by department, then key."""
    period = selectors.Period.of(start=params.start, end=params.end, now=clock.now())
    found = selectors.blueprints_metrics(
        principal=request.auth, period=period, department_id=params.department_id
    )
    return {
        "start": period.start,
        "end": period.end,
        "items": [metrics_out(row, m, period) for row, m in found],
    }


def metrics_out(row: Blueprint, m: engine.BlueprintMetrics, period: selectors.Period) -> dict[str, Any]:
    return {
        "blueprint": row.key,
        "name": row.name,
        "department_id": row.department_id,
        "version": row.version,
        "start": period.start,
        "end": period.end,
        "active": m.active,
        "active_per_state": dict(m.active_per_state),
        "overdue": [
            {
                "ticket_id": o.ticket,
                "state": o.state,
                "entered_at": o.entered_at,
                "over_by_seconds": int(o.over_by.total_seconds()),
            }
            for o in m.overdue
        ],
        "completed": m.completed,
        "average_completion_seconds": _seconds(m.average_completion),
        "average_seconds_per_state": {k: _seconds(v) for k, v in m.average_per_state.items()},
        "average_completion_business_seconds": _seconds(m.average_completion_business),
        "average_business_seconds_per_state": {
            k: _seconds(v) for k, v in m.average_per_state_business.items()
        },
        "transition_counts": [{"transition": t, "count": n} for t, n in m.transition_counts],
        "limit_violations": m.limit_violations,
        "tickets_with_violations": m.tickets_with_violations,
    }


def _seconds(span: Any) -> float | None:
    return None if span is None else span.total_seconds()


# -- a ticket's process ----------------------------------------------------------------------------


def _state_out(state: engine.State) -> dict[str, Any]:
    return {"key": state.key, "name": state.name, "status": state.status, "terminal": state.terminal}


def _transition_out(bp: engine.Blueprint, t: engine.Transition) -> dict[str, Any]:
    target = bp.state(t.to)
    assert target is not None
    return {
        "key": t.key,
        "name": t.name,
        "to": _state_out(target),
        "automatic": t.auto,
        "inputs": {
            "fields": [
                {
                    "field": services.problem_field(f.field),
                    "path": f.field,
                    "required": f.required,
                    "matches": f.matches,
                    "min_length": f.min_length,
                    "max_length": f.max_length,
                    "min": None if f.minimum is None else value_to_data(f.minimum),
                    "max": None if f.maximum is None else value_to_data(f.maximum),
                    "allowed_values": None if f.allowed_values is None else list(f.allowed_values),
                    "message": f.message,
                }
                for f in t.during.fields
            ],
            "note": t.during.note,
            "attachment": t.during.attachment,
        },
    }


def process_out(p: selectors.TicketProcess) -> dict[str, Any]:
    run, bp = p.run, p.blueprint
    now = clock.now()
    return {
        "ticket_id": p.ticket.pk,
        "ticket_version": p.ticket.version,
        "active": bool(run and run.active),
        "blueprint": (
            {"key": bp.key, "name": bp.name, "version": run.version}
            if run is not None and bp is not None
            else None
        ),
        "state": _state_out(p.state) if p.state is not None else None,
        "attached_at": run.attached_at if run else None,
        "entered_at": run.entered_state_at if run else None,
        "seconds_in_state": (
            int((now - run.entered_state_at).total_seconds()) if run is not None and run.active else None
        ),
        "completed_at": run.completed_at if run else None,
        "transitions": [_transition_out(bp, t) for t in p.transitions] if bp is not None else [],
    }


@router.get("/tickets/{ticket_id}/blueprint", response=ProcessOut, summary="A ticket's process")
def get_ticket_process(request: ApiRequest, ticket_id: int) -> dict[str, Any]:
    return process_out(selectors.ticket_process(principal=request.auth, ticket_id=ticket_id))


@router.post(
    "/tickets/{ticket_id}/blueprint/transitions/{transition_key}",
    response=TransitionDone,
    summary="Perform a transition of the ticket's blueprint",
)
def perform_transition(
    request: ApiRequest, ticket_id: int, transition_key: str, payload: TransitionIn
) -> Any:
    depth = causation.parse_depth(request.headers.get(causation.HEADER))
    try:
        result = services.blueprint_transition(
            actor=request.auth,
            ticket_id=ticket_id,
            transition_key=transition_key,
            inputs=services.TransitionRequest(
                fields=payload.fields,
                custom_fields=payload.custom_fields,
                note=payload.note,
                attachment_ids=payload.attachment_ids,
            ),
            expected_version=payload.version,
            via=Via.API,
            depth=depth,
            now=clock.now(),
        )
    except (services.TransitionNotAllowed, services.TransitionInputsInvalid) as exc:
        body = error_body(exc.code, exc.message, exc.field)
        body["error"]["details"] = exc.details
        return JsonResponse(body, status=exc.status)
    process = selectors.ticket_process(principal=request.auth, ticket_id=ticket_id)
    plan = result.plan
    return {
        **process_out(process),
        "change_id": str(result.outcome.change_id),
        "steps": [
            {
                "transition": s.transition.key,
                "from_state": s.from_state,
                "to_state": s.to_state,
                "automatic": s.automatic,
            }
            for s in plan.steps
        ],
        "stopped_at": plan.stopped_at.key if plan.stopped_at is not None else None,
        "capped": plan.capped,
    }

"""Blueprints: saving (every save a new immutable version), deactivating, blueprints as code
(export and import of one `sportello/blueprints/v1` document, all or nothing), and performing a
transition on a ticket.

A transition is one mutation through the change pipeline (`blueprint_transition`): its field
inputs and the target state's status as fields, the note as an internal note carrying the
attachments, one `blueprint`/`transition` record per step (the requested one, then the automatic
ones of a continuous blueprint), cause `blueprint:<key>@<version>:<transition>` — so event
rules, SLA clocks and the audit trail see a normal update — and the steps' `after` actions
applied within it, before event rules run (so rules see them too), by the event-rules runner:
validated like a rule's actions, a failing step's actions rolled back whole and recorded
(`action_failed`; the transition stands). Being part of the mutation's own change, the field and
tag changes they make are recorded under the performing agent with the transition's cause;
their notes and assignment decisions under the blueprint. `hooks.enforce_blueprint` moves the
ticket's run.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from django.db import transaction
from django.db.models import F

from sportello.accounts.models import Role, User
from sportello.accounts.services import require_admin
from sportello.automation import refs
from sportello.core.actors import ActorKind, Via
from sportello.core.errors import Conflict, PermissionDenied, ValidationFailed
from sportello.core.versioning import (
    ConfigKind,
    register_kind,
    version_deactivate,
    version_lock,
    version_save,
)
from sportello.engine import blueprints as engine
from sportello.engine.rules import DOCUMENT_MAX_BYTES
from sportello.outbox.secrets import check_secret_refs
from sportello.tickets import pipeline
from sportello.tickets.locks import ticket_lock
from sportello.tickets.models import Status, Ticket
from sportello.tickets.services import FIELD_NAMES, actor_for

from . import audit, definitions
from .definitions import SCHEMA
from .models import Blueprint, BlueprintVersion, TicketBlueprint

BLUEPRINTS_MAX = 200  # in one document


# -- saving --------------------------------------------------------------------------------------


class StaleBlueprint(Conflict):
    """The blueprint was saved by someone else since the editor loaded it (`current`: its
    version now, 0 when it does not exist; `expected`: the version the editor started from)."""

    code = "stale_version"

    def __init__(self, *, expected: int, current: int) -> None:
        message = (
            "a blueprint with this key exists; choose another key or edit that one"
            if expected == 0
            else f"the blueprint changed since you loaded it (your version {expected}, current {current})"
        )
        super().__init__(message, field="key" if expected == 0 else "version")
        self.expected = expected
        self.current = current


@transaction.atomic
def blueprint_save(
    *, definition: Any, actor: User | None, now: datetime, expected_version: int | None = None
) -> tuple[Blueprint, bool]:
    """Create the blueprint named by `definition["key"]` or add a version to it (admins; None is
    the system). Returns the blueprint and whether a version was written: a definition equal to
    the current version writes nothing. Tickets already in the process keep the version they
    entered; new ones enter the new version. `expected_version`: the version the caller edited
    (0: a new blueprint, which must not exist); another raises StaleBlueprint (409), checked
    under the head's lock so that of two editors of one version only the first saves."""
    require_admin(actor)
    # Records may be named by key, as in a document (`automation.refs`).
    definition = refs.blueprint_to_ids(copy.deepcopy(definition))
    item = definitions.normalised(definitions.validate(definition))
    check_secret_refs(item)
    head = version_lock(BLUEPRINTS, item["key"])
    if expected_version is not None:
        current = 0 if head is None else head.version
        if current != expected_version:
            raise StaleBlueprint(expected=expected_version, current=current)
    saved = version_save(BLUEPRINTS, key=item["key"], definition=item, created_by=actor, now=now, head=head)
    return saved.head, saved.written


def blueprint_check(*, definition: Any, actor: User | None) -> engine.Blueprint:
    """A definition validated as `blueprint_save` would, without saving it (an editor's
    preview): the parsed blueprint, or ValidationFailed with the path of the first problem."""
    require_admin(actor)
    definition = refs.blueprint_to_ids(copy.deepcopy(definition))
    bp = definitions.validate(definition)
    check_secret_refs(definitions.normalised(bp))
    return bp


@transaction.atomic
def blueprint_deactivate(*, key: str, actor: User | None, now: datetime) -> tuple[Blueprint, bool]:
    """No new ticket enters the blueprint: a new version with `active: false` (history kept;
    saving it with `active: true` brings it back). Tickets in the process follow it to its end
    on the version they entered. Already inactive: nothing written."""
    require_admin(actor)
    saved = version_deactivate(BLUEPRINTS, key=key, created_by=actor, now=now)
    return saved.head, saved.written


def _blueprint_save_again(
    key: str, head: Any, definition: Any, actor: Any, now: datetime
) -> tuple[Blueprint, bool]:
    return blueprint_save(definition=definition, actor=actor, now=now)


# Blueprints as a versioned configuration kind (`core.versioning`).
BLUEPRINTS = register_kind(
    ConfigKind(
        name="blueprints",
        label="blueprint",
        head=Blueprint,
        version=BlueprintVersion,
        parent="blueprint",
        save=_blueprint_save_again,
        head_fields=lambda item: {
            "name": item["name"],
            "department_id": item["department"],
            "priority": item["priority"],
        },
        active_in_definition=True,
        signature="blueprints",
    )
)


# -- blueprints as code ----------------------------------------------------------------------------


def blueprints_export() -> dict[str, Any]:
    """Every blueprint (active or not) at its current version, by key, as one document (data;
    dump it as YAML or JSON). `version` is informational: import ignores it."""
    versions = (
        BlueprintVersion.objects.filter(blueprint__version=F("version"))
        .select_related("blueprint")
        .order_by("blueprint__key")
    )
    # Departments and teams by slug, agents by e-mail (`automation.refs`), as rules documents.
    directory = refs.Directory()
    items = [
        refs.blueprint_to_keys(copy.deepcopy({**v.definition, "version": v.version}), directory)
        for v in versions
    ]
    return {"schema": SCHEMA, "blueprints": items}


Outcome = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True, slots=True)
class ImportItem:
    key: str
    outcome: Outcome
    version: int


@dataclass(frozen=True, slots=True)
class ImportResult:
    items: list[ImportItem]
    dry_run: bool
    counts: dict[str, int] = field(default_factory=dict)


def _document_items(data: Any) -> list[Any]:
    if not isinstance(data, dict):
        raise ValidationFailed("a blueprints document must be a mapping")
    schema = data.get("schema")
    if schema != SCHEMA:
        raise ValidationFailed(
            f"unsupported schema {str(schema)[:60]!r}: this version of Sportello reads {SCHEMA!r}"
            if schema is not None
            else f"the document must start with `schema: {SCHEMA}`",
            field="schema",
        )
    unknown = sorted(str(k) for k in data if k not in ("schema", "blueprints"))
    if unknown:
        raise ValidationFailed("unknown key", field=unknown[0][:60])
    items = data.get("blueprints", [])
    if not isinstance(items, list):
        raise ValidationFailed("must be a list", field="blueprints")
    if len(items) > BLUEPRINTS_MAX:
        raise ValidationFailed(f"at most {BLUEPRINTS_MAX} blueprints", field="blueprints")
    return items


class _DryRun(Exception):
    pass


def blueprints_import(*, data: Any, actor: User | None, now: datetime, dry_run: bool = False) -> ImportResult:
    """Save every blueprint of a document in one transaction, all or nothing; errors name the
    item's path (`blueprints[1].transitions[0].to`). Blueprints absent from the document are
    left as they are. With `dry_run`, the outcome is computed and everything rolled back."""
    require_admin(actor)
    items: list[ImportItem] = []
    seen: set[str] = set()
    try:
        with transaction.atomic():
            for i, raw in enumerate(_document_items(data)):
                definition = (
                    {k: v for k, v in raw.items() if k != "version"} if isinstance(raw, dict) else raw
                )
                with _located_errors(f"blueprints[{i}]"):
                    key = definition.get("key") if isinstance(definition, dict) else None
                    if isinstance(key, str) and key in seen:
                        raise ValidationFailed(f"the document names {key!r} twice", field="key")
                    existed = isinstance(key, str) and Blueprint.objects.filter(key=key).exists()
                    row, written = blueprint_save(definition=definition, actor=actor, now=now)
                seen.add(row.key)
                outcome: Outcome = "created" if not existed else "updated" if written else "unchanged"
                items.append(ImportItem(key=row.key, outcome=outcome, version=row.version))
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    counts = {
        name: sum(1 for i in items if i.outcome == name) for name in ("created", "updated", "unchanged")
    }
    return ImportResult(items=items, dry_run=dry_run, counts=counts)


@contextmanager
def _located_errors(where: str) -> Iterator[None]:
    """Validation errors of one item of a document, with the item's path in front."""
    try:
        yield
    except ValidationFailed as exc:
        raise ValidationFailed(exc.message, field=where + (f".{exc.field}" if exc.field else "")) from None


def load_blueprints_text(text: str) -> Any:
    """YAML or JSON text as data, size-bounded, with the rules loader (a safe loader without
    aliases; only true/false are booleans)."""
    from sportello.automation.services import load_rules_text

    if len(text.encode("utf-8", errors="replace")) > DOCUMENT_MAX_BYTES:
        raise ValidationFailed(f"the document is larger than {DOCUMENT_MAX_BYTES} bytes")
    return load_rules_text(text)


def blueprints_dump(data: dict[str, Any]) -> str:
    from sportello.automation.services import rules_dump

    return rules_dump(data)


# -- transitions ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TransitionRequest:
    """What an agent gives with a transition: standard fields by their API names (`priority`,
    `assignee_id`, ...), custom fields by key, a note, staged attachment ids."""

    fields: Mapping[str, Any] = field(default_factory=dict)
    custom_fields: Mapping[str, Any] = field(default_factory=dict)
    note: str | None = None
    attachment_ids: Sequence[int] = ()


def problem_field(path: str) -> str:
    """An engine problem's field as the API names the input: `ticket.custom.order_id` →
    `custom_fields.order_id`, `ticket.assignee` → `fields.assignee_id`, `attachment` →
    `attachment_ids`."""
    if path.startswith(definitions.CUSTOM_PREFIX):
        return "custom_fields." + path.removeprefix(definitions.CUSTOM_PREFIX)
    if path.startswith("ticket."):
        name = path.removeprefix("ticket.")
        return "fields." + next((api for api, ours in FIELD_NAMES.items() if ours == name), name)
    return {"attachment": "attachment_ids"}.get(path, path)


def _problem_data(p: engine.Problem) -> dict[str, str]:
    return {"code": str(p.code), "field": problem_field(p.field), "message": p.message}


class TransitionNotAllowed(Conflict):
    """The transition cannot run now (not from this state, not an owner, its condition false)."""

    code = "transition_not_allowed"

    def __init__(self, problems: Sequence[engine.Problem]) -> None:
        details = [_problem_data(p) for p in problems]
        super().__init__("; ".join(d["message"] for d in details), field="transition")
        self.details = details


class TransitionInputsInvalid(ValidationFailed):
    """The inputs of the transition are missing or invalid: fix them and send again."""

    def __init__(self, problems: Sequence[engine.Problem]) -> None:
        details = [_problem_data(p) for p in problems]
        super().__init__(
            "; ".join(f"{d['field']}: {d['message']}" for d in details), field=details[0]["field"]
        )
        self.details = details


@dataclass(frozen=True, slots=True)
class TransitionResult:
    outcome: pipeline.Outcome
    plan: engine.TransitionPlan


def _engine_inputs(request: TransitionRequest) -> engine.TransitionInputs:
    values: dict[str, Any] = {}
    for name, value in request.fields.items():
        ours = FIELD_NAMES.get(name)
        if ours is None or ours == "status":
            raise ValidationFailed(
                "is not a field a transition sets" if ours == "status" else "is not a ticket field",
                field=f"fields.{str(name)[:60]}",
            )
        values[f"ticket.{ours}"] = value
    for key, value in request.custom_fields.items():
        values[f"{definitions.CUSTOM_PREFIX}{key}"] = value
    return engine.TransitionInputs(
        fields=values, note=request.note, attachments=len(set(request.attachment_ids))
    )


def _locked_ticket(actor: User, ticket_id: int) -> Ticket:
    return ticket_lock(ticket_id=ticket_id, principal=actor, related=("status", "requester"))


def blueprint_transition(
    *,
    actor: User,
    ticket_id: int,
    transition_key: str,
    inputs: TransitionRequest,
    expected_version: int | None = None,
    via: Via = Via.API,
    depth: int = 0,
    now: datetime,
) -> TransitionResult:
    """Perform a transition of the ticket's blueprint as `actor`, then any automatic ones that
    follow (continuous blueprints, at most `engine.CHAIN_MAX` in all). TransitionNotAllowed
    (409) or TransitionInputsInvalid (422) list every problem; nothing is written then."""
    from sportello.automation.facts import field_specs, ticket_facts

    with transaction.atomic():
        ticket = _locked_ticket(actor, ticket_id)  # a ticket the actor may not read: NotFound
        if not actor.is_active or actor.role not in (Role.ADMIN, Role.AGENT):
            raise PermissionDenied("only agents and admins perform transitions")
        if expected_version is not None and expected_version != ticket.version:
            raise Conflict(
                f"the ticket changed since you loaded it (your version {expected_version}, "
                f"current {ticket.version}); reload and try again",
                field="version",
                code="stale_version",
            )
        run = TicketBlueprint.objects.filter(ticket=ticket, active=True).select_related("blueprint").first()
        if run is None:
            raise Conflict(
                "this ticket follows no blueprint", code="transition_not_allowed", field="transition"
            )
        version = BlueprintVersion.objects.get(blueprint_id=run.blueprint_id, version=run.version)
        parsed = definitions.parsed(version.definition, field_specs)
        if parsed is None:
            raise Conflict(
                "the ticket's blueprint no longer reads as valid; ask an admin to save it again",
                code="transition_not_allowed",
                field="transition",
            )
        bp = parsed.blueprint
        facts = ticket_facts(
            ticket,
            specs=parsed.specs,
            organization=parsed.reads_organization(),
            satisfaction=parsed.reads_satisfaction(),
        )
        try:
            plan = engine.plan_transition(
                bp,
                run.state,
                transition_key,
                definitions.actor_of(actor, department=bp.department),
                facts,
                _engine_inputs(inputs),
                parsed.specs,
                categories=dict(Status.objects.values_list("key", "category")),
            )
        except engine.TransitionBlocked as exc:
            if all(p.is_input for p in exc.problems):
                raise TransitionInputsInvalid(exc.problems) from None
            raise TransitionNotAllowed(exc.problems) from None
        author = audit.blueprint_author(
            blueprint_id=run.blueprint_id, name=run.blueprint.name, key=bp.key, version=run.version,
            suffix=f":{transition_key}",
        )  # fmt: skip
        mutation = _mutation(actor, via, plan, bp, run.version, author, inputs, expected_version)
        mutation.depth = depth
        outcome = pipeline.ticket_apply(ticket_id=ticket.pk, mutation=mutation, now=now)
    return TransitionResult(outcome=outcome, plan=plan)


def _mutation(
    actor: User,
    via: Via,
    plan: engine.TransitionPlan,
    bp: engine.Blueprint,
    version: int,
    author: pipeline.Author,
    inputs: TransitionRequest,
    expected_version: int | None,
) -> pipeline.Mutation:
    from sportello.automation.event_rules import field_change

    first = plan.steps[0]
    fields: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    for path, value in first.fields.items():
        standard, custom_values = field_change(path, value)
        fields.update(standard)
        custom.update(custom_values)
    fields["status"] = plan.status
    attachments = tuple(dict.fromkeys(inputs.attachment_ids))
    message = None
    if first.note is not None or attachments:
        body = (
            first.note
            if first.note is not None
            else f"Attachments of the transition {first.transition.name!r}"
        )
        message = pipeline.NewMessage(body=body, public=False, attachment_ids=attachments)
    records = tuple(
        pipeline.NewRecord(
            kind=audit.EVENT_KIND,
            field="transition",
            new={
                "blueprint": bp.key,
                "version": version,
                "transition": step.transition.key,
                "from": step.from_state,
                "to": step.to_state,
                "automatic": step.automatic,
            },
        )
        for step in plan.steps
    )
    has_actions = any(step.actions for step in plan.steps)
    return pipeline.Mutation(
        actor=actor_for(actor),
        via=via,
        cause=author.cause,
        fields=fields,
        custom_fields=custom,
        message=message,
        expected_version=expected_version,
        records=records,
        automation=(lambda ctx: _after_actions(ctx, plan, bp.key, version, author)) if has_actions else None,
    )


def _after_actions(
    ctx: pipeline.Context, plan: engine.TransitionPlan, key: str, version: int, author: pipeline.Author
) -> None:
    """Each step's `after` actions, within the transition's mutation, run as a rule would run
    them (validated, a failing step's actions rolled back whole and recorded), as the blueprint."""
    from sportello.automation import event_rules
    from sportello.automation.facts import field_specs

    specs = field_specs()
    blueprint_id = author.actor.id
    assert blueprint_id is not None
    for i, step in enumerate(plan.steps):
        if not step.actions:
            continue
        # The step's key names the blueprint, step and transition (notifications carry it).
        failed = event_rules.run_actions(
            ctx, key=f"{key}.{i}.{step.transition.key}", name=author.actor.label, owner_id=blueprint_id,
            version=version, actions=step.actions, cause=author.cause, actor_kind=ActorKind.BLUEPRINT,
            specs=specs,
        )  # fmt: skip
        if failed is not None:
            audit.record(
                ctx,
                "action_failed",
                {
                    "blueprint": key,
                    "version": version,
                    "transition": step.transition.key,
                    "error": failed[:500],
                },
                author.actor,
                author.cause,
            )

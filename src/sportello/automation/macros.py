"""Macros: named bundles of actions an agent applies to tickets, one at a time or in bulk.

A macro's definition is an item of the rules document's `macros` list (`engine.rules`), saved
as immutable versions (`MacroVersion`); the head row (`Macro`) holds its visibility and owner.

Choices made here:
- Visibility: `personal` (its agent), `team` (the team's members), `department` (the
  department's agents), `everyone`. The database holds one owner per macro, so `ids` names
  exactly one agent, team or department. Admins see and may apply every macro.
- Who writes which: admins create and change any macro; other agents (light agents included)
  create and change only their own personal macros. Shared macros are an admin's job, as in
  the desks admins come from: a team's macros should not change under it because one member
  edited them.
- A macro writes at most one message: one `reply` (public) or one `note` (internal), from the
  applying agent. It cannot assign through a round-robin policy (that is an event rule's job),
  `stop` or `apply_macro` (the schema refuses the last two).
- Applying is one mutation through the pipeline with the agent as actor and
  `macro:<key>@<version>` as cause, so the agent's permissions apply (a light agent may apply
  only macros that add a note) and event rules run on the result as after any change.
  Placeholders in the message render over the ticket as the macro leaves it (its own field and
  tag writes applied; what event rules then change is not known yet), plus `agent` (the
  applying agent). Notifications and webhooks of the macro are outbox rows of the same
  transaction, built by the event rules' helpers.
- Preview runs the same application inside a savepoint and rolls it back: the field diff
  (event rules' changes included), the rendered message and the outbound effects are exactly
  what applying would do at that moment.
- `version` on apply pins what the agent previewed: a macro changed since is a 409.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet

from sportello.accounts.models import Department, Role, Team, User
from sportello.core.actors import Via
from sportello.core.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from sportello.core.versioning import (
    ConfigKind,
    register_kind,
    version_current,
    version_deactivate,
    version_lock,
    version_save,
)
from sportello.engine import actions as act
from sportello.engine import rules as engine_rules
from sportello.engine.conditions import FieldSpec
from sportello.engine.diff import FieldChange
from sportello.engine.placeholders import context_from_facts, render
from sportello.engine.schema import RuleSchemaError
from sportello.outbox import services as outbox
from sportello.outbox.models import OutboxMessage
from sportello.outbox.secrets import check_secret_refs
from sportello.tickets import causation, pipeline
from sportello.tickets.locks import ticket_lock
from sportello.tickets.models import Ticket
from sportello.tickets.pipeline import Context, Mutation, NewMessage, Outcome
from sportello.tickets.services import actor_for

from .effects import notify_effect, webhook_effect
from .event_rules import field_change
from .facts import field_specs, ticket_facts
from .models import Macro, MacroVersion, Visibility

SCHEMA = engine_rules.SCHEMA
BULK_MAX = 100


@dataclass(frozen=True, slots=True)
class MacroRef:
    """What the outbound-effect helpers name as the origin of a notification or webhook."""

    key: str
    version: int


@dataclass(slots=True)
class Plan:
    """A macro's actions as the inputs of one mutation, plus the effects queued after it."""

    fields: dict[str, Any] = field(default_factory=dict)
    custom_fields: dict[str, Any] = field(default_factory=dict)
    tags_set: tuple[str, ...] | None = None
    tags_add: tuple[str, ...] = ()
    tags_remove: tuple[str, ...] = ()
    message: act.Reply | act.AddNote | None = None
    effects: list[act.Notify | act.Webhook] = field(default_factory=list)

    @property
    def touches_fields(self) -> bool:
        return bool(
            self.fields
            or self.custom_fields
            or self.tags_set is not None
            or self.tags_add
            or self.tags_remove
        )


@dataclass(frozen=True, slots=True)
class MacroPreview:
    macro: Macro
    version: int
    changes: list[FieldChange]
    message: dict[str, Any] | None  # {"public": bool, "body": str}
    effects: list[dict[str, Any]]  # outbox rows: {"kind", "payload"}


@dataclass(frozen=True, slots=True)
class BulkItem:
    ticket_id: int
    ok: bool
    version: int | None = None  # the ticket's version after the change
    status: int | None = None  # the HTTP status of the error
    code: str | None = None
    message: str | None = None
    field: str | None = None


# --------------------------------------------------------------------------------------------
# Definitions


def plan_of(actions: tuple[act.Action, ...]) -> Plan:
    """Fold the actions, in order, into one mutation. Tags: a later `set_tags` replaces what came
    before; adds and removes cancel each other in order (the pipeline sets, then adds, then
    removes, so keeping the two disjoint keeps the order's meaning)."""
    plan = Plan()
    added: dict[str, None] = {}
    removed: dict[str, None] = {}
    for action in actions:
        match action:
            case act.SetField(field=path, value=value):
                fields, custom = field_change(path, value)
                plan.fields.update(fields)
                plan.custom_fields.update(custom)
            case act.Assign(target=target, id=ident) if target != "policy":
                plan.fields[{"agent": "assignee", "team": "team", "department": "department"}[target]] = ident
            case act.SetTags(tags=tags):
                plan.tags_set = tags
                added.clear()
                removed.clear()
            case act.AddTags(tags=tags):
                for t in tags:
                    removed.pop(t, None)
                    added[t] = None
            case act.RemoveTags(tags=tags):
                for t in tags:
                    added.pop(t, None)
                    removed[t] = None
            case act.Reply() | act.AddNote():
                plan.message = action
            case act.Notify() | act.Webhook():
                plan.effects.append(action)
            case _:  # pragma: no cover - refused when the macro is saved
                raise ValidationFailed(f"a macro cannot use {act.action_name(action)}", field="actions")
    plan.tags_add, plan.tags_remove = tuple(added), tuple(removed)
    return plan


def _validated(definition: Any, specs: Mapping[str, FieldSpec]) -> tuple[dict[str, Any], engine_rules.Macro]:
    """The definition parsed and dumped back (normalised), or ValidationFailed naming the path."""
    try:
        doc = engine_rules.parse_document({"schema": SCHEMA, "macros": [definition]}, specs=specs)
    except RuleSchemaError as exc:
        path = exc.path.removeprefix("macros[0]").lstrip(".")
        raise ValidationFailed(exc.message, field=path or None) from None
    parsed = doc.macros[0]
    messages = 0
    for i, action in enumerate(parsed.actions):
        where = f"actions[{i}].{act.action_name(action)}"
        if isinstance(action, act.Assign) and action.target == "policy":
            raise ValidationFailed(
                "a macro assigns directly (agent, team, department); round robin is for event rules",
                field=where,
            )
        if isinstance(action, act.Reply | act.AddNote):
            messages += 1
            if messages > 1:
                raise ValidationFailed(
                    "a macro writes at most one message: one reply or one note", field=where
                )
    if parsed.visibility.scope != Visibility.EVERYONE and len(parsed.visibility.ids) != 1:
        raise ValidationFailed(
            f"a {parsed.visibility.scope} macro has exactly one owner", field="visibility.ids"
        )
    item: dict[str, Any] = engine_rules.document_to_data(doc)["macros"][0]
    check_secret_refs(item)
    return item, parsed


def _owner(parsed: engine_rules.Macro) -> dict[str, Any]:
    """The head row's visibility and owner columns, the owner checked to exist."""
    scope = parsed.visibility.scope
    owner: dict[str, Any] = {
        "visibility": scope,
        "owner_user": None,
        "owner_team": None,
        "owner_department": None,
    }
    if scope == Visibility.EVERYONE:
        return owner
    (ident,) = parsed.visibility.ids
    model: Any = {"personal": User, "team": Team, "department": Department}[scope]
    filters = {"is_active": True} if model is not Team else {}
    row = model.objects.filter(pk=ident, **filters).first()
    if row is None:
        raise ValidationFailed(
            f"no {'agent' if scope == 'personal' else scope} with id {ident}", field="visibility.ids"
        )
    owner[{"personal": "owner_user", "team": "owner_team", "department": "owner_department"}[scope]] = row
    return owner


def _check_may_write(actor: User, owner: Mapping[str, Any], current: Macro | None) -> None:
    if actor.role == Role.ADMIN:
        return
    own = owner["visibility"] == Visibility.PERSONAL and owner["owner_user"].pk == actor.pk
    if current is not None and not (
        current.visibility == Visibility.PERSONAL and current.owner_user_id == actor.pk
    ):
        raise PermissionDenied("only admins change shared macros and other agents' macros")
    if not own:
        raise PermissionDenied(
            "agents save personal macros for themselves; shared macros are managed by admins",
            field="visibility",
        )


@transaction.atomic
def macro_create(*, definition: Any, actor: User, now: datetime) -> Macro:
    """A new macro at version 1. The key must be new (Conflict otherwise)."""
    item, parsed = _validated(definition, field_specs())
    owner = _owner(parsed)
    _check_may_write(actor, owner, None)
    if Macro.objects.filter(key=item["key"]).exists():
        raise Conflict(f"a macro with the key {item['key']!r} exists", field="key", code="macro_exists")
    return _write(None, item, owner, created_by=actor, now=now)


@transaction.atomic
def macro_update(
    *, key: str, definition: Any, actor: User, now: datetime, expected_version: int | None = None
) -> tuple[Macro, bool]:
    """A new version of the macro `key`, visible to `actor`. Returns the macro and whether a
    version was written (an identical definition writes nothing). `expected_version`: the
    version the editor started from; Conflict (`stale_version`) when another save came in
    between (checked under the head's row lock)."""
    current = macro_scoped(agent=actor).select_for_update().filter(key=key).first()
    if current is None:
        raise NotFound("macro not found")
    if expected_version is not None and current.version != expected_version:
        raise Conflict(
            f"version {current.version} was saved since you loaded version {expected_version}",
            field="version",
            code="stale_version",
        )
    item, parsed = _validated(definition, field_specs())
    if item["key"] != key:
        raise ValidationFailed("a macro's key cannot change", field="key")
    owner = _owner(parsed)
    _check_may_write(actor, owner, current)
    if _unchanged(current, item):
        return current, False
    return _write(current, item, owner, created_by=actor, now=now), True


@transaction.atomic
def macro_import(*, definition: Any, created_by: User | None, now: datetime) -> tuple[Macro, bool, bool]:
    """Save a macro of a rules document (an admin's import: no per-agent check): create it, add a
    version, or reactivate it. Returns the macro, whether it existed and whether anything was
    written (an identical, active macro writes nothing)."""
    item, parsed = _validated(definition, field_specs())
    owner = _owner(parsed)
    current = Macro.objects.select_for_update().filter(key=item["key"]).first()
    if current is not None and current.active and _unchanged(current, item):
        return current, True, False
    return _write(current, item, owner, created_by=created_by, now=now), current is not None, True


def macro_check(*, definition: Any) -> dict[str, Any]:
    """The definition validated as a save validates it, normalised; nothing is written.
    ValidationFailed names the path of the first bad value (`actions[1].set.value`)."""
    item, parsed = _validated(definition, field_specs())
    _owner(parsed)
    return item


@transaction.atomic
def macro_deactivate(*, key: str, actor: User, now: datetime) -> tuple[Macro, bool]:
    """Stop offering the macro (admins): its head's flag cleared, its versions kept. Returns the
    macro and whether anything was written (already inactive: nothing)."""
    if actor.role != Role.ADMIN:
        raise PermissionDenied("only admins deactivate macros")
    saved = version_deactivate(MACROS, key=key, created_by=actor, now=now)
    return saved.head, saved.written


@transaction.atomic
def macro_activate(*, key: str, actor: User, now: datetime) -> tuple[Macro, bool]:
    """Offer a deactivated macro again (admins): a new version of its current definition,
    validated again (a custom field removed since refuses it). Already active: nothing."""
    if actor.role != Role.ADMIN:
        raise PermissionDenied("only admins activate macros")
    head = version_lock(MACROS, key, required=True)
    if head.active:
        return head, False
    current = version_current(MACROS, head, key)
    if current is None:  # pragma: no cover - every head has its current version
        raise NotFound("macro not found")
    item, parsed = _validated(current, field_specs())
    owner = _owner(parsed)
    saved = version_save(
        MACROS, key=key, definition=item, created_by=actor, now=now, head=head, current=current, fields=owner
    )
    return saved.head, saved.written


def _unchanged(macro: Macro, item: dict[str, Any]) -> bool:
    return version_current(MACROS, macro, macro.key) == item


def _write(
    macro: Macro | None,
    item: dict[str, Any],
    owner: Mapping[str, Any],
    *,
    created_by: User | None,
    now: datetime,
) -> Macro:
    """The macro's head row (new or updated, active) and its next immutable version."""
    saved = version_save(
        MACROS,
        key=item["key"],
        definition=item,
        created_by=created_by,
        now=now,
        head=macro,
        current=None,  # the callers compared already: a version is written
        fields={"name": item["name"], **owner},
    )
    return saved.head


def _macro_save_again(key: str, head: Any, definition: Any, actor: Any, now: datetime) -> tuple[Macro, bool]:
    return macro_update(key=key, definition=definition, actor=actor, now=now)


# Macros as a versioned configuration kind (`core.versioning`).
MACROS = register_kind(
    ConfigKind(
        name="macros", label="macro", head=Macro, version=MacroVersion, parent="macro", save=_macro_save_again
    )
)


# --------------------------------------------------------------------------------------------
# Reading


def macro_scope(*, agent: User) -> Q:
    """The macros `agent` may see and apply."""
    if not agent.is_active:
        return Q(pk__in=[])
    if agent.role == Role.ADMIN:
        return Q()
    return (
        Q(visibility=Visibility.EVERYONE)
        | Q(visibility=Visibility.PERSONAL, owner_user=agent)
        | Q(visibility=Visibility.TEAM, owner_team__in=agent.teams.values("pk"))
        | Q(visibility=Visibility.DEPARTMENT, owner_department__in=agent.departments.values("pk"))
    )


def macro_scoped(*, agent: User) -> QuerySet[Macro]:
    return Macro.objects.filter(macro_scope(agent=agent), active=True)


def macro_list_for(*, agent: User) -> QuerySet[Macro]:
    """The active macros `agent` may use, in (position, name) order."""
    return macro_scoped(agent=agent).order_by("position", "name", "id")


def macro_get_for(*, agent: User, key: str) -> Macro:
    """The macro `key` if `agent` may see it; NotFound for missing and hidden alike."""
    macro = macro_scoped(agent=agent).filter(key=key).first()
    if macro is None:
        raise NotFound("macro not found")
    return macro


def macro_definition(*, macro: Macro, version: int | None = None) -> MacroVersion:
    """The current version's definition, or Conflict when `version` is given and not current."""
    if version is not None and version != macro.version:
        raise Conflict(
            f"the macro changed since you loaded it (your version {version}, current {macro.version}); "
            "preview it again",
            field="version",
            code="stale_macro_version",
        )
    return MacroVersion.objects.get(macro=macro, version=macro.version)


# --------------------------------------------------------------------------------------------
# Applying


def _actions(saved: MacroVersion, specs: Mapping[str, FieldSpec]) -> tuple[act.Action, ...]:
    try:
        return act.parse_actions(saved.definition.get("actions", []), specs=specs)
    except RuleSchemaError as exc:
        # Valid when saved; a custom field removed since makes it unusable until edited.
        raise ValidationFailed(f"this macro no longer fits the desk: {exc.message}", field=exc.path) from None


def _check_may_apply(agent: User, plan: Plan) -> None:
    if agent.role != Role.LIGHT_AGENT:
        return
    if plan.touches_fields or isinstance(plan.message, act.Reply) or plan.effects:
        raise PermissionDenied(
            "light agents can apply only macros that add an internal note; this one also changes "
            "fields, replies to the customer or sends notifications"
        )


def _agent_context(agent: User) -> dict[str, Any]:
    return {"agent": {"id": agent.pk, "name": agent.name, "email": agent.email}}


def _facts_after_plan(ticket: Ticket, plan: Plan, specs: Mapping[str, FieldSpec]) -> dict[str, Any]:
    """The facts of `ticket` with the macro's own writes applied (for placeholders)."""
    facts = ticket_facts(ticket, specs=specs)
    for name, value in plan.fields.items():
        facts[f"ticket.{name}"] = value
    for name, value in plan.custom_fields.items():
        facts[f"{act.CUSTOM_PREFIX}{name}"] = value
    tags = set(plan.tags_set) if plan.tags_set is not None else set(facts["ticket.tags"])
    facts["ticket.tags"] = frozenset((tags | set(plan.tags_add)) - set(plan.tags_remove))
    return facts


def _apply(
    *,
    macro: Macro,
    saved: MacroVersion,
    ticket_id: int,
    agent: User,
    via: Via,
    depth: int,
    now: datetime,
) -> Outcome:
    """Apply inside the caller's transaction."""
    specs = field_specs()
    plan = plan_of(_actions(saved, specs))
    _check_may_apply(agent, plan)
    ticket = ticket_lock(ticket_id=ticket_id, principal=agent, related=("status",))
    message = None
    if plan.message is not None:
        context = context_from_facts(_facts_after_plan(ticket, plan, specs), _agent_context(agent))
        body = render(plan.message.body, context)
        message = NewMessage(body=body, public=isinstance(plan.message, act.Reply))
    mutation = Mutation(
        actor=actor_for(agent),
        via=via,
        cause=f"macro:{macro.key}@{saved.version}",
        fields=dict(plan.fields),
        custom_fields=dict(plan.custom_fields),
        tags_set=plan.tags_set,
        tags_add=plan.tags_add,
        tags_remove=plan.tags_remove,
        message=message,
        expected_version=ticket.version,
        depth=depth,
    )
    outcome = pipeline.ticket_apply(ticket_id=ticket.pk, mutation=mutation, now=now)
    if plan.effects:
        _queue_effects(macro, saved, plan, outcome, mutation, agent, specs, now)
    return outcome


def _queue_effects(
    macro: Macro,
    saved: MacroVersion,
    plan: Plan,
    outcome: Outcome,
    mutation: Mutation,
    agent: User,
    specs: Mapping[str, FieldSpec],
    now: datetime,
) -> None:
    """The macro's notifications and webhooks as outbox rows, rendered on the ticket after the
    change (event rules' changes included)."""
    ticket = outcome.ticket
    ctx = Context(
        ticket=ticket,
        mutation=mutation,
        principal=agent,
        before={},
        now=now,
        created=False,
        change_id=outcome.change_id,
    )
    context = context_from_facts(
        ticket_facts(ticket, tags=outcome.tags, message=outcome.message, specs=specs), _agent_context(agent)
    )
    ref: Any = MacroRef(key=f"macro:{macro.key}", version=saved.version)
    for action in plan.effects:
        effect = (
            notify_effect(ctx, ref, action, context)
            if isinstance(action, act.Notify)
            else webhook_effect(ctx, ref, action, context)
        )
        effect()
    outbox.outbox_add_all(effects=ctx.effects, ticket=ticket, change_id=outcome.change_id, now=now)


def macro_apply(
    *,
    key: str,
    ticket_id: int,
    agent: User,
    via: Via,
    now: datetime,
    version: int | None = None,
    depth: int = 0,
) -> Outcome:
    """Apply the macro `key` to one ticket as `agent`, in one transaction."""
    causation.depth_check(
        principal=agent,
        ticket_id=ticket_id,
        depth=depth,
        attempted={"operation": "macro.apply", "macro": key},
        via=str(via),
        now=now,
    )
    with transaction.atomic():
        macro = macro_get_for(agent=agent, key=key)
        saved = macro_definition(macro=macro, version=version)
        return _apply(
            macro=macro, saved=saved, ticket_id=ticket_id, agent=agent, via=via, depth=depth, now=now
        )


class _Rollback(Exception):
    pass


def macro_preview(*, key: str, ticket_id: int, agent: User, now: datetime) -> MacroPreview:
    """What applying the macro to the ticket would do now; nothing is written."""
    macro = macro_get_for(agent=agent, key=key)
    return _preview(macro, macro_definition(macro=macro), ticket_id=ticket_id, agent=agent, now=now)


def macro_preview_draft(*, definition: Any, ticket_id: int, agent: User, now: datetime) -> MacroPreview:
    """What applying a definition not saved yet (an editor's draft) to the ticket would do now,
    as `macro_preview` does for a saved one; validated as a save would (ValidationFailed with
    the path); nothing is written. Its cause names the key and the version a save would give."""
    item = macro_check(definition=definition)
    head = Macro.objects.filter(key=item["key"]).first()
    version = head.version + 1 if head is not None else 1
    macro = Macro(key=item["key"], name=item["name"], version=version)
    saved = MacroVersion(macro=macro, version=version, definition=item)
    return _preview(macro, saved, ticket_id=ticket_id, agent=agent, now=now)


def _preview(
    macro: Macro, saved: MacroVersion, *, ticket_id: int, agent: User, now: datetime
) -> MacroPreview:
    preview: MacroPreview | None = None
    try:
        with transaction.atomic():
            outcome = _apply(
                macro=macro, saved=saved, ticket_id=ticket_id, agent=agent, via=Via.API, depth=0, now=now
            )
            message = outcome.message
            preview = MacroPreview(
                macro=macro,
                version=saved.version,
                changes=list(outcome.changes),
                message=None if message is None else {"public": message.public, "body": message.body_text},
                effects=[
                    {"kind": row.kind, "payload": row.payload}
                    for row in OutboxMessage.objects.filter(change_id=outcome.change_id).order_by("id")
                ],
            )
            raise _Rollback
    except _Rollback:
        pass
    assert preview is not None
    return preview


def macro_apply_bulk(
    *,
    key: str,
    ticket_ids: list[int],
    agent: User,
    via: Via,
    now: datetime,
    version: int | None = None,
    depth: int = 0,
) -> list[BulkItem]:
    """Apply the macro to each ticket in its own transaction; one failing ticket does not stop
    the others. Results follow the order of `ticket_ids` (repeats applied once)."""
    ids = list(dict.fromkeys(ticket_ids))
    if not ids:
        raise ValidationFailed("give at least one ticket id", field="ticket_ids")
    if len(ids) > BULK_MAX:
        raise ValidationFailed(f"at most {BULK_MAX} tickets at once", field="ticket_ids")
    macro = macro_get_for(agent=agent, key=key)
    macro_definition(macro=macro, version=version)
    results: list[BulkItem] = []
    for ticket_id in ids:
        try:
            outcome = macro_apply(
                key=key, ticket_id=ticket_id, agent=agent, via=via, now=now, version=version, depth=depth
            )
        except DomainError as exc:
            results.append(
                BulkItem(
                    ticket_id=ticket_id,
                    ok=False,
                    status=exc.status,
                    code=exc.code,
                    message=exc.message,
                    field=exc.field,
                )
            )
        else:
            results.append(BulkItem(ticket_id=ticket_id, ok=True, version=outcome.ticket.version))
    return results

"""Saved blueprint definitions as engine blueprints: validation for saving, and the parsed form
the pipeline and the transitions read, cached per process.

A definition is validated with `engine.blueprints.parse_blueprint` against the fields conditions
may name (`automation.facts.field_specs`), the ticket statuses that exist and the roles that may
own transitions (admins and agents: light agents perform no transition). What the engine cannot
know is checked here against the database: the department, and the agents, teams and
departments that owners list.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sportello.accounts.models import Department, Role, Team, User
from sportello.accounts.structure import structure
from sportello.core.config import config_cached, config_store
from sportello.core.errors import ValidationFailed
from sportello.engine import blueprints as engine
from sportello.engine.conditions import FIELDS, FieldSpec
from sportello.engine.schema import RuleSchemaError, at
from sportello.tickets.models import Status

SCHEMA = "sportello/blueprints/v1"
CUSTOM_PREFIX = "ticket.custom."
OWNER_ROLES = (Role.ADMIN.value, Role.AGENT.value)
# Keys that would read as the API's own paths (`/blueprints/export`, ...).
RESERVED_KEYS = frozenset({"export", "import"})
CACHE_MAX = 256


@dataclass(frozen=True, slots=True)
class Parsed:
    """An engine blueprint and the specs of the fields it names (the standard fields, and the
    custom fields its definition mentions: a field's key and type never change)."""

    blueprint: engine.Blueprint
    specs: Mapping[str, FieldSpec]

    def reads_organization(self) -> bool:
        return any(path.startswith("organization.") for path in _condition_fields(self.blueprint))

    def reads_satisfaction(self) -> bool:
        from sportello.automation.facts import reads_satisfaction

        return reads_satisfaction(_condition_fields(self.blueprint))


def _condition_fields(bp: engine.Blueprint) -> set[str]:
    from sportello.engine.conditions import fields_of

    found = set(fields_of(bp.entry))
    for t in bp.transitions:
        if t.available_when is not None:
            found |= fields_of(t.available_when)
    return found


def validate(definition: Any, *, specs: Mapping[str, FieldSpec] | None = None) -> engine.Blueprint:
    """The definition parsed, or ValidationFailed with the path of the first problem (relative
    to the definition: `transitions[1].during.fields[0].matches`)."""
    from sportello.automation.facts import field_specs

    statuses = set(Status.objects.filter(is_active=True).values_list("key", flat=True))
    try:
        bp = engine.parse_blueprint(
            definition,
            specs=specs if specs is not None else field_specs(),
            roles=OWNER_ROLES,
            statuses=statuses,
        )
    except RuleSchemaError as exc:
        raise ValidationFailed(exc.message, field=exc.path or None) from None
    if bp.key in RESERVED_KEYS:
        raise ValidationFailed(f"{bp.key!r} is reserved; choose another key", field="key")
    if not Department.objects.filter(pk=bp.department, is_active=True).exists():
        raise ValidationFailed(f"no active department with id {bp.department}", field="department")
    _check_owner_ids(bp)
    return bp


def _check_owner_ids(bp: engine.Blueprint) -> None:
    wanted: list[tuple[str, int, str]] = []  # (kind, id, path)
    for i, t in enumerate(bp.transitions):
        owners = at(at(at("", "transitions"), i), "owners")
        wanted += [("agents", x, at(at(owners, "agents"), j)) for j, x in enumerate(t.owners.agents)]
        wanted += [("teams", x, at(at(owners, "teams"), j)) for j, x in enumerate(t.owners.teams)]
        wanted += [
            ("departments", x, at(at(owners, "departments"), j)) for j, x in enumerate(t.owners.departments)
        ]
    if not wanted:
        return
    existing = {
        "agents": set(
            User.objects.filter(pk__in=[x for k, x, _ in wanted if k == "agents"], is_active=True)
            .exclude(role=Role.LIGHT_AGENT)
            .values_list("pk", flat=True)
        ),
        "teams": set(
            Team.objects.filter(pk__in=[x for k, x, _ in wanted if k == "teams"]).values_list("pk", flat=True)
        ),
        "departments": set(
            Department.objects.filter(pk__in=[x for k, x, _ in wanted if k == "departments"]).values_list(
                "pk", flat=True
            )
        ),
    }
    names = {"agents": "no active agent or admin", "teams": "no team", "departments": "no department"}
    for kind, pk, path in wanted:
        if pk not in existing[kind]:
            raise ValidationFailed(f"{names[kind]} with id {pk}", field=path)


def normalised(bp: engine.Blueprint) -> dict[str, Any]:
    """The definition as stored: every field written out (`engine.blueprint_to_data`)."""
    return engine.blueprint_to_data(bp)


# -- the parsed form, cached -----------------------------------------------------------------------

# Canonical JSON of a stored definition -> its parsed form.
_parsed: dict[str, Parsed] = config_store("blueprints.parsed")


def parsed(definition: Mapping[str, Any], specs: Callable[[], Mapping[str, FieldSpec]]) -> Parsed | None:
    """A stored definition parsed, or None when it no longer parses (a custom field it names was
    deactivated: such a blueprint attaches no ticket). Cached by its text: versions are
    immutable, and the text also tells apart rows of rolled-back transactions that reused an
    id. `specs` is called only when the definition is not cached."""
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"))
    found = _parsed.get(text)
    if found is not None:
        return found
    all_specs = specs()
    try:
        bp = engine.parse_blueprint(definition, specs=all_specs, roles=OWNER_ROLES)
    except RuleSchemaError:
        return None  # not cached: it may parse again once the field is back
    named = {
        path: spec for path, spec in all_specs.items() if path.startswith(CUSTOM_PREFIX) and path in text
    }
    found = Parsed(blueprint=bp, specs={**FIELDS, **named})
    if len(_parsed) >= CACHE_MAX:
        _parsed.clear()
    _parsed[text] = found
    return found


def actor_of(user: User, *, department: int, memo: dict[str, Any] | None = None) -> engine.BlueprintActor:
    """An agent as the engine sees a transition's performer: role, teams and departments (the
    desk's structure, `accounts.structure`; `memo`: the caller's signatures). Admins count as
    members of the blueprint's department, as the pipeline treats them everywhere."""
    desk = structure(memo)
    departments = set(desk.member_of.get(user.pk, frozenset()))
    if user.role == Role.ADMIN:
        departments.add(department)
    return engine.BlueprintActor(
        id=user.pk,
        role=str(user.role),
        team_ids=desk.teams_of.get(user.pk, frozenset()),
        department_ids=frozenset(departments),
    )


def departments_with_blueprints(memo: dict[str, Any] | None = None) -> frozenset[int]:
    """The departments that have an active blueprint, kept per process under the blueprints'
    signature (`core.config`): a change in a department without any costs no query."""
    from .models import Blueprint

    return config_cached(
        "blueprints",
        lambda: frozenset(Blueprint.objects.filter(active=True).values_list("department_id", flat=True)),
        memo,
    )

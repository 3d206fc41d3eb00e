"""Saving rules: every save is a new immutable version; the definition is validated first.

Also rules as code: `rules_export` writes every rule, macro and assignment policy as one
`sportello/rules/v1` document; `rules_import` reads one back, all or nothing, and answers per
item whether it was created, updated (a new version) or unchanged. Deleting a rule is
deactivating it (`rule_deactivate`): a new version with `active: false`, history kept.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from django.db import transaction
from django.db.models import F, Max, QuerySet
from django.utils.text import slugify

from sportello.accounts.models import User
from sportello.core.errors import BadRequest, Conflict, NotFound, ValidationFailed
from sportello.core.versioning import (
    ConfigKind,
    register_kind,
    version_current,
    version_deactivate,
    version_lock,
    version_save,
)
from sportello.engine import rules as engine_rules
from sportello.engine.lint import LintWarning, lint
from sportello.engine.schema import RuleSchemaError
from sportello.outbox.secrets import check_secret_refs

from . import assignment, macros, refs
from .facts import field_specs
from .models import (
    AssignmentPolicy,
    AssignmentPolicyVersion,
    MacroVersion,
    Rule,
    RuleKind,
    RuleVersion,
)

SCHEMA = engine_rules.SCHEMA
# Keys that would read as the API's own paths (`/rules/export`, ...).
RESERVED_KEYS = frozenset({"export", "import", "simulate"})
CREATE_CONFLICT = "a rule with this key exists; PUT /rules/{key} saves a new version"


def _validated(kind: RuleKind, definition: Any) -> dict[str, Any]:
    """The definition parsed and dumped back (normalised), or ValidationFailed naming the path."""
    section = "event_rules" if kind == RuleKind.EVENT else "time_rules"
    try:
        # Records may be named by key, as in a document (`automation.refs`).
        data = refs.document_to_ids({"schema": SCHEMA, section: [copy.deepcopy(definition)]})
        doc = engine_rules.parse_document(data, specs=field_specs())
    except (RuleSchemaError, ValidationFailed) as exc:
        where = exc.path if isinstance(exc, RuleSchemaError) else exc.field or ""
        path = where.removeprefix(f"{section}[0]").lstrip(".")
        raise ValidationFailed(exc.message, field=path or None) from None
    data = engine_rules.document_to_data(doc)
    item: dict[str, Any] = data[section][0]
    item.pop("version", None)  # informational in documents; the saved version is the rule's
    if item["key"] in RESERVED_KEYS:
        raise ValidationFailed(f"{item['key']!r} is reserved; choose another key", field="key")
    check_secret_refs(item)
    return item


@transaction.atomic
def rule_save(
    *,
    kind: RuleKind,
    definition: Any,
    created_by: User | None,
    now: datetime,
    create: bool = False,
    expected_version: int | None = None,
) -> tuple[Rule, bool]:
    """Create the rule named by `definition["key"]` or add a version to it (`create`: only
    create it; Conflict when it exists, also when it was created by a concurrent request).
    `expected_version`: the version the editor started from; Conflict (`stale_version`) when
    another save came in between. Returns the rule and whether a new version was written (an
    identical definition writes nothing)."""
    item = _validated(kind, definition)
    rule = version_lock(RULES, item["key"])
    if rule is not None and create:
        raise Conflict(CREATE_CONFLICT, field="key")
    if rule is not None and expected_version is not None and rule.version != expected_version:
        raise Conflict(
            f"version {rule.version} was saved since you loaded version {expected_version}",
            field="version",
            code="stale_version",
        )
    if rule is not None and rule.kind != kind:
        raise ValidationFailed(f"a {rule.kind} rule already has the key {item['key']!r}", field="key")
    saved = version_save(
        RULES,
        key=item["key"],
        definition=item,
        created_by=created_by,
        now=now,
        head=rule,
        fields={"kind": kind},
    )
    if saved.written and kind == RuleKind.TIME and saved.head.active:
        from .jobs import rearm_timers

        # Existing tickets get the rule's timers now, not at their next change (in the worker,
        # batch by batch; enqueued in this transaction, so a rollback leaves no job).
        rearm_timers.enqueue(after_id=0)
    return saved.head, saved.written


@transaction.atomic
def rule_deactivate(*, key: str, created_by: User | None, now: datetime) -> tuple[Rule, bool]:
    """Stop a rule from running: a new version with `active: false` (its history is kept, and
    saving it again with `active: true` brings it back). Already inactive: nothing written."""
    saved = version_deactivate(RULES, key=key, created_by=created_by, now=now)
    return saved.head, saved.written


@transaction.atomic
def rule_activate(*, key: str, created_by: User | None, now: datetime) -> tuple[Rule, bool]:
    """Run a deactivated rule again: a new version of its current definition with `active:
    true`, saved as any save is (validated again). Already active: nothing written."""
    rule = version_lock(RULES, key, required=True)
    current = version_current(RULES, rule, key) or {}
    if rule.active and current.get("active", True):
        return rule, False
    return rule_save(
        kind=RuleKind(rule.kind), definition={**current, "active": True}, created_by=created_by, now=now
    )


POSITION_STEP = 10


@transaction.atomic
def rule_move(*, key: str, up: bool, created_by: User | None, now: datetime) -> bool:
    """Move an event rule one place up or down in its category's run order (position, then key),
    as the rules API orders them: by `position`. The rules of the category are locked together
    (by id, so concurrent moves queue instead of deadlocking) and renumbered 10, 20, 30...; each
    rule whose position changes gets a new version. Returns whether anything moved (the first
    rule does not move up, the last not down). Time rules have no order (ValidationFailed)."""
    found = Rule.objects.filter(key=key).values_list("kind", "category").first()
    if found is None:
        raise RULES.not_found()
    if found[0] != RuleKind.EVENT:
        raise ValidationFailed("only event rules run in an order", field="key")
    siblings = list(
        Rule.objects.select_for_update().filter(kind=RuleKind.EVENT, category=found[1]).order_by("pk")
    )
    ordered = sorted(siblings, key=lambda r: (r.position, r.key))
    index = next((i for i, r in enumerate(ordered) if r.key == key), None)
    if index is None:  # its category changed meanwhile: nothing to move among these
        return False
    other = index - 1 if up else index + 1
    if not 0 <= other < len(ordered):
        return False
    ordered[index], ordered[other] = ordered[other], ordered[index]
    definitions = {
        v.rule_id: v.definition
        for v in RuleVersion.objects.filter(rule__in=ordered, version=F("rule__version"))
    }
    moved = False
    for i, rule in enumerate(ordered):
        position = (i + 1) * POSITION_STEP
        definition = definitions.get(rule.pk)
        if definition is None or (rule.position == position and definition.get("position") == position):
            continue
        _, written = rule_save(
            kind=RuleKind.EVENT,
            definition={**definition, "position": position},
            created_by=created_by,
            now=now,
        )
        moved = moved or written
    return moved


def _rule_head_fields(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": item["name"],
        "category": item.get("category", "") or "",
        "position": item.get("position", 0) or 0,
    }


def _rule_save_again(key: str, head: Any, definition: Any, actor: Any, now: datetime) -> tuple[Rule, bool]:
    return rule_save(kind=RuleKind(head.kind), definition=definition, created_by=actor, now=now)


# Event and time rules as one versioned configuration kind (`core.versioning`).
RULES = register_kind(
    ConfigKind(
        name="rules",
        label="rule",
        head=Rule,
        version=RuleVersion,
        parent="rule",
        save=_rule_save_again,
        head_fields=_rule_head_fields,
        active_in_definition=True,
        signature="rules",
    )
)


# -- direct assignment -------------------------------------------------------------------------

# Event rules that assign a new, unassigned ticket matching one condition to an agent or a team
# (the Console's "direct assignment"): ordinary event rules of this category, run in order.
DIRECT_CATEGORY = "direct-assignment"
DIRECT_ATTEMPTS = 50  # keys tried when concurrent creations take the same ones


def direct_rules() -> QuerySet[Rule]:
    """The direct-assignment rules, active or not, in the order they run."""
    return Rule.objects.filter(kind=RuleKind.EVENT, category=DIRECT_CATEGORY).order_by("position", "id")


def direct_rule_create(
    *, name: str, when: dict[str, Any], assign: dict[str, int], created_by: User | None, now: datetime
) -> Rule:
    """A new event rule on `ticket.created`: when `when` holds, assign to `assign` (`{"agent":
    id}` or `{"team": id}`), after the direct-assignment rules there are. Its key is made from the
    name (`direct-<slug>`, then `-2`, `-3`, ... when taken, also by a concurrent creation)."""
    base = "direct-" + (slugify(name)[:60].strip("-") or "rule")
    for _attempt in range(DIRECT_ATTEMPTS):
        taken = set(Rule.objects.filter(key__startswith=base).values_list("key", flat=True))
        key, n = base, 2
        while key in taken:
            key, n = f"{base}-{n}", n + 1
        last = direct_rules().aggregate(m=Max("position"))["m"]
        definition = {
            "key": key,
            "name": name,
            "category": DIRECT_CATEGORY,
            "position": (last or 0) + 10,
            "on": ["ticket.created"],
            "when": when,
            "actions": [{"assign": assign}],
        }
        try:
            rule, _written = rule_save(
                kind=RuleKind.EVENT, definition=definition, created_by=created_by, now=now, create=True
            )
        except Conflict:
            continue  # the key was taken meanwhile: the next one
        return rule
    raise Conflict("many rules were created at once; try again")


@transaction.atomic
def direct_rule_set_active(*, key: str, active: bool, created_by: User | None, now: datetime) -> Rule:
    """Turn a direct-assignment rule off (a new version, inactive; history kept) or on again."""
    rule = version_lock(RULES, key)
    if rule is None or rule.kind != RuleKind.EVENT or rule.category != DIRECT_CATEGORY:
        raise NotFound("rule not found")
    if not active:
        return rule_deactivate(key=key, created_by=created_by, now=now)[0]
    current = version_current(RULES, rule, key) or {}
    return rule_save(
        kind=RuleKind.EVENT, definition={**current, "active": True}, created_by=created_by, now=now
    )[0]


# -- lint --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleWarning:
    """A lint warning located by the rule (or macro) it is about and the path inside it."""

    kind: str  # event_rule | time_rule | macro
    key: str
    path: str
    code: str
    message: str


_SECTION_KIND = {"event_rules": "event_rule", "time_rules": "time_rule", "macros": "macro"}


def _located(doc: engine_rules.RuleDocument, warning: LintWarning) -> RuleWarning:
    section, _, rest = warning.path.partition("[")
    index, _, inner = rest.partition("]")
    items: tuple[Any, ...] = getattr(doc, section, ())
    key = items[int(index)].key if index.isdigit() and int(index) < len(items) else ""
    return RuleWarning(
        kind=_SECTION_KIND.get(section, section),
        key=key,
        path=inner.lstrip("."),
        code=warning.code,
        message=warning.message,
    )


def saved_document(*, replacing: engine_rules.RuleDocument | None = None) -> engine_rules.RuleDocument:
    """The saved rules and macros as one document (current versions; rules that no longer parse
    are left out), with the items of `replacing` in place of saved ones of the same key."""
    specs = field_specs()
    event: dict[str, Any] = {}
    time: dict[str, Any] = {}
    for rv in RuleVersion.objects.filter(rule__version=F("version")).select_related("rule"):
        target = event if rv.rule.kind == RuleKind.EVENT else time
        target[rv.rule.key] = rv.definition
    macros = {
        mv.macro.key: mv.definition
        for mv in MacroVersion.objects.filter(macro__version=F("version")).select_related("macro")
    }
    parsed: dict[str, dict[str, Any]] = {"event_rules": {}, "time_rules": {}, "macros": {}}
    for section, items in (("event_rules", event), ("time_rules", time), ("macros", macros)):
        for key, definition in items.items():
            try:
                doc = engine_rules.parse_document({"schema": SCHEMA, section: [definition]}, specs=specs)
            except RuleSchemaError:
                continue
            parsed[section][key] = getattr(doc, section)[0]
    if replacing is not None:
        for section in parsed:
            for item in getattr(replacing, section):
                parsed[section][item.key] = item
    return engine_rules.RuleDocument(
        event_rules=tuple(
            sorted(parsed["event_rules"].values(), key=lambda r: (r.category, r.position, r.key))
        ),
        time_rules=tuple(sorted(parsed["time_rules"].values(), key=lambda r: r.key)),
        macros=tuple(sorted(parsed["macros"].values(), key=lambda m: m.key)),
    )


def rules_lint(*, replacing: engine_rules.RuleDocument | None = None) -> list[RuleWarning]:
    """Lint warnings over every saved rule and macro, with `replacing` saved over them. Only
    active event rules take part in the checks between rules."""
    doc = saved_document(replacing=replacing)
    doc = engine_rules.RuleDocument(
        event_rules=tuple(r for r in doc.event_rules if r.active),
        time_rules=doc.time_rules,
        macros=doc.macros,
    )
    return [_located(doc, w) for w in lint(doc, specs=field_specs())]


def rule_warnings(*, kind: RuleKind, key: str) -> list[RuleWarning]:
    """The lint warnings that concern one saved rule: its own, and those pairing it with another."""
    section_kind = "event_rule" if kind == RuleKind.EVENT else "time_rule"
    quoted = repr(key)
    return [
        w
        for w in rules_lint()
        if (w.kind == section_kind and w.key == key) or (w.code == "opposite_writes" and quoted in w.message)
    ]


# -- traces -----------------------------------------------------------------------------------------


# -- rules as code -------------------------------------------------------------------------------


def rules_export() -> dict[str, Any]:
    """Every rule (active or not, at its current version), active macro and active assignment
    policy as one `sportello/rules/v1` document (data; dump it as YAML or JSON), naming
    departments and teams by slug, agents by e-mail, macros and policies by key."""
    event: list[dict[str, Any]] = []
    time: list[dict[str, Any]] = []
    versions = RuleVersion.objects.filter(rule__version=F("version")).select_related("rule")
    for rv in versions.order_by("rule__category", "rule__position", "rule__key"):
        item = {**rv.definition, "version": rv.version}
        (event if rv.rule.kind == RuleKind.EVENT else time).append(item)
    time.sort(key=lambda item: item["key"])
    macros = [
        mv.definition
        for mv in MacroVersion.objects.filter(macro__version=F("version"), macro__active=True)
        .select_related("macro")
        .order_by("macro__key")
    ]
    policies = [
        pv.definition
        for pv in AssignmentPolicyVersion.objects.filter(policy__version=F("version"), policy__active=True)
        .select_related("policy")
        .order_by("policy__key")
    ]
    # Departments, teams, agents, macros and policies by their stable keys (`automation.refs`).
    return refs.document_to_keys(
        {
            "schema": SCHEMA,
            "event_rules": event,
            "time_rules": time,
            "macros": macros,
            "assignment_policies": policies,
        }
    )


Outcome = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True, slots=True)
class ImportItem:
    kind: str  # event_rule | time_rule | macro | assignment_policy
    key: str
    outcome: Outcome
    version: int


@dataclass(frozen=True, slots=True)
class ImportResult:
    items: list[ImportItem]
    warnings: list[RuleWarning]
    dry_run: bool
    counts: dict[str, int] = field(default_factory=dict)


def parse_rules_document(data: Any) -> engine_rules.RuleDocument:
    """A document (data from JSON or YAML) validated; ValidationFailed names the bad path."""
    if not isinstance(data, dict):
        raise ValidationFailed("a rules document must be a mapping", field=None)
    schema = data.get("schema")
    if schema != SCHEMA:
        raise ValidationFailed(
            f"unsupported schema {schema!r}: this version of Sportello reads {SCHEMA!r}"
            if schema is not None
            else f"the document must start with `schema: {SCHEMA}`",
            field="schema",
        )
    try:
        return engine_rules.parse_document(data, specs=field_specs())
    except RuleSchemaError as exc:
        raise ValidationFailed(exc.message, field=exc.path or None) from None


def load_rules_text(text: str) -> Any:
    """YAML or JSON text (JSON is YAML) as data, size-bounded, with the rules loader (no
    aliases; only true/false are booleans, so `on:` stays a key). ValidationFailed when
    unreadable, BadRequest when nested deeper than NESTING_MAX."""
    import yaml

    if len(text.encode("utf-8", errors="replace")) > engine_rules.DOCUMENT_MAX_BYTES:
        raise ValidationFailed(f"the document is larger than {engine_rules.DOCUMENT_MAX_BYTES} bytes")
    try:
        data = yaml.load(text, Loader=engine_rules.RulesLoader)  # noqa: S506 - a SafeLoader subclass
    except engine_rules.NestingTooDeep as exc:
        raise BadRequest(str(exc)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ValidationFailed(f"invalid YAML{where}: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ValidationFailed(f"invalid YAML: {exc}") from None
    return data


def rules_dump(data: dict[str, Any]) -> str:
    """An exported document as YAML text."""
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


class _DryRun(Exception):
    pass


# Import order: what a section names by key (an assignment policy, a macro) is saved before.
_IMPORT_ORDER = ("assignment_policies", "macros", "event_rules", "time_rules")


def rules_import(*, data: Any, created_by: User | None, now: datetime, dry_run: bool = False) -> ImportResult:
    """Save every item of a rules document in one transaction, all or nothing. An item whose
    definition equals its saved current version writes nothing. Items absent from the document
    are left as they are. With `dry_run`, the outcome is computed and everything rolled back.

    Records are named by key (`automation.refs`; ids are accepted too) and resolved section by
    section — assignment policies, macros, event rules, time rules — so an item may name a
    policy or macro of the same document; a key that names nothing is refused with its path."""
    # The schema and the other top-level keys first, before any section is resolved.
    parse_rules_document(
        {k: v for k, v in data.items() if k not in _IMPORT_ORDER} if isinstance(data, dict) else data
    )
    items: list[ImportItem] = []
    warnings: list[RuleWarning] = []
    try:
        with transaction.atomic():
            for section in _IMPORT_ORDER:
                if not data.get(section):
                    continue
                part = copy.deepcopy(
                    {k: v for k, v in data.items() if k not in _IMPORT_ORDER or k == section}
                )
                normalised = engine_rules.document_to_data(parse_rules_document(refs.document_to_ids(part)))
                items.extend(_import_section(section, normalised[section], created_by=created_by, now=now))
            warnings = rules_lint()
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    items.sort(key=lambda item: _KIND_ORDER.index(item.kind))
    counts = {
        name: sum(1 for item in items if item.outcome == name) for name in ("created", "updated", "unchanged")
    }
    return ImportResult(items=items, warnings=warnings, dry_run=dry_run, counts=counts)


_KIND_ORDER = ("event_rule", "time_rule", "macro", "assignment_policy")


def _import_section(
    section: str, definitions: list[dict[str, Any]], *, created_by: User | None, now: datetime
) -> list[ImportItem]:
    items: list[ImportItem] = []
    for i, definition in enumerate(definitions):
        with _located_errors(f"{section}[{i}]"):
            if section in ("event_rules", "time_rules"):
                kind = RuleKind.EVENT if section == "event_rules" else RuleKind.TIME
                definition.pop("version", None)
                existed = Rule.objects.filter(key=definition["key"]).exists()
                rule, written = rule_save(kind=kind, definition=definition, created_by=created_by, now=now)
                name = "event_rule" if kind == RuleKind.EVENT else "time_rule"
                items.append(
                    ImportItem(name, rule.key, _outcome(existed=existed, written=written), rule.version)
                )
            elif section == "macros":
                macro, existed, written = macros.macro_import(
                    definition=definition, created_by=created_by, now=now
                )
                items.append(
                    ImportItem("macro", macro.key, _outcome(existed=existed, written=written), macro.version)
                )
            else:
                existed = AssignmentPolicy.objects.filter(key=definition["key"]).exists()
                policy, written = assignment.policy_save(
                    definition=definition, created_by=created_by, now=now
                )
                outcome = _outcome(existed=existed, written=written)
                items.append(ImportItem("assignment_policy", policy.key, outcome, policy.version))
    return items


@contextmanager
def _located_errors(where: str) -> Iterator[None]:
    """Validation errors of one item of a document, with the item's path in front."""
    try:
        yield
    except ValidationFailed as exc:
        raise ValidationFailed(exc.message, field=where + (f".{exc.field}" if exc.field else "")) from None


def _outcome(*, existed: bool, written: bool) -> Outcome:
    if not existed:
        return "created"
    return "updated" if written else "unchanged"


def rule_check(*, kind: RuleKind, definition: Any) -> list[RuleWarning]:
    """The lint warnings an unsaved rule would have once saved (ValidationFailed, with the path
    inside the rule, when it is not valid): its own, and those pairing it with a saved rule."""
    item = _validated(kind, definition)
    section = "event_rules" if kind == RuleKind.EVENT else "time_rules"
    candidate = engine_rules.parse_document({"schema": SCHEMA, section: [item]}, specs=field_specs())
    section_kind = "event_rule" if kind == RuleKind.EVENT else "time_rule"
    quoted = repr(item["key"])
    return [
        w
        for w in rules_lint(replacing=candidate)
        if (w.kind == section_kind and w.key == item["key"])
        or (w.code == "opposite_writes" and quoted in w.message)
    ]

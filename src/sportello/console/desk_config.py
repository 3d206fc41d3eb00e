"""The whole desk's configuration as one document: `config_export()` and `config_import(...)`,
behind `sportello config export|import` and the Console's export and import page.

The document (`schema: sportello/config/v1`, YAML or JSON) has one section per kind, each a list
of items naming records by their stable keys (departments and teams by slug, agents by e-mail,
fields by key: `automation.refs`), so a desk exported from one database imports into another:

| section | an item | saved through |
|---|---|---|
| `departments` | slug, name, email, description, active | `accounts.services.department_create/_update` |
| `statuses` | key, name, category, default, active (in the order agents see them) | `tickets.statuses` |
| `agents` | email, name, role, language, departments, active | `agent_create` / `agent_update` |
| `teams` | slug, name, department, email, members (e-mails) | `accounts.services.team_create/_update` |
| `fields` | key, label, type, options, description, position, active | `tickets.fields_services` |
| `layouts` | department, its fields in order (required, customers, values) | `layout_replace` |
| `calendars` | a calendar's definition, its departments, `default` | `sla.calendars.calendar_save` |
| `sla_policies` | an SLA policy's definition | `sla.services.policy_save` |
| `tier_paths` | a tier path's definition | `sla.tiers.tier_path_save` |
| `event_rules`, `time_rules`, `macros`, `assignment_policies` | as in rules | `rules_import` |
| `blueprints` | as in a blueprints document | `blueprints.services.blueprints_import` |
| `notification_templates` | key, language, subject, body_text, body_html | `template_save` |
| `canned_responses` | department, title, language, body (the shared ones) | `notifications.canned` |

Agents are in the document so that teams, rules and policies can name them in a new desk: an
agent missing from the desk is created without a password (they set one through the password
reset link, or an admin invites them); an existing one gets the document's name, role,
departments and active flag. An agent the document does not list is left as they are, and
must exist when something names them.

An import is all or nothing, in one transaction, section by section in the order above (so an
item may name what an earlier section creates). Items absent from the document are left as they
are; an item equal to what the desk has writes nothing. What an import changes is computed by
exporting the desk before and after it inside the transaction, so a dry run reports exactly what
the import would do (every path that would change, with its old and new value), and then rolls
everything back.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from django.db import connection, transaction
from django.db.models import F

from sportello.accounts import services as accounts
from sportello.accounts.history import agent_definition, department_definition, team_definition
from sportello.accounts.models import Department, Role, Team, User
from sportello.accounts.permissions import require_admin
from sportello.automation import refs
from sportello.automation import services as automation
from sportello.blueprints import services as blueprints
from sportello.core.errors import Conflict, NotFound, ValidationFailed
from sportello.core.versioning import Change, definition_diff
from sportello.notifications import canned
from sportello.notifications import services as notifications
from sportello.notifications.history import canned_definition
from sportello.notifications.models import CannedResponse, NotificationTemplate
from sportello.sla import calendars, tiers
from sportello.sla import services as sla
from sportello.sla.models import (
    BusinessCalendar,
    BusinessCalendarVersion,
    CalendarDepartment,
    SlaPolicyVersion,
    TierPath,
)
from sportello.tickets import fields_services as fields
from sportello.tickets import statuses
from sportello.tickets.history import field_definition, layout_row_definition, status_definition
from sportello.tickets.models import CustomerAccess, CustomField, LayoutField, Status

SCHEMA = "sportello/config/v1"
RULE_SECTIONS = ("assignment_policies", "macros", "event_rules", "time_rules")
# The document's sections in import order: what a later section names is saved before it.
SECTIONS = (
    "departments",
    "statuses",
    "agents",
    "teams",
    "fields",
    "layouts",
    "calendars",
    "sla_policies",
    "tier_paths",
    *RULE_SECTIONS,
    "blueprints",
    "notification_templates",
    "canned_responses",
)
ITEMS_MAX = 2_000  # per section


# --------------------------------------------------------------------------------------------
# Export


def _departments() -> list[dict[str, Any]]:
    return [department_definition(d) for d in Department.objects.order_by("slug")]


def _statuses() -> list[dict[str, Any]]:
    return [status_definition(s) for s in Status.objects.order_by("position", "id")]


def _agents_export() -> list[dict[str, Any]]:
    rows = User.objects.prefetch_related("departments").order_by("email")
    return [{**agent_definition(u), "language": u.language} for u in rows]


def _teams() -> list[dict[str, Any]]:
    rows = Team.objects.select_related("department").prefetch_related("members").order_by("slug")
    return [team_definition(t) for t in rows]


def _fields() -> list[dict[str, Any]]:
    return [field_definition(f) for f in CustomField.objects.order_by("key")]


def _layouts() -> list[dict[str, Any]]:
    by_department: dict[str, list[dict[str, Any]]] = {}
    rows = LayoutField.objects.select_related("department", "field").order_by(
        "department__slug", "position", "id"
    )
    for row in rows:
        by_department.setdefault(row.department.slug, []).append(layout_row_definition(row))
    return [{"department": slug, "fields": items} for slug, items in by_department.items()]


def _calendars(directory: refs.Directory) -> list[dict[str, Any]]:
    heads = BusinessCalendar.objects.filter(active=True).order_by("key")
    versions = {
        v.calendar_id: v.definition
        for v in BusinessCalendarVersion.objects.filter(calendar__active=True, calendar__version=F("version"))
    }
    departments: dict[int, list[int]] = {}
    for cd in CalendarDepartment.objects.order_by("department_id"):
        departments.setdefault(cd.calendar_id, []).append(cd.department_id)
    return [
        {
            **copy.deepcopy(versions[c.pk]),
            "departments": sorted(refs.department_keys(departments.get(c.pk, []), directory), key=str),
            "default": c.is_default,
        }
        for c in heads
        if c.pk in versions
    ]


def _sla_policies(directory: refs.Directory) -> list[dict[str, Any]]:
    versions = SlaPolicyVersion.objects.filter(policy__active=True, policy__version=F("version")).order_by(
        "policy__position", "policy__key"
    )
    return [refs.sla_policy_to_keys(copy.deepcopy(v.definition), directory) for v in versions]


def _tier_paths(directory: refs.Directory) -> list[dict[str, Any]]:
    return [
        refs.tier_path_to_keys(copy.deepcopy(p.definition), directory)
        for p in TierPath.objects.filter(active=True).order_by("key")
    ]


def _templates() -> list[dict[str, Any]]:
    return [
        {
            "key": t.key,
            "language": t.language,
            "subject": t.subject,
            "body_text": t.body_text,
            "body_html": t.body_html,
        }
        for t in NotificationTemplate.objects.filter(active=True).order_by("key", "language")
    ]


def _canned() -> list[dict[str, Any]]:
    rows = CannedResponse.objects.filter(owner_department__isnull=False).select_related("owner_department")
    items = [canned_definition(c) for c in rows]
    return sorted(items, key=lambda i: (i["department"], i["title"], i["language"]))


def config_export() -> dict[str, Any]:
    """The desk's whole configuration as one `sportello/config/v1` document (data: dump it with
    `config_dump`). Rules carry their `version`, for information: an import ignores it."""
    directory = refs.Directory()
    rules = automation.rules_export()
    return {
        "schema": SCHEMA,
        "departments": _departments(),
        "statuses": _statuses(),
        "agents": _agents_export(),
        "teams": _teams(),
        "fields": _fields(),
        "layouts": _layouts(),
        "calendars": _calendars(directory),
        "sla_policies": _sla_policies(directory),
        "tier_paths": _tier_paths(directory),
        **{section: rules[section] for section in RULE_SECTIONS},
        "blueprints": blueprints.blueprints_export()["blueprints"],
        "notification_templates": _templates(),
        "canned_responses": _canned(),
    }


def config_dump(data: dict[str, Any]) -> str:
    """A document as YAML text."""
    return automation.rules_dump(data)


def load_config_text(text: str) -> Any:
    """YAML or JSON text as data, size-bounded (as rules documents are read)."""
    return automation.load_rules_text(text)


# --------------------------------------------------------------------------------------------
# Import


Outcome = Literal["created", "changed", "removed"]


@dataclass(frozen=True, slots=True)
class ItemChange:
    """What an import does to one item of a section: `changes` are the paths that differ."""

    section: str
    key: str
    outcome: Outcome
    changes: list[Change] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ImportReport:
    dry_run: bool
    items: list[ItemChange]
    unchanged: int  # items of the document that change nothing
    warnings: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        out = {name: sum(1 for i in self.items if i.outcome == name) for name in ("created", "changed")}
        return {**out, "unchanged": self.unchanged}


def _item_key(section: str, item: dict[str, Any]) -> str:
    if section == "agents":
        return str(item.get("email", "")).strip().lower()
    if section in ("departments", "teams"):
        return str(item.get("slug"))
    if section == "layouts":
        return str(item.get("department"))
    if section == "notification_templates":
        return f"{item.get('key')}/{item.get('language')}"
    if section == "canned_responses":
        return f"{item.get('department')}/{item.get('title')}/{item.get('language') or '-'}"
    return str(item.get("key"))


def _comparable(section: str, item: dict[str, Any]) -> dict[str, Any]:
    if section in ("event_rules", "time_rules"):
        return {k: v for k, v in item.items() if k != "version"}
    if section == "layouts" and isinstance(item.get("fields"), list):
        # A document written before customer access existed means what it always did: customers
        # fill every field.
        rows = [
            {**row, "customer_access": row.get("customer_access", CustomerAccess.EDIT.value)}
            if isinstance(row, dict)
            else row
            for row in item["fields"]
        ]
        return {**item, "fields": rows}
    return item


def _keyed(section: str, items: list[Any]) -> dict[str, dict[str, Any]]:
    return {_item_key(section, i): _comparable(section, i) for i in items if isinstance(i, dict)}


def _document(data: Any) -> dict[str, list[Any]]:
    if not isinstance(data, dict):
        raise ValidationFailed("a configuration document must be a mapping")
    schema = data.get("schema")
    if schema != SCHEMA:
        raise ValidationFailed(
            f"unsupported schema {str(schema)[:60]!r}: this version of Sportello reads {SCHEMA!r}"
            if schema is not None
            else f"the document must start with `schema: {SCHEMA}`",
            field="schema",
        )
    unknown = sorted(str(k) for k in data if k != "schema" and k not in SECTIONS)
    if unknown:
        raise ValidationFailed("unknown section", field=unknown[0][:60])
    out: dict[str, list[Any]] = {}
    for section in SECTIONS:
        items = data.get(section)
        if items is None:
            continue
        if not isinstance(items, list):
            raise ValidationFailed("must be a list", field=section)
        if len(items) > ITEMS_MAX:
            raise ValidationFailed(f"at most {ITEMS_MAX} items", field=section)
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise ValidationFailed("must be a mapping", field=f"{section}[{i}]")
        out[section] = items
    return out


@contextmanager
def _located(where: str) -> Iterator[None]:
    """Errors of an item (its services name fields relative to it) named by the item's path:
    `fields[2].options`."""
    try:
        yield
    except (ValidationFailed, Conflict, NotFound) as exc:
        inner = f".{exc.field}" if exc.field else ""
        raise type(exc)(exc.message, field=f"{where}{inner}", code=exc.code) from None


def _unknown_keys(item: dict[str, Any], allowed: set[str], where: str = "") -> None:
    unknown = sorted(str(k) for k in item if k not in allowed)
    if unknown:
        raise ValidationFailed(
            "unknown key", field=f"{where}.{unknown[0][:60]}" if where else unknown[0][:60]
        )


def _text(item: dict[str, Any], name: str, *, default: str | None = None) -> str:
    value = item.get(name, default)
    if not isinstance(value, str):
        raise ValidationFailed("must be text" if name in item else "is required", field=name)
    return value


def _flag(item: dict[str, Any], name: str, *, default: bool) -> bool:
    value = item.get(name, default)
    if not isinstance(value, bool):
        raise ValidationFailed("must be true or false", field=name)
    return value


def _agents(emails: Any, where: str) -> list[User]:
    if not isinstance(emails, list) or not all(isinstance(e, str) for e in emails):
        raise ValidationFailed("must be a list of agents' e-mail addresses", field=where)
    found = {u.email: u for u in User.objects.filter(email__in=[e.strip().lower() for e in emails])}
    out = []
    for i, email in enumerate(emails):
        user = found.get(email.strip().lower())
        if user is None:
            raise ValidationFailed(f"no agent with the e-mail {email!r} in this desk", field=f"{where}[{i}]")
        out.append(user)
    return out


def _department(slug: Any, where: str) -> Department:
    found = Department.objects.filter(slug=slug).first() if isinstance(slug, str) else None
    if found is None:
        raise ValidationFailed(f"no department with the slug {str(slug)[:60]!r} in this desk", field=where)
    return found


def _import_departments(items: list[dict[str, Any]], actor: User | None) -> None:
    for i, item in enumerate(items):
        where = f"departments[{i}]"
        _unknown_keys(item, {"slug", "name", "email", "description", "active"}, where)
        with _located(where):
            slug = _text(item, "slug")
            name = _text(item, "name")
            email = _text(item, "email", default="")
            description = _text(item, "description", default="")
            active = _flag(item, "active", default=True)
            existing = Department.objects.filter(slug=slug).first()
            if existing is None:
                existing = accounts.department_create(
                    name=name, email=email, description=description, actor=actor, slug=slug
                )
            accounts.department_update(
                department=existing,
                actor=actor,
                name=name,
                email=email,
                description=description,
                is_active=active,
            )


def _import_statuses(items: list[dict[str, Any]], actor: User | None, now: datetime) -> None:
    """A status the desk lacks is created at the end of the order (so a document's new statuses
    keep its order); an existing one gets the document's name, category and active flag, and
    becomes its category's default when the document says so (a default is replaced, never
    unset: `tickets.statuses`)."""
    for i, item in enumerate(items):
        where = f"statuses[{i}]"
        _unknown_keys(item, {"key", "name", "category", "default", "active"}, where)
        with _located(where):
            key = _text(item, "key")
            name = _text(item, "name")
            category = _text(item, "category")
            default = _flag(item, "default", default=False)
            active = _flag(item, "active", default=True)
            existing = Status.objects.filter(key=key).first()
            if existing is None:
                existing = statuses.status_create(
                    actor=actor, key=key, name=name, category=category, is_default=default, now=now
                )
            statuses.status_update(
                actor=actor,
                status_id=existing.pk,
                now=now,
                name=name,
                category=category,
                is_default=True if default and not existing.is_default else None,
                is_active=active,
            )


def _import_agents(items: list[dict[str, Any]], actor: User | None) -> None:
    for i, item in enumerate(items):
        where = f"agents[{i}]"
        _unknown_keys(item, {"email", "name", "role", "language", "departments", "active"}, where)
        with _located(where):
            email = _text(item, "email").strip().lower()
            name = _text(item, "name", default=email)
            role = _text(item, "role", default="agent")
            language = _text(item, "language", default="en")
            slugs = item.get("departments", [])
            if not isinstance(slugs, list):
                raise ValidationFailed("must be a list of department slugs", field="departments")
            departments = [_department(slug, f"departments[{j}]") for j, slug in enumerate(slugs)]
            active = _flag(item, "active", default=True)
            agent = User.objects.filter(email=email).first()
            if agent is None:
                agent = accounts.agent_create(
                    email=email, name=name, role=role, departments=departments, language=language, actor=actor
                )
            accounts.agent_update(
                agent=agent, actor=actor, name=name, role=role, departments=departments, is_active=active
            )


def _import_teams(items: list[dict[str, Any]], actor: User | None) -> None:
    for i, item in enumerate(items):
        where = f"teams[{i}]"
        _unknown_keys(item, {"slug", "name", "department", "email", "members"}, where)
        with _located(where):
            slug = _text(item, "slug")
            name = _text(item, "name")
            email = _text(item, "email", default="")
            department = _department(item.get("department"), "department")
            members = _agents(item.get("members", []), "members")
            team = Team.objects.filter(slug=slug).select_related("department").first()
            if team is None:
                accounts.team_create(
                    name=name, department=department, members=members, email=email, actor=actor, slug=slug
                )
                continue
            if team.department_id != department.pk:
                raise ValidationFailed(
                    f"the team {slug!r} belongs to {team.department.slug!r}: a team stays in its department",
                    field="department",
                )
            accounts.team_update(team=team, actor=actor, name=name, email=email, members=members)


def _options(raw: Any) -> list[fields.FieldOption]:
    if not isinstance(raw, list):
        raise ValidationFailed("must be a list", field="options")
    out = []
    for j, option in enumerate(raw):
        if isinstance(option, str):
            out.append(fields.FieldOption(value=option))
        elif isinstance(option, dict) and isinstance(option.get("value"), str):
            out.append(fields.FieldOption(value=option["value"], label=str(option.get("label") or "")))
        else:
            raise ValidationFailed("must be {value, label}", field=f"options[{j}]")
    return out


def _import_fields(items: list[dict[str, Any]], actor: User | None) -> None:
    for i, item in enumerate(items):
        where = f"fields[{i}]"
        _unknown_keys(item, {"key", "label", "type", "options", "description", "position", "active"}, where)
        with _located(where):
            key = _text(item, "key")
            label = _text(item, "label")
            kind = _text(item, "type")
            options = _options(item.get("options", []))
            description = _text(item, "description", default="")
            position = item.get("position", 0)
            if isinstance(position, bool) or not isinstance(position, int):
                raise ValidationFailed("must be a whole number", field="position")
            active = _flag(item, "active", default=True)
            existing = CustomField.objects.filter(key=key).first()
            if existing is None:
                existing = fields.custom_field_create(
                    actor=actor,
                    key=key,
                    label=label,
                    type=kind,
                    options=options,
                    description=description,
                    position=position,
                )
            fields.custom_field_update(
                actor=actor,
                field=existing,
                key=key,
                type=kind,
                label=label,
                options=options,
                description=description,
                position=position,
                is_active=active,
            )


def _import_layouts(items: list[dict[str, Any]], actor: User | None) -> None:
    for i, item in enumerate(items):
        where = f"layouts[{i}]"
        _unknown_keys(item, {"department", "fields"}, where)
        with _located(where):
            department = _department(item.get("department"), "department")
            rows = item.get("fields", [])
            if not isinstance(rows, list):
                raise ValidationFailed("must be a list", field="fields")
            specs = []
            for j, row in enumerate(rows):
                here = f"fields[{j}]"
                if not isinstance(row, dict) or not isinstance(row.get("field"), str):
                    raise ValidationFailed("must be {field, required, ...}", field=here)
                _unknown_keys(
                    row,
                    {"field", "required", "required_from_customer", "customer_access", "allowed_values"},
                    here,
                )
                specs.append(
                    fields.LayoutRowSpec(
                        field=row["field"],
                        required=row.get("required", "none"),
                        required_from_customer=_flag(row, "required_from_customer", default=False),
                        # Documents written before customer access existed: customers fill it.
                        customer_access=row.get("customer_access", CustomerAccess.EDIT),
                        allowed_values=row.get("allowed_values"),
                    )
                )
            fields.layout_replace(actor=actor, department=department, rows=specs)


def _import_calendars(items: list[dict[str, Any]], actor: User | None, now: datetime) -> None:
    for i, item in enumerate(items):
        where = f"calendars[{i}]"
        with _located(where):
            definition = {k: v for k, v in item.items() if k not in ("departments", "default")}
            departments = refs.department_ids(item.get("departments", []), "departments")
            calendars.calendar_save(
                definition=definition,
                actor=actor,
                now=now,
                departments=departments,
                is_default=_flag(item, "default", default=False),
            )


def _import_sla_policies(items: list[dict[str, Any]], actor: User | None, now: datetime) -> None:
    for i, item in enumerate(items):
        with _located(f"sla_policies[{i}]"):
            sla.policy_save(definition=refs.sla_policy_to_ids(copy.deepcopy(item)), actor=actor, now=now)


def _import_tier_paths(items: list[dict[str, Any]], actor: User | None, now: datetime) -> None:
    for i, item in enumerate(items):
        with _located(f"tier_paths[{i}]"):
            tiers.tier_path_save(definition=refs.tier_path_to_ids(copy.deepcopy(item)), actor=actor, now=now)


def _import_rules(doc: dict[str, list[Any]], actor: User | None, now: datetime) -> list[str]:
    part = {section: doc[section] for section in RULE_SECTIONS if section in doc}
    if not part:
        return []
    result = automation.rules_import(data={"schema": automation.SCHEMA, **part}, created_by=actor, now=now)
    return [
        f"{w.kind} {w.key}{' ' + w.path if w.path else ''}: [{w.code}] {w.message}" for w in result.warnings
    ]


def _import_templates(items: list[dict[str, Any]], actor: User, now: datetime) -> None:
    for i, item in enumerate(items):
        where = f"notification_templates[{i}]"
        _unknown_keys(item, {"key", "language", "subject", "body_text", "body_html"}, where)
        with _located(where):
            notifications.template_save(
                key=_text(item, "key"),
                language=_text(item, "language"),
                subject=_text(item, "subject"),
                body_text=_text(item, "body_text"),
                body_html=_text(item, "body_html", default=""),
                actor=actor,
                now=now,
            )


def _import_canned(items: list[dict[str, Any]], actor: User, now: datetime) -> None:
    for i, item in enumerate(items):
        where = f"canned_responses[{i}]"
        _unknown_keys(item, {"department", "title", "language", "body"}, where)
        with _located(where):
            department = _department(item.get("department"), "department")
            title = _text(item, "title")
            language = _text(item, "language", default="")
            body = _text(item, "body")
            # Titles are unique per owner and language whatever their case (`canned`).
            existing = CannedResponse.objects.filter(
                owner_department=department, title__iexact=title, language=language
            ).first()
            if existing is None:
                canned.canned_create(
                    actor=actor,
                    title=title,
                    body=body,
                    language=language,
                    department_id=department.pk,
                    now=now,
                )
            elif (existing.title, existing.body) != (title, body):
                canned.canned_update(actor=actor, canned_id=existing.pk, title=title, body=body, now=now)


IMPORT_LOCK = 0x5350_434F_4E46  # PostgreSQL advisory lock: one configuration import at a time


def _serialise_imports() -> None:
    """Concurrent imports run one after the other, each seeing what the one before saved (on
    SQLite, write transactions are serialised already)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [IMPORT_LOCK])


def _author(actor: User | None) -> User:
    """Who writes templates and canned responses: the actor, else (the system importing) the
    desk's first active admin — maybe one the document's `agents` just made."""
    author = actor or User.objects.filter(role=Role.ADMIN, is_active=True).order_by("pk").first()
    if author is None:
        raise ValidationFailed(
            "notification templates and canned responses need an admin as their author: create one first"
        )
    return author


class _DryRun(Exception):
    pass


def _changes(before: dict[str, Any], after: dict[str, Any]) -> list[ItemChange]:
    out: list[ItemChange] = []
    for section in SECTIONS:
        old = _keyed(section, before.get(section, []))
        new = _keyed(section, after.get(section, []))
        for key, item in new.items():
            if key not in old:
                out.append(ItemChange(section=section, key=key, outcome="created"))
            elif old[key] != item:
                out.append(
                    ItemChange(
                        section=section, key=key, outcome="changed", changes=definition_diff(old[key], item)
                    )
                )
        for key in old:
            if key not in new:  # deactivated (only active items of some kinds are exported)
                out.append(ItemChange(section=section, key=key, outcome="removed"))
    return out


def config_import(
    *,
    data: Any,
    actor: User | None,
    now: datetime,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
) -> ImportReport:
    """Save a configuration document, all or nothing (see the module notes). `actor`: an admin,
    or None for the system (notification templates and canned responses then need an admin:
    the desk's first active one is their author). With `dry_run` nothing is kept. Errors are
    ValidationFailed (or Conflict) naming the path of the item at fault."""
    require_admin(actor)
    doc = _document(data)
    report: ImportReport | None = None
    try:
        with transaction.atomic():
            _serialise_imports()
            before = config_export()
            warnings: list[str] = []
            steps: list[tuple[str, Callable[[], Any]]] = [
                ("departments", lambda: _import_departments(doc["departments"], actor)),
                ("statuses", lambda: _import_statuses(doc["statuses"], actor, now)),
                ("agents", lambda: _import_agents(doc["agents"], actor)),
                ("teams", lambda: _import_teams(doc["teams"], actor)),
                ("fields", lambda: _import_fields(doc["fields"], actor)),
                ("layouts", lambda: _import_layouts(doc["layouts"], actor)),
                ("calendars", lambda: _import_calendars(doc["calendars"], actor, now)),
                ("sla_policies", lambda: _import_sla_policies(doc["sla_policies"], actor, now)),
                ("tier_paths", lambda: _import_tier_paths(doc["tier_paths"], actor, now)),
                ("rules", lambda: warnings.extend(_import_rules(doc, actor, now))),
                (
                    "blueprints",
                    lambda: blueprints.blueprints_import(
                        data={"schema": blueprints.SCHEMA, "blueprints": doc["blueprints"]},
                        actor=actor,
                        now=now,
                    ),
                ),
                (
                    "notification_templates",
                    lambda: _import_templates(doc["notification_templates"], _author(actor), now),
                ),
                ("canned_responses", lambda: _import_canned(doc["canned_responses"], _author(actor), now)),
            ]
            for name, run in steps:
                present = any(s in doc for s in RULE_SECTIONS) if name == "rules" else name in doc
                if not present:
                    continue
                if progress is not None:
                    progress(name)
                run()
            after = config_export()
            items = _changes(before, after)
            touched = {(c.section, c.key) for c in items}
            unchanged = sum(
                1 for s in SECTIONS for key in _keyed(s, doc.get(s, [])) if (s, key) not in touched
            )
            report = ImportReport(dry_run=dry_run, items=items, unchanged=unchanged, warnings=warnings)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    assert report is not None
    return report

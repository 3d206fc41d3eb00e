"""Reads of blueprints, permission-scoped: the definitions, a ticket's process (its state and the
transitions the reader may perform) and a blueprint's metrics.

Who reads what: admins and agents read blueprints (as they read rules); a ticket's process is
read by the admins and agents who may read the ticket (else 404); a blueprint's metrics by
admins and the agents of its department. Light agents and customers read none of it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.db.models import F, QuerySet

from sportello.accounts.models import Role, User
from sportello.contacts.models import Contact
from sportello.core.config import config_cached
from sportello.core.errors import NotFound, PermissionDenied, ValidationFailed
from sportello.engine import blueprints as engine
from sportello.tickets import selectors as ticket_selectors
from sportello.tickets.models import Ticket, TicketEvent

from . import definitions
from .audit import EVENT_KIND
from .models import Blueprint, BlueprintVersion, TicketBlueprint

Principal = User | Contact
# The events that move a ticket in its process, as the metrics read them.
STATE_EVENTS = ("attached", "transition", "bypassed", "detached")


def require_blueprint_reader(principal: Principal) -> User:
    if (
        not isinstance(principal, User)
        or not principal.is_active
        or principal.role not in (Role.ADMIN, Role.AGENT)
    ):
        raise PermissionDenied("only admins and agents can read blueprints")
    return principal


def blueprint_list(*, principal: Principal, department_id: int | None = None) -> QuerySet[Blueprint]:
    require_blueprint_reader(principal)
    qs = Blueprint.objects.order_by("key")
    if department_id is not None:
        qs = qs.filter(department_id=department_id)
    return qs


@dataclass(frozen=True, slots=True)
class BlueprintSummary:
    """A blueprint as a list shows it: its head (with its department), its current version's
    states, and how many tickets are in its process now."""

    blueprint: Blueprint
    states: int
    active_tickets: int
    entry: dict[str, Any] | None  # the entry condition; None: every ticket of the department


def blueprint_summaries(*, principal: Principal) -> list[BlueprintSummary]:
    """Every blueprint, by department name and name, with its figures (three queries)."""
    from django.db.models import Count

    rows = list(
        blueprint_list(principal=principal).select_related("department").order_by("department__name", "name")
    )
    current = blueprint_current_definitions(blueprints=rows)
    active = dict(
        TicketBlueprint.objects.filter(active=True, blueprint_id__in=[r.pk for r in rows])
        .values("blueprint_id")
        .annotate(n=Count("id"))
        .values_list("blueprint_id", "n")
    )
    out = []
    for row in rows:
        definition = current[row.pk].definition if row.pk in current else {}
        entry = definition.get("entry")
        out.append(
            BlueprintSummary(
                blueprint=row,
                states=len(definition.get("states", [])),
                active_tickets=active.get(row.pk, 0),
                entry=None if not entry or entry == {"all": []} else entry,
            )
        )
    return out


def blueprint_get(*, principal: Principal, key: str) -> Blueprint:
    require_blueprint_reader(principal)
    row = Blueprint.objects.filter(key=key).first()
    if row is None:
        raise NotFound("blueprint not found")
    return row


def blueprint_current_definitions(*, blueprints: Iterable[Blueprint]) -> dict[int, BlueprintVersion]:
    """The current version row of each blueprint, by blueprint id (one query)."""
    rows = list(blueprints)
    current = {(b.pk, b.version) for b in rows}
    versions = BlueprintVersion.objects.filter(blueprint_id__in=[b.pk for b in rows])
    return {v.blueprint_id: v for v in versions if (v.blueprint_id, v.version) in current}


def active_versions(memo: dict[str, Any] | None = None) -> dict[tuple[int, int], BlueprintVersion]:
    """The current version of every active blueprint, with its blueprint, by (blueprint id,
    version number), kept per process under the blueprints' signature (`core.config`): the page
    of a ticket in a process reads no version. Shared by every request: never change them."""
    return config_cached(
        "blueprints.active_versions",
        lambda: {
            (v.blueprint_id, v.version): v
            for v in BlueprintVersion.objects.filter(
                blueprint__active=True, version=F("blueprint__version")
            ).select_related("blueprint")
        },
        memo,
        signature="blueprints",
    )


def blueprint_versions(*, principal: Principal, key: str) -> tuple[Blueprint, QuerySet[BlueprintVersion]]:
    row = blueprint_get(principal=principal, key=key)
    return row, BlueprintVersion.objects.filter(blueprint=row).order_by("-version")


def blueprint_version_get(*, principal: Principal, key: str, version: int | None = None) -> BlueprintVersion:
    """A blueprint at one version (default: its current one)."""
    row = blueprint_get(principal=principal, key=key)
    found = BlueprintVersion.objects.filter(blueprint=row, version=version or row.version).first()
    if found is None:
        raise NotFound("no such version of the blueprint")
    found.blueprint = row
    return found


def parsed_version(version: BlueprintVersion) -> definitions.Parsed:
    from sportello.automation.facts import field_specs

    parsed = definitions.parsed(version.definition, field_specs)
    if parsed is None:
        raise NotFound("this version of the blueprint no longer reads as valid; save it again")
    return parsed


# -- a ticket's process ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TicketProcess:
    """A ticket in its blueprint, as a reader sees it. `run` None: it never entered one."""

    ticket: Ticket
    run: TicketBlueprint | None
    blueprint: engine.Blueprint | None
    state: engine.State | None
    transitions: list[engine.Transition]  # what the reader may perform now (none once completed)
    version: BlueprintVersion | None = None  # the run's version, with its blueprint


def ticket_process(*, principal: Principal, ticket_id: int) -> TicketProcess:
    ticket = ticket_selectors.ticket_get_for(principal=principal, ticket_id=ticket_id)
    return ticket_process_of(principal=principal, ticket=ticket)


def ticket_process_of(
    *, principal: Principal, ticket: Ticket, memo: dict[str, Any] | None = None
) -> TicketProcess:
    """`ticket_process` for a ticket the caller has already read for this principal (through
    `tickets.selectors.ticket_get_for`, which checks that they may see it): the page that shows
    it reuses it, and its prefetched tags (and its requester, when loaded), instead of reading
    them again. `memo`: the caller's, where the configurations' signatures are read once."""
    user = require_blueprint_reader(principal)
    # Read with the ticket when it was (`select_related("blueprint_run__blueprint")`, the page).
    reverse = TicketBlueprint._meta.get_field("ticket").remote_field
    if reverse.is_cached(ticket):
        run = cast(TicketBlueprint | None, reverse.get_cached_value(ticket))
    else:
        run = TicketBlueprint.objects.filter(ticket_id=ticket.pk).select_related("blueprint").first()
    if run is None:
        return TicketProcess(ticket=ticket, run=None, blueprint=None, state=None, transitions=[])
    version = active_versions(memo).get((run.blueprint_id, run.version))
    if version is None:  # a run still on an earlier version, or of a blueprint since deactivated
        version = BlueprintVersion.objects.get(blueprint_id=run.blueprint_id, version=run.version)
        version.blueprint = run.blueprint
    parsed = parsed_version(version)
    bp = parsed.blueprint
    transitions: list[engine.Transition] = []
    if run.active:
        from sportello.automation.facts import ticket_facts

        facts = ticket_facts(
            ticket,
            tags=_loaded_tags(ticket),
            specs=parsed.specs,
            organization=parsed.reads_organization(),
            satisfaction=parsed.reads_satisfaction(),
            memo=memo,
        )
        actor = definitions.actor_of(user, department=bp.department, memo=memo)
        transitions = engine.available_transitions(bp, run.state, actor, facts, parsed.specs)
    return TicketProcess(
        ticket=ticket,
        run=run,
        blueprint=bp,
        state=bp.state(run.state),
        transitions=transitions,
        version=version,
    )


def _loaded_tags(ticket: Ticket) -> list[str] | None:
    """The ticket's tag names when they were prefetched with it (`ticket_list` does), else None
    (`ticket_facts` reads them)."""
    cache = getattr(ticket, "_prefetched_objects_cache", {})
    if "tags" not in cache:
        return None
    return [t.name for t in cache["tags"]]


# -- metrics ---------------------------------------------------------------------------------------------


def state_changes(*, keys: Collection[str], until: datetime) -> dict[str, list[engine.StateChange]]:
    """The log of each blueprint (every version) before `until`, from the tickets' events, in
    time order (one query)."""
    rows = (
        TicketEvent.objects.filter(
            kind=EVENT_KIND, field__in=STATE_EVENTS, at__lt=until, new_value__blueprint__in=list(keys)
        )
        .order_by("at", "id")
        .values_list("ticket_id", "at", "field", "new_value")
    )
    changes: dict[str, list[engine.StateChange]] = {key: [] for key in keys}
    for ticket_id, at, name, new in rows:
        if not isinstance(new, dict) or new.get("blueprint") not in changes:
            continue
        log = changes[new["blueprint"]]
        if name == "attached":
            log.append(engine.StateChange(ticket_id, at, None, new.get("state"), None))
        elif name == "transition":
            log.append(
                engine.StateChange(ticket_id, at, new.get("from"), new.get("to"), new.get("transition"))
            )
        elif name == "bypassed" and new.get("from") != new.get("to"):
            log.append(engine.StateChange(ticket_id, at, new.get("from"), new.get("to"), None))
        elif name == "detached":
            log.append(engine.StateChange(ticket_id, at, new.get("from"), None, None))
    return changes


def business_clock(department_id: int, memo: dict[str, Any] | None = None) -> engine.BusinessElapsed:
    """Business time between two instants in the department's calendar (none: calendar time).
    `memo`: shared by the callers of one request, so the calendars' signature is read once."""
    from sportello.engine import calendars
    from sportello.sla.calendars import active_calendars

    calendar = active_calendars(memo).for_department(department_id)
    if calendar is None:
        return lambda start, end: end - start
    return lambda start, end: calendars.elapsed(calendar, start, end)


@dataclass(frozen=True, slots=True)
class Period:
    """[start, end) of a report; `start` None: since the beginning of the log."""

    start: datetime | None
    end: datetime

    @classmethod
    def of(cls, *, start: datetime | None, end: datetime | None, now: datetime) -> Period:
        for name, instant in (("from", start), ("to", end)):
            if instant is not None and instant.tzinfo is None:
                raise ValidationFailed("needs a UTC offset (e.g. 2026-12-01T00:00:00Z)", field=name)
        until = now if end is None else min(end, now)
        if start is not None and until <= start:
            raise ValidationFailed("must be after `from` (and `from` before now)", field="to")
        return cls(start, until)


def _may_read_metrics(user: User, blueprint: Blueprint) -> bool:
    return user.role == Role.ADMIN or user.is_member_of(blueprint.department_id)


def _metrics(rows: list[Blueprint], period: Period) -> list[tuple[Blueprint, engine.BlueprintMetrics]]:
    versions = blueprint_current_definitions(blueprints=rows)
    logs = state_changes(keys=[row.key for row in rows], until=period.end)
    memo: dict[str, Any] = {}  # the calendars' signature, read once for every blueprint
    out = []
    for row in rows:
        bp = parsed_version(versions[row.pk]).blueprint
        found = engine.blueprint_metrics(
            bp,
            logs[row.key],
            period.end,
            since=period.start,
            business_elapsed=business_clock(row.department_id, memo),
        )
        out.append((row, found))
    return out


def blueprint_metrics(
    *, principal: Principal, key: str, period: Period
) -> tuple[Blueprint, engine.BlueprintMetrics]:
    """The dashboard of a blueprint (its current definition over the log of every version) for
    the period, for admins and the agents of its department."""
    row = blueprint_get(principal=principal, key=key)
    if not _may_read_metrics(require_blueprint_reader(principal), row):
        raise PermissionDenied("only admins and the agents of the blueprint's department see its metrics")
    return _metrics([row], period)[0]


def blueprints_metrics(
    *, principal: Principal, period: Period, department_id: int | None = None
) -> list[tuple[Blueprint, engine.BlueprintMetrics]]:
    """The dashboards of every blueprint the reader may see (admins: all; agents: their
    departments'), optionally of one department, by department and key."""
    user = require_blueprint_reader(principal)
    qs = Blueprint.objects.order_by("department_id", "key")
    if department_id is not None:
        qs = qs.filter(department_id=department_id)
    if user.role != Role.ADMIN:
        qs = qs.filter(department__in=user.departments.values("pk"))
    return _metrics(list(qs), period)

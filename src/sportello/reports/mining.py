"""Process mining's event log, read from the audit trail within a reader's `ReportScope`
(docs/process-mining.md says what each figure means).

A *source* is either a blueprint (`blueprint:<key>`: its states are the activities, its
transitions the designed steps) or a department's status flow (`department:<id>`: the
statuses are the activities, the designed steps `status_flow_model` below). A *case* is a
ticket: for a blueprint, a ticket that entered it (its first `attached` event) within the
period; for a status flow, a ticket now in the department that was created within the period.
Its events are read up to the end of the period: each status it took (the one it opened with
first, read from its opening as `tickets.audit.expand` reads it), or each state of the blueprint
it entered (`attached`, `transition`, a `bypassed` change of state), with who made the change;
and the support tiers it went through (`sla.tiers`: its `tier` events, and a change of team to
another tier's team of the path it is on, such as a move back down).

Reading is bounded: tickets are read in pages of `BATCH` (two or three queries a page, never
one per ticket), each page's events in one query, and at most `CASES_MAX` cases are read (the
earliest started; `ProcessLog.truncated` then says so).

A supervisor asking for a department (or a blueprint of a department) outside their scope gets
NotFound, as for anything else they may not see.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from django.db.models import Min, Q

from sportello.accounts.models import Department
from sportello.blueprints.models import Blueprint, BlueprintVersion
from sportello.blueprints.selectors import STATE_EVENTS, Period, parsed_version
from sportello.core.errors import NotFound, ValidationFailed
from sportello.engine.blueprints import Blueprint as BlueprintDefinition
from sportello.engine.mining import Case, DesignedModel, Event, Mining, mine
from sportello.sla.models import TierPath
from sportello.tickets.audit import expand
from sportello.tickets.models import EventKind, Status, StatusCategory, Ticket, TicketEvent
from sportello.web.labels import status_label

from .access import ReportScope

CASES_MAX = 10_000
_KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")  # a blueprint key
BATCH = 500

UNRESOLVED = (StatusCategory.NEW, StatusCategory.OPEN, StatusCategory.PENDING, StatusCategory.ON_HOLD)
RESOLVED = (StatusCategory.SOLVED, StatusCategory.CLOSED)
# The designed status flow by category: where a ticket in a category may go next. A move within
# a category (between two open statuses, say) is allowed too.
STATUS_STEPS: dict[str, tuple[str, ...]] = {
    StatusCategory.NEW: (
        StatusCategory.OPEN,
        StatusCategory.PENDING,
        StatusCategory.ON_HOLD,
        StatusCategory.SOLVED,
    ),
    StatusCategory.OPEN: (StatusCategory.PENDING, StatusCategory.ON_HOLD, StatusCategory.SOLVED),
    StatusCategory.PENDING: (StatusCategory.OPEN, StatusCategory.ON_HOLD, StatusCategory.SOLVED),
    StatusCategory.ON_HOLD: (StatusCategory.OPEN, StatusCategory.PENDING, StatusCategory.SOLVED),
    StatusCategory.SOLVED: (StatusCategory.CLOSED,),
    StatusCategory.CLOSED: (),
}


class SourceKind(StrEnum):
    BLUEPRINT = "blueprint"
    DEPARTMENT = "department"


@dataclass(frozen=True, slots=True)
class Source:
    kind: SourceKind
    value: str  # a blueprint's key, or a department's id

    @property
    def token(self) -> str:
        return f"{self.kind}:{self.value}"

    @classmethod
    def parse(cls, token: str) -> Source:
        """`department:<id>` or `blueprint:<key>`; ValidationFailed for anything else."""
        kind, _, value = token.partition(":")
        if kind == SourceKind.DEPARTMENT and value.isascii() and value.isdigit() and len(value) <= 18:
            return cls(SourceKind.DEPARTMENT, str(int(value)))
        if kind == SourceKind.BLUEPRINT and _KEY.fullmatch(value):
            return cls(SourceKind.BLUEPRINT, value)
        raise ValidationFailed("must be department:<id> or blueprint:<key>", field="source")


@dataclass(frozen=True, slots=True)
class SourceChoice:
    token: str
    label: str
    kind: SourceKind


@dataclass(frozen=True, slots=True)
class LoggedCase:
    """A case with what an export names it by: its ticket's number and department."""

    case: Case
    number: int
    department: str


@dataclass(slots=True)
class ProcessLog:
    """The event log of a source over a period, read lazily (`cases`)."""

    source: Source
    name: str  # the blueprint's or the department's name
    department: Department
    model: DesignedModel
    labels: dict[str, str]  # activity -> its name in the reader's language
    period: Period
    scope: ReportScope
    blueprint_key: str | None = None
    truncated: bool = field(default=False)

    def cases(self) -> Iterator[LoggedCase]:
        """Every case in start order (at most CASES_MAX), read a page at a time."""
        self.truncated = False
        paths = _tier_paths()
        read = 0
        for page in self._pages():
            numbers = _ticket_facts([pk for pk, _ in page])
            events = _events([pk for pk, _ in page], self.period.end)
            for pk, _ in page:
                if read >= CASES_MAX:
                    self.truncated = True
                    return
                read += 1
                number, department = numbers.get(pk, (pk, ""))
                yield LoggedCase(self._case(pk, events.get(pk, []), paths), number, department)

    def _pages(self) -> Iterator[list[tuple[int, datetime]]]:
        start, end = self.period.start, self.period.end
        last: tuple[datetime, int] | None = None
        while True:
            if self.source.kind == SourceKind.DEPARTMENT:
                qs = Ticket.objects.filter(department_id=self.department.pk, created_at__lt=end)
                if start is not None:
                    qs = qs.filter(created_at__gte=start)
                if last is not None:
                    qs = qs.filter(Q(created_at__gt=last[0]) | Q(created_at=last[0], pk__gt=last[1]))
                rows = list(qs.order_by("created_at", "pk").values_list("pk", "created_at")[:BATCH])
            else:
                attached = TicketEvent.objects.filter(
                    kind=EventKind.BLUEPRINT, field="attached", new_value__blueprint=self.blueprint_key
                )
                if not self.scope.everything:
                    visible = Ticket.objects.filter(self.scope.q("department")).values("pk")
                    attached = attached.filter(ticket__in=visible)
                entries = attached.values("ticket_id").annotate(first=Min("at")).filter(first__lt=end)
                if start is not None:
                    entries = entries.filter(first__gte=start)
                if last is not None:
                    entries = entries.filter(Q(first__gt=last[0]) | Q(first=last[0], ticket_id__gt=last[1]))
                rows = list(entries.order_by("first", "ticket_id").values_list("ticket_id", "first")[:BATCH])
            if not rows:
                return
            yield rows
            last = (rows[-1][1], rows[-1][0])
            if len(rows) < BATCH:
                return

    def _case(self, pk: int, rows: list[TicketEvent], paths: dict[str, _TierPath]) -> Case:
        events: list[Event] = []
        levels: list[int] = []
        path: _TierPath | None = None

        def level(value: int | None) -> None:
            if value is not None and (not levels or levels[-1] != value):
                levels.append(value)

        for e in rows:
            new = e.new_value
            if e.kind == EventKind.TIER and isinstance(new, dict):
                path = paths.get(str(new.get("path")))
                if path is not None:
                    tier = new.get("tier") if e.field == "entered" else new.get("to")
                    level(path.tiers.get(str(tier)))
                continue
            if e.kind == EventKind.FIELD and e.field == "team":
                if path is not None and new is not None:
                    level(path.teams.get(new))
                continue
            activity: str | None = None
            if self.source.kind == SourceKind.DEPARTMENT:
                if e.kind == EventKind.FIELD and e.field == "status" and isinstance(new, str):
                    activity = new
            elif (
                e.kind == EventKind.BLUEPRINT
                and isinstance(new, dict)
                and new.get("blueprint") == self.blueprint_key
            ):
                if e.field == "attached":
                    activity = new.get("state")
                elif e.field == "transition" or (e.field == "bypassed" and new.get("from") != new.get("to")):
                    activity = new.get("to")
            if activity is not None and (not events or events[-1].activity != activity):
                events.append(Event(activity, e.at, e.actor_label))
        return Case(pk, tuple(events), tuple(levels))


@dataclass(frozen=True, slots=True)
class _TierPath:
    tiers: dict[str, int]  # tier key -> level
    teams: dict[int, int]  # team id -> its (first) level


def _tier_paths() -> dict[str, _TierPath]:
    """Every tier path, active or not, by key (a ticket's events name the path they climbed)."""
    out = {}
    for key, definition in TierPath.objects.values_list("key", "definition"):
        tiers = definition.get("tiers", []) if isinstance(definition, dict) else []
        teams: dict[int, int] = {}
        for i, tier in enumerate(tiers):
            teams.setdefault(tier.get("team"), i)
        out[key] = _TierPath({str(t.get("key")): i for i, t in enumerate(tiers)}, teams)
    return out


def _ticket_facts(ids: list[int]) -> dict[int, tuple[int, str]]:
    return {
        pk: (number, name or "")
        for pk, number, name in Ticket.objects.filter(pk__in=ids).values_list(
            "pk", "number", "department__name"
        )
    }


def _events(ids: list[int], until: datetime) -> dict[int, list[TicketEvent]]:
    """The events of the tickets that make their cases, by ticket, in time order (one query)."""
    wanted = (
        Q(kind=EventKind.CREATED)
        | Q(kind=EventKind.FIELD, field__in=("status", "team"))
        | Q(kind=EventKind.TIER, field__in=("entered", "escalated"))
        | Q(kind=EventKind.BLUEPRINT, field__in=STATE_EVENTS)
    )
    rows = TicketEvent.objects.filter(wanted, ticket_id__in=ids, at__lt=until).order_by(
        "ticket_id", "at", "id"
    )
    out: dict[int, list[TicketEvent]] = {}
    for e in expand(rows):
        out.setdefault(e.ticket_id, []).append(e)
    return out


# -- the designed models ----------------------------------------------------------------------------


def status_flow_model(statuses: list[tuple[str, str]]) -> DesignedModel:
    """The designed status flow over (key, category) pairs in position order: a new ticket is
    opened, put on hold, set pending or solved; open, pending and on-hold tickets move among
    themselves or are solved; a solved ticket is closed. Moves within a category are allowed. A
    ticket starts new and ends closed; solved and closed are resolved (leaving them for an
    unresolved status is a reopening)."""
    category = dict(statuses)
    edges = {
        (a, b)
        for a, ca in statuses
        for b, cb in statuses
        if a != b and (cb in STATUS_STEPS.get(ca, ()) or ca == cb)
    }
    return DesignedModel(
        activities=tuple(k for k, _ in statuses),
        edges=frozenset(edges),
        starts=frozenset(k for k, c in category.items() if c == StatusCategory.NEW),
        ends=frozenset(k for k, c in category.items() if c == StatusCategory.CLOSED),
        resolved=frozenset(k for k, c in category.items() if c in RESOLVED),
    )


def blueprint_model(bp: BlueprintDefinition) -> DesignedModel:
    """A blueprint's designed process: its states in definition order, a step per transition
    from each of its states (a common one from every non-terminal state but its target), its
    initial states as starts, its terminal states as ends (and resolved)."""
    terminal = frozenset(s.key for s in bp.states if s.terminal)
    edges: set[tuple[str, str]] = set()
    for t in bp.transitions:
        sources = (
            t.from_states
            if t.from_states is not None
            else [s.key for s in bp.states if s.key not in terminal]
        )
        edges.update((s, t.to) for s in sources if s != t.to or t.from_states is not None)
    return DesignedModel(
        activities=tuple(s.key for s in bp.states),
        edges=frozenset(edges),
        starts=frozenset(bp.initial),
        ends=terminal,
        resolved=terminal,
    )


# -- reading ----------------------------------------------------------------------------------------


def process_sources(*, scope: ReportScope) -> list[SourceChoice]:
    """What the reader may mine: each department's status flow in their scope, by name, then
    each blueprint of those departments, by department and name."""
    departments = list(Department.objects.filter(scope.q("pk")).order_by("name"))
    out = [
        SourceChoice(f"{SourceKind.DEPARTMENT}:{d.pk}", d.name, SourceKind.DEPARTMENT) for d in departments
    ]
    blueprints = Blueprint.objects.filter(scope.q("department")).select_related("department")
    for b in blueprints.order_by("department__name", "name"):
        out.append(
            SourceChoice(
                f"{SourceKind.BLUEPRINT}:{b.key}", f"{b.name} ({b.department.name})", SourceKind.BLUEPRINT
            )
        )
    return out


def process_log(*, scope: ReportScope, source: str | Source, period: Period) -> ProcessLog:
    """The event log of a source the reader may read (NotFound otherwise, or when it does not
    exist); ValidationFailed for a malformed source."""
    found = source if isinstance(source, Source) else Source.parse(source)
    if found.kind == SourceKind.DEPARTMENT:
        department = Department.objects.filter(pk=int(found.value)).first()
        if department is None or not scope.allows(department.pk):
            raise NotFound("department not found")
        statuses = list(Status.objects.order_by("position", "id").values_list("key", "name", "category"))
        model = status_flow_model([(k, c) for k, _, c in statuses])
        labels = {k: status_label(k, n) for k, n, _ in statuses}
        return ProcessLog(found, department.name, department, model, labels, period, scope)
    row = Blueprint.objects.filter(key=found.value).select_related("department").first()
    if row is None or not scope.allows(row.department_id):
        raise NotFound("blueprint not found")
    version = BlueprintVersion.objects.get(blueprint=row, version=row.version)
    bp = parsed_version(version).blueprint
    labels = {s.key: s.name for s in bp.states}
    return ProcessLog(
        found, row.name, row.department, blueprint_model(bp), labels, period, scope, blueprint_key=row.key
    )


def ticket_numbers(ids: list[int]) -> dict[int, int]:
    """The number of each ticket (by id), for naming the example tickets of a deviation."""
    return dict(Ticket.objects.filter(pk__in=ids).values_list("pk", "number"))


EXAMPLES_MAX = 100  # tickets named per deviation kind (the page shows the first 20)


@dataclass(frozen=True, slots=True)
class ProcessFigures:
    log: ProcessLog
    mining: Mining
    numbers: dict[int, int]  # ticket id -> number, for the first EXAMPLES_MAX of each deviation
    truncated: bool


def process_figures(log: ProcessLog) -> ProcessFigures:
    """The log mined (`engine.mining.mine`), with the numbers of its example tickets."""
    mined = mine((c.case for c in log.cases()), log.model)
    examples = sorted({pk for d in mined.deviations for pk in d.cases[:EXAMPLES_MAX]})
    return ProcessFigures(log, mined, ticket_numbers(examples), log.truncated)

"""Replay: had this rule (new or changed) been active over the last N days, which tickets would
it have changed, when, and how — read from the recorded history, before it is enabled.

The Console's dry run (`simulate.rule_dry_run`) tries a rule on recent tickets *now*; a replay
tries it over *time*, on the audit trail. Nothing is written, not even in a rolled-back
transaction: a replay reads, so it is safe on a busy desk.

How a ticket's history is read. Its events (`tickets.models.TicketEvent`, the opening read
through `tickets.audit.expand`) are grouped by change (`change_id`), in order, from its opening;
each change moves a reconstructed copy of the ticket: its fields, tags and custom fields (from
`field` and `tags` events), its counts and first-response instant (from `message` events), when
it was solved (from its status category), and the anchors time rules count from (as the
pipeline's `set_anchors` moves them). Changes made only of deliveries and mail notices (written
outside the pipeline) are not changes the rules ran on and are left out.

Event rules. On every change made in the window the candidate is evaluated as the pipeline
evaluates a rule: its `on` list against the change's event (`ticket.created`, `message.added`
when the change added a message other than a rule's note, `timer.fired` for a time rule's
firing, `blueprint.transition`, else `ticket.updated`), its condition on the facts after the
change (with the change's message, way in, actor and depth) compared with the facts before it.
What a saved rule with the same key did in that change is taken out first (the candidate takes
its place), what other rules did is kept (as if the candidate ran last). A rule with a
`max_fires_per_ticket` counts its replayed firings from the ticket's opening.

Time rules. Between two recorded changes the ticket stands still: the rule's timers are planned
from its anchors as `automation.timers` plans them (`engine.timerules.plan_timers`); a step
comes due when its instant falls before the next change (a step already due when the rule would
have been enabled, the window's start, comes due then, as the worker fires past-due timers at
once). Its condition is checked then, on the ticket as it stood, once per anchor instance, as
the worker's firing records it.

Actions are evaluated on the reconstructed facts: fields and tags (value then → new value),
internal notes rendered, notifications (recipients and subject) and webhooks named, the rest
(assignment through a policy, a tier escalation) named. A firing that would change nothing is
counted, not listed.

Honest limits, reported as notes of the result rather than guessed silently: what a replayed
firing would have changed is not carried into the history that follows (the recorded one
follows); requester, organization and satisfaction facts are read as they are now; a
notification's recipients as the desk's people are now; a ticket whose recorded history does not
lead to its current state is named.

Comparison. When a saved rule of the same kind has the candidate's key, what it actually did in
the same window is read from the audit trail: for an event rule, the stored traces of the changes
it fired on with an effect (a field changed, a side effect queued); for a time rule, its timer
firings that changed the ticket. Each ticket is then newly affected, no longer affected, or the
same.

Bounds: 1 to REPLAY_DAYS_MAX days; at most `SPORTELLO["REPLAY_CHANGES_MAX"]` changes scanned
(else ValidationFailed: narrow the window). Tickets are read in batches of REPLAY_BATCH ids, each
batch's events, tags, traces or firings in one query each. Admins only.
"""

from __future__ import annotations

import copy
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db.models import CharField, Q
from django.db.models.functions import Cast

from sportello.accounts.models import Team, User
from sportello.contacts.models import Contact, Organization
from sportello.core.errors import PermissionDenied, ValidationFailed
from sportello.engine import actions as act
from sportello.engine import rules as engine_rules
from sportello.engine.conditions import FieldSpec, explain, fields_of
from sportello.engine.placeholders import context_from_facts, placeholders_of, render
from sportello.engine.rules import STATUS_ANCHOR_PREFIX, EventRule, TimeRule
from sportello.engine.schema import RuleSchemaError
from sportello.engine.timerules import plan_timers
from sportello.notifications.context import public_url
from sportello.tickets.audit import OPENING_MESSAGE, OPENING_VALUES
from sportello.tickets.configuration import configuration
from sportello.tickets.models import EventKind, Message, StatusCategory, Ticket, TicketEvent, TicketTag

from . import facts as fact_source
from . import refs
from .event_rules import EVENT_TIMER, EVENT_TRANSITION, RENDERING_ACTIONS, field_change
from .facts import (
    CUSTOM_PREFIX,
    PRIORITY_NAME,
    SATISFACTION_FACTS,
    custom_value,
    email_domain,
    field_specs,
    overdue,
)
from .models import Macro, MacroVersion, Rule, RuleKind, RuleTrace, TimerFiring, TraceKind

REPLAY_DAYS_DEFAULT = 30
REPLAY_DAYS_MAX = 90
REPLAY_BATCH = 500
REPLAY_CHANGES_MAX_DEFAULT = 200_000
FIRINGS_LISTED = 5  # per ticket, the first ones (a time rule: the first per step)

SCHEMA = engine_rules.SCHEMA
# Events written outside the pipeline: no rule ran on a change made only of them.
NOT_MUTATIONS = frozenset({EventKind.DELIVERY, EventKind.MAIL})
AUTOMATION_ACTOR_KINDS = ("rule", "sla", "blueprint")

# Comparison with the saved rule of the same key.
NEW = "new"  # the candidate would affect the ticket; the saved rule did not
GONE = "gone"  # the saved rule affected it; the candidate would not
SAME = "same"  # both


@dataclass(frozen=True, slots=True)
class ReplayNote:
    """A limit of the replay, with a code the Console words (`rule_text.replay_note`)."""

    code: str
    message: str
    count: int = 0


@dataclass(slots=True)
class ReplayFiring:
    """One instant the rule would have fired on a ticket, and what it would have done then."""

    at: datetime
    step: int | None = None  # a time rule's step
    change_id: str | None = None  # an event rule's: the recorded change it would have run on
    changes: list[dict[str, Any]] = field(default_factory=list)  # field, old_value, new_value
    notes: list[str] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)  # to, subject
    webhooks: list[dict[str, Any]] = field(default_factory=list)  # url
    other: list[str] = field(default_factory=list)  # actions named: "assign_policy:<id>", ...

    @property
    def effective(self) -> bool:
        return bool(self.changes or self.notes or self.notifications or self.webhooks or self.other)


@dataclass(slots=True)
class ReplayTicket:
    ticket_id: int
    number: int
    subject: str
    firings: list[ReplayFiring] = field(default_factory=list)  # the first ones
    fired: int = 0  # every firing with an effect, listed or not
    comparison: str | None = None  # NEW, GONE, SAME (a saved rule with the key exists)
    saved_at: list[datetime] = field(default_factory=list)  # when the saved rule acted


@dataclass(slots=True)
class RuleReplay:
    kind: str
    key: str
    days: int
    since: datetime
    until: datetime
    changes_scanned: int = 0
    tickets_considered: int = 0
    fired: int = 0  # firings with an effect
    unchanged: int = 0  # firings whose actions would have changed nothing
    tickets: list[ReplayTicket] = field(default_factory=list)  # affected (and no longer affected)
    per_day: list[tuple[date, int]] = field(default_factory=list)  # firings with an effect a day
    notes: list[ReplayNote] = field(default_factory=list)
    saved_version: int | None = None  # the saved rule compared with
    compared: dict[str, int] = field(default_factory=dict)  # NEW/GONE/SAME -> tickets

    @property
    def affected(self) -> int:
        return sum(1 for t in self.tickets if t.fired)


def changes_max() -> int:
    return int(settings.SPORTELLO.get("REPLAY_CHANGES_MAX", REPLAY_CHANGES_MAX_DEFAULT))


def rule_replay(
    *,
    principal: User,
    kind: RuleKind,
    definition: Any,
    days: int = REPLAY_DAYS_DEFAULT,
    now: datetime,
    time_zone: str = "UTC",
) -> RuleReplay:
    """Replay an unsaved event or time rule over the recorded history of the last `days` days
    (see the module doc). `time_zone`: the days the per-day counts are about. Admins only
    (PermissionDenied); a bad definition is ValidationFailed naming its path; more than
    `REPLAY_CHANGES_MAX` changes in the window is ValidationFailed on `days`."""
    if not isinstance(principal, User) or not principal.is_admin:
        raise PermissionDenied("only admins may replay rules")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= REPLAY_DAYS_MAX:
        raise ValidationFailed(f"must be between 1 and {REPLAY_DAYS_MAX}", field="days")
    try:
        zone = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed("unknown time zone", field="time_zone") from None
    specs = field_specs()
    rule = parse_candidate(kind, definition, specs=specs)
    since = now - timedelta(days=days)
    result = RuleReplay(kind=kind.value, key=rule.key, days=days, since=since, until=now)
    saved = Rule.objects.filter(key=rule.key, kind=kind).first()
    if saved is not None:
        result.saved_version = saved.version
    elif Rule.objects.filter(key=rule.key).exists():
        result.notes.append(ReplayNote("other_kind", "a rule of the other kind has this key: not compared"))
    run = _Run(rule=rule, kind=kind, specs=specs, since=since, now=now, saved=saved, result=result)
    run.replay()
    run.finish(zone)
    return result


def parse_candidate(
    kind: RuleKind, definition: Any, *, specs: Mapping[str, FieldSpec]
) -> EventRule | TimeRule:
    """The candidate as the engine reads it (records named by key resolved to ids), active
    whatever its `active` says: a replay asks what it would have done had it been active."""
    if not isinstance(definition, dict):
        raise ValidationFailed("a rule must be a mapping")
    section = "event_rules" if kind == RuleKind.EVENT else "time_rules"
    try:
        data = refs.document_to_ids({"schema": SCHEMA, section: [copy.deepcopy(definition)]})
        doc = engine_rules.parse_document(data, specs=specs)
    except (RuleSchemaError, ValidationFailed) as exc:
        where = exc.path if isinstance(exc, RuleSchemaError) else exc.field or ""
        path = where.removeprefix(f"{section}[0]").lstrip(".")
        raise ValidationFailed(exc.message, field=path or None) from None
    parsed: EventRule | TimeRule = doc.event_rules[0] if kind == RuleKind.EVENT else doc.time_rules[0]
    if kind == RuleKind.EVENT:
        assert isinstance(parsed, EventRule)
        return EventRule(
            key=parsed.key, name=parsed.name, when=parsed.when, actions=parsed.actions,
            category=parsed.category, position=parsed.position, active=True, on=parsed.on,
            max_fires_per_ticket=parsed.max_fires_per_ticket, stop_processing=parsed.stop_processing,
            version=None,
        )  # fmt: skip
    assert isinstance(parsed, TimeRule)
    return TimeRule(
        key=parsed.key, name=parsed.name, anchor=parsed.anchor, when=parsed.when, steps=parsed.steps,
        active=True, business=parsed.business, version=None,
    )  # fmt: skip


# -- a ticket's state, change by change -------------------------------------------------------

# The change id and instant are read as text (`replay_change`, `replay_at`: converting them per
# row costs more than the rest of the row's reading; instants of one change are parsed once); a
# firing names its change in the UUID's usual form.
EVENT_COLUMNS = (
    "ticket_id", "replay_change", "replay_at", "kind", "field", "new_value",
    "actor_kind", "via", "cause", "depth",
)  # fmt: skip


def event_trail(ticket_ids: list[int], until: datetime) -> Iterator[tuple[Any, ...]]:
    """The events of the tickets up to `until`, in order, as rows of EVENT_COLUMNS."""
    rows = TicketEvent.objects.filter(ticket_id__in=ticket_ids, at__lte=until).order_by(
        "ticket_id", "at", "id"
    )
    texts = rows.annotate(replay_change=Cast("change_id", CharField()), replay_at=Cast("at", CharField()))
    instants: dict[str, datetime] = {}
    for row in texts.values_list(*EVENT_COLUMNS):
        at = instants.get(row[2])
        if at is None:
            parsed = datetime.fromisoformat(row[2])
            at = instants[row[2]] = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
        yield (row[0], row[1], at, *row[3:])


@dataclass(frozen=True, slots=True)
class _Event:
    """One recorded event, as read (a plain row: a replay reads many)."""

    ticket_id: int
    change_id: Any
    at: datetime
    kind: str
    field: str
    new_value: Any
    actor_kind: str
    via: str
    cause: str
    depth: int


def event_rows(row: tuple[Any, ...]) -> list[_Event]:
    """A row of EVENT_COLUMNS as its events: an opening (`created` carrying the values its
    creator set, `tickets.audit.opening_value`) as the events it stands for, exactly as
    `tickets.audit.expand` reads it (without building a model instance per derived event: a
    replay reads thousands of openings; tests/automation/test_replay.py holds the two equal)."""
    ticket_id, change_id, at, kind, field_, new, actor_kind, via, cause, depth = row
    if kind != EventKind.CREATED or not isinstance(new, dict):
        return [_Event(ticket_id, change_id, at, kind, field_, new, actor_kind, via, cause, depth)]
    values = new.get(OPENING_VALUES)
    message = new.get(OPENING_MESSAGE)
    if not isinstance(values, dict) and not isinstance(message, dict):
        return [_Event(ticket_id, change_id, at, kind, field_, new, actor_kind, via, cause, depth)]

    def derived(kind: str, name: str, value: Any) -> _Event:
        return _Event(ticket_id, change_id, at, kind, name, value, actor_kind, via, cause, depth)

    bare = {k: v for k, v in new.items() if k not in (OPENING_VALUES, OPENING_MESSAGE)}
    out = [derived(EventKind.CREATED, "", bare)]
    for name, value in sorted((values or {}).items()):
        out.append(derived(EventKind.TAGS if name == "tags" else EventKind.FIELD, name, value))
    if isinstance(message, dict):
        public = "public" if message.get("public", True) else "internal"
        out.append(derived(EventKind.MESSAGE, public, {k: v for k, v in message.items() if k != "public"}))
    return out


@dataclass(slots=True)
class _Change:
    """One recorded change of a ticket: its events (opening expanded) and what they say."""

    change_id: str
    at: datetime
    events: list[_Event]
    created: bool
    actor_kind: str
    via: str
    cause: str
    depth: int
    message_id: int | None  # the change's own message (not a rule's note)
    message_public: bool | None
    message_author: str | None
    message_via: str | None

    @property
    def event_type(self) -> str:
        if self.created:
            return "ticket.created"
        if self.cause.startswith("timer:"):
            return EVENT_TIMER
        if self.cause.startswith("blueprint:") and any(
            e.kind == EventKind.BLUEPRINT and e.field == "transition" for e in self.events
        ):
            return EVENT_TRANSITION
        if self.message_id is not None:
            return "message.added"
        return "ticket.updated"


def _changes(events: Sequence[_Event]) -> list[_Change]:
    """A ticket's events (ordered by instant and id, openings expanded) as its changes, in
    order."""
    groups: dict[Any, list[_Event]] = {}
    for e in events:
        groups.setdefault(e.change_id, []).append(e)
    out: list[_Change] = []
    for change_id, expanded in groups.items():
        if all(e.kind in NOT_MUTATIONS for e in expanded):
            continue
        first = expanded[0]
        created = any(e.kind == EventKind.CREATED for e in expanded)
        own = next(
            (
                e
                for e in expanded
                if e.kind == EventKind.MESSAGE and e.via != "rule" and isinstance(e.new_value, dict)
            ),
            None,
        )
        data: dict[str, Any] = own.new_value if own is not None and isinstance(own.new_value, dict) else {}
        out.append(
            _Change(
                change_id=str(change_id),
                at=first.at,
                events=expanded,
                created=created,
                actor_kind=first.actor_kind,
                via=first.via,
                cause=first.cause,
                depth=first.depth,
                message_id=data.get("message_id") if own is not None else None,
                message_public=(own.field == "public") if own is not None else None,
                message_author=data.get("author_kind") if own is not None else None,
                message_via=own.via if own is not None else None,
            )
        )
    out.sort(key=lambda c: c.at)  # stable: same instant keeps the events' order
    return out


State = dict[str, Any]

ANCHOR_COLUMNS = (
    "status_entered_at",
    "status_category_entered_at",
    "assigned_at",
    "last_customer_message_at",
    "last_agent_reply_at",
    "last_activity_at",
)


def _opened(at: datetime) -> State:
    return {
        "subject": "", "status": None, "status_category": None, "priority": None, "channel": None,
        "department": None, "team": None, "assignee": None, "requester": None, "organization": None,
        "due_at": None, "custom_fields": {}, "tags": [],
        "message_count": 0, "customer_message_count": 0, "agent_reply_count": 0,
        "created_at": at, "updated_at": at, "first_response_at": None, "solved_at": None,
        **dict.fromkeys(ANCHOR_COLUMNS),
    }  # fmt: skip


def _set_field(state: State, name: str, value: Any) -> None:
    if name.startswith("custom_fields."):
        key = name.removeprefix("custom_fields.")
        custom = dict(state["custom_fields"])
        if value is None:
            custom.pop(key, None)
        else:
            custom[key] = value
        state["custom_fields"] = custom
    elif name == "tags":
        state["tags"] = sorted(value or [])
    else:
        state[name] = value


def _apply_fields(state: State, events: Iterable[_Event], at: datetime) -> None:
    """The field and tag events onto `state` (the status category moves `solved_at`)."""
    for e in events:
        if e.kind not in (EventKind.FIELD, EventKind.TAGS):
            continue
        if e.field == "status_category" and e.new_value != state.get("status_category"):
            if e.new_value == StatusCategory.SOLVED:
                state["solved_at"] = at
            elif e.new_value == StatusCategory.CLOSED:
                state["solved_at"] = state["solved_at"] or at
            else:
                state["solved_at"] = None
        _set_field(state, e.field, e.new_value)


def _count_message(state: State, *, author: str | None, public: bool, created: bool, at: datetime) -> None:
    state["message_count"] += 1
    if author == "contact":
        state["customer_message_count"] += 1
    elif author == "agent" and public:
        state["agent_reply_count"] += 1
        if state["first_response_at"] is None and not created:
            state["first_response_at"] = at


def _requested(state: State, change: _Change, excluded: str | None) -> State:
    """The ticket as the rules of `change` saw it: its fields after the change (without what the
    rule `excluded` — the saved version of the candidate — did in it) and the change's own
    message counted (rules' notes are written after the cycle)."""
    after = copy.copy(state) if not change.created else _opened(change.at)
    kept = [e for e in change.events if not (excluded and e.cause.startswith(excluded))]
    _apply_fields(after, kept, change.at)
    if change.message_id is not None:
        _count_message(
            after,
            author=change.message_author,
            public=bool(change.message_public),
            created=change.created,
            at=change.at,
        )
    return after


def _advance(state: State | None, change: _Change) -> State:
    """The ticket after `change` as recorded (every event, notes counted, anchors moved)."""
    after = _opened(change.at) if change.created or state is None else copy.copy(state)
    before_status = (after["status"], after["status_category"], after["assignee"])
    _apply_fields(after, change.events, change.at)
    for e in change.events:
        if e.kind == EventKind.MESSAGE and isinstance(e.new_value, dict):
            _count_message(
                after,
                author=e.new_value.get("author_kind"),
                public=e.field == "public",
                created=change.created,
                at=change.at,
            )
    # The anchors, as `tickets.apply.set_anchors` moves them.
    at = change.at
    if change.created or after["status"] != before_status[0]:
        after["status_entered_at"] = at
    if change.created or after["status_category"] != before_status[1]:
        after["status_category_entered_at"] = at
    if after["assignee"] != before_status[2]:
        after["assigned_at"] = at if after["assignee"] is not None else None
    if change.message_author == "contact":
        after["last_customer_message_at"] = at
    elif change.message_author == "agent" and change.message_public:
        after["last_agent_reply_at"] = at
    if change.actor_kind not in AUTOMATION_ACTOR_KINDS:
        after["last_activity_at"] = at
    after["updated_at"] = at
    return after


# Fields compared with the ticket's current row at the end of its history.
COMPARED = ("subject", "status", "priority", "department", "team", "assignee", "custom_fields", "tags")


def _current(ticket: Ticket, tags: list[str]) -> State:
    return {
        "subject": ticket.subject,
        "status": ticket.status.key,
        "priority": PRIORITY_NAME[ticket.priority],
        "department": ticket.department_id,
        "team": ticket.team_id,
        "assignee": ticket.assignee_id,
        "custom_fields": dict(ticket.custom_fields or {}),
        "tags": sorted(tags),
    }


# -- the run ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Batch:
    tickets: dict[int, Ticket]
    events: dict[int, list[_Event]]
    tags: dict[int, list[str]]
    bodies: dict[int, str]
    saved: dict[int, list[datetime]]  # ticket -> instants the saved rule acted


class _Run:
    def __init__(
        self,
        *,
        rule: EventRule | TimeRule,
        kind: RuleKind,
        specs: Mapping[str, FieldSpec],
        since: datetime,
        now: datetime,
        saved: Rule | None,
        result: RuleReplay,
    ) -> None:
        self.rule = rule
        self.kind = kind
        self.specs = specs
        self.since = since
        self.now = now
        self.saved = saved
        self.result = result
        self.max_changes = changes_max()
        reads = fields_of(rule.when)
        actions = _all_actions(rule)
        self.renders = any(isinstance(a, RENDERING_ACTIONS) for a in actions)
        self.reads_body = self.renders or "message.body" in reads
        self.reads_satisfaction = any(f in SATISFACTION_FACTS for f in reads) or self.renders
        self.excluded = f"rule:{rule.key}@" if saved is not None and kind == RuleKind.EVENT else None
        self.contacts: dict[int, Contact] = {}
        self.organizations: dict[int, Organization] = {}
        self.memo: dict[str, Any] = {}
        self.firing_days: list[datetime] = []
        self.inconsistent = 0
        self.no_history = 0
        self.statuses = {key: s.category for key, s in configuration().by_key.items()}
        self.macros: dict[int, tuple[act.Action, ...]] = {}
        self.placeholders: dict[str, tuple[str, ...]] = {}  # template -> the facts it reads
        # (fact path, custom field key, its type) of each custom field the specs hold
        self.custom = [
            (path, path.removeprefix(CUSTOM_PREFIX), spec.type)
            for path, spec in specs.items()
            if path.startswith(CUSTOM_PREFIX)
        ]

    # -- reading

    def _ticket_ids(self) -> Iterator[list[int]]:
        scope = Q(updated_at__gte=self.since)
        if self.kind == RuleKind.TIME:
            scope |= ~Q(status_category=StatusCategory.CLOSED)
        qs = Ticket.objects.filter(scope, created_at__lte=self.now).order_by("pk")
        last = 0
        while True:
            ids = list(qs.filter(pk__gt=last).values_list("pk", flat=True)[:REPLAY_BATCH])
            if not ids:
                return
            yield ids
            last = ids[-1]

    def _read(self, ids: list[int]) -> _Batch:
        found = Ticket.objects.filter(pk__in=ids).select_related("status")
        if self.reads_satisfaction:  # in the same statement (`facts.satisfaction_sql`), as now
            satisfaction, score = fact_source.satisfaction_sql()
            found = found.annotate(replay_satisfaction=satisfaction, replay_score=score)
        tickets = {t.pk: t for t in found}
        events: dict[int, list[_Event]] = {pk: [] for pk in ids}
        for row in event_trail(ids, self.now):
            events[row[0]].extend(event_rows(row))
        tags: dict[int, list[str]] = {pk: [] for pk in ids}
        for ticket_id, name in TicketTag.objects.filter(ticket_id__in=ids).values_list("ticket_id", "name"):
            tags[ticket_id].append(name)
        bodies: dict[int, str] = {}
        if self.reads_body:
            rows = Message.objects.filter(
                ticket_id__in=ids, created_at__gte=self.since, created_at__lte=self.now
            )
            bodies = dict(rows.exclude(via="rule").values_list("pk", "body_text"))
        self._people(tickets.values(), events)
        return _Batch(tickets=tickets, events=events, tags=tags, bodies=bodies, saved=self._saved_acts(ids))

    def _people(self, tickets: Iterable[Ticket], events: Mapping[int, list[_Event]]) -> None:
        """The requesters and organizations the batch's histories name, one query each."""
        contacts: set[int] = set()
        orgs: set[int] = set()
        for t in tickets:
            contacts.add(t.requester_id)
            if t.organization_id is not None:
                orgs.add(t.organization_id)
        for rows in events.values():
            for e in rows:
                if e.field == "requester" and isinstance(e.new_value, int):
                    contacts.add(e.new_value)
                elif e.field == "organization" and isinstance(e.new_value, int):
                    orgs.add(e.new_value)
        missing = contacts - set(self.contacts)
        if missing:
            self.contacts.update(Contact.objects.in_bulk(list(missing)))
        missing = orgs - set(self.organizations)
        if missing:
            self.organizations.update(Organization.objects.in_bulk(list(missing)))

    def _saved_acts(self, ids: list[int]) -> dict[int, list[datetime]]:
        """When the saved rule with the candidate's key acted on each ticket of the batch, in the
        window: an event rule's stored traces where it fired with an effect; a time rule's
        firings that changed the ticket."""
        out: dict[int, list[datetime]] = {}
        if self.saved is None:
            return out
        if self.kind == RuleKind.TIME:
            firings = TimerFiring.objects.filter(
                rule_id=self.saved.pk, ticket_id__in=ids, fired_at__gte=self.since, fired_at__lte=self.now,
                outcome="applied",
            ).order_by("fired_at", "id")  # fmt: skip
            for ticket_id, at in firings.values_list("ticket_id", "fired_at"):
                out.setdefault(ticket_id, []).append(at)
            return out
        traces = RuleTrace.objects.filter(
            ticket_id__in=ids, kind=TraceKind.EVENT, quiet=False, at__gte=self.since, at__lte=self.now
        ).order_by("at", "id")
        key = self.rule.key
        for ticket_id, at, data in traces.values_list("ticket_id", "at", "trace"):
            if not isinstance(data, dict) or key not in (data.get("fired") or []):
                continue
            for entry in data.get("rules") or []:
                if entry.get("rule") == key and entry.get("outcome") == "fired":
                    if any(a.get("outcome") in ("changed", "queued") for a in entry.get("actions") or []):
                        out.setdefault(ticket_id, []).append(at)
                    break
        return out

    # -- replaying

    def replay(self) -> None:
        for ids in self._ticket_ids():
            batch = self._read(ids)
            for pk in ids:
                ticket = batch.tickets.get(pk)
                if ticket is None:  # deleted meanwhile
                    continue
                found = self._ticket(ticket, batch)
                if found is not None:
                    self.result.tickets.append(found)

    def _ticket(self, ticket: Ticket, batch: _Batch) -> ReplayTicket | None:
        changes = _changes(batch.events[ticket.pk])
        in_window = sum(1 for c in changes if c.at >= self.since)
        self.result.changes_scanned += in_window
        if self.result.changes_scanned > self.max_changes:
            raise ValidationFailed(
                f"more than {self.max_changes} changes were recorded in the last {self.result.days} days: "
                "replay over fewer days",
                field="days",
            )
        if not changes or not changes[0].created:
            self.no_history += 1
            return None
        self.result.tickets_considered += 1
        found = ReplayTicket(ticket_id=ticket.pk, number=ticket.number, subject=ticket.subject)
        if isinstance(self.rule, EventRule):
            state = self._event_rule(self.rule, ticket, changes, batch, found)
        else:
            state = self._time_rule(self.rule, ticket, changes, found)
        current = _current(ticket, batch.tags[ticket.pk])
        if any(state.get(name) != current[name] for name in COMPARED):
            self.inconsistent += 1
        saved_at = batch.saved.get(ticket.pk, [])
        if self.saved is not None and (found.fired or saved_at):
            found.saved_at = saved_at
            found.comparison = SAME if found.fired and saved_at else NEW if found.fired else GONE
        return found if (found.fired or found.comparison) else None

    def _event_rule(
        self, rule: EventRule, ticket: Ticket, changes: list[_Change], batch: _Batch, found: ReplayTicket
    ) -> State:
        state: State | None = None
        fires = 0
        cap = rule.max_fires_per_ticket
        for change in changes:
            in_window = change.at >= self.since
            # Changes before the window count only the firings of a rule with a cap.
            wanted = in_window or cap is not None
            if wanted and (cap is None or fires < cap) and change.event_type in rule.on:
                firing = self._on_change(rule, ticket, None if change.created else state, change, batch)
                if firing is not None:
                    fires += 1
                    if in_window:
                        self._record(found, firing)
            state = _advance(state, change)
        assert state is not None
        return state

    def _on_change(
        self, rule: EventRule, ticket: Ticket, state: State | None, change: _Change, batch: _Batch
    ) -> ReplayFiring | None:
        """The candidate on one recorded change: None when its condition does not hold."""
        after = _requested(state if state is not None else _opened(change.at), change, self.excluded)
        event: dict[str, Any] = {
            "type": change.event_type,
            "via": change.via,
            "actor_kind": change.actor_kind,
        }
        event["depth"] = change.depth
        message = None
        if change.message_id is not None:
            message = {
                "message.body": batch.bodies.get(change.message_id),
                "message.public": change.message_public,
                "message.author_kind": change.message_author,
                "message.channel": change.message_via,
            }
        facts = self._facts(ticket, after, at=change.at, event=event, message=message, change=change)
        before = None if state is None else self._before_facts(state, facts, change, at=change.at)
        matched, _ = explain(rule.when, facts, before=before, specs=self.specs)
        if not matched:
            return None
        firing = ReplayFiring(at=change.at, change_id=str(uuid.UUID(change.change_id)))
        self._act(rule.actions, ticket, after, facts, firing)
        return firing

    def _time_rule(
        self, rule: TimeRule, ticket: Ticket, changes: list[_Change], found: ReplayTicket
    ) -> State:
        state: State | None = None
        consumed: set[tuple[str, int]] = set()
        listed_steps: set[int] = set()
        event = {"type": EVENT_TIMER, "via": "rule", "actor_kind": "rule", "depth": 0}
        for i, change in enumerate(changes):
            state = _advance(state, change)
            end = changes[i + 1].at if i + 1 < len(changes) else self.now
            if end < self.since or state["status_category"] == StatusCategory.CLOSED:
                continue
            anchors = self._anchors(rule, state)
            for planned in plan_timers([rule], ticket.pk, anchors):
                slot = (planned.anchor_key, planned.step_index)
                if slot in consumed:
                    continue
                at = max(planned.due_at, change.at, self.since)
                last = i + 1 == len(changes)
                if not (at < end or (last and at <= end)):
                    continue
                consumed.add(slot)  # a firing is recorded whatever its condition says
                facts = self._facts(ticket, state, at=at, event=event, message=None)
                matched, _ = explain(rule.when, facts, specs=self.specs)
                if not matched:
                    continue
                firing = ReplayFiring(at=at, step=planned.step_index)
                self._act(rule.steps[planned.step_index].actions, ticket, state, facts, firing)
                listed = planned.step_index not in listed_steps
                if self._record(found, firing, listed=listed) and listed:
                    listed_steps.add(planned.step_index)
        assert state is not None
        return state

    def _anchors(self, rule: TimeRule, state: State) -> dict[str, datetime | None]:
        """The anchors `automation.timers.ticket_anchors` reads, from the reconstructed ticket."""
        anchors: dict[str, datetime | None] = {
            "created": state["created_at"],
            "assigned": state["assigned_at"] if state["assignee"] is not None else None,
            "last_customer_message": state["last_customer_message_at"],
            "last_agent_reply": state["last_agent_reply_at"],
            "last_update": state["last_activity_at"],
            "due_date": _instant(state["due_at"]),
        }
        if rule.anchor.startswith(STATUS_ANCHOR_PREFIX):
            wanted = rule.anchor.removeprefix(STATUS_ANCHOR_PREFIX)
            if wanted == state["status_category"]:
                anchors[rule.anchor] = state["status_category_entered_at"]
            elif wanted == state["status"]:
                anchors[rule.anchor] = state["status_entered_at"]
            else:
                anchors[rule.anchor] = None
        return anchors

    def _record(self, found: ReplayTicket, firing: ReplayFiring, *, listed: bool = True) -> bool:
        if not firing.effective:
            self.result.unchanged += 1
            return False
        found.fired += 1
        self.result.fired += 1
        self.firing_days.append(firing.at)
        if listed and len(found.firings) < FIRINGS_LISTED:
            found.firings.append(firing)
        return True

    # -- facts

    def _facts(
        self,
        ticket: Ticket,
        state: State,
        *,
        at: datetime,
        event: Mapping[str, Any],
        message: Mapping[str, Any] | None,
        change: _Change | None = None,
    ) -> dict[str, Any]:
        """The facts `automation.facts.ticket_facts` builds, from the reconstructed ticket (and
        the recorded `change` the rule runs on, for an event rule)."""
        requester = self.contacts.get(state["requester"]) if state["requester"] is not None else None
        org = self.organizations.get(state["organization"]) if state["organization"] is not None else None
        due_at = _instant(state["due_at"])
        status = state["status"]
        facts: dict[str, Any] = {
            "ticket.number": ticket.number,
            "ticket.subject": state["subject"],
            "ticket.status": status,
            "ticket.status_category": state["status_category"] or self.statuses.get(status),
            "ticket.priority": state["priority"],
            "ticket.channel": state["channel"],
            "ticket.department": state["department"],
            "ticket.team": state["team"],
            "ticket.assignee": state["assignee"],
            "ticket.requester": state["requester"],
            "ticket.organization": state["organization"],
            "ticket.tags": frozenset(state["tags"]),
            "ticket.due_at": due_at,
            "ticket.overdue": overdue(due_at, at),
            "ticket.created_at": state["created_at"],
            "ticket.updated_at": state["updated_at"],
            "ticket.first_response_at": state["first_response_at"],
            "ticket.solved_at": state["solved_at"],
            "ticket.message_count": state["message_count"],
            "ticket.customer_message_count": state["customer_message_count"],
            "ticket.agent_reply_count": state["agent_reply_count"],
            "requester.email": requester.email if requester else None,
            "requester.domain": email_domain(requester.email) if requester else None,
            "requester.name": requester.name if requester else None,
            "requester.vip": requester.vip if requester else None,
            "requester.language": requester.language if requester else None,
            "organization.name": org.name if org else None,
            "organization.tier": org.tier if org else None,
            "organization.vip": org.vip if org else None,
            "message.body": None,
            "message.public": None,
            "message.author_kind": None,
            "message.channel": None,
            "event.type": event.get("type"),
            "event.via": event.get("via"),
            "event.actor_kind": event.get("actor_kind"),
            "event.depth": event.get("depth"),
            "clock.in_business_hours": fact_source.business_hours(state["department"], at, self.memo),
        }
        if message is not None:
            facts.update(message)
        if self.reads_satisfaction and any(path in self.specs for path in SATISFACTION_FACTS):
            facts["ticket.satisfaction"] = getattr(ticket, "replay_satisfaction", None)
            facts["ticket.satisfaction_score"] = getattr(ticket, "replay_score", None)
            facts["event.rated"] = any(e.kind == EventKind.RATING for e in change.events) if change else False
        stored = state["custom_fields"] or {}
        for path, key, type_ in self.custom:
            facts[path] = custom_value(type_, stored.get(key))
        return facts

    def _before_facts(
        self, state: State, after: Mapping[str, Any], change: _Change, *, at: datetime
    ) -> dict[str, Any]:
        """The facts before the change, as `event_rules.Runner.before_facts` builds them."""
        facts = dict(after)
        due_at = _instant(state["due_at"])
        facts.update(
            {
                "ticket.subject": state["subject"],
                "ticket.status": state["status"],
                "ticket.status_category": state["status_category"],
                "ticket.priority": state["priority"],
                "ticket.channel": state["channel"],
                "ticket.department": state["department"],
                "ticket.team": state["team"],
                "ticket.assignee": state["assignee"],
                "ticket.requester": state["requester"],
                "ticket.organization": state["organization"],
                "ticket.tags": frozenset(state["tags"]),
                "ticket.due_at": due_at,
                "ticket.overdue": overdue(due_at, at),
            }
        )
        stored = state["custom_fields"] or {}
        for path, key, type_ in self.custom:
            facts[path] = custom_value(type_, stored.get(key))
        if change.message_id is not None:
            facts["ticket.message_count"] = after["ticket.message_count"] - 1
            if change.message_author == "contact":
                facts["ticket.customer_message_count"] = after["ticket.customer_message_count"] - 1
            elif change.message_author == "agent" and change.message_public:
                facts["ticket.agent_reply_count"] = after["ticket.agent_reply_count"] - 1
        for key in ("message.body", "message.public", "message.author_kind", "message.channel"):
            facts[key] = None
        return facts

    # -- actions

    def _act(
        self,
        actions: Sequence[act.Action],
        ticket: Ticket,
        state: State,
        facts: Mapping[str, Any],
        firing: ReplayFiring,
        *,
        nested: bool = False,
    ) -> None:
        """What `actions` would have done on the ticket as it stood (nothing is written)."""
        working = copy.copy(state)
        working["custom_fields"] = dict(state["custom_fields"])
        current: Mapping[str, Any] = facts
        for action in actions:
            if isinstance(action, act.Stop):
                if nested:
                    continue
                break
            if isinstance(action, act.SetField):
                fields, custom = field_change(action.field, action.value)
                for name, value in fields.items():
                    self._change(
                        working, firing, name, value.isoformat() if isinstance(value, datetime) else value
                    )
                for key, value in custom.items():
                    self._change(working, firing, f"custom_fields.{key}", value)
            elif isinstance(action, act.AddTags | act.RemoveTags | act.SetTags):
                tags = set(working["tags"])
                if isinstance(action, act.AddTags):
                    tags |= set(action.tags)
                elif isinstance(action, act.RemoveTags):
                    tags -= set(action.tags)
                else:
                    tags = set(action.tags)
                self._change(working, firing, "tags", sorted(tags))
            elif isinstance(action, act.Assign) and action.target != "policy":
                name = {"agent": "assignee", "team": "team", "department": "department"}[action.target]
                self._change(working, firing, name, action.id)
            elif isinstance(action, act.Assign):
                firing.other.append(f"assign_policy:{action.id}")
            elif isinstance(action, act.AddNote):
                firing.notes.append(render(action.body, self._context(ticket, working, current, action.body)))
            elif isinstance(action, act.Notify):
                context = self._context(ticket, working, current, action.subject)
                subject = " ".join(render(action.subject, context).split())[:250]
                firing.notifications.append(
                    {
                        "to": self._recipients(working, action.to),
                        "subject": subject or f"[#{ticket.number}] {working['subject']}",
                        "template": action.template,
                    }
                )
            elif isinstance(action, act.Webhook):
                firing.webhooks.append({"url": action.url})
            elif isinstance(action, act.ApplyMacro) and not nested:
                self._act(self._macro(action.macro), ticket, working, current, firing, nested=True)
                continue
            elif isinstance(action, act.EscalateTier):
                firing.other.append("escalate_tier")
            else:
                firing.other.append(act.action_name(action))
            if act.is_field_action(action):
                current = {**current, **self._changed_facts(working)}
        # A macro's changes are the firing's: the caller's state is moved along.
        if nested:
            state.update(working)

    def _change(self, working: State, firing: ReplayFiring, name: str, value: Any) -> None:
        old = (
            working["custom_fields"].get(name.removeprefix("custom_fields."))
            if name.startswith("custom_fields.")
            else working.get(name)
        )
        if old == value:
            return
        if name.startswith("custom_fields."):
            spec = self.specs.get(CUSTOM_PREFIX + name.removeprefix("custom_fields."))
            if spec is not None and custom_value(spec.type, old) == custom_value(spec.type, value):
                return
        for existing in firing.changes:  # a later action on the same field: one change
            if existing["field"] == name:
                existing["new_value"] = value
                break
        else:
            firing.changes.append({"field": name, "old_value": old, "new_value": value})
        _set_field(working, name, value)
        if name == "status":
            category = self.statuses.get(str(value))
            if category is not None and category != working["status_category"]:
                self._change(working, firing, "status_category", category)

    def _changed_facts(self, working: State) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ticket.subject": working["subject"],
            "ticket.status": working["status"],
            "ticket.status_category": working["status_category"],
            "ticket.priority": working["priority"],
            "ticket.department": working["department"],
            "ticket.team": working["team"],
            "ticket.assignee": working["assignee"],
            "ticket.tags": frozenset(working["tags"]),
            "ticket.due_at": _instant(working["due_at"]),
        }
        stored = working["custom_fields"] or {}
        for path, key, type_ in self.custom:
            out[path] = custom_value(type_, stored.get(key))
        return out

    def _context(
        self, ticket: Ticket, working: State, facts: Mapping[str, Any], template: str
    ) -> dict[str, Any]:
        """What a template is rendered with, as `event_rules.Runner` gives it: only the facts it
        names (`placeholders_of`: it can read no other), the rest left out of the context."""
        keys = self.placeholders.get(template)
        if keys is None:  # the facts' paths are the same on every call: chosen once
            names = placeholders_of(template)
            keys = self.placeholders[template] = tuple(
                k
                for k in facts
                if any(k == n or k.startswith(n + ".") or n.startswith(k + ".") for n in names)
            )
        facts = {k: facts[k] for k in keys if k in facts}
        extra: dict[str, Any] = {"links": {"agent_ticket": f"{public_url()}/tickets/{ticket.pk}/"}}
        assignee = working["assignee"]
        if assignee is not None:
            agent = self._user(assignee)
            if agent is not None:
                extra["agent"] = {"name": agent.name, "email": agent.email}
        return context_from_facts(facts, extra)

    def _user(self, pk: int) -> User | None:
        key = f"user:{pk}"
        if key not in self.memo:
            self.memo[key] = User.objects.filter(pk=pk).first()
        found: User | None = self.memo[key]
        return found

    def _recipients(self, working: State, to: Sequence[str]) -> list[str]:
        """Whom a notification would have gone to, named as the desk's people are now."""
        out: list[str] = []
        for item in to:
            if item == "requester":
                contact = (
                    self.contacts.get(working["requester"]) if working["requester"] is not None else None
                )
                if contact is not None and contact.email:
                    out.append(contact.email)
            elif item == "assignee":
                agent = self._user(working["assignee"]) if working["assignee"] is not None else None
                if agent is not None:
                    out.append(agent.email)
            elif item == "team":
                if working["team"] is not None:
                    key = f"team:{working['team']}"
                    if key not in self.memo:
                        self.memo[key] = (
                            Team.objects.filter(pk=working["team"]).values_list("name", flat=True).first()
                        )
                    if self.memo[key]:
                        out.append(str(self.memo[key]))
            elif item.startswith("agent:"):
                agent = self._user(int(item.removeprefix("agent:")))
                if agent is not None:
                    out.append(agent.email)
            elif item.startswith("address:"):
                out.append(item.removeprefix("address:"))
            else:
                out.append(item)
        return list(dict.fromkeys(out))

    def _macro(self, macro_id: int) -> tuple[act.Action, ...]:
        """A macro's actions at its current version (none when it is gone or inactive)."""
        if macro_id not in self.macros:
            macro = Macro.objects.filter(pk=macro_id, active=True).first()
            version = (
                MacroVersion.objects.filter(macro=macro, version=macro.version)
                .values_list("definition", flat=True)
                .first()
                if macro is not None
                else None
            )
            actions = act.parse_actions(version.get("actions", []), specs=self.specs) if version else []
            self.macros[macro_id] = tuple(a for a in actions if not isinstance(a, act.ApplyMacro))
        return self.macros[macro_id]

    # -- the result

    def finish(self, zone: ZoneInfo) -> None:
        result = self.result
        counts = Counter(at.astimezone(zone).date() for at in self.firing_days)
        first = self.since.astimezone(zone).date()
        last = self.now.astimezone(zone).date()
        days: list[tuple[date, int]] = []
        day = first
        while day <= last:
            days.append((day, counts.get(day, 0)))
            day += timedelta(days=1)
        result.per_day = days
        result.tickets.sort(key=lambda t: (t.comparison == GONE, -(t.fired or 0), -t.number))
        if self.saved is not None:
            result.compared = {
                kind: sum(1 for t in result.tickets if t.comparison == kind) for kind in (NEW, GONE, SAME)
            }
        notes = result.notes
        notes.append(
            ReplayNote(
                "not_carried",
                "what a replayed firing would have changed is not carried into the history that "
                "follows: the recorded history follows",
            )
        )
        reads = fields_of(self.rule.when)
        if any(f.startswith(("requester.", "organization.")) for f in reads):
            notes.append(
                ReplayNote("people_now", "requester and organization facts are read as they are now")
            )
        if self.reads_satisfaction and any(f in SATISFACTION_FACTS for f in reads):
            notes.append(ReplayNote("satisfaction_now", "satisfaction facts are read as they are now"))
        if any(isinstance(a, act.Notify) for a in _all_actions(self.rule)):
            notes.append(
                ReplayNote("recipients_now", "notification recipients are named as the desk's people are now")
            )
        if isinstance(self.rule, EventRule) and self.excluded is None:
            notes.append(
                ReplayNote(
                    "runs_last",
                    "the rule is evaluated after the rules that ran on each change: rules that "
                    "would have reacted to its changes in the same change are not replayed",
                )
            )
        if isinstance(self.rule, TimeRule) and self.rule.business:
            notes.append(
                ReplayNote(
                    "calendar_time",
                    "steps come due in calendar time, as the desk's time-rule timers count them",
                )
            )
        if self.inconsistent:
            notes.append(
                ReplayNote(
                    "history_differs",
                    "the recorded history of some tickets does not lead to their current state "
                    "(merged or imported): replayed as recorded",
                    self.inconsistent,
                )
            )
        if self.no_history:
            notes.append(
                ReplayNote(
                    "no_history",
                    "some tickets have no recorded opening (imported): not replayed",
                    self.no_history,
                )
            )


def _all_actions(rule: EventRule | TimeRule) -> list[act.Action]:
    if isinstance(rule, EventRule):
        return list(rule.actions)
    return [a for step in rule.steps for a in step.actions]


def _instant(value: Any) -> datetime | None:
    """A recorded instant (ISO text in events) as an aware datetime."""
    if value is None or isinstance(value, datetime):
        return value
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)

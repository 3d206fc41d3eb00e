"""Round-robin assignment policies: saving them, assigning through them, and their backlogs.

Assigning (`assign_through_policy`, called by event rules after their cycle, inside the
pipeline's transaction):
1. the pool's members who may take the ticket: active agents and admins (never light agents) of
   the policy's department, team or list; eligible when a member of the ticket's department
   (admins always);
2. the policy's row is read and locked with `select_for_update()`, so concurrent assignments
   through one policy serialise: the next one counts after the previous one committed;
3. the members, each with their tickets in the counted status categories and their place in
   the rotation (`AgentAssignment.last_assigned_at`), are read in one query;
4. `engine.assignment.choose_agent` picks (least loaded under the cap, then least recently
   assigned, then lowest id); the assignee is set through `ctx.change` (the
   member's row, already known to be an active agent of the department, is handed over: no
   second check) and the rotation row upserted;
5. the decision (policy, pool, every candidate with count, cap, online and why excluded, the
   tie-break, the rule) is recorded as a ticket event of kind `assignment`. No capacity: with
   a backlog the ticket waits (`AssignmentBacklog`), else the decision says nobody was free.

Draining (`assignment_drain`): backlog tickets are handed out, most urgent then oldest, while
an eligible agent has capacity. Each hand-out is its own mutation through the pipeline
(`ticket_apply`, actor: the system, cause `assignment:<key>@<version>`), so events and event
rules see it. A drain runs after the change that freed capacity is written (the pipeline's
`release_capacity`, same transaction) or when an agent comes online — never inside a running
pipeline cycle, so there is no re-entrancy into a half-applied change. A drain that a hand-out
itself would trigger for the same policy is folded into the running one (no recursion).
Backlog tickets locked by another transaction are skipped (`SKIP LOCKED`) and wait for the
next drain instead of risking a deadlock.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Q, QuerySet

from sportello.accounts.models import Role, Team, User
from sportello.core.actors import Actor, ActorKind, Via
from sportello.core.errors import Conflict, NotFound, ValidationFailed
from sportello.core.versioning import ConfigKind, register_kind, version_lock, version_save
from sportello.engine import assignment as engine
from sportello.engine import rules as engine_rules
from sportello.engine.schema import RuleSchemaError
from sportello.tickets import audit
from sportello.tickets.models import EventKind, Priority, StatusCategory, Ticket, TicketEvent

from .models import AgentAssignment, AssignmentBacklog, AssignmentPolicy, AssignmentPolicyVersion

if TYPE_CHECKING:
    from sportello.engine.diff import FieldChange
    from sportello.tickets.pipeline import Author, Context

SCHEMA = engine_rules.SCHEMA
EVENT_KIND = EventKind.ASSIGNMENT
PRIORITY_NAME = {p.value: p.label for p in Priority}
CLOSED_CATEGORIES = (StatusCategory.SOLVED, StatusCategory.CLOSED)


# --------------------------------------------------------------------------------------------
# Saving and reading policies


def policy_validate(definition: Any) -> dict[str, Any]:
    """The definition parsed and dumped back (normalised), or ValidationFailed naming the path."""
    try:
        doc = engine_rules.parse_document({"schema": SCHEMA, "assignment_policies": [definition]}, specs={})
    except RuleSchemaError as exc:
        path = exc.path.removeprefix("assignment_policies[0]").lstrip(".")
        raise ValidationFailed(exc.message, field=path or None) from None
    return engine_rules.policy_to_data(doc.assignment_policies[0])


@transaction.atomic
def policy_save(
    *,
    definition: Any,
    created_by: User | None,
    now: datetime,
    active: bool = True,
    expected_version: int | None = None,
) -> tuple[AssignmentPolicy, bool]:
    """Create the policy named by `definition["key"]` or add a version to it. Returns the policy
    and whether anything was written (an identical definition and state write nothing).

    `expected_version`: the version the caller edited (0: the policy must be new). Checked under
    the head's lock: a policy saved meanwhile (or a key taken meanwhile) is a Conflict, code
    `stale_version` (or `policy_exists`), and nothing is written."""
    item = policy_validate(definition)
    head: Any = None
    if expected_version is not None:
        head = version_lock(POLICIES, item["key"])
        if head is not None and expected_version == 0:
            raise Conflict("an assignment policy with this key exists", field="key", code="policy_exists")
        if head is None and expected_version != 0:
            raise NotFound("assignment policy not found")
        if head is not None and head.version != expected_version:
            raise Conflict(
                f"the policy was saved meanwhile (your version {expected_version}, current {head.version})",
                code="stale_version",
            )
    saved = version_save(
        POLICIES,
        key=item["key"],
        definition=item,
        created_by=created_by,
        now=now,
        active=active,
        **({} if expected_version is None else {"head": head}),
    )
    return saved.head, saved.written


def _policy_save_again(
    key: str, head: Any, definition: Any, actor: Any, now: datetime
) -> tuple[AssignmentPolicy, bool]:
    return policy_save(definition=definition, created_by=actor, now=now, active=head.active)


# Assignment policies as a versioned configuration kind (`core.versioning`): the head keeps a
# copy of the current definition for the assigner, and (de)activating writes no version.
POLICIES = register_kind(
    ConfigKind(
        name="assignment_policies",
        label="assignment policy",
        head=AssignmentPolicy,
        version=AssignmentPolicyVersion,
        parent="policy",
        save=_policy_save_again,
        head_fields=lambda item: {"name": item["name"], "definition": item},
        version_on_reactivate=False,
        head_holds_definition=True,
    )
)


def policy_get(*, key: str) -> AssignmentPolicy:
    policy = AssignmentPolicy.objects.filter(key=key).first()
    if policy is None:
        raise NotFound("assignment policy not found")
    return policy


def policy_parsed(policy: AssignmentPolicy) -> engine_rules.AssignmentPolicy:
    """The engine's view of a stored policy (its definition was validated when saved)."""
    doc = engine_rules.parse_document(
        {"schema": SCHEMA, "assignment_policies": [policy.definition]}, specs={}
    )
    return doc.assignment_policies[0]


def policy_list() -> QuerySet[AssignmentPolicy]:
    """Every policy, active or not, by name."""
    return AssignmentPolicy.objects.order_by("name", "id")


@dataclass(frozen=True, slots=True)
class MemberLoad:
    """A pool member as the policy sees them now: their status, their tickets counting toward
    the cap, their place in the rotation, and whether (or why not) the next ticket goes to them."""

    user: User
    open_count: int
    last_assigned_at: datetime | None
    excluded_because: str | None  # "offline", "at capacity"; None: may take the next ticket
    next: bool  # the next ticket of a department they all belong to goes to them


def policy_members(*, policy: AssignmentPolicy) -> list[MemberLoad]:
    """The policy's pool now, in one query: each member's load and status, and who would get
    the next ticket (the choice the assigner makes, for a ticket every member may take)."""
    parsed = policy_parsed(policy)
    members = _pool_members(
        parsed.pool, None, policy=policy, categories=parsed.count_categories, exclude=None
    )
    decision = engine.choose_agent(
        [
            engine.Candidate(
                agent_id=m.user.pk,
                online=m.user.status == "online",
                open_count=m.open_count,
                last_assigned_at=m.last_assigned_at,
            )
            for m in members
        ],
        parsed,
    )
    why = {c["agent"]: c["excluded_because"] for c in decision.considered}
    return [
        MemberLoad(
            user=m.user,
            open_count=m.open_count,
            last_assigned_at=m.last_assigned_at,
            excluded_because=why.get(m.user.pk),
            next=m.user.pk == decision.agent_id,
        )
        for m in members
    ]


def backlog_list(*, policy: AssignmentPolicy, tickets: Any = None) -> list[AssignmentBacklog]:
    """The policy's waiting tickets in hand-out order (current priority, then age, then id).
    `tickets`: an optional Ticket filter (Q) limiting which tickets are listed."""
    qs = AssignmentBacklog.objects.filter(policy=policy).select_related("ticket")
    if tickets is not None:
        qs = qs.filter(ticket__in=Ticket.objects.filter(tickets))
    rows = list(qs)
    by_ticket = {r.ticket_id: r for r in rows}
    items = [
        engine.BacklogItem(r.ticket_id, PRIORITY_NAME.get(r.ticket.priority, "normal"), r.ticket.created_at)
        for r in rows
    ]
    return [by_ticket[i.ticket_id] for i in engine.backlog_order(items)]


# --------------------------------------------------------------------------------------------
# Choosing


def _pool_users(pool: engine_rules.Pool) -> QuerySet[User]:
    """The pool's active agents and admins (never light agents)."""
    qs = User.objects.filter(is_active=True).exclude(role=Role.LIGHT_AGENT)
    if pool.agents is not None:
        return qs.filter(pk__in=pool.agents)
    if pool.team is not None:
        return qs.filter(pk__in=Team.members.through.objects.filter(team_id=pool.team).values("user_id"))
    assert pool.department is not None  # a pool names exactly one of the three (engine.rules)
    return qs.filter(
        pk__in=User.departments.through.objects.filter(department_id=pool.department).values("user_id")
    )


@dataclass(frozen=True, slots=True)
class _Member:
    """A pool member as `_pool_members` reads them."""

    user: User
    in_department: bool  # a member of the department the ticket is in
    open_count: int  # their tickets in the counted categories
    last_assigned_at: datetime | None  # their place in the policy's rotation; None: never assigned


def _pool_members(
    pool: engine_rules.Pool,
    department_id: int | None,
    *,
    policy: AssignmentPolicy,
    categories: tuple[str, ...],
    exclude: int | None,
) -> list[_Member]:
    """The pool's active agents and admins (never light agents), by id, in one query, each
    with `in_department` (a member of `department_id`), `open_count` (their tickets in
    the counted `categories`, leaving out ticket `exclude`) and `last_assigned_at` (their place in
    this policy's rotation; None: never assigned through it).

    Written as SQL: it runs on every round-robin assignment, and building the same statement
    through the ORM (three correlated subqueries) cost several times its execution."""
    if pool.agents is not None and not pool.agents:
        return []
    # Table names come from the models; every value is a parameter.
    memberships = User.departments.through._meta.db_table
    if pool.agents is not None:
        in_pool, pool_params = f"u.id IN ({', '.join(['%s'] * len(pool.agents))})", list(pool.agents)
    elif pool.team is not None:
        team_members = Team.members.through._meta.db_table
        in_pool = f"u.id IN (SELECT user_id FROM {team_members} WHERE team_id = %s)"  # noqa: S608
        pool_params = [pool.team]
    else:
        assert pool.department is not None  # a pool names exactly one of the three (engine.rules)
        in_pool = f"u.id IN (SELECT user_id FROM {memberships} WHERE department_id = %s)"  # noqa: S608
        pool_params = [pool.department]
    counted = ", ".join(["%s"] * len(categories)) or "NULL"  # no counted status: nothing counts
    sql = f"""
        SELECT u.*,
            EXISTS (SELECT 1 FROM {memberships} m WHERE m.user_id = u.id AND m.department_id = %s)
                AS in_department,
            (SELECT COUNT(*) FROM {Ticket._meta.db_table} t
                WHERE t.assignee_id = u.id AND t.status_category IN ({counted}) AND t.id <> %s)
                AS open_count,
            (SELECT r.last_assigned_at FROM {AgentAssignment._meta.db_table} r
                WHERE r.policy_id = %s AND r.agent_id = u.id) AS last_assigned_at
        FROM {User._meta.db_table} u
        WHERE u.is_active AND u.role <> %s AND {in_pool}
        ORDER BY u.id
    """  # noqa: S608
    params = [department_id, *categories, exclude or 0, policy.pk, Role.LIGHT_AGENT, *pool_params]
    members = []
    for user in User.objects.raw(sql, params):
        selected = vars(user)  # the query's own columns, beside the user's fields
        members.append(
            _Member(
                user=user,
                in_department=bool(selected["in_department"]),
                open_count=selected["open_count"],
                last_assigned_at=_aware(selected["last_assigned_at"]),
            )
        )
    return members


def _aware(value: datetime | str | None) -> datetime | None:
    """A timestamp read by raw SQL as an aware datetime (SQLite gives naive UTC, or text)."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _lock_policy(policy_id: int) -> AssignmentPolicy | None:
    """The active policy, its row locked: assignments through one policy serialise, so the next
    one counts after the previous one committed."""
    return AssignmentPolicy.objects.select_for_update().filter(pk=policy_id, active=True).first()


class _Pool:
    """A policy's pool, locked and counted: what each choice needs."""

    def __init__(
        self, policy: AssignmentPolicy, *, department_id: int | None = None, exclude: int | None = None
    ) -> None:
        self.policy = policy
        self.parsed = policy_parsed(policy)
        self.members = _pool_members(
            self.parsed.pool,
            department_id,
            policy=policy,
            categories=self.parsed.count_categories,
            exclude=exclude,
        )
        self.by_id = {m.user.pk: m.user for m in self.members}
        self.counts = {m.user.pk: m.open_count for m in self.members}
        self.last_assigned = {m.user.pk: m.last_assigned_at for m in self.members}
        self._departments: dict[int, set[int]] = {}
        if department_id is not None:
            self._departments[department_id] = {
                m.user.pk for m in self.members if m.in_department or m.user.role == Role.ADMIN
            }

    def eligible_in(self, department_id: int) -> set[int]:
        if department_id not in self._departments:
            members = User.departments.through.objects.filter(
                department_id=department_id, user_id__in=list(self.by_id)
            ).values_list("user_id", flat=True)
            admins = {m.user.pk for m in self.members if m.user.role == Role.ADMIN}
            self._departments[department_id] = set(members) | admins
        return self._departments[department_id]

    def choose(self, department_id: int) -> engine.Decision:
        eligible = self.eligible_in(department_id)
        candidates = [
            engine.Candidate(
                agent_id=m.user.pk,
                online=m.user.status == "online",
                open_count=self.counts[m.user.pk],
                last_assigned_at=self.last_assigned[m.user.pk],
                eligible=m.user.pk in eligible,
            )
            for m in self.members
        ]
        return engine.choose_agent(candidates, self.parsed)

    def agent(self, agent_id: int, department_id: int) -> User:
        """The chosen member, known (in this transaction) to be a member of `department_id`."""
        user = self.by_id[agent_id]
        if agent_id in self.eligible_in(department_id):
            user.known_departments = frozenset({*user.known_departments, department_id})
        return user

    def took(self, agent_id: int, now: datetime) -> None:
        """Count the hand-out and move the agent to the back of the rotation (one upsert)."""
        self.counts[agent_id] += 1
        self.last_assigned[agent_id] = now
        AgentAssignment.objects.bulk_create(
            [AgentAssignment(policy=self.policy, agent_id=agent_id, last_assigned_at=now)],
            update_conflicts=True,
            unique_fields=["policy", "agent"],
            update_fields=["last_assigned_at"],
        )

    def decision_data(self, decision: engine.Decision, *, outcome: str, rule: str) -> dict[str, Any]:
        p = self.parsed
        return {
            "policy": self.policy.key,
            "policy_id": self.policy.pk,
            "version": self.policy.version,
            "outcome": outcome,  # assigned | backlog | unassigned
            "agent": decision.agent_id,
            "reason": decision.reason,
            "pool": engine_rules.policy_to_data(p)["pool"],
            "max_open_per_agent": p.max_open_per_agent,
            "count_categories": list(p.count_categories),
            "offline": p.offline,
            "considered": [dict(c) for c in decision.considered],
            "rule": rule,
        }


def _event(
    *, ticket: Ticket, change_id: Any, now: datetime, actor: Actor, cause: str, depth: int, data: Any
) -> TicketEvent:
    """The decision as a ticket event (unsaved)."""
    return audit.event(
        ticket=ticket, change_id=change_id, at=now, kind=EVENT_KIND, field="assignee", new=data,
        actor=actor, via=Via.RULE, cause=cause, depth=depth,
    )  # fmt: skip


def assign_through_policy(ctx: Context, *, policy_id: int, author: Author) -> engine.Decision | None:
    """Assign the ticket under change through a round-robin policy (a rule's `assign: {policy}`
    action), inside the pipeline's transaction. Returns the decision (None: no active policy
    with that id; recorded as a decision too)."""
    ticket = ctx.ticket

    def record(data: dict[str, Any]) -> None:  # written with the change's other events
        ctx.record(EVENT_KIND, "assignee", new=data, actor=author.actor, via=Via.RULE, cause=author.cause)

    policy = _lock_policy(policy_id)
    if policy is None:
        record({"policy_id": policy_id, "outcome": "unassigned", "agent": None, "reason": "no active policy"})
        return None
    pool = _Pool(policy, department_id=ticket.department_id, exclude=ticket.pk)
    decision = pool.choose(ticket.department_id)
    if decision.agent_id is not None:
        try:
            agent = pool.agent(decision.agent_id, ticket.department_id)
            ctx.change(author=author, fields={"assignee": agent})
        except ValidationFailed as exc:
            record(
                {**pool.decision_data(decision, outcome="unassigned", rule=author.cause), "error": str(exc)}
            )
            return decision
        pool.took(decision.agent_id, ctx.now)
        record(pool.decision_data(decision, outcome="assigned", rule=author.cause))
        return decision
    if pool.parsed.backlog and ticket.assignee_id is None:
        record(pool.decision_data(decision, outcome="backlog", rule=author.cause))
        ctx.after_write(lambda: _enqueue(policy, ticket, ctx.now))
    else:
        record(pool.decision_data(decision, outcome="unassigned", rule=author.cause))
    return decision


def _enqueue(policy: AssignmentPolicy, ticket: Ticket, now: datetime) -> None:
    AssignmentBacklog.objects.get_or_create(
        policy=policy,
        ticket=ticket,
        defaults={"priority": ticket.priority, "ticket_created_at": ticket.created_at, "queued_at": now},
    )


# --------------------------------------------------------------------------------------------
# Draining


_draining: contextvars.ContextVar[frozenset[int]] = contextvars.ContextVar(
    "sportello_assignment_draining", default=frozenset()
)


@contextmanager
def _drain_guard(policy_id: int) -> Iterator[bool]:
    """True when this policy is not already being drained further up the stack."""
    active = _draining.get()
    if policy_id in active:
        yield False
        return
    token = _draining.set(active | {policy_id})
    try:
        yield True
    finally:
        _draining.reset(token)


def assignment_drain(*, policy_id: int, now: datetime) -> list[int]:
    """Hand out the policy's backlog while capacity remains. Returns the ids of the tickets
    handed out, in order. Each hand-out is a mutation through the pipeline."""
    from sportello.tickets import pipeline

    handed: list[int] = []
    with transaction.atomic(), _drain_guard(policy_id) as first:
        if not first:
            return handed
        policy = _lock_policy(policy_id)
        if policy is None:
            return handed
        pool = _Pool(policy)
        actor = Actor(kind=ActorKind.SYSTEM, id=None, label=f"assignment policy {policy.name}"[:200])
        cause = f"assignment:{policy.key}@{policy.version}"
        for row in backlog_list(policy=policy):
            ticket = Ticket.objects.select_for_update(skip_locked=True).filter(pk=row.ticket_id).first()
            if ticket is None:
                continue  # changing elsewhere right now: the next drain takes it
            if ticket.assignee_id is not None or ticket.status_category in CLOSED_CATEGORIES:
                row.delete()  # assigned by someone else, or done: no longer waiting
                continue
            decision = pool.choose(ticket.department_id)
            if decision.agent_id is None:
                continue  # nobody for this one; a ticket of another department may find someone
            agent = pool.agent(decision.agent_id, ticket.department_id)
            mutation = pipeline.Mutation(actor=actor, via=Via.RULE, cause=cause, fields={"assignee": agent})
            try:
                outcome = pipeline.ticket_apply(ticket_id=ticket.pk, mutation=mutation, now=now)
            except ValidationFailed:
                continue
            pool.took(decision.agent_id, now)
            _event(
                ticket=outcome.ticket,
                change_id=outcome.change_id,
                now=now,
                actor=actor,
                cause=cause,
                depth=0,
                data=pool.decision_data(decision, outcome="assigned", rule=cause),
            ).save(force_insert=True)
            AssignmentBacklog.objects.filter(pk=row.pk).delete()
            handed.append(ticket.pk)
    return handed


def _policies_waiting_for(agent_id: int) -> list[tuple[AssignmentPolicy, engine_rules.AssignmentPolicy]]:
    """Active policies with a backlog whose pool has this agent."""
    waiting = AssignmentBacklog.objects.values("policy_id")
    out = []
    for policy in AssignmentPolicy.objects.filter(active=True, pk__in=waiting).order_by("pk"):
        parsed = policy_parsed(policy)
        if _pool_users(parsed.pool).filter(pk=agent_id).exists():
            out.append((policy, parsed))
    return out


def capacity_released(ctx: Context, changes: list[FieldChange]) -> None:
    """Called by the pipeline after a change to the assignee or status is written: drop the
    ticket from backlogs once assigned or done, and drain the backlogs of policies where the
    previous assignee now has room."""
    ticket = ctx.ticket
    if ticket.assignee_id is not None or ticket.status_category in CLOSED_CATEGORIES:
        AssignmentBacklog.objects.filter(ticket=ticket).delete()
    previous = ctx.before.get("assignee")
    if previous is None:
        return
    before_category = ctx.before.get("status_category")
    for policy, parsed in _policies_waiting_for(previous):
        counted = parsed.count_categories
        if before_category not in counted:
            continue  # it did not count against the agent: nothing freed
        if ticket.assignee_id == previous and ticket.status_category in counted:
            continue
        assignment_drain(policy_id=policy.pk, now=ctx.now)


def agent_came_online(*, agent: User, now: datetime) -> list[int]:
    """Drain the backlogs of the policies whose pool has this agent. Returns the tickets handed
    out."""
    handed: list[int] = []
    with transaction.atomic():
        for policy, _ in _policies_waiting_for(agent.pk):
            handed += assignment_drain(policy_id=policy.pk, now=now)
    return handed


def backlog_filter(principal: User) -> Q:
    """Which backlog tickets a caller may see listed."""
    from sportello.tickets.selectors import ticket_scope

    return ticket_scope(principal=principal)

"""Round-robin assignment policies: saving them, assigning through them, and their backlogs.

Assigning (`assign_through_policy`, called by event rules after their cycle, inside the
pipeline's transaction):
1. the pool's members who may take the ticket: active agents and admins (never light agents) of
   the policy's department, team or list; eligible when a member of the ticket's department
   (admins always);
2. the policy's rotation rows (`AgentAssignment`, created when missing) are locked with
   `select_for_update()` in agent id order, so concurrent assignments through one policy
   serialise: the next one counts after the previous one committed;
3. each candidate's tickets in the counted status categories are counted in one grouped query;
4. `engine.assignment.choose_agent` picks (least loaded under the cap, then least recently
   assigned, then lowest id); the assignee is set through `pipeline.automatic_change`;
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
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q

from sportello.accounts.models import Role, Team, User
from sportello.core.actors import Actor, ActorKind, Via
from sportello.core.errors import NotFound, ValidationFailed
from sportello.engine import assignment as engine
from sportello.engine import rules as engine_rules
from sportello.engine.schema import RuleSchemaError
from sportello.tickets.models import Priority, StatusCategory, Ticket, TicketEvent

from .models import AgentAssignment, AssignmentBacklog, AssignmentPolicy, AssignmentPolicyVersion

if TYPE_CHECKING:
    from sportello.engine.diff import FieldChange
    from sportello.tickets.pipeline import Author, Context

SCHEMA = engine_rules.SCHEMA
EVENT_KIND = "assignment"
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
    *, definition: Any, created_by: User | None, now: datetime, active: bool = True
) -> tuple[AssignmentPolicy, bool]:
    """Create the policy named by `definition["key"]` or add a version to it. Returns the policy
    and whether anything was written (an identical definition and state write nothing)."""
    item = policy_validate(definition)
    policy = AssignmentPolicy.objects.select_for_update().filter(key=item["key"]).first()
    if policy is None:
        policy = AssignmentPolicy(key=item["key"], version=0, created_at=now)
    elif policy.definition == item and policy.active == active:
        return policy, False
    new_version = policy.definition != item or policy.pk is None
    policy.name = item["name"]
    policy.definition = item
    policy.active = active
    policy.updated_at = now
    if new_version:
        policy.version += 1
    policy.save()
    if new_version:
        AssignmentPolicyVersion.objects.create(
            policy=policy, version=policy.version, definition=item, created_by=created_by, created_at=now
        )
    return policy, True


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


def _pool_members(pool: engine_rules.Pool, department_id: int | None) -> list[tuple[int, str, str, bool]]:
    """(id, role, status, member of `department_id`) of the pool's active agents and admins, by
    id, in one query."""
    qs = User.objects.filter(is_active=True).exclude(role=Role.LIGHT_AGENT)
    if pool.agents is not None:
        qs = qs.filter(pk__in=pool.agents)
    elif pool.team is not None:
        qs = qs.filter(pk__in=Team.members.through.objects.filter(team_id=pool.team).values("user_id"))
    else:
        qs = qs.filter(
            pk__in=User.departments.through.objects.filter(department_id=pool.department).values("user_id")
        )
    member = User.departments.through.objects.filter(user_id=OuterRef("pk"), department_id=department_id)
    qs = qs.annotate(in_department=Exists(member))
    return list(qs.order_by("pk").values_list("pk", "role", "status", "in_department"))


def _lock_rotation(policy: AssignmentPolicy, agent_ids: list[int]) -> dict[int, AgentAssignment]:
    """The policy's rotation rows of these agents, created when missing, locked in id order."""

    def locked() -> dict[int, AgentAssignment]:
        rows = AgentAssignment.objects.select_for_update().filter(policy=policy, agent_id__in=agent_ids)
        return {r.agent_id: r for r in rows.order_by("agent_id")}

    rows = locked()
    missing = [a for a in agent_ids if a not in rows]
    if missing:
        AgentAssignment.objects.bulk_create(
            [AgentAssignment(policy=policy, agent_id=a) for a in missing], ignore_conflicts=True
        )
        rows = locked()
    return rows


def _open_counts(agent_ids: list[int], categories: tuple[str, ...], *, exclude: int | None) -> dict[int, int]:
    qs = Ticket.objects.filter(assignee_id__in=agent_ids, status_category__in=categories)
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    return dict(qs.values("assignee_id").annotate(n=Count("id")).values_list("assignee_id", "n"))


class _Pool:
    """A policy's pool, locked and counted: what each choice needs."""

    def __init__(
        self, policy: AssignmentPolicy, *, department_id: int | None = None, exclude: int | None = None
    ) -> None:
        self.policy = policy
        self.parsed = policy_parsed(policy)
        self.members = _pool_members(self.parsed.pool, department_id)
        ids = [m[0] for m in self.members]
        self.rotation = _lock_rotation(policy, ids)
        self.counts = _open_counts(ids, self.parsed.count_categories, exclude=exclude)
        self._departments: dict[int, set[int]] = {}
        if department_id is not None:
            self._departments[department_id] = {m[0] for m in self.members if m[3] or m[1] == Role.ADMIN}

    def eligible_in(self, department_id: int) -> set[int]:
        if department_id not in self._departments:
            members = User.departments.through.objects.filter(
                department_id=department_id, user_id__in=[m[0] for m in self.members]
            ).values_list("user_id", flat=True)
            admins = {m[0] for m in self.members if m[1] == Role.ADMIN}
            self._departments[department_id] = set(members) | admins
        return self._departments[department_id]

    def choose(self, department_id: int) -> engine.Decision:
        eligible = self.eligible_in(department_id)
        candidates = [
            engine.Candidate(
                agent_id=agent,
                online=status == "online",
                open_count=self.counts.get(agent, 0),
                last_assigned_at=self.rotation[agent].last_assigned_at if agent in self.rotation else None,
                eligible=agent in eligible,
            )
            for agent, _, status, _ in self.members
        ]
        return engine.choose_agent(candidates, self.parsed)

    def took(self, agent_id: int, now: datetime) -> None:
        self.counts[agent_id] = self.counts.get(agent_id, 0) + 1
        row = self.rotation[agent_id]
        row.last_assigned_at = now
        row.save(update_fields=["last_assigned_at"])

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
    return TicketEvent.objects.create(
        ticket=ticket,
        change_id=change_id,
        at=now,
        kind=EVENT_KIND,
        field="assignee",
        new_value=data,
        actor_kind=str(actor.kind),
        actor_id=actor.id,
        actor_label=actor.label[:200],
        via=str(Via.RULE),
        cause=cause[:200],
        depth=depth,
    )


def assign_through_policy(ctx: Context, *, policy_id: int, author: Author) -> engine.Decision | None:
    """Assign the ticket under change through a round-robin policy (a rule's `assign: {policy}`
    action), inside the pipeline's transaction. Returns the decision (None: no active policy
    with that id; recorded as a decision too)."""
    from sportello.tickets import pipeline

    ticket = ctx.ticket

    def record(data: dict[str, Any]) -> None:
        ctx.after_write.append(
            lambda: _event(
                ticket=ticket,
                change_id=ctx.change_id,
                now=ctx.now,
                actor=author.actor,
                cause=author.cause,
                depth=ctx.mutation.depth,
                data=data,
            )
        )

    policy = AssignmentPolicy.objects.filter(pk=policy_id, active=True).first()
    if policy is None:
        record({"policy_id": policy_id, "outcome": "unassigned", "agent": None, "reason": "no active policy"})
        return None
    pool = _Pool(policy, department_id=ticket.department_id, exclude=ticket.pk)
    decision = pool.choose(ticket.department_id)
    if decision.agent_id is not None:
        try:
            pipeline.automatic_change(ctx, author=author, fields={"assignee": decision.agent_id})
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
        ctx.after_write.append(lambda: _enqueue(policy, ticket, ctx.now))
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
        policy = AssignmentPolicy.objects.filter(pk=policy_id, active=True).first()
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
            mutation = pipeline.Mutation(
                actor=actor, via=Via.RULE, cause=cause, fields={"assignee": decision.agent_id}
            )
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
            )
            AssignmentBacklog.objects.filter(pk=row.pk).delete()
            handed.append(ticket.pk)
    return handed


def _policies_waiting_for(agent_id: int) -> list[tuple[AssignmentPolicy, engine_rules.AssignmentPolicy]]:
    """Active policies with a backlog whose pool has this agent."""
    waiting = AssignmentBacklog.objects.values("policy_id")
    out = []
    for policy in AssignmentPolicy.objects.filter(active=True, pk__in=waiting).order_by("pk"):
        parsed = policy_parsed(policy)
        if any(m[0] == agent_id for m in _pool_members(parsed.pool, None)):
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

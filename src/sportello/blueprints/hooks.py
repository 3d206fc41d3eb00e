"""The blueprint's part of the change pipeline (`blueprints.extension.Blueprints`).

Called on every mutation, inside its transaction, after event rules and SLA clocks and before
anything is written. One query reads the ticket's active run (with its pinned definition) and
the current versions of the active blueprints of the ticket's department; definitions are parsed
once per process (`definitions.parsed`). Then:

- **Transition.** A mutation made by `services.blueprint_transition` (cause
  `blueprint:<key>@<version>:<transition>`, one `blueprint`/`transition` record per step) moves
  the run to the last step's state. Its first step must leave the run's state: otherwise the
  ticket moved on meanwhile (409 `stale_state`).
- **Strict mode.** While a run is active, a status change that is no transition is refused:
  when the mutation's own actor asked for it, with 409 `blueprint_transition_required` naming the
  transitions the caller may perform — unless `engine.may_bypass` allows that actor kind (the
  blueprint's `allow_automation_bypass`: rules, SLA, system). A status changed on the side — by
  an event rule, or by the pipeline's built-in moves (a customer reply reopens a pending ticket;
  these count as `system`) — is undone when it may not bypass, and the refusal recorded
  (`bypass_refused`), so the caller's change still goes through. An allowed bypass is recorded
  (`bypassed`) and the run follows the status: to the current state when it has that status,
  else the first state that has it (a terminal one completes the run), else it stays.
- **Completion.** Reaching a terminal state (by a transition or a bypass) completes the run
  (`completed_at`; event `completed`); strict mode no longer applies. A ticket closed by an
  allowed bypass leaves its run (`detached`, reason `closed`): it can change no more.
- **Department.** A ticket moved to another department leaves its run (`detached`, reason
  `department`) and may enter one of the new department's blueprints; when a transition's
  `after` actions moved it, the transition's move is recorded first.
- **Entry.** On creation or any change, a ticket with no active run (not closed) enters the
  blueprint `engine.choose_blueprint` picks on its facts after the change, in its
  `initial_state`; when that state's status differs from the ticket's, the blueprint sets it
  (an automatic change authored by the blueprint, cause `blueprint:<key>@<version>`). A
  completed run does not prevent entering again: a reopened ticket starts the process anew.

Every event is `kind: blueprint` with `new_value.blueprint` = the key (the metrics read them):
`attached`, `transition` (the mutation's records), `bypassed`, `bypass_refused`, `completed`,
`detached`, `action_failed` (an `after` action that failed; the transition stands).
The run row is written after the ticket (`ctx.after_write`): a new ticket has its id then.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import F, Q, Subquery

from sportello.accounts.models import User
from sportello.core.actors import Actor
from sportello.core.errors import Conflict, ValidationFailed
from sportello.engine import blueprints as engine
from sportello.tickets.models import StatusCategory

from . import definitions
from .audit import CAUSE_PREFIX, EVENT_KIND, blueprint_author, record
from .models import BlueprintVersion, TicketBlueprint
from .timers import timers_arm

if TYPE_CHECKING:
    from sportello.tickets.pipeline import Context, Mutation


@dataclass(slots=True)
class Run:
    """The ticket's active run as the hook read it."""

    id: int
    blueprint_id: int
    key: str
    version: int
    state: str
    name: str
    parsed: definitions.Parsed | None


@dataclass(frozen=True, slots=True)
class Candidate:
    blueprint_id: int
    version: int
    name: str
    parsed: definitions.Parsed


def transition_steps(mutation: Mutation) -> list[dict[str, Any]]:
    """The steps of a blueprint transition carried by a mutation (empty: no transition)."""
    if not mutation.cause.startswith(CAUSE_PREFIX):
        return []
    return [r.new for r in mutation.records if r.kind == EVENT_KIND and r.field == "transition"]


def enforce_blueprint(ctx: Context) -> None:
    """Attach a blueprint to an eligible ticket; refuse a status change that is no transition."""
    m = ctx.mutation
    steps = transition_steps(m)
    touches = m.fields or m.custom_fields or m.tags_add or m.tags_remove or m.tags_set is not None
    if not steps and not (touches or m.message is not None or m.automation is not None):
        return  # an event beside the ticket (a task completed) changes nothing a blueprint reads
    run, candidates = _load(ctx)
    if run is not None:
        bp = run.parsed.blueprint if run.parsed is not None else None
        moved_out = bp is not None and ctx.ticket.department_id != bp.department
        if bp is None or (moved_out and not steps):
            # Moved to another department (or the pinned version no longer reads): the ticket
            # leaves its process, and may enter one of its new department's below.
            _detach(ctx, run, run.state, reason="department" if bp is not None else "definition_invalid")
        else:
            # A transition whose after actions moved the ticket away completes its move first.
            state, active = _follow(ctx, run, bp, steps)
            if moved_out and active:
                _detach(ctx, run, state, reason="department")
            return
    if steps:
        raise Conflict("this ticket follows no blueprint", code="transition_not_allowed", field="transition")
    _enter(ctx, candidates)


# -- reading -------------------------------------------------------------------------------------


def _load(ctx: Context) -> tuple[Run | None, list[Candidate]]:
    """The ticket's active run and the active blueprints of its department, in one query —
    none when the ticket has no active run (read with the locked ticket) and its department
    has no active blueprint (known per process)."""
    ticket = ctx.ticket
    if not _has_active_run(ctx) and ticket.department_id not in definitions.departments_with_blueprints(
        ctx.memo
    ):
        return None, []
    wanted = Q(
        blueprint__active=True,
        blueprint__department_id=ticket.department_id,
        version=F("blueprint__version"),
    )
    values = ["blueprint_id", "version", "definition", "blueprint__key", "blueprint__name",
              "blueprint__active", "blueprint__department_id", "blueprint__version"]  # fmt: skip
    qs = BlueprintVersion.objects.all()
    if not ctx.created:
        run = TicketBlueprint.objects.filter(ticket_id=ticket.pk, active=True)
        run_blueprint = Subquery(run.values("blueprint_id")[:1])
        run_version = Subquery(run.values("version")[:1])
        wanted |= Q(blueprint_id=run_blueprint, version=run_version)
        qs = qs.annotate(
            run_id=Subquery(run.values("pk")[:1]),
            run_blueprint=run_blueprint,
            run_version=run_version,
            run_state=Subquery(run.values("state")[:1]),
        )
        values += ["run_id", "run_blueprint", "run_version", "run_state"]
    rows = list(qs.filter(wanted).values(*values))
    specs_cache: dict[str, Any] = {}

    def specs() -> Any:
        from sportello.automation.facts import field_specs

        if "s" not in specs_cache:
            specs_cache["s"] = field_specs()
        return specs_cache["s"]

    found: Run | None = None
    candidates: list[Candidate] = []
    for row in rows:
        parsed = definitions.parsed(row["definition"], specs)
        is_run = row.get("run_id") is not None and (row["blueprint_id"], row["version"]) == (
            row["run_blueprint"],
            row["run_version"],
        )
        if is_run:
            found = Run(
                id=row["run_id"],
                blueprint_id=row["blueprint_id"],
                key=row["blueprint__key"],
                version=row["version"],
                state=row["run_state"],
                name=row["blueprint__name"],
                parsed=parsed,
            )
        current = row["blueprint__active"] and row["version"] == row["blueprint__version"]
        if current and row["blueprint__department_id"] == ticket.department_id and parsed is not None:
            candidates.append(Candidate(row["blueprint_id"], row["version"], row["blueprint__name"], parsed))
    return found, candidates


def _has_active_run(ctx: Context) -> bool:
    if ctx.created:
        return False
    try:
        run = ctx.ticket.blueprint_run  # selected with the locked ticket by `ticket_apply`
    except ObjectDoesNotExist:
        return False
    return bool(run.active)


# -- a ticket in its process ---------------------------------------------------------------------


def _follow(ctx: Context, run: Run, bp: engine.Blueprint, steps: list[dict[str, Any]]) -> tuple[str, bool]:
    """Enforce strict mode and move the run; returns its state and whether it is still active."""

    m, ticket = ctx.mutation, ctx.ticket
    author = blueprint_author(blueprint_id=run.blueprint_id, name=run.name, key=bp.key, version=run.version)
    state_key = run.state
    if steps:
        first = steps[0]
        if (first.get("blueprint"), first.get("version"), first.get("from")) != (
            bp.key,
            run.version,
            run.state,
        ):
            raise Conflict(
                "the ticket moved on in its process since you loaded it; reload and try again",
                code="stale_state",
                field="transition",
            )
        state_key = steps[-1]["to"]
        target = bp.state(state_key)
        assert target is not None
        expected = target.status
    else:
        expected = ctx.before["status"]
        asked = "status" in m.fields and m.fields["status"] != expected
        if asked and not engine.may_bypass(bp, str(m.actor.kind)):
            raise Conflict(
                _transition_required(ctx, run, bp), code="blueprint_transition_required", field="status"
            )
    status = ticket.status.key
    if status != expected:
        writer = ctx.writers.get("status")
        if writer is not None:
            who, cause = writer.actor, writer.cause
        elif not steps and "status" in m.fields:
            who, cause = m.actor, m.cause
        else:  # a built-in move of the pipeline (a customer reply reopens a waiting ticket)
            who, cause = Actor.system(), "system"
        refused = not engine.may_bypass(bp, str(who.kind))
        if refused:
            try:
                ctx.change(author=author, fields={"status": expected})
            except ValidationFailed:
                refused = False  # the expected status can no longer be set: the run follows
        info = {"blueprint": bp.key, "version": run.version, "status_from": expected, "status_to": status}
        if refused:
            record(ctx, "bypass_refused", {**info, "state": state_key}, who, cause)
        else:
            moved_to = _state_for_status(bp, state_key, status)
            record(ctx, "bypassed", {**info, "from": state_key, "to": moved_to or state_key}, who, cause)
            state_key = moved_to or state_key
    moved = bool(steps) or state_key != run.state
    final = bp.state(state_key)
    completed = final is not None and final.terminal
    # A ticket closed outside the process (an allowed bypass) can change no more: it leaves it.
    closed = not completed and ticket.status_category == StatusCategory.CLOSED
    if not moved and not closed:
        return state_key, True
    info = {"blueprint": bp.key, "version": run.version}
    if completed:
        record(ctx, "completed", {**info, "state": state_key}, author.actor, author.cause)
    elif closed:
        record(ctx, "detached", {**info, "from": state_key, "reason": "closed"}, author.actor, author.cause)
    values: dict[str, Any] = {"state": state_key, "active": not (completed or closed)}
    if moved:
        values["entered_state_at"] = ctx.now
    if completed:
        values["completed_at"] = ctx.now
    ticket, now = ctx.ticket, ctx.now

    def write() -> None:
        TicketBlueprint.objects.filter(pk=run.id).update(**values)
        if moved or not values["active"]:
            timers_arm(ticket, bp.state(state_key) if values["active"] else None, now)

    ctx.after_write(write)
    return state_key, bool(values["active"])


def _state_for_status(bp: engine.Blueprint, current: str, status: str) -> str | None:
    """The state a run moves to when automation sets `status` outside transitions: the current
    state when it has that status, else the first state that has it, else None (it stays)."""
    state = bp.state(current)
    if state is not None and state.status == status:
        return current
    return next((s.key for s in bp.states if s.status == status), None)


def _transition_required(ctx: Context, run: Run, bp: engine.Blueprint) -> str:
    """Why a plain status change is refused, naming the transitions the caller may perform."""
    from sportello.automation.facts import ticket_facts

    assert run.parsed is not None
    state = bp.state(run.state)
    where = f"{bp.name!r} (state {state.name if state is not None else run.state!r})"
    available: list[engine.Transition] = []
    principal = ctx.principal
    if isinstance(principal, User):
        ticket = ctx.ticket
        # The ticket as it was: the refused change is not applied.
        ticket_facts_now = ticket_facts(
            ticket,
            tags=ctx.tags,
            specs=run.parsed.specs,
            organization=run.parsed.reads_organization(),
            satisfaction=run.parsed.reads_satisfaction(),
        )
        facts = {**ticket_facts_now, "ticket.status": ctx.before["status"]}
        actor = definitions.actor_of(principal, department=bp.department, memo=ctx.memo)
        available = engine.available_transitions(bp, run.state, actor, facts, run.parsed.specs)
    names = ", ".join(f"{t.key} ({t.name})" for t in available)
    return f"this ticket follows the blueprint {where}: its status changes only through a transition; " + (
        f"available to you: {names}" if names else "none is available to you now"
    )


def _detach(ctx: Context, run: Run, state: str, *, reason: str) -> None:
    author = blueprint_author(blueprint_id=run.blueprint_id, name=run.name, key=run.key, version=run.version)
    record(
        ctx,
        "detached",
        {"blueprint": run.key, "version": run.version, "from": state, "reason": reason},
        author.actor,
        author.cause,
    )
    ticket = ctx.ticket

    def write() -> None:
        TicketBlueprint.objects.filter(pk=run.id).update(active=False)
        timers_arm(ticket, None, ctx.now)

    ctx.after_write(write)


# -- entry ---------------------------------------------------------------------------------------------


def _enter(ctx: Context, candidates: list[Candidate]) -> None:
    from sportello.automation.facts import ticket_facts

    ticket = ctx.ticket
    if not candidates or ticket.status_category == StatusCategory.CLOSED:
        return
    specs: dict[str, Any] = {}
    for c in candidates:
        specs.update(c.parsed.specs)
    facts = ticket_facts(
        ticket,
        tags=ctx.tags,
        specs=specs,
        organization=any(c.parsed.reads_organization() for c in candidates),
        satisfaction=any(c.parsed.reads_satisfaction() for c in candidates),
    )
    chosen = engine.choose_blueprint(
        [c.parsed.blueprint for c in candidates], facts, specs, ticket.department_id
    )
    if chosen is None:
        return
    candidate = next(c for c in candidates if c.parsed.blueprint is chosen)
    state = engine.initial_state(chosen, ticket.status.key)
    if state is None:
        return  # the ticket stands at an end of the process already
    author = blueprint_author(
        blueprint_id=candidate.blueprint_id, name=candidate.name, key=chosen.key, version=candidate.version
    )
    if state.status != ticket.status.key:
        try:
            ctx.change(author=author, fields={"status": state.status})
        except ValidationFailed:
            return  # the state's status was deactivated since the blueprint was saved
    record(
        ctx,
        "attached",
        {"blueprint": chosen.key, "version": candidate.version, "state": state.key},
        author.actor,
        author.cause,
    )
    now, created = ctx.now, ctx.created

    def write() -> None:
        values = {
            "blueprint_id": candidate.blueprint_id,
            "version": candidate.version,
            "state": state.key,
            "entered_state_at": now,
            "attached_at": now,
            "completed_at": None,
            "active": True,
        }
        if created:
            TicketBlueprint.objects.create(ticket=ticket, **values)
        else:  # the ticket's last run, completed or left, is replaced by the new one
            TicketBlueprint.objects.update_or_create(ticket_id=ticket.pk, defaults=values)
        timers_arm(ticket, state, now, new=created)

    ctx.after_write(write)
